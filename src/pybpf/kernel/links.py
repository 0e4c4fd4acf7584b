"""Attaching programs: one Link object per attachment that detaches on close() (like cilium/ebpf's link).

Covers tracepoint, raw_tp, tp_btf/fentry/fexit/fmod_ret/lsm, kprobe/uprobe (PMU), perf_event, XDP,
tcx (classic tc fallback), socket filters and cgroups. Never leaves an fd open when attaching fails.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import BPFError, KernelError, NotSupportedError
from ..isa.uapi import AttachType, LinkType, ProgramType
from . import perf
from . import syscall as sc
from .fd import FD

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_HW_MODE = 1 << 3
XDP_MODES = {"skb": XDP_FLAGS_SKB_MODE, "generic": XDP_FLAGS_SKB_MODE, "drv": XDP_FLAGS_DRV_MODE,
             "native": XDP_FLAGS_DRV_MODE, "hw": XDP_FLAGS_HW_MODE, None: 0}

SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27

_LINK_INFO_SIZE = 64


@dataclass(frozen=True)
class LinkInfo:
    type: int
    id: int
    prog_id: int


def link_info_from_fd(fd: int) -> LinkInfo:
    buf = ctypes.create_string_buffer(_LINK_INFO_SIZE)
    attr = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd, info_len=_LINK_INFO_SIZE)
    attr["info"] = ctypes.addressof(buf)
    sc.bpf(attr, what=f"cannot read info of link fd {fd}")
    return LinkInfo(*struct.unpack_from("<III", buf.raw, 0))


class Link:
    """An attachment; close() detaches it. Subclasses own whatever keeps the attachment alive."""

    description: str = "link"

    def close(self) -> None:
        """Detach. Idempotent."""

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from GC
            pass

    def pin(self, path: str | os.PathLike[str]) -> None:
        raise NotSupportedError(f"{self.description} cannot be pinned (not a BPF link)")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


class FDLink(Link):
    """A BPF link fd (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN, or one opened from a pin)."""

    def __init__(self, fd: FD, description: str, extra: list[FD] | None = None) -> None:
        self._fd = fd
        self._extra = extra or []
        self.description = description
        self.pinned_path: str | None = None

    @property
    def fd(self) -> int:
        return self._fd.number

    def info(self) -> LinkInfo:
        return link_info_from_fd(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def close(self) -> None:
        self._fd.close()
        for fd in self._extra:
            fd.close()
        self._extra = []

    def pin(self, path: str | os.PathLike[str]) -> None:
        from .pin import obj_pin
        obj_pin(self.fd, path)
        self.pinned_path = os.fspath(path)

    def unpin(self) -> None:
        if self.pinned_path:
            from .pin import unpin
            unpin(self.pinned_path)
            self.pinned_path = None

    def detach(self) -> None:
        """BPF_LINK_DETACH: detach now even if pinned/shared (the fd stays valid but defunct)."""
        sc.bpf(sc.Attr(sc.Cmd.LINK_DETACH, link_fd=self.fd), what=f"cannot detach {self}")

    def update(self, program: Any) -> None:
        """BPF_LINK_UPDATE: swap in another program atomically."""
        sc.bpf(sc.Attr(sc.Cmd.LINK_UPDATE, link_fd=self.fd, new_prog_fd=program.fd),
               what=f"cannot update {self.description}")

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str]) -> "FDLink":
        from .pin import obj_get
        link = cls(obj_get(path, kind="link"), f"pinned link {os.fspath(path)}")
        link.pinned_path = os.fspath(path)
        return link

    @classmethod
    def from_id(cls, link_id: int) -> "FDLink":
        attr = sc.Attr(sc.Cmd.LINK_GET_FD_BY_ID, link_id=link_id)
        return cls(FD(sc.bpf(attr, what=f"no link with id {link_id}"), "link"), f"link {link_id}")


class IterLink(FDLink):
    """A BPF iterator link: every :meth:`read` runs the iterator once and returns its output."""

    def open(self) -> FD:
        """BPF_ITER_CREATE: a new readable fd; each read() runs the program over the objects."""
        attr = sc.Attr(sc.Cmd.ITER_CREATE, link_fd=self.fd)
        return FD(sc.bpf(attr, what=f"cannot create an iterator from {self.description}"), "iter")

    def read(self) -> bytes:
        """Run the iterator to the end and return everything it printed."""
        chunks = []
        with self.open() as fd:
            while True:
                try:
                    chunk = os.read(fd.number, 1 << 16)
                except OSError as exc:
                    raise KernelError(f"reading {self.description} failed", errno=exc.errno or 0,
                                      command="read") from None
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def lines(self) -> list[str]:
        return self.read().decode(errors="replace").splitlines()


class PerfEventLink(Link):
    """A program attached to a perf event through PERF_EVENT_IOC_SET_BPF (no BPF link fd)."""

    def __init__(self, perf_fd: FD, description: str) -> None:
        self._perf = perf_fd
        self.description = description

    def close(self) -> None:
        if not self._perf.closed:
            try:
                sc.ioctl(self._perf.number, perf.PERF_EVENT_IOC_DISABLE)
            except KernelError:
                pass
        self._perf.close()


class SocketFilterLink(Link):
    """SO_ATTACH_BPF on a socket; close() runs SO_DETACH_BPF (if the socket is still open)."""

    def __init__(self, sock: socket.socket, description: str) -> None:
        self._sock: socket.socket | None = sock
        self.description = description

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None and sock.fileno() >= 0:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
            except OSError:
                pass


class NetlinkXDPLink(Link):
    """XDP attached through rtnetlink (no BPF link); close() detaches it with the same mode flags."""

    def __init__(self, ifindex: int, flags: int, description: str) -> None:
        self.ifindex, self.flags = ifindex, flags
        self.description = description
        self._open = True

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        from .netlink import set_xdp_fd
        try:
            set_xdp_fd(self.ifindex, -1, self.flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST)
        except KernelError as exc:
            if exc.errno != _errno.ENODEV:       # the interface is gone: nothing to detach
                raise


class ProgAttachLink(Link):
    """A legacy BPF_PROG_ATTACH attachment (sockmap verdicts, old-style cgroup); close() runs
    BPF_PROG_DETACH with the same target, program and attach type."""

    def __init__(self, target: FD, prog_fd: FD, attach_type: int, description: str) -> None:
        self._target, self._prog = target, prog_fd
        self.attach_type = attach_type
        self.description = description

    def close(self) -> None:
        if self._target.closed:
            return
        try:
            sc.bpf(sc.Attr(sc.Cmd.PROG_DETACH, target_fd=self._target.number,
                           attach_bpf_fd=self._prog.number, attach_type=self.attach_type),
                   what=f"cannot detach {self.description}")
        except KernelError as exc:
            if exc.errno not in (_errno.ENOENT, _errno.EBADF):
                raise
        finally:
            self._target.close()
            self._prog.close()


class TCFilterLink(Link):
    """Classic tc: a direct-action bpf filter on the clsact qdisc; close() deletes that filter."""

    def __init__(self, ifindex: int, direction: str, prio: int, description: str) -> None:
        self.ifindex, self.direction, self.prio = ifindex, direction, prio
        self.description = description
        self._open = True

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        from .netlink import del_bpf_filter
        try:
            del_bpf_filter(self.ifindex, self.direction, self.prio)
        except KernelError as exc:
            if exc.errno not in (_errno.ENODEV, _errno.ENOENT, _errno.EINVAL):
                raise


# --- helpers -------------------------------------------------------------------------------
def link_create(program: Any, target_fd: int, attach_type: int, *, flags: int = 0,
                description: str, **extra: int) -> FD:
    attr = sc.Attr(sc.Cmd.LINK_CREATE, prog_fd=program.fd, target_fd=target_fd,
                   attach_type=int(attach_type), flags=flags)
    for name, value in extra.items():
        attr[name] = value
    return FD(sc.bpf(attr, what=f"cannot attach program {program.name!r} to {description}"),
              "link")


def _perf_attach(program: Any, perf_fd: FD, description: str, cookie: int = 0) -> Link:
    """Attach to an open perf event: BPF_LINK_CREATE(PERF_EVENT), else ioctl SET_BPF."""
    try:
        try:
            link = link_create(program, perf_fd.number, AttachType.PERF_EVENT,
                               description=description, perf_event_bpf_cookie=cookie)
        except KernelError as exc:
            if exc.errno not in (_errno.EINVAL, _errno.EOPNOTSUPP, sc.ENOTSUPP):
                raise
            sc.ioctl(perf_fd.number, perf.PERF_EVENT_IOC_SET_BPF, program.fd)
            sc.ioctl(perf_fd.number, perf.PERF_EVENT_IOC_ENABLE)
            return PerfEventLink(perf_fd, description)
        try:
            sc.ioctl(perf_fd.number, perf.PERF_EVENT_IOC_ENABLE)
        except BaseException:
            link.close()
            raise
        return FDLink(link, description, extra=[perf_fd])
    except BaseException:
        perf_fd.close()
        raise


def interface_index(interface: str | int) -> int:
    if isinstance(interface, int):
        return interface
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise KernelError(f"no network interface named {interface!r} in this namespace") from None


# --- attach functions ----------------------------------------------------------------------
def attach_tracepoint(program: Any, group: str, name: str | None = None, *,
                      cookie: int = 0) -> Link:
    """tracepoint/<group>/<name> via perf_event_open(PERF_TYPE_TRACEPOINT) + link."""
    if name is None:
        group, _, name = group.partition("/")
    tp_id = perf.tracepoint_id(group, name)
    attr = perf.perf_attr(type=perf.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1,
                          wakeup_events=1)
    pfd = perf.open_event(attr, pid=-1, cpu=0, what=f"tracepoint {group}/{name}")
    return _perf_attach(program, pfd, f"tracepoint {group}/{name}", cookie)


def attach_raw_tracepoint(program: Any, name: str, *, cookie: int = 0) -> Link:
    """raw_tp/<name> via BPF_RAW_TRACEPOINT_OPEN."""
    attr = sc.Attr(sc.Cmd.RAW_TRACEPOINT_OPEN, prog_fd=program.fd, cookie=cookie)
    attr["name"] = name
    fd = sc.bpf(attr, what=f"cannot attach program {program.name!r} to raw tracepoint {name!r}")
    return FDLink(FD(fd, "link"), f"raw_tp {name}")


def attach_tracing(program: Any, *, cookie: int = 0) -> Link:
    """tp_btf/fentry/fexit/fmod_ret/lsm: the target was fixed at load (attach_btf_id)."""
    attach_type = program.expected_attach_type
    try:
        if attach_type in (AttachType.TRACE_RAW_TP,) or attach_type is None:
            attr = sc.Attr(sc.Cmd.RAW_TRACEPOINT_OPEN, prog_fd=program.fd)
            fd = sc.bpf(attr, what=f"cannot attach tracing program {program.name!r}")
            return FDLink(FD(fd, "link"), f"tracing {program.name}")
        fd_obj = link_create(program, 0, attach_type, description=f"{program.section or 'tracing'}",
                             tracing_cookie=cookie)
        return FDLink(fd_obj, f"{AttachType(attach_type).name.lower()} {program.attach_to}")
    except KernelError as exc:
        if exc.errno in (_errno.EPERM, sc.ENOTSUPP, _errno.EOPNOTSUPP):
            raise NotSupportedError(f"cannot attach {program.name!r}: BPF trampolines are refused "
                                    f"by this kernel", errno=exc.errno,
                                    command=exc.command) from None
        raise


def attach_iter(program: Any, map: Any = None) -> IterLink:
    """iter/<target>: BPF_LINK_CREATE(TRACE_ITER), with ``map`` for map-element iterators."""
    extra: dict[str, int] = {}
    keep = None
    if map is not None:
        keep = ctypes.create_string_buffer(struct.pack("<I", map.fd), 16)   # bpf_iter_link_info
        extra = {"iter_info": ctypes.addressof(keep), "iter_info_len": 16}
    fd = link_create(program, 0, AttachType.TRACE_ITER,
                     description=f"iterator {program.attach_to or program.name}", **extra)
    del keep
    return IterLink(fd, f"iter {program.attach_to or program.name}")


def attach_kprobe(program: Any, symbol: str, *, offset: int = 0, retprobe: bool = False,
                  cookie: int = 0) -> Link:
    """kprobe/kretprobe through the kprobe PMU (NotSupportedError when the kernel has none)."""
    ptype = perf.pmu_type("kprobe")
    config = perf.retprobe_bit("kprobe") if retprobe else 0
    name = ctypes.create_string_buffer(symbol.encode())
    attr = perf.perf_attr(type=ptype, config=config, sample_period=1, wakeup_events=1,
                          config1=ctypes.addressof(name), config2=offset)
    pfd = perf.open_event(attr, pid=-1, cpu=0, what=f"kprobe {symbol}")
    return _perf_attach(program, pfd, f"{'kretprobe' if retprobe else 'kprobe'} {symbol}", cookie)


def attach_uprobe(program: Any, path: str, symbol: str | None = None, *, offset: int = 0,
                  retprobe: bool = False, pid: int = -1, cookie: int = 0) -> Link:
    """uprobe/uretprobe on ``path`` at ``symbol`` (+``offset``), via the uprobe PMU."""
    from .uprobe import resolve_binary, symbol_file_offset
    binary = resolve_binary(path)
    file_offset = offset
    if symbol:
        file_offset = symbol_file_offset(binary, symbol) + offset
    ptype = perf.pmu_type("uprobe")
    config = perf.retprobe_bit("uprobe") if retprobe else 0
    cpath = ctypes.create_string_buffer(os.fsencode(binary))
    attr = perf.perf_attr(type=ptype, config=config, sample_period=1, wakeup_events=1,
                          config1=ctypes.addressof(cpath), config2=file_offset)
    what = f"{'uretprobe' if retprobe else 'uprobe'} {binary}:{symbol or hex(file_offset)}"
    pfd = perf.open_event(attr, pid=pid, cpu=0 if pid == -1 else -1, what=what)
    return _perf_attach(program, pfd, what, cookie)


BPF_F_UPROBE_MULTI_RETURN = 1
BPF_F_KPROBE_MULTI_RETURN = 1


def attach_uprobe_multi(program: Any, path: str, symbols: str | list[str] = "*", *,
                        retprobe: bool = False, pid: int = 0,
                        cookies: list[int] | None = None) -> Link:
    """One link for many uprobes (BPF_TRACE_UPROBE_MULTI): ``symbols`` is a glob pattern or a list
    of names in ``path``; the program must be loaded with expected_attach_type TRACE_UPROBE_MULTI."""
    from .uprobe import resolve_binary, symbol_file_offset, symbol_file_offsets
    binary = resolve_binary(path)
    if isinstance(symbols, str):
        offsets = list(symbol_file_offsets(binary, symbols).values())
    else:
        offsets = [symbol_file_offset(binary, name) for name in symbols]
    if not offsets:
        raise BPFError(f"uprobe.multi on {binary}: no symbols given")
    cpath = ctypes.create_string_buffer(os.fsencode(binary))
    offs = (ctypes.c_uint64 * len(offsets))(*offsets)
    extra = {"uprobe_multi_path": ctypes.addressof(cpath),
             "uprobe_multi_offsets": ctypes.addressof(offs),
             "uprobe_multi_cnt": len(offsets),
             "uprobe_multi_flags": BPF_F_UPROBE_MULTI_RETURN if retprobe else 0,
             "uprobe_multi_pid": max(pid, 0)}
    cks = None
    if cookies is not None:
        if len(cookies) != len(offsets):
            raise BPFError(f"uprobe.multi: {len(cookies)} cookies for {len(offsets)} probes")
        cks = (ctypes.c_uint64 * len(cookies))(*cookies)
        extra["uprobe_multi_cookies"] = ctypes.addressof(cks)
    what = f"{'uretprobe' if retprobe else 'uprobe'}.multi {binary} ({len(offsets)} probes)"
    fd = link_create(program, 0, AttachType.TRACE_UPROBE_MULTI, description=what, **extra)
    del cpath, offs, cks
    return FDLink(fd, what)


def attach_kprobe_multi(program: Any, symbols: list[str], *, retprobe: bool = False) -> Link:
    """One link for many kprobes (BPF_TRACE_KPROBE_MULTI, fprobe-based) on kernel ``symbols``."""
    if not symbols:
        raise BPFError("kprobe.multi: no symbols given")
    names = [ctypes.create_string_buffer(s.encode()) for s in symbols]
    ptrs = (ctypes.c_uint64 * len(names))(*[ctypes.addressof(n) for n in names])
    what = f"{'kretprobe' if retprobe else 'kprobe'}.multi ({len(symbols)} symbols)"
    try:
        fd = link_create(program, 0, AttachType.TRACE_KPROBE_MULTI, description=what,
                         kprobe_multi_flags=BPF_F_KPROBE_MULTI_RETURN if retprobe else 0,
                         kprobe_multi_cnt=len(names), kprobe_multi_syms=ctypes.addressof(ptrs))
    except KernelError as exc:
        if exc.errno in (_errno.EOPNOTSUPP, sc.ENOTSUPP, _errno.EINVAL):
            raise NotSupportedError(f"{what}: kprobe.multi links are not supported by this "
                                    f"kernel", errno=exc.errno, command=exc.command) from None
        raise
    del names, ptrs
    return FDLink(fd, what)


def attach_perf_event(program: Any, perf_fd: int | FD, *, cookie: int = 0) -> Link:
    """Attach to a perf event the caller opened (the link owns a dup of the fd)."""
    fd = perf_fd.dup() if isinstance(perf_fd, FD) else FD(os.dup(perf_fd), "perf_event")
    return _perf_attach(program, fd, f"perf event fd {int(perf_fd)}", cookie)


def attach_xdp(program: Any, interface: str | int, *, mode: str | None = None,
               flags: int = 0, legacy: bool | None = None) -> Link:
    """XDP via BPF_LINK_CREATE; ``mode`` "skb"/"generic", "drv"/"native", "hw" or None (kernel picks).

    ``legacy``: True forces the rtnetlink path; None (default) falls back to it when the kernel
    has no XDP links (EINVAL/EOPNOTSUPP from BPF_LINK_CREATE); False never falls back.
    """
    if mode not in XDP_MODES:
        raise BPFError(f"unknown XDP mode {mode!r}: use skb, drv or hw")
    ifindex = interface_index(interface)
    all_flags = flags | XDP_MODES[mode]
    if not legacy:
        try:
            fd = link_create(program, ifindex, AttachType.XDP, flags=all_flags,
                             description=f"XDP on {interface}")
            return FDLink(fd, f"xdp {interface}")
        except KernelError as exc:
            if legacy is False or exc.errno not in (_errno.EINVAL, _errno.EOPNOTSUPP,
                                                    sc.ENOTSUPP):
                raise
    from .netlink import set_xdp_fd
    set_xdp_fd(ifindex, program.fd, all_flags | XDP_FLAGS_UPDATE_IF_NOEXIST)
    return NetlinkXDPLink(ifindex, all_flags, f"xdp (netlink) {interface}")


def attach_tcx(program: Any, interface: str | int, direction: str = "ingress") -> Link:
    """tcx ingress/egress via BPF_LINK_CREATE; falls back to classic tc (clsact) without tcx."""
    if direction not in ("ingress", "egress"):
        raise BPFError(f"tc direction must be 'ingress' or 'egress', not {direction!r}")
    attach_type = AttachType.TCX_INGRESS if direction == "ingress" else AttachType.TCX_EGRESS
    ifindex = interface_index(interface)
    try:
        fd = link_create(program, ifindex, attach_type, description=f"tcx {direction} on {interface}")
        return FDLink(fd, f"tcx {direction} {interface}")
    except KernelError as exc:
        if exc.errno not in (_errno.EINVAL, sc.ENOTSUPP, _errno.EOPNOTSUPP):
            raise
    return attach_tc_classic(program, ifindex, direction)


def attach_tc_classic(program: Any, interface: str | int, direction: str = "ingress", *,
                      prio: int | None = None) -> Link:
    """Classic tc over rtnetlink: clsact qdisc + a direct-action bpf filter with its own priority,
    so close() removes exactly it (the qdisc stays, like libbpf's bpf_tc_detach)."""
    from .netlink import add_bpf_filter, ensure_clsact
    if direction not in ("ingress", "egress"):
        raise BPFError(f"tc direction must be 'ingress' or 'egress', not {direction!r}")
    ifindex = interface_index(interface)
    if prio is None:
        prio = 0xC000 + (os.getpid() + program.fd) % 0x3FFF
    ensure_clsact(ifindex)
    add_bpf_filter(ifindex, direction, program.fd, program.name or "pybpf", prio)
    return TCFilterLink(ifindex, direction, prio, f"tc {direction} {interface} prio {prio}")


CGROUP_ATTACH_DEFAULTS = {
    ProgramType.CGROUP_SKB: AttachType.CGROUP_INET_INGRESS,
    ProgramType.CGROUP_SOCK: AttachType.CGROUP_INET_SOCK_CREATE,
    ProgramType.CGROUP_DEVICE: AttachType.CGROUP_DEVICE,
    ProgramType.CGROUP_SYSCTL: AttachType.CGROUP_SYSCTL,
    ProgramType.SOCK_OPS: AttachType.CGROUP_SOCK_OPS,
}


def _attach_type(program: Any, attach_type: AttachType | int | None,
                 defaults: dict[ProgramType, AttachType], what: str) -> AttachType | int:
    """The attach type given, else the program's expected one, else ``defaults`` by program
    type; none of them: a BPFError asking for it (``what`` names the attachment)."""
    if attach_type is None:
        attach_type = program.expected_attach_type
    if attach_type is None:                 # (0 is a real attach type: test for None only)
        attach_type = defaults.get(program.type)
    if attach_type is None:
        raise BPFError(f"program {program.name!r}: give attach_type for a {what} attachment")
    return attach_type


def _link_to_path(program: Any, path: str, open_flags: int, kind: str, label: str,
                  attach_type: AttachType | int) -> Link:
    """BPF_LINK_CREATE ``program`` to the object a path opens (a cgroup directory, a netns)."""
    try:
        target = FD(os.open(path, open_flags | os.O_RDONLY | os.O_CLOEXEC), kind)
    except OSError as exc:
        raise KernelError(f"cannot open {label} {path}", errno=exc.errno or 0,
                          command="open") from None
    name = AttachType(attach_type).name
    with target:
        fd = link_create(program, target.number, attach_type, description=f"{kind} {path} ({name})")
    return FDLink(fd, f"{kind} {name.lower()} {path}")


def attach_cgroup(program: Any, cgroup: str, attach_type: AttachType | int | None = None) -> Link:
    """Attach a cgroup program (cgroup_skb, cgroup/sock, sock_addr, ...) via BPF_LINK_CREATE."""
    attach_type = _attach_type(program, attach_type, CGROUP_ATTACH_DEFAULTS,
                               f"{program.type.name} cgroup")
    return _link_to_path(program, cgroup, os.O_DIRECTORY, "cgroup", "cgroup", attach_type)


def prog_attach(program: Any, target_fd: int, attach_type: AttachType | int, *, flags: int = 0,
                description: str) -> ProgAttachLink:
    """BPF_PROG_ATTACH ``program`` to ``target_fd`` (the link keeps dups of both fds)."""
    sc.bpf(sc.Attr(sc.Cmd.PROG_ATTACH, target_fd=target_fd, attach_bpf_fd=program.fd,
                   attach_type=int(attach_type), attach_flags=flags),
           what=f"cannot attach program {program.name!r} to {description}")
    return ProgAttachLink(FD(os.dup(target_fd), "attach target"), FD(os.dup(program.fd), "prog"),
                          int(attach_type), description)


SOCKMAP_ATTACH_DEFAULTS = {
    ProgramType.SK_MSG: AttachType.SK_MSG_VERDICT,
    ProgramType.SK_SKB: AttachType.SK_SKB_STREAM_VERDICT,
}


def attach_sockmap(program: Any, sockmap: Any, attach_type: AttachType | int | None = None) -> Link:
    """sk_skb / sk_msg programs on a SOCKMAP/SOCKHASH (legacy BPF_PROG_ATTACH to the map fd)."""
    attach_type = _attach_type(program, attach_type, SOCKMAP_ATTACH_DEFAULTS, "sockmap")
    return prog_attach(program, sockmap.fd, attach_type,
                       description=f"{AttachType(attach_type).name.lower()} on map "
                                   f"{getattr(sockmap, 'name', '?')!r}")


NETNS_ATTACH_DEFAULTS = {
    ProgramType.SK_LOOKUP: AttachType.SK_LOOKUP,
    ProgramType.FLOW_DISSECTOR: AttachType.FLOW_DISSECTOR,
}


def attach_netns(program: Any, netns: str = "/proc/self/ns/net",
                 attach_type: AttachType | int | None = None) -> Link:
    """sk_lookup / flow_dissector programs on a network namespace (a /proc/PID/ns/net or
    /var/run/netns/NAME path) via BPF_LINK_CREATE."""
    attach_type = _attach_type(program, attach_type, NETNS_ATTACH_DEFAULTS,
                               f"{program.type.name} netns")
    return _link_to_path(program, netns, 0, "netns", "network namespace", attach_type)


def attach_socket(program: Any, sock: socket.socket) -> Link:
    """SO_ATTACH_BPF a socket filter program to ``sock``."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, program.fd)
    except OSError as exc:
        raise KernelError(f"cannot attach {program.name!r} to socket {sock.fileno()}",
                          errno=exc.errno or 0, command="setsockopt(SO_ATTACH_BPF)") from None
    return SocketFilterLink(sock, f"socket filter fd {sock.fileno()}")


__all__ = ["Link", "FDLink", "PerfEventLink", "SocketFilterLink", "TCFilterLink", "LinkInfo",
           "NetlinkXDPLink",
           "IterLink", "attach_iter", "attach_uprobe_multi", "attach_kprobe_multi",
           "attach_tracepoint", "attach_raw_tracepoint", "attach_tracing", "attach_kprobe",
           "attach_uprobe", "attach_perf_event", "attach_xdp", "attach_tcx", "attach_tc_classic",
           "attach_cgroup", "attach_socket", "attach_netns", "attach_sockmap", "prog_attach",
           "ProgAttachLink", "LinkType"]
