"""Opcode constants of the eBPF instruction set (RFC 9669) and the pseudo source registers.

Pure data: no encoding logic lives here, so every other layer can import it cheaply.
"""
from __future__ import annotations

from enum import IntEnum


class Class(IntEnum):
    """Instruction class: the low three bits of the opcode."""
    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Source(IntEnum):
    """Operand source bit of arithmetic and jump instructions (also END's byte-order bit)."""
    K = 0x00   # immediate
    X = 0x08   # register


class ALUOp(IntEnum):
    """Operation code (high four bits) of ALU and ALU64 instructions."""
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JumpOp(IntEnum):
    """Operation code (high four bits) of JMP and JMP32 instructions."""
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0    # may_goto (src 0): JMP class only


class Size(IntEnum):
    """Access size bits of load/store instructions."""
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18


SIZE_BYTES = {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}
BYTES_SIZE = {v: k for k, v in SIZE_BYTES.items()}


class Mode(IntEnum):
    """Addressing mode bits of load/store instructions."""
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class AtomicOp(IntEnum):
    """Values of the imm field of atomic instructions."""
    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


ATOMIC_OPS = frozenset({
    AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR,
    AtomicOp.ADD | AtomicOp.FETCH, AtomicOp.OR | AtomicOp.FETCH, AtomicOp.AND | AtomicOp.FETCH,
    AtomicOp.XOR | AtomicOp.FETCH, AtomicOp.XCHG, AtomicOp.CMPXCHG,
})


class PseudoSrc(IntEnum):
    """src register values that give a 64-bit immediate load (LD|IMM|DW) its meaning."""
    IMM64 = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallSrc(IntEnum):
    """src register values of CALL: helper, bpf-to-bpf (pc-relative), kfunc (BTF id)."""
    HELPER = 0
    PSEUDO_CALL = 1
    KFUNC = 2


# Composite opcodes used often enough to name.
LDDW = Class.LD | Mode.IMM | Size.DW            # 0x18
CALL = Class.JMP | JumpOp.CALL                  # 0x85
EXIT = Class.JMP | JumpOp.EXIT                  # 0x95
JA = Class.JMP | JumpOp.JA                      # 0x05
JA32 = Class.JMP32 | JumpOp.JA                  # 0x06 (gotol: offset in imm)

MAX_REG = 10                                     # r0..r10; r10 is the read-only frame pointer
