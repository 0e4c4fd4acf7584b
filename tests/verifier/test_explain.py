"""Rejections explain themselves: the instruction, its source line, the path and a reason a person reads."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from asm_util import MAPS, prog
from pybpf.errors import VerifierError
from pybpf.verifier import (NullPointerError, PacketBoundsError, ReferenceLeakError, verify,
                            verify_program)

PROGS = Path(__file__).resolve().parent / "progs"


def _bug_line(source: Path, marker: str = "BUG") -> str:
    """The text of the line marked BUG in a test program (the independent truth)."""
    for line in source.read_text().splitlines():
        if marker in line:
            return line.split("/*")[0].strip()
    raise AssertionError("no BUG marker")


def _spec(compile_bpf, name: str):  # noqa: ANN001, ANN202
    from pybpf.obj import load_object
    return load_object(compile_bpf(PROGS / name))


def test_packet_rejection_names_the_source_line(compile_bpf):
    spec = _spec(compile_bpf, "xdp_missing_check.c")
    with pytest.raises(PacketBoundsError) as info:
        verify_program(spec.programs["short_check"], spec)
    exc = info.value
    assert _bug_line(PROGS / "xdp_missing_check.c") in exc.source_line
    assert "data_end" in exc.hint
    assert "data_end" in str(exc) and "path" in str(exc)


def test_the_same_access_after_a_full_check_is_accepted(compile_bpf):
    spec = _spec(compile_bpf, "xdp_missing_check.c")
    result = verify_program(spec.programs["good_check"], spec)
    assert result.accepted and result.insns_processed > 0


def test_reference_leak_is_reported_with_the_reserving_instruction(compile_bpf):
    spec = _spec(compile_bpf, "ringbuf_leak.c")
    insns = spec.programs["leak_on_odd_pid"].instructions
    reserve_pc = next(i for i, insn in enumerate(insns) if insn.is_helper_call and insn.imm == 131)
    with pytest.raises(ReferenceLeakError) as info:
        verify_program(spec.programs["leak_on_odd_pid"], spec)
    assert f"alloc_insn={_slot(insns, reserve_pc)}" in info.value.reason
    assert _bug_line(PROGS / "ringbuf_leak.c", "BRANCH") in "\n".join(info.value.path)


def _slot(insns, index: int) -> int:  # noqa: ANN001
    return sum(i.slots for i in insns[:index])


def test_path_lists_each_instruction_with_register_states():
    text = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, hash\ncall 1\nldxdw %r0, [%r0]\nexit"
    with pytest.raises(NullPointerError) as info:
        verify(prog(text), prog_type=6, maps=MAPS)
    path = info.value.path
    pcs = [int(m.group(1)) for line in path if (m := re.match(r"(\d+): ", line))]
    assert pcs == [0, 1, 2, 3, 5, 6]           # the lddw takes slots 3 and 4
    assert "map_value_or_null" in path[-1]
    assert info.value.pc == 6 and isinstance(info.value, VerifierError)


def test_rejection_can_be_returned_instead_of_raised():
    result = verify(prog("mov %r0, %r2\nexit"), prog_type=6, raise_on_reject=False)
    assert not result.accepted
    assert result.error is not None and "R2 !read_ok" in result.error.reason


def test_missing_map_description_is_a_clear_error():
    with pytest.raises(VerifierError, match="not described"):
        verify(prog("ldmap %r1, nowhere\nmov %r0, 0\nexit"), prog_type=6, maps={})


@pytest.mark.kernel
def test_rejected_instruction_matches_the_kernel_for_the_unsafe_corpus():
    from kernel_oracle import load
    from unsafe_corpus import CASES
    same = total = 0
    for case in CASES:
        if case.options:                 # complexity-limit cases stop at an arbitrary instruction
            continue
        insns = case.instructions()
        kernel_pcs = re.findall(r"^(\d+): \(", load(insns, case.prog_type, MAPS).log, re.M)
        if not kernel_pcs:
            continue
        result = verify(insns, prog_type=case.prog_type, maps=MAPS, raise_on_reject=False,
                        **case.options)
        total += 1
        same += result.error.pc == int(kernel_pcs[-1])
    print(f"\nrejected at the kernel's instruction: {same}/{total}")
    assert same >= 0.95 * total
