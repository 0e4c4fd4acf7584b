"""Builds bpf/execsnoop.bpf.c: against a vmlinux.h that pybpf generates from the running kernel's BTF
when there is one, else with the source's own minimal CO-RE declarations.

Writes only into pybpf's cache directory; never loads anything.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[4] / "bpf" / "execsnoop.bpf.c"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


def vmlinux_header_dir(btf_path: Path = VMLINUX_BTF) -> Path | None:
    """A cache directory holding vmlinux.h for ``btf_path`` (generated once by pybpf.btf), or None
    when there is no kernel BTF or it cannot be dumped as C."""
    from ...build import cache_dir
    try:
        raw = btf_path.read_bytes()
    except OSError:
        return None
    folder = cache_dir() / "vmlinux" / hashlib.sha256(raw).hexdigest()[:16]
    header = folder / "vmlinux.h"
    if header.exists():
        return folder
    try:
        from ...btf import BTF
        from ...btf.c_dump import dump_c
        text = dump_c(BTF.from_file(str(btf_path)))
    except Exception:       # noqa: BLE001 - any dump failure just means "use the fallback"
        return None
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"vmlinux.h.tmp{os.getpid()}"
    tmp.write_text(text, errors="backslashreplace")
    os.replace(tmp, header)
    return folder


def compile_object(*, use_vmlinux_h: bool = True) -> Path:
    """Compile bpf/execsnoop.bpf.c (cached by pybpf.build) and return the object's path."""
    from ...build import compile_bpf
    from ...build import BuildError
    headers = vmlinux_header_dir() if use_vmlinux_h else None
    if headers is not None:
        try:
            return compile_bpf(SOURCE, mcpu="v3", include_dirs=[headers],
                               defines={"EXECSNOOP_USE_VMLINUX_H": "1"})
        except BuildError:
            pass            # a vmlinux.h clang rejects: the source's own declarations still work
    return compile_bpf(SOURCE, mcpu="v3")
