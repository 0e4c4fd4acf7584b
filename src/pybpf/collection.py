"""``pybpf.Collection(spec, backend=...)``: one call that loads an ObjectSpec into the kernel or the VM.

A thin dispatcher: the work lives in pybpf.kernel and pybpf.vm; importing this module loads neither.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import BPFError

BACKENDS = {
    "kernel": ("pybpf.kernel", {}),
    "vm": ("pybpf.vm", {"engine": "interp"}),
    "interp": ("pybpf.vm", {"engine": "interp"}),
    "jit": ("pybpf.vm", {"engine": "jit"}),
}


def Collection(spec: Any, backend: str = "kernel", **options: Any) -> Any:  # noqa: N802 (a factory)
    """Load ``spec`` (an ObjectSpec, or a path to a BPF object) into ``backend``.

    backend: "kernel" (bpf(2), CO-RE against the running kernel), "vm" (the userspace interpreter)
    or "jit" (the userspace VM with native code). Returns a context manager with ``.programs`` and
    ``.maps``.
    """
    try:
        module_name, defaults = BACKENDS[backend]
    except KeyError:
        raise BPFError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}") from None
    if not hasattr(spec, "programs"):
        from .obj import load_object
        spec = load_object(spec)
    module = importlib.import_module(module_name)
    return module.Collection(spec, **{**defaults, **options})
