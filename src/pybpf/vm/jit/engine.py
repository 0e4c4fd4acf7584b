"""LLVM set-up and native code generation for the JIT: one MCJIT engine, modules compiled once.

Initialises llvmlite once per process and caches compiled programs by key; it never generates IR
itself (see codegen) and never runs the code it compiles.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ...errors import JITError

_lock = threading.Lock()
_state: dict[str, object] = {}
_cache: dict[bytes, dict[str, int]] = {}
_modules: list[object] = []          # keeps every compiled module (and its code) alive
CACHE_LIMIT = 4096


def _engine() -> tuple[object, object]:
    """(execution engine, target machine), created on first use."""
    if "engine" not in _state:
        import llvmlite.binding as llvm
        try:
            llvm.initialize()
        except RuntimeError:                   # newer llvmlite initialises itself
            pass
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        tm = target.create_target_machine(opt=2, codemodel="jitdefault")
        backing = llvm.parse_assembly("")
        _state["engine"] = llvm.create_mcjit_compiler(backing, tm)
        _state["tm"] = tm
    return _state["engine"], _state["tm"]     # type: ignore[return-value]


def _optimise(module: object, tm: object) -> None:
    import llvmlite.binding as llvm
    pto = llvm.create_pipeline_tuning_options(speed_level=2)
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    mpm.run(module, pb)


def compile_ir(key: bytes, build: Callable[[], str], names: list[str]) -> dict[str, int]:
    """Native addresses of functions ``names`` of the module ``build()`` returns (LLVM IR text),
    compiled once per ``key`` and shared by every machine in the process."""
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
        import llvmlite.binding as llvm
        engine, tm = _engine()
        text = build()
        try:
            module = llvm.parse_assembly(text)
            module.verify()
        except RuntimeError as exc:
            raise JITError(f"generated LLVM IR does not verify: {exc}") from None
        _optimise(module, tm)
        engine.add_module(module)              # type: ignore[attr-defined]
        engine.finalize_object()               # type: ignore[attr-defined]
        addresses = {n: engine.get_function_address(n) for n in names}   # type: ignore[attr-defined]
        if not all(addresses.values()):
            raise JITError(f"LLVM did not produce code for {names}")
        _modules.append(module)
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()                     # code stays alive in _modules; only lookups restart
        _cache[key] = addresses
        return addresses


def cache_size() -> int:
    return len(_cache)


__all__ = ["compile_ir", "cache_size"]
