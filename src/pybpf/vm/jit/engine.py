"""LLVM set-up and native code generation for the JIT: one MCJIT engine, modules compiled once.

Initialises llvmlite once per process and caches compiled programs by key; it never generates IR
itself (see codegen) and never runs the code it compiles.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ...errors import JITError
from . import objcache

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
        tm = target.create_target_machine(opt=3, codemodel="jitdefault")
        backing = llvm.parse_assembly("")
        engine = llvm.create_mcjit_compiler(backing, tm)
        engine.set_object_cache(_object_compiled, _cached_object)
        _state["engine"] = engine
        _state["tm"] = tm
    return _state["engine"], _state["tm"]     # type: ignore[return-value]


_from_disk: dict[str, bytes] = {}      # module name -> object code about to be loaded from the cache


def _object_compiled(module: object, obj: bytes) -> None:
    """LLVM compiled a module: keep its object code on disk for the next process."""
    name = module.name                                  # type: ignore[attr-defined]
    if len(name) == 64 and name not in _from_disk:       # our modules only (sha256 names)
        objcache.store(name, obj)


def _cached_object(module: object) -> bytes | None:
    """LLVM asks before compiling a module: hand it the cached object code, if we found one."""
    return _from_disk.pop(module.name, None)            # type: ignore[attr-defined]


def _optimise(module: object, tm: object) -> None:
    import llvmlite.binding as llvm
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
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
        engine, tm = _engine()
        name = objcache.entry_name(key)
        addresses = None
        cached = objcache.load(name)
        if cached is not None:                 # machine code from an earlier process
            addresses = _add(engine, _empty_module(name), names, cached)
        if addresses is None:
            addresses = _add(engine, _compiled_module(build(), name, tm), names, None)
        if addresses is None:
            raise JITError(f"LLVM did not produce code for {names}")
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()                     # code stays alive in _modules; only lookups restart
        _cache[key] = addresses
        return addresses


def _empty_module(name: str) -> object:
    import llvmlite.binding as llvm
    module = llvm.parse_assembly("")
    module.name = name
    return module


def _compiled_module(text: str, name: str, tm: object) -> object:
    """Parse, verify and optimise generated IR as module ``name``."""
    import llvmlite.binding as llvm
    try:
        module = llvm.parse_assembly(text)
        module.verify()
    except RuntimeError as exc:
        raise JITError(f"generated LLVM IR does not verify: {exc}") from None
    module.name = name
    _optimise(module, tm)
    return module


def _add(engine: object, module: object, names: list[str],
         cached: bytes | None) -> dict[str, int] | None:
    """Finalize ``module`` (from ``cached`` object code when given) and return the addresses of
    ``names``, or None when they are missing (a cached object that does not define them)."""
    name = module.name                                  # type: ignore[attr-defined]
    if cached is not None:
        _from_disk[name] = cached
    try:
        engine.add_module(module)              # type: ignore[attr-defined]
        engine.finalize_object()               # type: ignore[attr-defined]
    finally:
        _from_disk.pop(name, None)
    _modules.append(module)
    addresses = {n: engine.get_function_address(n) for n in names}   # type: ignore[attr-defined]
    return addresses if all(addresses.values()) else None


def cache_size() -> int:
    return len(_cache)


__all__ = ["compile_ir", "cache_size"]
