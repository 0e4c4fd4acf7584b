"""Printing in the bpf_conformance syntax: every suite program prints and reads back unchanged,
and what the syntax cannot express is refused with InstructionError.
Pure in-process checks; never touches the kernel."""
from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.errors import InstructionError
from pybpf.isa import Instruction
from pybpf.isa.asm import assemble
from pybpf.isa.conformance import parse_case
from pybpf.isa.disasm_conformance import disassemble_conformance, format_conformance

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance" / "tests"
TESTS = sorted(CONFORMANCE.glob("*.data"))


@pytest.mark.skipif(not TESTS, reason="bpf_conformance suite not found")
def test_every_suite_program_prints_and_reads_back():
    for path in TESTS:
        insns = parse_case(path).instructions()
        assert assemble("\n".join(disassemble_conformance(insns))) == insns, path.name


@pytest.mark.parametrize("insn,text", [
    (Instruction(0x04, dst=0, imm=1), "add32 %r0, 1"),
    (Instruction(0x3F, dst=1, src=2, off=1), "sdiv %r1, %r2"),
    (Instruction(0xBC, dst=1, src=2, off=8), "movsx832 %r1, %r2"),
    (Instruction(0xD7, dst=3, imm=64), "bswap64 %r3"),
    (Instruction(0xDC, dst=3, imm=16), "be16 %r3"),
    (Instruction(0x79, dst=0, src=1, off=-8), "ldxdw %r0, [%r1-8]"),
    (Instruction(0x91, dst=0, src=1, off=2), "ldxsb %r0, [%r1+2]"),
    (Instruction(0xC3, dst=10, src=1, off=-4, imm=0x41), "lock fetch or32 [%r10-4], %r1"),
    (Instruction(0xDB, dst=10, src=1, off=-8, imm=0xF1), "lock cmpxchg [%r10-8], %r1"),
    (Instruction(0x5E, dst=1, src=2, off=-3), "jne32 %r1, %r2, -3"),
    (Instruction(0x85, src=1, imm=4), "call local +4"),
    (Instruction(0x8D, dst=2), "call %r2"),
    (Instruction(0x18, dst=0, imm=0x1122334455667788), "lddw %r0, 0x1122334455667788"),
])
def test_instruction_prints_in_conformance_syntax(insn, text):
    assert format_conformance(insn) == text


@pytest.mark.parametrize("insn", [
    Instruction(0x18, dst=1, src=1, imm=5),          # map fd load
    Instruction(0x20, imm=12),                       # ld_abs
    Instruction(0xE5, off=1),                        # may_goto
    Instruction(0xBF, dst=1, src=2, off=1, imm=1),   # addr_space_cast
    Instruction(0x07, dst=0, src=1, imm=1),          # invalid encoding
])
def test_inexpressible_or_invalid_instructions_are_refused(insn):
    with pytest.raises(InstructionError):
        format_conformance(insn)
