"""Verifier patterns found by making the VM verify by default: each checked against the kernel.

Each test loads a program into the kernel (the truth) and asks pybpf's verifier for its verdict.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.errors import KernelVerifierError
from pybpf.kernel import Collection
from pybpf.obj import load_object
from pybpf.verifier import verify_program

PROGS = Path(__file__).resolve().parent / "progs"


def _kernel_accepts(spec, name: str) -> bool:
    try:
        with Collection(spec, programs=[name]):
            return True
    except KernelVerifierError:
        return False


@pytest.mark.kernel
def test_callback_may_read_its_map_key_like_the_kernel(compile_bpf):
    spec = load_object(compile_bpf(PROGS / "map_key_callback.c"))
    assert _kernel_accepts(spec, "reads_key")
    assert verify_program(spec.programs["reads_key"], spec).accepted


@pytest.mark.kernel
def test_callback_may_not_write_its_map_key_like_the_kernel(compile_bpf):
    spec = load_object(compile_bpf(PROGS / "map_key_callback.c"))
    assert not _kernel_accepts(spec, "writes_key")
    result = verify_program(spec.programs["writes_key"], spec, raise_on_reject=False)
    assert not result.accepted and "key" in result.error.reason


@pytest.mark.kernel
def test_callback_may_not_read_past_its_map_key_like_the_kernel(compile_bpf):
    spec = load_object(compile_bpf(PROGS / "map_key_callback.c"))
    assert not _kernel_accepts(spec, "reads_past_key")
    result = verify_program(spec.programs["reads_past_key"], spec, raise_on_reject=False)
    assert not result.accepted and "key" in result.error.reason


@pytest.mark.kernel
def test_strtol_writing_its_result_to_the_stack_is_accepted_like_the_kernel(compile_bpf):
    spec = load_object(compile_bpf(PROGS / "strtol_calls.c"))
    assert _kernel_accepts(spec, "parses_into_stack")
    assert verify_program(spec.programs["parses_into_stack"], spec).accepted


@pytest.mark.kernel
def test_strtol_result_slot_must_be_eight_bytes_inside_the_stack_like_the_kernel(compile_bpf):
    spec = load_object(compile_bpf(PROGS / "strtol_calls.c"))
    kernel = _kernel_accepts(spec, "parses_into_small_slot")
    ours = verify_program(spec.programs["parses_into_small_slot"], spec, raise_on_reject=False)
    assert ours.accepted == kernel
