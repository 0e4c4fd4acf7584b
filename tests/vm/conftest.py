"""Fixtures for VM tests: the VM test programs compiled with clang-19, scapy packets, both backends."""
from __future__ import annotations

from pathlib import Path

import pytest

PROGS = Path(__file__).resolve().parent / "progs"


@pytest.fixture(scope="session")
def vm_object(compile_bpf):
    """vm_object("vm_xdp") -> ObjectSpec of tests/vm/progs/vm_xdp.c (freshly parsed each call)."""
    import pybpf

    def load(name: str):
        return pybpf.load_object(compile_bpf(PROGS / f"{name}.c"))
    return load


@pytest.fixture(scope="session")
def packets() -> dict[str, bytes]:
    """A few frames addressed inside 10.200.0.0/16 (never sent anywhere: test_run input only)."""
    from vm_support import sample_frames
    return sample_frames()
