"""A minimal ctypes bpf(2) loader used as the verifier's oracle: the kernel's verdict and log.

Test/benchmark support only: creates the maps a program names, loads it with a log, closes every fd.
"""
from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass

from pybpf.isa import Instruction, encode
from pybpf.isa.opcodes import LDDW, PseudoSrc

_SYS_BPF = 321
_MAP_CREATE, _PROG_LOAD = 0, 5
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


@dataclass
class KernelVerdict:
    accepted: bool
    errno: int
    log: str
    load_seconds: float

    @property
    def message(self) -> str:
        """The last meaningful line of the verifier log (the rejection reason)."""
        lines = [l for l in self.log.splitlines() if l.strip()]
        skip = ("processed ", "verification time", "stack depth", "-- END PROG LOAD LOG --")
        body = [l for l in lines if not l.startswith(skip)]
        return body[-1] if body else os.strerror(self.errno)


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    ret = _libc.syscall(_SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        return -ctypes.get_errno()
    return ret


def create_map(map_type: int, key_size: int, value_size: int, max_entries: int,
               flags: int = 0) -> int:
    """Create a map and return its fd (raises OSError)."""
    attr = (ctypes.c_uint32 * 32)()
    attr[0], attr[1], attr[2], attr[3], attr[4] = map_type, key_size, value_size, max_entries, flags
    fd = _bpf(_MAP_CREATE, attr)
    if fd < 0:
        raise OSError(-fd, f"BPF_MAP_CREATE type {map_type}: {os.strerror(-fd)}")
    return fd


def _map_tuple(desc) -> tuple[int, int, int, int, int]:
    if isinstance(desc, tuple):
        t, k, v, n = desc[:4]
        flags = desc[4] if len(desc) > 4 else 0
        return int(t), k, v, n, flags
    flags = getattr(desc, "flags", 0)
    name = getattr(desc, "name", "")
    if name.endswith(".rodata") or ".rodata" in name or name == ".kconfig":
        flags |= 0x80            # BPF_F_RDONLY_PROG
    return int(desc.type), desc.key_size, desc.value_size, desc.max_entries, flags


def load(instructions: list[Instruction], prog_type: int, maps: dict | None = None, *,
         expected_attach_type: int = 0, log_level: int = 1, prog_flags: int = 0,
         log_size: int = 1 << 22, btf: bytes | None = None,
         func_info: list[tuple[int, int]] = ()) -> KernelVerdict:
    """BPF_PROG_LOAD the program (maps created on the fly, all fds closed) and return the verdict.

    ``btf`` (raw BTF bytes) with ``func_info`` ((slot, FUNC type id) per subprogram) is loaded as
    the program's BTF: without it the kernel treats every subprogram as static."""
    maps = maps or {}
    fds: dict[str, int] = {}
    btf_obj = None
    try:
        patched = []
        for insn in instructions:
            if insn.opcode == LDDW and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
                name = insn.ref
                if name not in fds:
                    fds[name] = create_map(*_map_tuple(maps[name]))
                if insn.src == PseudoSrc.MAP_FD:
                    insn = insn.with_(imm=fds[name])
                else:
                    insn = insn.with_(imm=(insn.imm64 & ~0xFFFFFFFF) | fds[name])
            patched.append(insn)
        code = encode(patched, validate=False)
        buf = ctypes.create_string_buffer(code)
        lic = ctypes.create_string_buffer(b"GPL")
        log = ctypes.create_string_buffer(log_size)
        attr = (ctypes.c_uint8 * 256)()
        view = memoryview(attr).cast("B")

        def put(off: int, value: int, size: int) -> None:
            view[off:off + size] = value.to_bytes(size, "little")

        put(0, prog_type, 4)
        put(4, len(code) // 8, 4)
        put(8, ctypes.addressof(buf), 8)
        put(16, ctypes.addressof(lic), 8)
        put(24, log_level, 4)
        put(28, log_size, 4)
        put(32, ctypes.addressof(log), 8)
        put(44, prog_flags, 4)
        put(68, expected_attach_type, 4)
        if btf is not None:
            from pybpf.kernel.btfload import KernelBTF
            btf_obj = KernelBTF.load(btf)
            records = b"".join(slot.to_bytes(4, "little") + tid.to_bytes(4, "little")
                               for slot, tid in func_info)
            fi = ctypes.create_string_buffer(records, len(records) or 1)
            put(72, btf_obj.fd, 4)
            if records:
                put(76, 8, 4)
                put(80, ctypes.addressof(fi), 8)
                put(88, len(func_info), 4)
        start = time.perf_counter()
        fd = _bpf(_PROG_LOAD, attr)
        elapsed = time.perf_counter() - start
        text = log.value.decode(errors="replace")
        if fd >= 0:
            os.close(fd)
            return KernelVerdict(True, 0, text, elapsed)
        return KernelVerdict(False, -fd, text, elapsed)
    finally:
        for fd in fds.values():
            os.close(fd)
        if btf_obj is not None:
            btf_obj.close()
