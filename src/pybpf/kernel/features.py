"""Feature probes of the running kernel: program types, map types, helpers per program type, attach types.

Each probe loads or creates the smallest object that answers one question, closes it at once and
caches the answer; probes never attach anything and never raise for "not supported" (they return False).
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import platform
from functools import lru_cache
from typing import Any

from ..errors import KernelError, NotSupportedError
from ..isa.uapi import HELPER_IDS, AttachType, MapType, ProgramType, helper_name
from . import syscall as sc

_RET0 = bytes.fromhex("b700000000000000" "9500000000000000")     # r0 = 0; exit
_RET1 = bytes.fromhex("b700000001000000" "9500000000000000")     # r0 = 1; exit

# What libbpf's probe sets for program types that need more than the type to load.
_PROBE_ATTACH: dict[ProgramType, AttachType] = {
    ProgramType.CGROUP_SOCK_ADDR: AttachType.CGROUP_INET4_CONNECT,
    ProgramType.CGROUP_SOCKOPT: AttachType.CGROUP_GETSOCKOPT,
    ProgramType.SK_LOOKUP: AttachType.SK_LOOKUP,
    ProgramType.LIRC_MODE2: AttachType.LIRC_MODE2,
    ProgramType.NETFILTER: AttachType.NETFILTER,
    ProgramType.TRACING: AttachType.TRACE_FENTRY,
    ProgramType.LSM: AttachType.LSM_MAC,
}
_BTF_ID_TYPES = (ProgramType.TRACING, ProgramType.LSM, ProgramType.EXT, ProgramType.STRUCT_OPS)
_BPF_F_SLEEPABLE = 1 << 4


def kernel_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel (from uname, patch level capped at 255)."""
    release = platform.release().split("-", 1)[0]
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in release.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return (parts[0] << 16) | (parts[1] << 8) | min(parts[2], 255)


def _probe_load(ptype: ProgramType, code: bytes = _RET0, *,
                log_size: int = 0) -> tuple[int, str]:
    """Load a probe program; return (fd or -errno, log). Closes the fd."""
    code_buf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = sc.Attr(sc.Cmd.PROG_LOAD, prog_type=ptype, insn_cnt=len(code) // 8)
    attr["insns"] = ctypes.addressof(code_buf)
    attr["license"] = ctypes.addressof(lic)
    if ptype in _PROBE_ATTACH:
        attr["expected_attach_type"] = _PROBE_ATTACH[ptype]
    if ptype == ProgramType.KPROBE:
        attr["kern_version"] = kernel_version_code()
    if ptype in _BTF_ID_TYPES:
        attr["attach_btf_id"] = 1
    if ptype == ProgramType.SYSCALL:
        attr["prog_flags"] = _BPF_F_SLEEPABLE
    log = None
    if log_size:
        log = ctypes.create_string_buffer(log_size)
        attr["log_level"] = 1
        attr["log_size"] = log_size
        attr["log_buf"] = ctypes.addressof(log)
    ret = sc.raw_bpf(sc.Cmd.PROG_LOAD, attr.buf)
    if ret >= 0:
        os.close(ret)
    text = log.value.decode(errors="replace") if log is not None else ""
    return ret, text


@lru_cache(maxsize=None)
def prog_type_supported(ptype: ProgramType | int) -> bool:
    """Whether the kernel knows program type ``ptype`` (libbpf_probe_bpf_prog_type semantics)."""
    ptype = ProgramType(ptype)
    if ptype == ProgramType.UNSPEC:
        return False
    ret, log = _probe_load(ptype, log_size=4096 if ptype in _BTF_ID_TYPES else 0)
    if ptype in _BTF_ID_TYPES:
        # attach_btf_id 1 is never a function: a kernel that knows the type says so with EINVAL
        # (struct_ops: ENOTSUPP "attach_btf_id 1 is not a supported struct"); EPERM means refused
        return ret in (-_errno.EINVAL, -sc.ENOTSUPP) and "attach_btf_id 1 is not a" in log
    return ret >= 0


@lru_cache(maxsize=None)
def map_type_supported(mtype: MapType | int) -> bool:
    """Whether BPF_MAP_CREATE accepts ``mtype`` with sizes it needs (libbpf's probe values)."""
    mtype = MapType(mtype)
    key, value, entries, flags, extra = 4, 4, 1, 0, 0
    inner_fd = -1
    btf = None
    if mtype in (MapType.UNSPEC,):
        return False
    if mtype in (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
                 MapType.DEVMAP_HASH, MapType.SOCKHASH):
        pass
    if mtype == MapType.LPM_TRIE:
        key, value, flags = 8, 8, 1       # BPF_F_NO_PREALLOC
    elif mtype in (MapType.STACK_TRACE,):
        value = 8
    elif mtype in (MapType.QUEUE, MapType.STACK):
        key = 0
    elif mtype == MapType.BLOOM_FILTER:
        key, extra = 0, 1
    elif mtype in (MapType.RINGBUF, MapType.USER_RINGBUF):
        key, value, entries = 0, 0, os.sysconf("SC_PAGE_SIZE")
    elif mtype in (MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE):
        key, value, entries = 16, 8, 0
    elif mtype in (MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE,
                   MapType.CGRP_STORAGE):
        btf = _storage_btf()
        if btf is None:
            return False
        key, value, entries, flags = 4, 8, 0, 1
    elif mtype == MapType.ARENA:
        key, value, entries, flags = 0, 0, 1, 1 << 10
    elif mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        inner_fd = sc.raw_bpf(sc.Cmd.MAP_CREATE, sc.Attr(sc.Cmd.MAP_CREATE, map_type=MapType.ARRAY,
                                                         key_size=4, value_size=4,
                                                         max_entries=1).buf)
        if inner_fd < 0:
            return False
    elif mtype == MapType.STRUCT_OPS:
        # libbpf's probe: a kernel that knows the type rejects BTF value type id 1 with ENOTSUPP
        attr = sc.Attr(sc.Cmd.MAP_CREATE, map_type=mtype, key_size=4, value_size=4,
                       max_entries=1, btf_vmlinux_value_type_id=1)
        ret = sc.raw_bpf(sc.Cmd.MAP_CREATE, attr.buf)
        if ret >= 0:
            os.close(ret)
        return ret >= 0 or ret == -sc.ENOTSUPP
    attr = sc.Attr(sc.Cmd.MAP_CREATE, map_type=mtype, key_size=key, value_size=value,
                   max_entries=entries, map_flags=flags, map_extra=extra)
    if inner_fd >= 0:
        attr["inner_map_fd"] = inner_fd
    if btf is not None:
        attr["btf_fd"] = btf.fd
        attr["btf_key_type_id"] = 1
        attr["btf_value_type_id"] = 3
    try:
        ret = sc.raw_bpf(sc.Cmd.MAP_CREATE, attr.buf)
    finally:
        if inner_fd >= 0:
            os.close(inner_fd)
        if btf is not None:
            btf.close()
    if ret >= 0:
        os.close(ret)
        return True
    return False


def _storage_btf() -> Any:
    """BTF for local storage probes: int (id 1), struct val { int cnt; int l; } (id 3) like libbpf."""
    import struct as _s
    from .btfload import KernelBTF
    strs = b"\0int\0val\0cnt\0l\0"
    # [1] int, [2] int (dup, keeps ids like libbpf), [3] struct val { int cnt; int l; }
    types = (_s.pack("<IIII", 1, 0x01000000, 4, 0x01000020)
             + _s.pack("<IIII", 1, 0x01000000, 4, 0x01000020)
             + _s.pack("<III", 5, 0x04000002, 8) + _s.pack("<III", 9, 1, 0)
             + _s.pack("<III", 13, 1, 32))
    hdr = _s.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    try:
        return KernelBTF.load(hdr + types + strs)
    except KernelError:
        return None


@lru_cache(maxsize=None)
def helper_supported(ptype: ProgramType | int, helper: int | str) -> bool:
    """Whether programs of ``ptype`` may call ``helper`` (libbpf_probe_bpf_helper semantics; False
    for tracing/ext/lsm/struct_ops, which cannot be probed without an attach target)."""
    ptype = ProgramType(ptype)
    helper_id = HELPER_IDS[helper] if isinstance(helper, str) else int(helper)
    if ptype in _BTF_ID_TYPES:
        return False      # cannot load without a real attach target: unknown, like libbpf's probe
    if not prog_type_supported(ptype):
        return False
    code = bytes([0x85, 0]) + b"\0\0" + helper_id.to_bytes(4, "little") + _RET0
    ret, log = _probe_load(ptype, code, log_size=4096)
    if ret >= 0:
        return True
    return not ("invalid func " in log or "unknown func " in log
                or "program of this type cannot use helper " in log)


def available_helpers(ptype: ProgramType | int) -> list[str]:
    """Names (``bpf_...``) of every helper ``ptype`` programs may call."""
    return [helper_name(hid) for hid in sorted(set(HELPER_IDS.values()))
            if hid and helper_supported(ptype, hid)]


@lru_cache(maxsize=None)
def attach_type_supported(attach: AttachType | int) -> bool:
    """Whether the kernel accepts ``attach`` as a program's expected_attach_type (or link type)."""
    attach = AttachType(attach)
    ptype = _ATTACH_PROG_TYPE.get(attach)
    if ptype is None:
        return False
    code_buf = ctypes.create_string_buffer(_RET1, len(_RET1))   # 1 is valid for every hook
    lic = ctypes.create_string_buffer(b"GPL")
    attr = sc.Attr(sc.Cmd.PROG_LOAD, prog_type=ptype, insn_cnt=2, expected_attach_type=attach)
    attr["insns"] = ctypes.addressof(code_buf)
    attr["license"] = ctypes.addressof(lic)
    ret = sc.raw_bpf(sc.Cmd.PROG_LOAD, attr.buf)
    if ret < 0:
        return False
    try:
        if attach in (AttachType.TCX_INGRESS, AttachType.TCX_EGRESS, AttachType.NETKIT_PRIMARY,
                      AttachType.NETKIT_PEER, AttachType.XDP):
            # loopback-less probe: a link on ifindex 0 fails with EINVAL only if the attach type
            # is unknown; a known type fails later with ENODEV/EINVAL on the device.
            la = sc.Attr(sc.Cmd.LINK_CREATE, prog_fd=ret, target_ifindex=0, attach_type=attach)
            err = sc.raw_bpf(sc.Cmd.LINK_CREATE, la.buf)
            if err >= 0:
                os.close(err)
                return True
            return err != -_errno.EINVAL or attach == AttachType.XDP
        return True
    finally:
        os.close(ret)


_ATTACH_PROG_TYPE: dict[AttachType, ProgramType] = {
    AttachType.CGROUP_INET_INGRESS: ProgramType.CGROUP_SKB,
    AttachType.CGROUP_INET_EGRESS: ProgramType.CGROUP_SKB,
    AttachType.CGROUP_INET_SOCK_CREATE: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET_SOCK_RELEASE: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET4_POST_BIND: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET6_POST_BIND: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_SOCK_OPS: ProgramType.SOCK_OPS,
    AttachType.CGROUP_DEVICE: ProgramType.CGROUP_DEVICE,
    AttachType.CGROUP_SYSCTL: ProgramType.CGROUP_SYSCTL,
    AttachType.CGROUP_GETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    AttachType.CGROUP_SETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    AttachType.SK_LOOKUP: ProgramType.SK_LOOKUP,
    AttachType.XDP: ProgramType.XDP,
    AttachType.TCX_INGRESS: ProgramType.SCHED_CLS,
    AttachType.TCX_EGRESS: ProgramType.SCHED_CLS,
    AttachType.NETKIT_PRIMARY: ProgramType.SCHED_CLS,
    AttachType.NETKIT_PEER: ProgramType.SCHED_CLS,
    AttachType.NETFILTER: ProgramType.NETFILTER,
    AttachType.FLOW_DISSECTOR: ProgramType.FLOW_DISSECTOR,
    **{a: ProgramType.CGROUP_SOCK_ADDR for a in (
        AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND,
        AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_CONNECT,
        AttachType.CGROUP_UDP4_SENDMSG, AttachType.CGROUP_UDP6_SENDMSG,
        AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG,
        AttachType.CGROUP_INET4_GETPEERNAME, AttachType.CGROUP_INET6_GETPEERNAME,
        AttachType.CGROUP_INET4_GETSOCKNAME, AttachType.CGROUP_INET6_GETSOCKNAME,
        AttachType.CGROUP_UNIX_CONNECT, AttachType.CGROUP_UNIX_SENDMSG,
        AttachType.CGROUP_UNIX_RECVMSG, AttachType.CGROUP_UNIX_GETPEERNAME,
        AttachType.CGROUP_UNIX_GETSOCKNAME)},
}


def require_prog_type(ptype: ProgramType | int) -> None:
    """Raise NotSupportedError unless ``ptype`` is supported."""
    if not prog_type_supported(ptype):
        raise NotSupportedError(f"program type {ProgramType(ptype).name} is not supported by "
                                f"this kernel", command="BPF_PROG_LOAD")


def kprobes_supported() -> bool:
    return os.path.exists("/sys/bus/event_source/devices/kprobe/type")


def uprobes_supported() -> bool:
    return os.path.exists("/sys/bus/event_source/devices/uprobe/type")


def probe_all(*, helpers: bool = True) -> dict[str, Any]:
    """Everything, in the shape of ``bpftool -j feature probe kernel`` (program_types, map_types,
    helpers, misc) plus pybpf's attach_types and perf PMUs."""
    out: dict[str, Any] = {
        "syscall_config": {"have_bpf_syscall": _bpf_syscall_works()},
        "program_types": {f"have_{t.name.lower()}_prog_type": prog_type_supported(t)
                          for t in ProgramType if t != ProgramType.UNSPEC},
        "map_types": {f"have_{t.name.lower()}_map_type": map_type_supported(t)
                      for t in MapType if t != MapType.UNSPEC},
        "attach_types": {t.name.lower(): attach_type_supported(t) for t in _ATTACH_PROG_TYPE},
        "misc": {"have_kprobe_pmu": kprobes_supported(), "have_uprobe_pmu": uprobes_supported()},
    }
    if helpers:
        out["helpers"] = {f"{t.name.lower()}_available_helpers": available_helpers(t)
                          for t in ProgramType if t != ProgramType.UNSPEC}
    return out


def _bpf_syscall_works() -> bool:
    attr = sc.Attr(sc.Cmd.MAP_CREATE, map_type=MapType.ARRAY, key_size=4, value_size=4,
                   max_entries=1)
    ret = sc.raw_bpf(sc.Cmd.MAP_CREATE, attr.buf)
    if ret >= 0:
        os.close(ret)
        return True
    return False
