"""On-disk cache of the JIT's machine code, so a program compiles once per machine, not per process.

Entries are keyed by the program key plus everything that shapes the code (the source of pybpf.vm
and pybpf.isa, llvmlite/LLVM versions, target triple and host CPU), and carry a SHA-256 of the object so a
truncated or corrupted file is ignored, never handed to the LLVM loader. It never generates or
runs code. ``PYBPF_JIT_CACHE=0`` turns it off.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path

MAGIC = b"pybpf-jit-obj-1\n"
MAX_ENTRIES = 2048          # pruned to the newest this many (fuzzing compiles many one-off programs)
PRUNE_EVERY = 256
_stores = 0


def enabled() -> bool:
    return os.environ.get("PYBPF_JIT_CACHE", "1") not in ("0", "", "no", "off")


@cache
def _code_version() -> bytes:
    """What, besides the program, decides the generated machine code."""
    import llvmlite
    import llvmlite.binding as llvm
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[2]          # src/pybpf
    for path in sorted([*package.glob("vm/**/*.py"), *package.glob("isa/*.py")]):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    h.update(llvmlite.__version__.encode())
    h.update(".".join(map(str, llvm.llvm_version_info)).encode())
    h.update(llvm.get_process_triple().encode() + llvm.get_host_cpu_name().encode())
    return h.digest()


def entry_name(key: bytes) -> str:
    """The cache entry (and LLVM module) name for a program key."""
    return hashlib.sha256(_code_version() + key).hexdigest()


def _directory() -> Path:
    from ...build import cache_dir
    path = cache_dir() / "jit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(name: str) -> bytes | None:
    """The cached object for ``name``, or None if absent, unreadable or damaged."""
    if not enabled():
        return None
    try:
        data = (_directory() / f"{name}.o").read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + 32
    if len(data) <= head or not data.startswith(MAGIC):
        return None
    digest, obj = data[len(MAGIC):head], data[head:]
    return obj if hashlib.sha256(obj).digest() == digest else None


def store(name: str, obj: bytes) -> None:
    """Write atomically (temp file + rename); a cache that cannot be written is skipped."""
    if not enabled():
        return
    try:
        directory = _directory()
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(obj).digest() + obj)
        os.replace(tmp, directory / f"{name}.o")
        global _stores
        _stores += 1
        if _stores % PRUNE_EVERY == 0:
            _prune(directory)
    except OSError:
        pass


def _prune(directory: Path) -> None:
    """Keep the MAX_ENTRIES most recently written entries."""
    entries = sorted(directory.glob("*.o"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)


__all__ = ["enabled", "entry_name", "load", "store"]
