"""Arbitrary instruction streams never crash the verifier: it accepts or raises a ProgramRejected."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asm_util import MAPS
from pybpf.isa import Instruction, check
from pybpf.isa.opcodes import PseudoSrc
from pybpf.verifier import ProgramRejected, verify

OPCODES = sorted({op for op in range(256)
                  if check(Instruction(op)) is None or check(Instruction(op, imm=1)) is None
                  or check(Instruction(op, src=1)) is None} | {0x18, 0x85, 0x95, 0xDB, 0xC3})


@st.composite
def instruction(draw) -> Instruction:
    op = draw(st.sampled_from(OPCODES))
    insn = Instruction(op, dst=draw(st.integers(0, 10)), src=draw(st.integers(0, 10)),
                       off=draw(st.sampled_from([0, 0, 1, -1, 2, -8, 4, 8, 16, -512])),
                       imm=draw(st.sampled_from([0, 1, -1, 4, 7, 8, 16, 32, 64, 131, 0x7FFFFFFF])))
    if op == 0x18:
        kind = draw(st.sampled_from(["imm", "map", "value"]))
        if kind == "map":
            return Instruction(op, dst=insn.dst, src=PseudoSrc.MAP_FD, ref=draw(st.sampled_from(
                sorted(MAPS))))
        if kind == "value":
            return Instruction(op, dst=insn.dst, src=PseudoSrc.MAP_VALUE, imm=8 << 32, ref="arr")
        return Instruction(op, dst=insn.dst, imm=draw(st.integers(0, (1 << 64) - 1)))
    if op == 0x85:
        return Instruction(op, imm=draw(st.sampled_from([1, 2, 3, 5, 7, 12, 14, 16, 25, 44, 130,
                                                         131, 132, 181, 9999])))
    return insn if check(insn) is None else Instruction(0xB7, dst=insn.dst, imm=insn.imm)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(instruction(), min_size=1, max_size=24), st.sampled_from([1, 3, 5, 6, 17, 2]))
def test_random_programs_are_judged_without_crashing(insns, prog_type):
    insns = insns + [Instruction(0xB7, dst=0), Instruction(0x95)]
    try:
        result = verify(insns, prog_type=prog_type, maps=MAPS, insn_limit=5000)
    except ProgramRejected as exc:
        assert exc.reason
    else:
        assert result.accepted
