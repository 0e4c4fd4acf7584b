"""The bpf(2) system call through ctypes: command numbers, typed ``bpf_attr`` packing, errno -> KernelError.

Only builds attribute blocks and calls the kernel; it must never own fds beyond returning them
(wrapping in :class:`pybpf.kernel.fd.FD` is the caller's job) and never parses objects.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct
from enum import IntEnum
from typing import Any

from ..errors import KernelError, NotSupportedError

SYS_BPF = 321                  # x86_64
SYS_PERF_EVENT_OPEN = 298      # x86_64
ATTR_SIZE = 160                # larger than every layout we pack; the kernel checks the tail is zero

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_ulong]
_syscall6 = _libc["syscall"]          # a separate function object: untyped varargs
_syscall6.restype = ctypes.c_long
_ioctl = _libc["ioctl"]
_ioctl.restype = ctypes.c_int
ENOTSUPP = 524                        # kernel-internal "operation not supported"


class Cmd(IntEnum):
    """enum bpf_cmd."""
    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35


# Field layouts: name -> (offset, struct format). Offsets follow include/uapi/linux/bpf.h.
LAYOUTS: dict[Cmd, dict[str, tuple[int, str]]] = {}

_MAP_CREATE = {
    "map_type": (0, "I"), "key_size": (4, "I"), "value_size": (8, "I"), "max_entries": (12, "I"),
    "map_flags": (16, "I"), "inner_map_fd": (20, "I"), "numa_node": (24, "I"),
    "map_name": (28, "16s"), "map_ifindex": (44, "I"), "btf_fd": (48, "I"),
    "btf_key_type_id": (52, "I"), "btf_value_type_id": (56, "I"),
    "btf_vmlinux_value_type_id": (60, "I"), "map_extra": (64, "Q"),
}
_ELEM = {"map_fd": (0, "I"), "key": (8, "Q"), "value": (16, "Q"), "next_key": (16, "Q"),
         "flags": (24, "Q")}
_BATCH = {"in_batch": (0, "Q"), "out_batch": (8, "Q"), "keys": (16, "Q"), "values": (24, "Q"),
          "count": (32, "I"), "map_fd": (36, "I"), "elem_flags": (40, "Q"), "flags": (48, "Q")}
_PROG_LOAD = {
    "prog_type": (0, "I"), "insn_cnt": (4, "I"), "insns": (8, "Q"), "license": (16, "Q"),
    "log_level": (24, "I"), "log_size": (28, "I"), "log_buf": (32, "Q"), "kern_version": (40, "I"),
    "prog_flags": (44, "I"), "prog_name": (48, "16s"), "prog_ifindex": (64, "I"),
    "expected_attach_type": (68, "I"), "prog_btf_fd": (72, "I"), "func_info_rec_size": (76, "I"),
    "func_info": (80, "Q"), "func_info_cnt": (88, "I"), "line_info_rec_size": (92, "I"),
    "line_info": (96, "Q"), "line_info_cnt": (104, "I"), "attach_btf_id": (108, "I"),
    "attach_prog_fd": (112, "I"), "attach_btf_obj_fd": (112, "I"), "core_relo_cnt": (116, "I"),
    "fd_array": (120, "Q"), "core_relos": (128, "Q"), "core_relo_rec_size": (136, "I"),
    "log_true_size": (140, "I"), "prog_token_fd": (144, "I"), "fd_array_cnt": (148, "I"),
}
_OBJ = {"pathname": (0, "Q"), "bpf_fd": (8, "I"), "file_flags": (12, "I"), "path_fd": (16, "i")}
_TEST_RUN = {
    "prog_fd": (0, "I"), "retval": (4, "I"), "data_size_in": (8, "I"), "data_size_out": (12, "I"),
    "data_in": (16, "Q"), "data_out": (24, "Q"), "repeat": (32, "I"), "duration": (36, "I"),
    "ctx_size_in": (40, "I"), "ctx_size_out": (44, "I"), "ctx_in": (48, "Q"), "ctx_out": (56, "Q"),
    "flags": (64, "I"), "cpu": (68, "I"), "batch_size": (72, "I"),
}
_GET_ID = {"start_id": (0, "I"), "prog_id": (0, "I"), "map_id": (0, "I"), "btf_id": (0, "I"),
           "link_id": (0, "I"), "next_id": (4, "I"), "open_flags": (8, "I")}
_INFO = {"bpf_fd": (0, "I"), "info_len": (4, "I"), "info": (8, "Q")}
_RAW_TP = {"name": (0, "Q"), "prog_fd": (8, "I"), "cookie": (16, "Q")}
_BTF_LOAD = {"btf": (0, "Q"), "btf_log_buf": (8, "Q"), "btf_size": (16, "I"),
             "btf_log_size": (20, "I"), "btf_log_level": (24, "I"), "btf_log_true_size": (28, "I")}
_LINK_CREATE = {
    "prog_fd": (0, "I"), "map_fd": (0, "I"), "target_fd": (4, "I"), "target_ifindex": (4, "I"),
    "attach_type": (8, "I"), "flags": (12, "I"),
    "target_btf_id": (16, "I"),                                 # tp_btf / fentry / lsm
    "iter_info": (16, "Q"), "iter_info_len": (24, "I"),
    "perf_event_bpf_cookie": (16, "Q"),
    "tracing_target_btf_id": (16, "I"), "tracing_cookie": (24, "Q"),
    "relative_fd": (16, "I"), "expected_revision": (24, "Q"),  # tcx / netkit
    "uprobe_multi_path": (16, "Q"), "uprobe_multi_offsets": (24, "Q"),
    "uprobe_multi_ref_ctr_offsets": (32, "Q"), "uprobe_multi_cookies": (40, "Q"),
    "uprobe_multi_cnt": (48, "I"), "uprobe_multi_flags": (52, "I"), "uprobe_multi_pid": (56, "I"),
    "kprobe_multi_flags": (16, "I"), "kprobe_multi_cnt": (20, "I"), "kprobe_multi_syms": (24, "Q"),
    "kprobe_multi_addrs": (32, "Q"), "kprobe_multi_cookies": (40, "Q"),
}
_PROG_ATTACH = {"target_fd": (0, "I"), "attach_bpf_fd": (4, "I"), "attach_type": (8, "I"),
                "attach_flags": (12, "I"), "replace_bpf_fd": (16, "I")}
_PROG_QUERY = {"target_fd": (0, "I"), "attach_type": (4, "I"), "query_flags": (8, "I"),
               "attach_flags": (12, "I"), "prog_ids": (16, "Q"), "prog_cnt": (24, "I")}
_FD_ONLY = {"map_fd": (0, "I"), "link_fd": (0, "I")}
_BIND_MAP = {"prog_fd": (0, "I"), "map_fd": (4, "I"), "flags": (8, "I")}
_ITER_CREATE = {"link_fd": (0, "I"), "flags": (4, "I")}
_LINK_UPDATE = {"link_fd": (0, "I"), "new_prog_fd": (4, "I"), "flags": (8, "I"),
                "old_prog_fd": (12, "I")}

for _cmd in (Cmd.MAP_LOOKUP_ELEM, Cmd.MAP_UPDATE_ELEM, Cmd.MAP_DELETE_ELEM, Cmd.MAP_GET_NEXT_KEY,
             Cmd.MAP_LOOKUP_AND_DELETE_ELEM):
    LAYOUTS[_cmd] = _ELEM
for _cmd in (Cmd.MAP_LOOKUP_BATCH, Cmd.MAP_LOOKUP_AND_DELETE_BATCH, Cmd.MAP_UPDATE_BATCH,
             Cmd.MAP_DELETE_BATCH):
    LAYOUTS[_cmd] = _BATCH
for _cmd in (Cmd.PROG_GET_NEXT_ID, Cmd.MAP_GET_NEXT_ID, Cmd.BTF_GET_NEXT_ID, Cmd.LINK_GET_NEXT_ID,
             Cmd.PROG_GET_FD_BY_ID, Cmd.MAP_GET_FD_BY_ID, Cmd.BTF_GET_FD_BY_ID,
             Cmd.LINK_GET_FD_BY_ID):
    LAYOUTS[_cmd] = _GET_ID
LAYOUTS.update({
    Cmd.MAP_CREATE: _MAP_CREATE, Cmd.PROG_LOAD: _PROG_LOAD, Cmd.OBJ_PIN: _OBJ, Cmd.OBJ_GET: _OBJ,
    Cmd.PROG_TEST_RUN: _TEST_RUN, Cmd.OBJ_GET_INFO_BY_FD: _INFO, Cmd.RAW_TRACEPOINT_OPEN: _RAW_TP,
    Cmd.BTF_LOAD: _BTF_LOAD, Cmd.LINK_CREATE: _LINK_CREATE, Cmd.MAP_FREEZE: _FD_ONLY,
    Cmd.LINK_DETACH: _FD_ONLY, Cmd.PROG_ATTACH: _PROG_ATTACH, Cmd.PROG_DETACH: _PROG_ATTACH,
    Cmd.PROG_QUERY: _PROG_QUERY, Cmd.PROG_BIND_MAP: _BIND_MAP, Cmd.LINK_UPDATE: _LINK_UPDATE,
    Cmd.ITER_CREATE: _ITER_CREATE,
})


class Attr:
    """A zeroed ``union bpf_attr`` for one command; set fields by name, read them back after the call."""

    __slots__ = ("cmd", "buf", "layout", "_keep")

    def __init__(self, cmd: Cmd, **fields: Any) -> None:
        self.cmd = Cmd(cmd)
        self.layout = LAYOUTS[self.cmd]
        self.buf = ctypes.create_string_buffer(ATTR_SIZE)
        self._keep: list[Any] = []
        for name, value in fields.items():
            self[name] = value

    def __setitem__(self, name: str, value: Any) -> None:
        try:
            offset, fmt = self.layout[name]
        except KeyError:
            raise KernelError(f"bpf_attr of {self.cmd.name} has no field {name!r}") from None
        if fmt == "Q" and not isinstance(value, int):
            value = self.pointer(value)
        if fmt.endswith("s") and isinstance(value, str):
            value = value.encode()
        try:
            struct.pack_into("<" + fmt, self.buf, offset, value)
        except struct.error as exc:
            raise KernelError(f"bpf_attr {self.cmd.name}.{name} = {value!r}: {exc}") from None

    def __getitem__(self, name: str) -> Any:
        offset, fmt = self.layout[name]
        return struct.unpack_from("<" + fmt, self.buf, offset)[0]

    def pointer(self, obj: Any) -> int:
        """Address of a ctypes object / bytes / None (0); the object is kept alive with the attr."""
        if obj is None:
            return 0
        if isinstance(obj, (bytes, bytearray, memoryview, str)):
            data = obj.encode() + b"\0" if isinstance(obj, str) else bytes(obj)
            obj = ctypes.create_string_buffer(data, len(data) or 1)
        self._keep.append(obj)
        return ctypes.addressof(obj)


def errno_name(err: int) -> str:
    from ..errors import errno_name as name
    return name(err)


def raw_bpf(cmd: int, buf: Any, size: int = ATTR_SIZE) -> int:
    """Call bpf(2) on a prepared buffer; return the result or -errno (no exception, hot paths)."""
    ret = _syscall(SYS_BPF, cmd, buf, size)
    if ret < 0:
        return -ctypes.get_errno()
    return ret


def bpf(attr: Attr, *, what: str = "", size: int = ATTR_SIZE) -> int:
    """Run the command in ``attr``; raise KernelError (command + errno name) on failure."""
    while True:
        ret = _syscall(SYS_BPF, attr.cmd, attr.buf, size)
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            raise error_for(attr.cmd, err, what)


def error_for(cmd: Cmd | int, err: int, what: str = "") -> KernelError:
    """The exception for ``cmd`` failing with ``err`` (NotSupportedError when the kernel lacks it)."""
    name = Cmd(cmd).name if cmd in Cmd._value2member_map_ else str(cmd)
    message = what or f"bpf({name}) failed"
    if err in (ENOTSUPP, _errno.EOPNOTSUPP):
        return NotSupportedError(message, errno=err, command=f"BPF_{name}")
    return KernelError(message, errno=err, command=f"BPF_{name}")


def perf_event_open(attr: Any, pid: int, cpu: int, group_fd: int = -1, flags: int = 0) -> int:
    """perf_event_open(2); ``attr`` is a ctypes buffer holding a perf_event_attr. Returns the fd."""
    while True:
        ret = _syscall6(ctypes.c_long(SYS_PERF_EVENT_OPEN), attr, ctypes.c_int(pid), ctypes.c_int(cpu),
                 ctypes.c_int(group_fd), ctypes.c_ulong(flags))
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            if err in (_errno.EOPNOTSUPP, ENOTSUPP):
                raise NotSupportedError("perf_event_open failed", errno=err,
                                        command="perf_event_open")
            raise KernelError("perf_event_open failed", errno=err, command="perf_event_open")


def ioctl(fd: int, request: int, arg: int = 0) -> int:
    """ioctl(2) with an integer argument; raises KernelError on failure."""
    ret = _ioctl(ctypes.c_int(fd), ctypes.c_ulong(request), ctypes.c_long(arg))
    if ret < 0:
        err = ctypes.get_errno()
        raise KernelError(f"ioctl({request:#x}) on fd {fd} failed", errno=err, command="ioctl")
    return ret


def close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


__all__ = ["Cmd", "Attr", "bpf", "raw_bpf", "error_for", "errno_name", "perf_event_open", "ioctl",
           "ATTR_SIZE"]
