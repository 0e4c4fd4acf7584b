"""The unsafe-program corpus: the kernel rejects each with the annotated message, and so does pybpf."""
from __future__ import annotations

import pytest

from asm_util import MAPS
from unsafe_corpus import CASES
from pybpf.errors import VerifierError
from pybpf.verifier import ProgramRejected, verify

IDS = [c.name for c in CASES]


def test_corpus_has_at_least_100_distinct_unsafe_programs():
    assert len(CASES) >= 100
    assert len(set(IDS)) == len(IDS)


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kernel_rejects_with_the_annotated_message(case):
    from kernel_oracle import load
    verdict = load(case.instructions(), case.prog_type, MAPS)
    assert not verdict.accepted, f"the kernel accepted {case.name}"
    assert case.kernel in verdict.log, verdict.log[-2000:]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pybpf_rejects_the_unsafe_program(case):
    with pytest.raises(ProgramRejected) as info:
        verify(case.instructions(), prog_type=case.prog_type, maps=MAPS, **case.options)
    exc = info.value
    assert isinstance(exc, VerifierError)
    assert exc.pc is not None and exc.reason
