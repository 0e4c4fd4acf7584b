"""Run a Python callable inside a named network namespace (ip netns), on a helper thread.

setns(CLONE_NEWNET) applies to the calling thread only, so the caller's thread never changes
namespace; sockets created by the callable stay in that namespace. Never creates or deletes
namespaces (topology.py does).
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ...errors import BPFError

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(BPFError):
    """A network namespace is missing or cannot be entered."""


def run_in_netns(name: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` inside network namespace ``name`` (None: the current one)."""
    if name is None:
        return fn(*args, **kwargs)
    path = os.path.join(NETNS_DIR, name)
    if not os.path.exists(path):
        raise NetnsError(f"network namespace {name!r} does not exist ({path})")
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise NetnsError(f"setns into {name!r} failed: {os.strerror(err)}")
            finally:
                os.close(fd)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
