"""Owned file descriptors: an ``FD`` closes its number exactly once (close(), ``with``, or GC).

Holds an int and nothing else; it must never close a number it does not own or close twice.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from ..errors import KernelError


class FD:
    """One kernel file descriptor this process owns (map, program, link, BTF, perf event...)."""

    __slots__ = ("_fd", "kind", "__weakref__")

    def __init__(self, fd: int, kind: str = "fd") -> None:
        if fd < 0:
            raise KernelError(f"invalid {kind} file descriptor {fd}")
        self._fd = fd
        self.kind = kind

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __int__(self) -> int:
        return self.number

    @property
    def number(self) -> int:
        if self._fd < 0:
            raise KernelError(f"{self.kind} file descriptor is closed")
        return self._fd

    def dup(self) -> "FD":
        return FD(os.dup(self.number), self.kind)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "FD":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FD {self.kind} {self._fd if self._fd >= 0 else 'closed'}>"


def bpf_object_kind(fd: int) -> str:
    """"map", "prog", "link", "btf" (from the anon inode behind ``fd``) or "" for anything else."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""
    for marker, kind in (("bpf-map", "map"), ("bpf-prog", "prog"), ("bpf_link", "link"),
                         ("bpf-link", "link"), ("btf", "btf")):
        if marker in target:
            return kind
    return ""


_Info = TypeVar("_Info")


def adopt_fd(fd: "FD | int", kind: str, noun: str, read_info: Callable[[int], _Info],
             error: type[KernelError] = KernelError) -> tuple["FD", _Info]:
    """Take ownership of ``fd`` after checking it is a BPF ``kind`` ("map", "prog") and reading its
    info with ``read_info``; the fd is closed if either step fails."""
    owned = fd if isinstance(fd, FD) else FD(fd, kind)
    actual = bpf_object_kind(owned.number)
    if actual != kind:
        owned.close()
        raise error(f"fd is a BPF {actual or 'non-BPF object'}, not a {noun}")
    try:
        return owned, read_info(owned.number)
    except BaseException:
        owned.close()
        raise
