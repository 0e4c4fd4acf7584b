"""pybpf: a pure-Python eBPF toolkit — objects, BTF/CO-RE, a bpf(2) loader, a userspace VM, JIT and verifier.

The top-level package only re-exports; importing it must not touch the kernel.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import errors  # noqa: F401
from .collection import Collection  # noqa: F401

# XDP verdicts, for readable assertions on test_run results.
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)


def load_object(source):  # type: ignore[no-untyped-def]
    """Parse a clang-compiled BPF ELF object (path or bytes) into an ObjectSpec (no kernel access)."""
    from .obj import load_object as _load
    return _load(source)
