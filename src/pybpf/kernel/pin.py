"""Pinning kernel objects in bpffs: BPF_OBJ_PIN / BPF_OBJ_GET, mounting /sys/fs/bpf when missing.

Works on fds and paths only; never removes a path that is not on a bpffs mount.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os

from ..errors import KernelError
from . import syscall as sc
from .fd import FD

BPFFS_DEFAULT = "/sys/fs/bpf"
BPF_FS_MAGIC = 0xCAFE4A11


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_long * 15)]


_libc = ctypes.CDLL(None, use_errno=True)


def is_bpffs(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` lives on a bpf filesystem."""
    buf = _Statfs()
    if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return False
    return (buf.f_type & 0xFFFFFFFF) == BPF_FS_MAGIC


def ensure_bpffs(path: str = BPFFS_DEFAULT) -> str:
    """Mount bpffs at ``path`` if nothing is mounted there yet; return the path."""
    if is_bpffs(path):
        return path
    os.makedirs(path, exist_ok=True)
    ret = _libc.mount(b"bpf", os.fsencode(path), b"bpf", ctypes.c_ulong(0), None)
    if ret != 0:
        err = ctypes.get_errno()
        raise KernelError(f"cannot mount bpffs at {path}", errno=err, command="mount")
    return path


def _check_dir(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path)) or "/"
    if not is_bpffs(parent):
        if os.path.abspath(parent).startswith(BPFFS_DEFAULT):
            ensure_bpffs(BPFFS_DEFAULT)
            os.makedirs(parent, exist_ok=True)
        if not is_bpffs(parent):
            raise KernelError(f"cannot pin at {path}: {parent} is not on a bpf filesystem")


def obj_pin(fd: int, path: str | os.PathLike[str]) -> None:
    """BPF_OBJ_PIN ``fd`` at ``path`` (its directory must be on bpffs)."""
    path = os.fspath(path)
    _check_dir(path)
    attr = sc.Attr(sc.Cmd.OBJ_PIN, bpf_fd=fd)
    attr["pathname"] = path
    sc.bpf(attr, what=f"cannot pin fd {fd} at {path}")


def obj_get(path: str | os.PathLike[str], *, kind: str = "object", flags: int = 0) -> FD:
    """BPF_OBJ_GET: a new fd for the object pinned at ``path``."""
    path = os.fspath(path)
    attr = sc.Attr(sc.Cmd.OBJ_GET, file_flags=flags)
    attr["pathname"] = path
    try:
        return FD(sc.bpf(attr, what=f"cannot open pinned {kind} {path}"), kind)
    except KernelError as exc:
        if exc.errno == _errno.ENOENT:
            raise KernelError(f"no pinned {kind} at {path}", errno=exc.errno,
                              command="BPF_OBJ_GET") from None
        raise


def unpin(path: str | os.PathLike[str]) -> None:
    """Remove a pin (the object lives on while other references exist)."""
    path = os.fspath(path)
    if not is_bpffs(os.path.dirname(os.path.abspath(path))):
        raise KernelError(f"refusing to unlink {path}: not on a bpf filesystem")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
