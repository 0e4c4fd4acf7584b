"""Fixtures for the BTF tests: compiled corpus objects, their raw .BTF bytes, and bpftool/vmlinux.

Compiles tests/btf/corpus/*.c once per session (cached by pybpf.build); never writes into the repo.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).parent / "corpus"
VMLINUX = Path("/sys/kernel/btf/vmlinux")


@pytest.fixture(scope="session")
def corpus_objects(compile_bpf) -> dict[str, Path]:
    """name (file stem) -> compiled object path, for every C file of the BTF corpus."""
    return {src.stem: compile_bpf(src) for src in sorted(CORPUS_DIR.glob("*.c"))}


@pytest.fixture(scope="session")
def zoo_object(corpus_objects) -> Path:
    return corpus_objects["types_zoo"]


@pytest.fixture(scope="session")
def core_object(corpus_objects) -> Path:
    return corpus_objects["core_reads"]


@pytest.fixture(scope="session")
def bpftool() -> str:
    path = shutil.which("bpftool")
    if path is None:
        pytest.skip("bpftool is not installed")
    return path


@pytest.fixture(scope="session")
def bpftool_raw(bpftool):
    """bpftool_raw(path, base=None) -> text of 'bpftool btf dump file PATH format raw'."""

    def run(path: os.PathLike[str] | str, base: str | None = None) -> str:
        cmd = [bpftool] + (["-B", str(base)] if base else [])
        return subprocess.run(cmd + ["btf", "dump", "file", str(path), "format", "raw"], check=True, capture_output=True,
                              text=True).stdout

    return run


@pytest.fixture(scope="session")
def vmlinux_path() -> Path:
    if not os.access(VMLINUX, os.R_OK):
        pytest.skip(f"{VMLINUX} is not readable")
    return VMLINUX


@pytest.fixture(scope="session")
def vmlinux_bytes(vmlinux_path) -> bytes:
    return vmlinux_path.read_bytes()


@pytest.fixture(scope="session")
def vmlinux_btf(vmlinux_path):
    from pybpf.btf import load_vmlinux
    return load_vmlinux(vmlinux_path)


@pytest.fixture(scope="session")
def vmlinux_raw_text(bpftool_raw, vmlinux_path) -> str:
    """`bpftool btf dump file /sys/kernel/btf/vmlinux format raw`, run once per session."""
    return bpftool_raw(vmlinux_path)
