"""Compile eBPF C sources with clang into a cache directory (the project's bpf/ programs, test corpora).

A build-time helper only: pybpf's loaders never need clang, and nothing here touches the kernel.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .errors import BPFError

REPO_ROOT = Path(__file__).resolve().parents[2]
BPF_SOURCE_DIR = REPO_ROOT / "bpf"
DEFAULT_CLANG = "clang-19"
SYSTEM_INCLUDES = ["/usr/include/x86_64-linux-gnu"]


class BuildError(BPFError):
    """clang is missing or failed to compile a BPF source."""


def cache_dir() -> Path:
    base = os.environ.get("PYBPF_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pybpf")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_clang() -> str:
    """Return the clang able to emit -mcpu=v4 (clang-19), or raise BuildError."""
    for name in (os.environ.get("PYBPF_CLANG"), DEFAULT_CLANG):
        if name and shutil.which(name):
            return name
    raise BuildError("clang-19 not found: install it (apt-get install clang-19 llvm-19) "
                     "or set PYBPF_CLANG")


def compile_bpf(source: str | os.PathLike[str], *, mcpu: str = "v3", opt: str = "-O2",
                include_dirs: list[str | os.PathLike[str]] | None = None,
                defines: dict[str, str] | None = None, extra_flags: list[str] | None = None,
                out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Compile one C file to a BPF ELF object (with BTF, -g) and return its path.

    Objects are cached by a hash of the source, flags and included project headers, so repeated
    calls are cheap.
    """
    clang = find_clang()
    src = Path(source).resolve()
    if not src.exists():
        raise BuildError(f"{src}: no such BPF source")
    incs = [str(Path(d)) for d in (include_dirs or [])]
    incs += [str(BPF_SOURCE_DIR)] if BPF_SOURCE_DIR.exists() else []
    incs += SYSTEM_INCLUDES
    flags = [opt, "-g", "-target", "bpf", f"-mcpu={mcpu}", "-D__TARGET_ARCH_x86",
             "-Wno-unused-value", "-Wno-pointer-sign", "-Wno-compare-distinct-pointer-types"]
    flags += [f"-D{k}={v}" for k, v in sorted((defines or {}).items())]
    flags += list(extra_flags or [])
    digest = hashlib.sha256()
    digest.update(src.read_bytes())
    digest.update(repr((flags, incs, clang)).encode())
    for inc in incs[:-len(SYSTEM_INCLUDES)]:
        for header in sorted(Path(inc).glob("*.h")):
            digest.update(header.name.encode())
            digest.update(header.read_bytes())
    out = Path(out_dir) if out_dir else cache_dir() / "objs"
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{src.stem}.{mcpu}.{digest.hexdigest()[:16]}.o"
    if target.exists():
        return target
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    cmd = [clang, *flags, *[f"-I{i}" for i in incs], "-c", str(src), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"clang failed to compile {src}:\n{proc.stderr.strip()}")
    os.replace(tmp, target)
    return target
