"""Binary encoding of eBPF instructions: ``decode(bytes)`` and ``encode(list)``, exact both ways.

Validates field usage per RFC 9669 (unused fields must be zero); it never interprets semantics.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from ..errors import InstructionError
from .instruction import Instruction
from .opcodes import (
    ATOMIC_OPS, LDDW, MAX_REG, ALUOp, CallSrc, Class, JumpOp, Mode, PseudoSrc, Size, Source,
)

ADDR_SPACE_CAST = 1                     # off of ALU64 MOV X that makes it addr_space_cast
_SLOT = struct.Struct("<BBhi")          # opcode, regs (dst low nibble, src high nibble), off, imm
SLOT_SIZE = 8

_ALU_OPS = {op.value for op in ALUOp}
_JMP_OPS = {op.value for op in JumpOp}


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def check(insn: Instruction) -> str | None:
    """Return why ``insn`` is not a valid encoding, or None when it is."""
    op, dst, src, off, imm = insn.opcode, insn.dst, insn.src, insn.off, insn.imm
    if not 0 <= op <= 0xFF:
        return f"opcode {op:#x} out of range"
    if not (0 <= dst <= MAX_REG and 0 <= src <= MAX_REG) and op != LDDW:
        return f"invalid register (dst r{dst}, src r{src})"
    if not -0x8000 <= off <= 0x7FFF:
        return f"offset {off} does not fit in 16 bits"
    if op != LDDW and not -0x80000000 <= imm <= 0x7FFFFFFF:
        return f"immediate {imm} does not fit in 32 bits"
    cls = op & 0x07

    if cls in (Class.ALU, Class.ALU64):
        code, x = op & 0xF0, op & Source.X
        if code not in _ALU_OPS:
            return f"unknown ALU operation in opcode {op:#04x}"
        if code == ALUOp.END:
            if cls == Class.ALU64 and x:
                return f"unknown byte-swap opcode {op:#04x}"
            if src or off:
                return "byte swap must have src and offset zero"
            if imm not in (16, 32, 64):
                return f"byte swap width must be 16, 32 or 64, not {imm}"
            return None
        if code == ALUOp.NEG:
            if x or src or off or imm:
                return "neg must have src, offset and immediate zero"
            return None
        if code == ALUOp.MOV and x and cls == Class.ALU64 and off == ADDR_SPACE_CAST:
            # arena pointer cast (kernel 6.9+, emitted by clang for __arena): imm = dst_as << 16 | src_as
            if imm not in (1, 1 << 16):
                return "addr_space_cast converts only between address spaces 0 and 1 (imm 1 or 0x10000)"
            return None
        if code in (ALUOp.DIV, ALUOp.MOD):
            allowed_off: tuple[int, ...] = (0, 1)
        elif code == ALUOp.MOV and x:
            allowed_off = (0, 8, 16, 32) if cls == Class.ALU64 else (0, 8, 16)
        else:
            allowed_off = (0,)
        if off not in allowed_off:
            return f"offset {off} is not used by this ALU operation"
        if x and imm:
            return "register-source ALU operation must have immediate zero"
        if not x and src:
            return "immediate-source ALU operation must have src zero"
        return None

    if cls in (Class.JMP, Class.JMP32):
        code, x = op & 0xF0, op & Source.X
        if code not in _JMP_OPS:
            return f"unknown jump operation in opcode {op:#04x}"
        if code == JumpOp.JA:
            if x or dst or src:
                return "ja must have dst and src zero"
            if cls == Class.JMP and imm:
                return "ja must have immediate zero (use gotol/ja32 for 32-bit offsets)"
            if cls == Class.JMP32 and off:
                return "ja32 must have offset zero"
            return None
        if code in (JumpOp.CALL, JumpOp.EXIT):
            if cls == Class.JMP32:
                return f"{'call' if code == JumpOp.CALL else 'exit'} is not a JMP32 operation"
            if code == JumpOp.EXIT:
                if x or dst or src or off or imm:
                    return "exit must have all fields zero"
                return None
            if x:   # callx: target register in dst (LLVM's encoding); not accepted by Linux
                if src or off or imm:
                    return "callx must have src, offset and immediate zero"
                return None
            if src not in (CallSrc.HELPER, CallSrc.PSEUDO_CALL, CallSrc.KFUNC):
                return f"call has unknown src {src}"
            if dst:
                return "call must have dst zero"
            if src == CallSrc.KFUNC:        # off: index of the module BTF fd in fd_array (0: vmlinux)
                return "kfunc call offset (fd_array index) must not be negative" if off < 0 else None
            if off:
                return "call must have dst and offset zero"
            return None
        if code == JumpOp.JCOND:
            if cls == Class.JMP32 or x or dst or src or imm:
                return "may_goto must be a JMP-class instruction with dst, src and immediate zero"
            return None
        if x and imm:
            return "register-source jump must have immediate zero"
        if not x and src:
            return "immediate-source jump must have src zero"
        return None

    size, mode = op & 0x18, op & 0xE0
    if cls == Class.LD:
        if op == LDDW:
            if src not in {s.value for s in PseudoSrc}:
                return f"lddw has unknown pseudo source {src}"
            if not 0 <= dst <= MAX_REG:
                return f"invalid register r{dst}"
            if off:
                return "lddw must have offset zero"
            return None
        if mode in (Mode.ABS, Mode.IND) and size != Size.DW:
            if dst or off or (mode == Mode.ABS and src):
                return "legacy packet load must have dst and offset zero"
            return None
        return f"unknown load opcode {op:#04x}"
    if cls == Class.LDX:
        if mode == Mode.MEM or (mode == Mode.MEMSX and size != Size.DW):
            if imm:
                return "load must have immediate zero"
            return None
        return f"unknown load opcode {op:#04x}"
    if cls == Class.ST:
        if mode == Mode.MEM:
            if src:
                return "store-immediate must have src zero"
            return None
        return f"unknown store opcode {op:#04x}"
    # Class.STX
    if mode == Mode.MEM:
        if imm:
            return "store must have immediate zero"
        return None
    if mode == Mode.ATOMIC:
        if size not in (Size.W, Size.DW):
            return "atomic operations are only 32 or 64 bit"
        if imm not in ATOMIC_OPS:
            return f"unknown atomic operation {imm:#x}"
        return None
    return f"unknown store opcode {op:#04x}"


def decode(data: bytes | bytearray | memoryview, *, validate: bool = True) -> list[Instruction]:
    """Decode a little-endian instruction stream into instructions (a wide LDDW becomes one)."""
    buf = bytes(data)
    if len(buf) % SLOT_SIZE:
        raise InstructionError(f"instruction stream of {len(buf)} bytes is not a multiple of 8",
                               offset=len(buf) - len(buf) % SLOT_SIZE)
    out: list[Instruction] = []
    n = len(buf)
    pos = 0
    while pos < n:
        op, regs, off, imm = _SLOT.unpack_from(buf, pos)
        dst, src = regs & 0x0F, regs >> 4
        if op == LDDW:
            if pos + 16 > n:
                raise InstructionError("truncated 64-bit immediate load (second slot missing)",
                                       offset=pos)
            op2, regs2, off2, imm2 = _SLOT.unpack_from(buf, pos + 8)
            if validate and (op2 or regs2 or off2):
                raise InstructionError(
                    "second slot of a 64-bit immediate load must have opcode, registers and offset zero",
                    offset=pos + 8)
            insn = Instruction(op, dst, src, off, (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32))
            step = 16
        else:
            insn = Instruction(op, dst, src, off, imm)
            step = 8
        if validate:
            problem = check(insn)
            if problem:
                raise InstructionError(f"invalid instruction {op:#04x}: {problem}", offset=pos)
        out.append(insn)
        pos += step
    return out


def encode_one(insn: Instruction) -> bytes:
    """Encode a single instruction (16 bytes for LDDW)."""
    try:
        regs = (insn.dst & 0x0F) | ((insn.src & 0x0F) << 4)
        if insn.opcode == LDDW:
            value = insn.imm & 0xFFFFFFFFFFFFFFFF
            return (_SLOT.pack(insn.opcode, regs, insn.off, _s32(value))
                    + _SLOT.pack(0, 0, 0, _s32(value >> 32)))
        return _SLOT.pack(insn.opcode, regs, insn.off, _s32(insn.imm))
    except struct.error as exc:
        raise InstructionError(f"cannot encode {insn!r}: {exc}") from None


def encode(insns: Iterable[Instruction], *, validate: bool = True) -> bytes:
    """Encode instructions to the little-endian byte stream the kernel takes."""
    parts = []
    pos = 0
    for insn in insns:
        if validate:
            problem = check(insn)
            if problem:
                raise InstructionError(f"invalid instruction {insn.opcode:#04x}: {problem}",
                                       offset=pos)
        part = encode_one(insn)
        parts.append(part)
        pos += len(part)
    return b"".join(parts)


def digest(insns: Iterable[Instruction]) -> bytes:
    """sha256 of the encoded instructions: names exactly one program's code (analysis results
    such as a verifier's proof are tied to the code they were computed for)."""
    import hashlib
    return hashlib.sha256(encode(insns, validate=False)).digest()


def slot_offsets(insns: Sequence[Instruction]) -> list[int]:
    """Slot index of each instruction (what jump offsets and llvm-objdump count in)."""
    out, pos = [], 0
    for insn in insns:
        out.append(pos)
        pos += insn.slots
    return out


def instruction_at_slot(insns: Sequence[Instruction]) -> dict[int, int]:
    """Map slot index -> list index, for resolving jump targets."""
    return {slot: i for i, slot in enumerate(slot_offsets(insns))}
