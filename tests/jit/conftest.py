"""Fixtures for JIT tests: the VM test programs, the VM's generators (imported from tests/vm), both engines."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

VM_TESTS = Path(__file__).resolve().parents[1] / "vm"
if str(VM_TESTS) not in sys.path:
    sys.path.insert(0, str(VM_TESTS))
PROGS = VM_TESTS / "progs"


@pytest.fixture(scope="session")
def vm_prog_path(compile_bpf):
    """vm_prog_path("vm_xdp") -> compiled object path of tests/vm/progs/vm_xdp.c."""
    return lambda name: compile_bpf(PROGS / f"{name}.c")


@pytest.fixture(scope="session")
def frames() -> dict[str, bytes]:
    """Frames addressed inside 10.200.0.0/16 (test_run input only, never sent)."""
    from vm_support import sample_frames
    return sample_frames()
