"""Shared test fixtures: BPF compilation with clang-19, the kernel gate, conformance data paths.

Kernel tests are marked ``@pytest.mark.kernel``; they skip when bpf(2) is unusable, unless
PYBPF_REQUIRE_KERNEL=1 (set by .ci/run), which turns the skip into a failure.
"""
from __future__ import annotations

import ctypes
import os
import shutil
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"
CONFORMANCE = (REPO.parent / "shared" / "bpf_conformance")
REQUIRE_KERNEL = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"


@lru_cache(maxsize=None)
def kernel_bpf_usable() -> str | None:
    """Return None when bpf(2) can create a map here, else the reason it cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 16)()
    attr[0], attr[1], attr[2], attr[3] = 2, 4, 8, 1     # BPF_MAP_TYPE_ARRAY, key 4, value 8, 1 entry
    fd = libc.syscall(321, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        err = ctypes.get_errno()
        return f"bpf(BPF_MAP_CREATE) failed: {os.strerror(err)}"
    os.close(fd)
    return None


def pytest_runtest_setup(item):
    if "kernel" not in item.keywords:
        return
    reason = kernel_bpf_usable()
    if reason is not None:
        require_or_skip(reason)


def require_or_skip(reason: str) -> None:
    """Skip a test for a missing prerequisite, or fail if CI requires the kernel."""
    if REQUIRE_KERNEL:
        pytest.fail(f"PYBPF_REQUIRE_KERNEL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def clang() -> str:
    if not shutil.which("clang-19"):
        require_or_skip("clang-19 is not installed")
    return "clang-19"


@pytest.fixture(scope="session")
def compile_bpf(clang):
    """compile_bpf(path_or_name, mcpu="v3", **kw) -> Path of the compiled object (cached)."""
    from pybpf.build import compile_bpf as _compile

    def _do(source, mcpu: str = "v3", **kw):
        path = Path(source)
        if not path.is_absolute() and not path.exists():
            path = CORPUS / path
        return _compile(path, mcpu=mcpu, **kw)

    return _do


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE / "tests").is_dir():
        pytest.skip(f"bpf_conformance suite not found at {CONFORMANCE}")
    return CONFORMANCE
