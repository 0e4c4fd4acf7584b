"""Loading BTF into the kernel (BPF_BTF_LOAD) and finding attach targets / kfuncs in vmlinux BTF.

Takes BTF bytes or a pybpf.btf.BTF and returns an owned fd; it never parses BTF wire format itself.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import struct
from functools import lru_cache
from typing import Any

from ..errors import BTFError, KernelError, NotSupportedError
from . import syscall as sc
from .fd import FD

BTF_LOG_SIZE = 1 << 20


class KernelBTF:
    """One BTF object loaded into the kernel; ``fd`` is what BPF_MAP_CREATE/PROG_LOAD take."""

    def __init__(self, fd: FD, btf: Any = None) -> None:
        self._fd = fd
        self.btf = btf

    @classmethod
    def load(cls, data: bytes | Any) -> "KernelBTF":
        """BPF_BTF_LOAD; on rejection raises KernelError with the kernel's BTF log."""
        btf = None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            btf = data
            data = data.to_bytes()
        raw = bytes(data)
        buf = ctypes.create_string_buffer(raw, len(raw))
        attr = sc.Attr(sc.Cmd.BTF_LOAD, btf_size=len(raw))
        attr["btf"] = ctypes.addressof(buf)
        ret = sc.raw_bpf(sc.Cmd.BTF_LOAD, attr.buf)
        if ret >= 0:
            return cls(FD(ret, "btf"), btf)
        log = ctypes.create_string_buffer(BTF_LOG_SIZE)
        attr["btf_log_buf"] = ctypes.addressof(log)
        attr["btf_log_size"] = BTF_LOG_SIZE
        attr["btf_log_level"] = 1
        ret = sc.raw_bpf(sc.Cmd.BTF_LOAD, attr.buf)
        if ret >= 0:       # succeeded the second time (should not happen): keep it
            return cls(FD(ret, "btf"), btf)
        text = log.value.decode(errors="replace").strip()
        lines = text.splitlines()
        last = lines[-1] if lines else ""
        raise KernelError(f"kernel rejected BTF ({len(raw)} bytes){': ' + last if last else ''}"
                          + (f"\n\nBTF log:\n{text}" if text else ""),
                          errno=-ret, command="BPF_BTF_LOAD")

    @property
    def fd(self) -> int:
        return self._fd.number

    def close(self) -> None:
        self._fd.close()

    def __enter__(self) -> "KernelBTF":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=1)
def vmlinux() -> Any:
    """The running kernel's BTF (pybpf.btf.load_vmlinux, cached)."""
    from ..btf import load_vmlinux
    try:
        return load_vmlinux()
    except FileNotFoundError:
        raise NotSupportedError("kernel BTF (/sys/kernel/btf/vmlinux) is not available") from None


# Where tracing attach targets live in vmlinux BTF (what libbpf's find_attach_btf_id looks up).
BTF_TRACE_PREFIX = "btf_trace_"


def find_vmlinux_id(name: str, kind: str = "func") -> int:
    """BTF id in vmlinux of a FUNC (``kind="func"``), a raw tracepoint typedef (``"tp_btf"``),
    or a VAR (``"var"``); BTFError naming the target when absent."""
    from ..btf import Kind
    btf = vmlinux()
    if kind == "tp_btf":
        lookup, k = BTF_TRACE_PREFIX + name, Kind.TYPEDEF
    elif kind == "var":
        lookup, k = name, Kind.VAR
    else:
        lookup, k = name, Kind.FUNC
    found = btf.find(lookup, k)
    if not found:
        raise BTFError(f"attach target {name!r} ({kind}) not found in the kernel's BTF "
                       f"(looked for {k.name} {lookup!r} in /sys/kernel/btf/vmlinux)")
    return found[0].id


def ksym_resolver(program: str = "?") -> Any:
    """A resolve(name, is_func) -> (btf_id, fd_array index) function over vmlinux (kfuncs, ksyms)."""
    def resolve(name: str, is_func: bool) -> tuple[int, int]:
        try:
            return find_vmlinux_id(name, "func" if is_func else "var"), 0
        except BTFError:
            raise BTFError(f"program {program!r}: kernel symbol {name!r} "
                           f"({'kfunc' if is_func else 'ksym'}) not found in vmlinux BTF") from None
    return resolve


def func_info_bytes(records: Any) -> bytes:
    """struct bpf_func_info[] (insn_off, type_id) from FuncInfo records."""
    return b"".join(struct.pack("<II", r.slot, r.type_id) for r in records)


def line_info_bytes(records: Any) -> bytes:
    """struct bpf_line_info[] (insn_off, file_name_off, line_off, line_col) from LineInfo records."""
    return b"".join(struct.pack("<IIII", r.slot, r.file_name_off, r.line_off,
                                (r.line << 10) | (r.column & 0x3FF)) for r in records)


def btf_supported() -> bool:
    """Whether BPF_BTF_LOAD works (an int type is enough)."""
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 16, 16, 5)
    types = struct.pack("<IIII", 1, 0x01000000, 4, 32)
    strs = b"\0int\0"
    try:
        KernelBTF.load(hdr + types + strs).close()
        return True
    except KernelError as exc:
        return exc.errno not in (_errno.EINVAL, _errno.EPERM) and False
