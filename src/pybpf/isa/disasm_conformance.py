"""Formats Instructions in the bpf_conformance/uBPF assembly syntax (``add32 %r0, 1``, ``ldxdw %r0, [%r1+8]``).

The output reads back through :func:`pybpf.isa.asm.assemble` (and bpf_conformance's own assembler for
16-bit jump offsets); it never guesses: encodings the syntax cannot express raise InstructionError.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import InstructionError
from .codec import check
from .instruction import Instruction
from .opcodes import (
    CALL, EXIT, JA, JA32, LDDW, ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, Size, Source,
)

_ALU = {ALUOp.ADD: "add", ALUOp.SUB: "sub", ALUOp.MUL: "mul", ALUOp.DIV: "div", ALUOp.OR: "or",
        ALUOp.AND: "and", ALUOp.LSH: "lsh", ALUOp.RSH: "rsh", ALUOp.MOD: "mod", ALUOp.XOR: "xor",
        ALUOp.MOV: "mov", ALUOp.ARSH: "arsh"}
_JMP = {JumpOp.JEQ: "jeq", JumpOp.JGT: "jgt", JumpOp.JGE: "jge", JumpOp.JSET: "jset",
        JumpOp.JNE: "jne", JumpOp.JSGT: "jsgt", JumpOp.JSGE: "jsge", JumpOp.JLT: "jlt",
        JumpOp.JLE: "jle", JumpOp.JSLT: "jslt", JumpOp.JSLE: "jsle"}
_SIZE = {Size.B: "b", Size.H: "h", Size.W: "w", Size.DW: "dw"}
_ATOMIC = {AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor"}


def _mem(reg: int, off: int) -> str:
    return f"[%r{reg}{off:+d}]"


def format_conformance(insn: Instruction) -> str:
    """One instruction in bpf_conformance syntax; raises InstructionError if it has no spelling there."""
    problem = check(insn)
    if problem:
        raise InstructionError(f"invalid instruction {insn.opcode:#04x}: {problem}")
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        return _alu(insn)
    if cls in (Class.JMP, Class.JMP32):
        return _jump(insn)
    if insn.opcode == LDDW:
        if insn.src:
            raise InstructionError(f"lddw with pseudo source {insn.src} has no bpf_conformance "
                                   "spelling (only plain 64-bit constants)")
        return f"lddw %r{insn.dst}, {insn.imm64:#x}"
    if cls == Class.LD:
        raise InstructionError("legacy packet loads (ld_abs/ld_ind) have no bpf_conformance spelling")
    size = _SIZE[Size(insn.size)]
    if cls == Class.LDX:
        kind = "ldxs" if insn.mode == Mode.MEMSX else "ldx"
        return f"{kind}{size} %r{insn.dst}, {_mem(insn.src, insn.off)}"
    if cls == Class.ST:
        return f"st{size} {_mem(insn.dst, insn.off)}, {insn.imm}"
    if insn.mode == Mode.MEM:
        return f"stx{size} {_mem(insn.dst, insn.off)}, %r{insn.src}"
    suffix = "32" if insn.size == Size.W else ""
    if insn.imm == AtomicOp.XCHG:
        name = "xchg"
    elif insn.imm == AtomicOp.CMPXCHG:
        name = "cmpxchg"
    else:
        name = ("fetch " if insn.imm & AtomicOp.FETCH else "") + _ATOMIC[AtomicOp(insn.imm & ~AtomicOp.FETCH)]
    return f"lock {name}{suffix} {_mem(insn.dst, insn.off)}, %r{insn.src}"


def _alu(insn: Instruction) -> str:
    suffix = "32" if insn.cls == Class.ALU else ""
    op = insn.alu_op
    if op == ALUOp.END:
        kind = "bswap" if insn.cls == Class.ALU64 else ("be" if insn.source == Source.X else "le")
        return f"{kind}{insn.imm} %r{insn.dst}"
    if op == ALUOp.NEG:
        return f"neg{suffix} %r{insn.dst}"
    if op == ALUOp.MOV and insn.cls == Class.ALU64 and insn.source == Source.X and insn.off == 1:
        raise InstructionError("addr_space_cast has no bpf_conformance spelling")
    if op == ALUOp.MOV and insn.source == Source.X and insn.off:
        return f"movsx{insn.off}{'32' if insn.cls == Class.ALU else '64'} %r{insn.dst}, %r{insn.src}"
    name = ("s" if insn.off == 1 else "") + _ALU[ALUOp(op)]
    operand = f"%r{insn.src}" if insn.source == Source.X else str(insn.imm)
    return f"{name}{suffix} %r{insn.dst}, {operand}"


def _jump(insn: Instruction) -> str:
    if insn.opcode == EXIT:
        return "exit"
    if insn.opcode == JA:
        return f"ja {insn.off:+d}"
    if insn.opcode == JA32:
        return f"ja32 {insn.imm:+d}"
    if insn.opcode == CALL:
        if insn.src == CallSrc.PSEUDO_CALL:
            return f"call local {insn.imm:+d}"
        if insn.src == CallSrc.KFUNC:
            if insn.off:
                raise InstructionError("a kfunc call into a module's BTF (off != 0) has no "
                                       "bpf_conformance spelling")
            return f"call runtime {insn.imm}"
        return f"call {insn.imm}"
    if insn.opcode == CALL | Source.X:
        return f"call %r{insn.dst}"
    if insn.jump_op not in _JMP:
        raise InstructionError("may_goto has no bpf_conformance spelling")
    suffix = "32" if insn.cls == Class.JMP32 else ""
    operand = f"%r{insn.src}" if insn.source == Source.X else str(insn.imm)
    return f"{_JMP[JumpOp(insn.jump_op)]}{suffix} %r{insn.dst}, {operand}, {insn.off:+d}"


def disassemble_conformance(insns: Sequence[Instruction]) -> list[str]:
    """One bpf_conformance-syntax line per instruction (jump targets as relative +N/-N slots)."""
    return [format_conformance(insn) for insn in insns]


__all__ = ["format_conformance", "disassemble_conformance"]
