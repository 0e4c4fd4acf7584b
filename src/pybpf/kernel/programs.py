"""Kernel programs: BPF_PROG_LOAD (map-fd patching, BTF/func/line info, verifier logs) and test runs.

``KernelProgram`` owns one program fd; it never parses ELF or BTF itself (specs come from pybpf.obj)
and never leaves an fd open when loading fails.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KernelError, KernelVerifierError, NotSupportedError
from ..isa.codec import encode
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc, PseudoSrc
from ..isa.uapi import AttachType, ProgramType
from ..obj.runtime import LoadedProgram, TestRunResult
from . import syscall as sc
from .fd import FD, adopt_fd
from .verifier_log import describe

LOG_LEVEL_BRANCHES = 1
LOG_LEVEL_STATS = 4
MIN_LOG_SIZE = 64 * 1024
MAX_LOG_SIZE = (1 << 30) - 1        # the kernel caps log_size at UINT_MAX >> 2

_PROG_INFO_SIZE = 232
_PROG_INFO = struct.Struct("<II8sIIQQQII16sI")   # leading fields of struct bpf_prog_info


@dataclass(frozen=True)
class ProgramInfo:
    """What BPF_OBJ_GET_INFO_BY_FD reports for a program (struct bpf_prog_info, main fields)."""
    type: int
    id: int
    tag: str
    name: str
    xlated_len: int
    jited_len: int
    map_ids: tuple[int, ...]
    btf_id: int
    run_time_ns: int
    run_cnt: int
    verified_insns: int


def prog_info_from_fd(fd: int) -> ProgramInfo:
    buf = ctypes.create_string_buffer(_PROG_INFO_SIZE)
    attr = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd, info_len=_PROG_INFO_SIZE)
    attr["info"] = ctypes.addressof(buf)
    sc.bpf(attr, what=f"cannot read info of program fd {fd}")
    raw = buf.raw
    nr_map_ids = struct.unpack_from("<I", raw, 52)[0]
    map_ids: tuple[int, ...] = ()
    if nr_map_ids:
        ids = (ctypes.c_uint32 * nr_map_ids)()
        buf2 = ctypes.create_string_buffer(_PROG_INFO_SIZE)
        struct.pack_into("<IQ", buf2, 52, nr_map_ids, ctypes.addressof(ids))
        attr2 = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd, info_len=_PROG_INFO_SIZE)
        attr2["info"] = ctypes.addressof(buf2)
        sc.bpf(attr2, what=f"cannot read map ids of program fd {fd}")
        map_ids = tuple(ids)
    ptype, pid, tag = struct.unpack_from("<II8s", raw, 0)
    jited_len, xlated_len = struct.unpack_from("<II", raw, 16)
    name = struct.unpack_from("<16s", raw, 64)[0].split(b"\0", 1)[0].decode(errors="replace")
    btf_id = struct.unpack_from("<I", raw, 128)[0]
    run_time, run_cnt = struct.unpack_from("<QQ", raw, 192)
    verified = struct.unpack_from("<I", raw, 216)[0]
    return ProgramInfo(ptype, pid, tag.hex(), name, xlated_len, jited_len, map_ids, btf_id,
                       run_time, run_cnt, verified)


def patch_map_refs(insns: Sequence[Instruction], maps: Mapping[str, Any],
                   program: str = "?") -> list[Instruction]:
    """Fill map fds into ``LDDW src=MAP_FD/MAP_VALUE ref=<map>`` (keeping MAP_VALUE offsets)."""
    out = []
    for index, insn in enumerate(insns):
        if insn.opcode == 0x18 and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) and insn.ref:
            target = maps.get(insn.ref)
            if target is None:
                raise KernelError(f"program {program!r} instruction {index} references map "
                                  f"{insn.ref!r}, which was not created")
            fd = target if isinstance(target, int) else target.fd
            insn = insn.with_(imm=(insn.imm64 & ~0xFFFFFFFF) | (fd & 0xFFFFFFFF))
        out.append(insn)
    return out


def _bytes_of(insns: bytes | bytearray | Sequence[Instruction]) -> bytes:
    if isinstance(insns, (bytes, bytearray, memoryview)):
        data = bytes(insns)
        if len(data) % 8:
            raise KernelError(f"program is {len(data)} bytes, not a multiple of 8")
        return data
    return encode(list(insns), validate=False)


class KernelProgram(LoadedProgram):
    """A program loaded into the kernel; attach with ``attach*()`` (returns a Link), run with test_run."""

    def __init__(self, fd: FD, *, name: str, type: ProgramType | int,
                 expected_attach_type: int | None = None, section: str = "",
                 attach_to: str = "", spec: Any = None, verifier_log: str = "") -> None:
        self._fd = fd
        self.name = name
        self.type = ProgramType(type)
        self.expected_attach_type = expected_attach_type
        self.section = section
        self.attach_to = attach_to
        self.spec = spec
        self.verifier_log = verifier_log
        self.pinned_path: str | None = None
        self.links: list[Any] = []

    # --- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, insns: bytes | Sequence[Instruction], *,
             prog_type: ProgramType | int, name: str = "", license: str = "GPL",
             kern_version: int = 0, expected_attach_type: AttachType | int | None = None,
             attach_btf_id: int = 0, attach_btf_obj_fd: int = 0, attach_prog_fd: int = 0,
             prog_flags: int = 0, btf_fd: int = 0, func_info: bytes = b"",
             line_info: bytes = b"", fd_array: Sequence[int] = (),
             bind_fd_array: bool = False,
             maps: Mapping[str, Any] | None = None, log_level: int = 0,
             line_records: Sequence[Any] = (), section: str = "", attach_to: str = "",
             spec: Any = None, prog_ifindex: int = 0) -> "KernelProgram":
        """BPF_PROG_LOAD. On rejection raises KernelVerifierError with the full log and the
        failing source line (from the log's "; ..." comments or ``line_records``).

        ``fd_array`` holds map/BTF fds the instructions index; ``bind_fd_array`` also passes
        fd_array_cnt so the kernel binds those maps to the program (how an arena map is
        associated with a program that only dereferences arena pointers)."""
        ptype = ProgramType(prog_type)
        if maps is not None and not isinstance(insns, (bytes, bytearray, memoryview)):
            insns = patch_map_refs(insns, maps, name)
        code = _bytes_of(insns)
        code_buf = ctypes.create_string_buffer(code, len(code) or 1)
        lic = ctypes.create_string_buffer(license.encode())
        attr = sc.Attr(sc.Cmd.PROG_LOAD, prog_type=ptype, insn_cnt=len(code) // 8,
                       kern_version=kern_version, prog_flags=prog_flags,
                       prog_name=_kernel_name(name), prog_ifindex=prog_ifindex)
        attr["insns"] = ctypes.addressof(code_buf)
        attr["license"] = ctypes.addressof(lic)
        if expected_attach_type is not None:
            attr["expected_attach_type"] = int(expected_attach_type)
        if attach_btf_id:
            attr["attach_btf_id"] = attach_btf_id
        if attach_btf_obj_fd:
            attr["attach_btf_obj_fd"] = attach_btf_obj_fd
        elif attach_prog_fd:
            attr["attach_prog_fd"] = attach_prog_fd
        keep: list[Any] = []
        if btf_fd:
            attr["prog_btf_fd"] = btf_fd
            if func_info:
                fi = ctypes.create_string_buffer(func_info, len(func_info))
                keep.append(fi)
                attr["func_info_rec_size"] = 8
                attr["func_info"] = ctypes.addressof(fi)
                attr["func_info_cnt"] = len(func_info) // 8
            if line_info:
                li = ctypes.create_string_buffer(line_info, len(line_info))
                keep.append(li)
                attr["line_info_rec_size"] = 16
                attr["line_info"] = ctypes.addressof(li)
                attr["line_info_cnt"] = len(line_info) // 16
        if fd_array:
            arr = (ctypes.c_int32 * len(fd_array))(*fd_array)
            keep.append(arr)
            attr["fd_array"] = ctypes.addressof(arr)
            if bind_fd_array:              # 6.13+: every map in fd_array is used by the program
                attr["fd_array_cnt"] = len(fd_array)

        log_size = MIN_LOG_SIZE if log_level else 0
        level = log_level
        retries = 0
        while True:
            log_buf = ctypes.create_string_buffer(log_size) if log_size else None
            attr["log_level"] = level
            attr["log_size"] = log_size
            attr["log_buf"] = ctypes.addressof(log_buf) if log_buf is not None else 0
            attr["log_true_size"] = 0
            ret = sc.raw_bpf(sc.Cmd.PROG_LOAD, attr.buf)
            if ret >= 0:
                log = log_buf.value.decode(errors="replace") if log_buf is not None else ""
                return cls(FD(ret, "prog"), name=name, type=ptype,
                           expected_attach_type=(None if expected_attach_type is None
                                                 else int(expected_attach_type)),
                           section=section, attach_to=attach_to, spec=spec, verifier_log=log)
            err = -ret
            if err in (_errno.EINTR, _errno.EAGAIN) and retries < 5:    # like libbpf
                retries += 1
                continue
            if err == _errno.ENOSPC and log_size and log_size < MAX_LOG_SIZE:
                true_size = attr["log_true_size"]
                log_size = min(MAX_LOG_SIZE, max(true_size + 1, log_size * 4))
                continue
            if not level and err in (_errno.EACCES, _errno.EINVAL, _errno.E2BIG, _errno.EFAULT,
                                     _errno.ERANGE, _errno.ENOENT, _errno.ENOTSUP,
                                     sc.ENOTSUPP, _errno.EPERM):
                level, log_size = LOG_LEVEL_BRANCHES, MIN_LOG_SIZE   # retry to get a log
                continue
            log = log_buf.value.decode(errors="replace") if log_buf is not None else ""
            raise _load_error(name, ptype, err, log, line_records, section,
                              expected_attach_type)

    @classmethod
    def from_fd(cls, fd: FD | int, **kw: Any) -> "KernelProgram":
        owned, info = adopt_fd(fd, "prog", "program", prog_info_from_fd)
        return cls(owned, name=kw.pop("name", info.name), type=info.type, **kw)

    @classmethod
    def from_id(cls, prog_id: int) -> "KernelProgram":
        attr = sc.Attr(sc.Cmd.PROG_GET_FD_BY_ID, prog_id=prog_id)
        return cls.from_fd(FD(sc.bpf(attr, what=f"no program with id {prog_id}"), "prog"))

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str]) -> "KernelProgram":
        from .pin import obj_get
        prog = cls.from_fd(obj_get(path, kind="program"))
        prog.pinned_path = os.fspath(path)
        return prog

    # --- identity ---------------------------------------------------------------------------
    @property
    def fd(self) -> int:
        return self._fd.number

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def info(self) -> ProgramInfo:
        return prog_info_from_fd(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def close(self) -> None:
        for link in self.links:
            link.close()
        self.links.clear()
        self._fd.close()

    def __enter__(self) -> "KernelProgram":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<KernelProgram {self.name!r} {self.type.name} fd={self._fd}>"

    def pin(self, path: str | os.PathLike[str]) -> None:
        from .pin import obj_pin
        obj_pin(self.fd, path)
        self.pinned_path = os.fspath(path)

    def unpin(self) -> None:
        if self.pinned_path:
            from .pin import unpin
            unpin(self.pinned_path)
            self.pinned_path = None

    # --- running ----------------------------------------------------------------------------
    def test_run(self, data_in: bytes = b"", *, ctx_in: bytes | None = None, repeat: int = 1,
                 data_size_out: int | None = None, flags: int = 0, cpu: int = 0,
                 ctx_size_out: int | None = None, batch_size: int = 0) -> TestRunResult:
        """BPF_PROG_TEST_RUN: run on ``data_in`` (and ``ctx_in``) ``repeat`` times.

        raw_tp / tracing / syscall programs run once on ``ctx_in`` only (the kernel refuses
        repeat and output buffers for them); a syscall program's ctx_out is its updated ctx.
        """
        data = bytes(data_in)
        ctx_only = self.type in _CTX_ONLY_TYPES
        attr = sc.Attr(sc.Cmd.PROG_TEST_RUN, prog_fd=self.fd,
                       repeat=0 if ctx_only else max(repeat, 0),
                       flags=flags, cpu=cpu, batch_size=batch_size)
        keep = []
        out_size = 0
        if data:
            din = ctypes.create_string_buffer(data, len(data))
            out_size = data_size_out if data_size_out is not None else len(data) + 4096
            dout = ctypes.create_string_buffer(max(out_size, 1))
            keep += [din, dout]
            attr["data_in"] = ctypes.addressof(din)
            attr["data_size_in"] = len(data)
            attr["data_out"] = ctypes.addressof(dout)
            attr["data_size_out"] = out_size
        ctx_out_buf = None
        if ctx_in:                       # b"" means no context, as None does
            cin = ctypes.create_string_buffer(bytes(ctx_in), max(len(ctx_in), 1))
            keep.append(cin)
            attr["ctx_in"] = ctypes.addressof(cin)
            attr["ctx_size_in"] = len(ctx_in)
            csize = ctx_size_out if ctx_size_out is not None else len(ctx_in)
            if csize and not ctx_only:
                ctx_out_buf = ctypes.create_string_buffer(csize)
                attr["ctx_out"] = ctypes.addressof(ctx_out_buf)
                attr["ctx_size_out"] = csize
        ret = sc.raw_bpf(sc.Cmd.PROG_TEST_RUN, attr.buf)
        if ret < 0:
            err = -ret
            what = f"test run of program {self.name!r} ({self.type.name}) failed"
            if err in (sc.ENOTSUPP, _errno.EOPNOTSUPP):
                raise NotSupportedError(f"{what}: BPF_PROG_TEST_RUN is not supported for "
                                        f"{self.type.name} programs", errno=err,
                                        command="BPF_PROG_TEST_RUN")
            raise KernelError(what, errno=err, command="BPF_PROG_TEST_RUN")
        data_out = b""
        if data:
            got = attr["data_size_out"]
            data_out = keep[1].raw[:min(got, out_size)]
        ctx_out = b""
        if ctx_out_buf is not None:
            ctx_out = ctx_out_buf.raw[:attr["ctx_size_out"]]
        elif ctx_in and self.type == ProgramType.SYSCALL:
            ctx_out = keep[-1].raw[:len(ctx_in)]
        return TestRunResult(retval=attr["retval"], data_out=data_out, ctx_out=ctx_out,
                             duration_ns=attr["duration"], repeat=max(repeat, 1))

    # --- attaching (see pybpf.kernel.links) ---------------------------------------------------
    def attach(self, **options: Any) -> Any:
        """Attach by section name (tracepoint/tp, raw_tp, tp_btf, fentry/fexit/fmod_ret/lsm,
        kprobe/kretprobe, uprobe/uretprobe path:symbol). Returns a Link (also kept on the program)."""
        from .autoattach import auto_attach
        return self._keep(auto_attach(self, **options))

    def _keep(self, link: Any) -> Any:
        self.links.append(link)
        return link

    def attach_tracepoint(self, group: str, name: str | None = None, **kw: Any) -> Any:
        from .links import attach_tracepoint
        return self._keep(attach_tracepoint(self, group, name, **kw))

    def attach_raw_tracepoint(self, name: str, **kw: Any) -> Any:
        from .links import attach_raw_tracepoint
        return self._keep(attach_raw_tracepoint(self, name, **kw))

    def attach_tracing(self, **kw: Any) -> Any:
        from .links import attach_tracing
        return self._keep(attach_tracing(self, **kw))

    def attach_iter(self, map: Any = None) -> Any:
        from .links import attach_iter
        return self._keep(attach_iter(self, map))

    def attach_kprobe(self, symbol: str, **kw: Any) -> Any:
        from .links import attach_kprobe
        return self._keep(attach_kprobe(self, symbol, **kw))

    def attach_uprobe(self, path: str, symbol: str | None = None, **kw: Any) -> Any:
        from .links import attach_uprobe
        return self._keep(attach_uprobe(self, path, symbol, **kw))

    def attach_uprobe_multi(self, path: str, symbols: Any = "*", **kw: Any) -> Any:
        from .links import attach_uprobe_multi
        return self._keep(attach_uprobe_multi(self, path, symbols, **kw))

    def attach_kprobe_multi(self, symbols: list[str], **kw: Any) -> Any:
        from .links import attach_kprobe_multi
        return self._keep(attach_kprobe_multi(self, symbols, **kw))

    def attach_perf_event(self, perf_fd: int, **kw: Any) -> Any:
        from .links import attach_perf_event
        return self._keep(attach_perf_event(self, perf_fd, **kw))

    def attach_xdp(self, interface: str | int, **kw: Any) -> Any:
        from .links import attach_xdp
        return self._keep(attach_xdp(self, interface, **kw))

    def attach_tcx(self, interface: str | int, direction: str = "ingress", **kw: Any) -> Any:
        from .links import attach_tcx
        return self._keep(attach_tcx(self, interface, direction, **kw))

    def attach_cgroup(self, cgroup: str, attach_type: AttachType | int | None = None,
                      **kw: Any) -> Any:
        from .links import attach_cgroup
        return self._keep(attach_cgroup(self, cgroup, attach_type, **kw))

    def attach_netns(self, netns: str = "/proc/self/ns/net", **kw: Any) -> Any:
        from .links import attach_netns
        return self._keep(attach_netns(self, netns, **kw))

    def attach_sockmap(self, sockmap: Any, attach_type: AttachType | int | None = None) -> Any:
        from .links import attach_sockmap
        return self._keep(attach_sockmap(self, sockmap, attach_type))

    def attach_socket(self, sock: Any) -> Any:
        from .links import attach_socket
        return self._keep(attach_socket(self, sock))


_CTX_ONLY_TYPES = frozenset({ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE,
                             ProgramType.TRACING, ProgramType.SYSCALL})


def _kernel_name(name: str) -> bytes:
    import re
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)[:15].encode()


def _load_error(name: str, ptype: ProgramType, err: int, log: str, line_records: Sequence[Any],
                section: str, expected_attach_type: Any) -> KernelError:
    if log.strip():
        message, failure, source_line = describe(name, log, line_records, section or None)
        return KernelVerifierError(f"{message}\n\nverifier log:\n{log.rstrip()}", log=log,
                                   program=name, insn=failure.insn, source_line=source_line,
                                   errno=err)
    what = f"cannot load program {name!r} ({ptype.name}"
    if expected_attach_type is not None:
        try:
            what += f", {AttachType(int(expected_attach_type)).name}"
        except ValueError:
            pass
    what += ")"
    if err == _errno.EPERM and ptype in (ProgramType.TRACING, ProgramType.LSM, ProgramType.EXT,
                                         ProgramType.STRUCT_OPS):
        return NotSupportedError(f"{what}: the kernel refused a BPF trampoline program (EPERM; "
                                 f"lockdown or missing trampoline support)", errno=err,
                                 command="BPF_PROG_LOAD")
    if err == _errno.EINVAL:
        from .features import prog_type_supported
        try:
            supported = prog_type_supported(ptype)
        except Exception:  # noqa: BLE001
            supported = True
        if not supported:
            return NotSupportedError(f"{what}: program type {ptype.name} is not supported by "
                                     f"this kernel", errno=err, command="BPF_PROG_LOAD")
    return KernelError(what, errno=err, command="BPF_PROG_LOAD")


def kfunc_patch(insns: Sequence[Instruction], resolve: Any, program: str = "?") -> list[Instruction]:
    """Resolve ``CALL src=KFUNC ref=<name>`` and ``LDDW src=BTF_ID ref=<name>`` via ``resolve(name,
    is_func) -> (btf_id, fd_array_index)``."""
    out = []
    for insn in insns:
        if insn.ref and insn.opcode == 0x85 and insn.src == CallSrc.KFUNC:
            btf_id, off = resolve(insn.ref, True)
            insn = insn.with_(imm=btf_id, off=off)
        elif insn.ref and insn.opcode == 0x18 and insn.src == PseudoSrc.BTF_ID:
            btf_id, off = resolve(insn.ref, False)
            insn = insn.with_(imm=(btf_id & 0xFFFFFFFF) | (off << 32))
        out.append(insn)
    return out
