"""pybpf: a pure-Python eBPF toolkit — objects, BTF/CO-RE, a bpf(2) loader, a userspace VM, JIT and verifier.

The top-level package only re-exports; importing it must not touch the kernel.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import errors  # noqa: F401
