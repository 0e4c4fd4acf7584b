"""Properties over random valid instructions: encode/decode is exact, disassembly reads back through
the assembler, and the disassembly of random code equals llvm-objdump-19's.
Runs llvm tools in temporary directories only; never touches the kernel."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.isa import Instruction, check, decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import disassemble
from pybpf.isa.opcodes import ATOMIC_OPS

from isa_llvm_tools import llvm_disassemble

regs = st.integers(0, 10)
imm32 = st.integers(-(1 << 31), (1 << 31) - 1)
off16 = st.integers(-(1 << 15), (1 << 15) - 1)
ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]


@st.composite
def alu(draw):
    cls = draw(st.sampled_from([0x04, 0x07]))
    op = draw(st.sampled_from(ALU_OPS))
    signed = 1 if op in (0x30, 0x90) and draw(st.booleans()) else 0
    if draw(st.booleans()):
        off = signed
        if op == 0xB0:
            off = draw(st.sampled_from([0, 8, 16, 32, 1] if cls == 0x07 else [0, 8, 16]))
            if off == 1:                                   # addr_space_cast
                return Instruction(0xBF, dst=draw(regs), src=draw(regs), off=1,
                                   imm=draw(st.sampled_from([1, 1 << 16])))
        return Instruction(cls | op | 0x08, dst=draw(regs), src=draw(regs), off=off)
    return Instruction(cls | op, dst=draw(regs), off=signed, imm=draw(imm32))


@st.composite
def misc_alu(draw):
    if draw(st.booleans()):
        return Instruction(draw(st.sampled_from([0x84, 0x87])), dst=draw(regs))
    return Instruction(draw(st.sampled_from([0xD4, 0xDC, 0xD7])), dst=draw(regs),
                       imm=draw(st.sampled_from([16, 32, 64])))


@st.composite
def jump(draw):
    cls = draw(st.sampled_from([0x05, 0x06]))
    op = draw(st.sampled_from(JMP_OPS))
    if draw(st.booleans()):
        return Instruction(cls | op | 0x08, dst=draw(regs), src=draw(regs), off=draw(off16))
    return Instruction(cls | op, dst=draw(regs), off=draw(off16), imm=draw(imm32))


@st.composite
def control(draw):
    kind = draw(st.sampled_from(["ja", "ja32", "may_goto", "call", "callx", "exit"]))
    if kind == "ja":
        return Instruction(0x05, off=draw(off16))
    if kind == "ja32":
        return Instruction(0x06, imm=draw(imm32))
    if kind == "may_goto":
        return Instruction(0xE5, off=draw(off16))
    if kind == "call":
        src = draw(st.sampled_from([0, 1, 2]))
        off = draw(st.integers(0, 0x7FFF)) if src == 2 and draw(st.booleans()) else 0
        return Instruction(0x85, src=src, off=off, imm=draw(imm32))
    if kind == "callx":
        return Instruction(0x8D, dst=draw(regs))
    return Instruction(0x95)


@st.composite
def memory(draw):
    kind = draw(st.sampled_from(["ldx", "ldxs", "st", "stx", "atomic", "abs", "ind"]))
    size = draw(st.sampled_from([0x00, 0x08, 0x10, 0x18]))
    if kind == "ldx":
        return Instruction(0x61 | size, dst=draw(regs), src=draw(regs), off=draw(off16))
    if kind == "ldxs":
        return Instruction(0x81 | min(size, 0x10), dst=draw(regs), src=draw(regs), off=draw(off16))
    if kind == "st":
        return Instruction(0x62 | size, dst=draw(regs), off=draw(off16), imm=draw(imm32))
    if kind == "stx":
        return Instruction(0x63 | size, dst=draw(regs), src=draw(regs), off=draw(off16))
    if kind == "atomic":
        return Instruction(0xC3 | draw(st.sampled_from([0x00, 0x18])), dst=draw(regs),
                           src=draw(regs), off=draw(off16),
                           imm=draw(st.sampled_from(sorted(int(op) for op in ATOMIC_OPS))))
    size = min(size, 0x10)
    if kind == "abs":
        return Instruction(0x20 | size, imm=draw(imm32))
    return Instruction(0x40 | size, src=draw(regs), imm=draw(imm32))


@st.composite
def lddw(draw):
    return Instruction(0x18, dst=draw(regs), src=draw(st.integers(0, 6)),
                       imm=draw(st.integers(0, (1 << 64) - 1)))


instruction = st.one_of(alu(), misc_alu(), jump(), control(), memory(), lddw())
programs = st.lists(instruction, min_size=1, max_size=30)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instruction)
def test_generated_instructions_are_valid(insn):
    assert check(insn) is None


@SETTINGS
@given(programs)
def test_encode_then_decode_is_identity(insns):
    code = encode(insns)
    assert len(code) == 8 * sum(i.slots for i in insns)
    assert decode(code) == insns


@SETTINGS
@given(programs, st.booleans())
def test_disassembly_assembles_back_to_the_same_instructions(insns, alu32):
    assert assemble("\n".join(disassemble(insns, alu32=alu32))) == insns


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction, min_size=50, max_size=150))
def test_disassembly_of_random_code_equals_llvm_objdump(insns):
    """Independent truth: llvm-objdump-19 --mcpu=v4 on the same bytes (wrapped by llvm-mc)."""
    theirs = llvm_disassemble(encode(insns), "--mcpu=v4")
    ours = disassemble(insns, alu32=True, llvm_exact=True)
    assert ours == theirs


TOKENS = ["r0", "w2", "r10", "r11", "%r1", "%r0", "=", "+=", "s/=", "*(u32 *)", "*(s8 *)",
          "(r1 + 0x4)", "(r1 - 8)", "[%r1+8]", "[%r1]", "[", "]", "(", ")", ",", "goto", "gotol",
          "if", "==", "s<", "&", "+0x2", "-1", "0x", "0xffffffffffffffff", "99999999999999999999",
          "ll", "call", "callx", "pc+1", "kfunc", "exit", "lock", "fetch", "add", "add32",
          "cmpxchg", "xchg32", "mov32", "lddw", "ldxdw", "stxw", "ja", "ja32", "jeq", "L1", "L1:",
          "local", "be16", "bswap32", "movsx832", "atomic_fetch_add(", "xchg_64(", "ld_pseudo",
          "skb[", "may_goto", "#", "<f+0x8>", "-", "neg", "sdiv32", "4294967295", "\t", "\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join))
def test_any_text_assembles_or_raises_assembler_error(text):
    from pybpf.errors import AssemblerError
    try:
        insns = assemble(text)
    except AssemblerError as exc:
        assert exc.line is not None and exc.line >= 1
        return
    assert assemble("\n".join(disassemble(insns))) == insns


def _conformance_expressible(insn: Instruction) -> bool:
    return not ((insn.opcode == 0x18 and insn.src) or insn.cls == 0x00 and insn.opcode != 0x18
                or insn.opcode == 0xE5 or (insn.opcode == 0xBF and insn.off == 1)
                or (insn.opcode == 0x85 and insn.off))


@SETTINGS
@given(st.lists(instruction.filter(_conformance_expressible), min_size=1, max_size=30))
def test_conformance_syntax_assembles_back_to_the_same_instructions(insns):
    from pybpf.isa.disasm_conformance import disassemble_conformance
    assert assemble("\n".join(disassemble_conformance(insns))) == insns
