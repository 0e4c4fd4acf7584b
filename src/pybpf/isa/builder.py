"""A small Python DSL for writing eBPF programs without clang (the role of cilium/ebpf's ``asm`` package).

Builds Instruction lists and resolves labels; it never loads, verifies or runs what it builds.

    from pybpf.isa.builder import Program, R0, R1, R2, R10

    p = Program()
    p.mov(R0, 0)
    p.stx("w", R10, -4, R0)
    p.ld_map(R1, "counts")              # LDDW pseudo MAP_FD, ref="counts" for the loader
    p.mov(R2, R10).add(R2, -4)
    p.call("map_lookup_elem")
    p.jeq(R0, 0, "out")
    p.mov(R1, 1).atomic("dw", "add", R0, 0, R1)
    p.label("out").mov(R0, 0).exit()
    insns = p.build()

Every emitting method returns the Program, so calls chain. Jump targets are label names or slot
offsets (ints, relative as in the encoding).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AssemblerError
from .codec import check
from .instruction import Instruction
from .opcodes import (
    BYTES_SIZE, CALL, EXIT, JA, JA32, LDDW, MAX_REG, ALUOp, AtomicOp, CallSrc, Class, JumpOp,
    Mode, PseudoSrc, Size, Source,
)
from .uapi import HELPER_IDS


class Reg(int):
    """A register r0..r10 (an int, so it also works where a register number is expected)."""

    def __new__(cls, number: int) -> "Reg":
        if not 0 <= number <= MAX_REG:
            raise AssemblerError(f"no register r{number} (registers are r0..r{MAX_REG})")
        return super().__new__(cls, number)

    def __repr__(self) -> str:
        return f"R{int(self)}"


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = (Reg(n) for n in range(MAX_REG + 1))
FP = R10

_SIZE_NAMES = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW,
               "u8": Size.B, "u16": Size.H, "u32": Size.W, "u64": Size.DW}
_ATOMIC = {"add": AtomicOp.ADD, "and": AtomicOp.AND, "or": AtomicOp.OR, "xor": AtomicOp.XOR}

Target = str | int
Operand = Reg | int


def _size(size: str | int | Size) -> int:
    if isinstance(size, Size):
        return int(size)
    if isinstance(size, str) and size.lower() in _SIZE_NAMES:
        return int(_SIZE_NAMES[size.lower()])
    if isinstance(size, int) and not isinstance(size, bool) and size in BYTES_SIZE:
        return int(BYTES_SIZE[size])
    raise AssemblerError(f"bad access size {size!r}: use 'b', 'h', 'w', 'dw' or 1, 2, 4, 8")


def _reg(value: object, what: str = "register") -> int:
    if isinstance(value, Reg):
        return int(value)
    raise AssemblerError(f"expected a {what} (R0..R10), got {value!r}")


@dataclass(slots=True)
class _Pending:
    insn: Instruction
    label: str | None = None
    field: str = "off"


class Program:
    """An instruction list under construction; ``build()`` resolves labels."""

    def __init__(self) -> None:
        self._items: list[_Pending] = []
        self._labels: dict[str, int] = {}
        self._slot = 0

    # --- plumbing ----------------------------------------------------------------------------
    def emit(self, insn: Instruction, label: Target | None = None, field: str = "off") -> "Program":
        """Append a raw instruction (``label`` fills its jump field at build time)."""
        if isinstance(label, int) and not isinstance(label, bool):
            insn = insn.with_(**{field: label})
            label = None
        self._items.append(_Pending(insn, label, field))
        self._slot += insn.slots
        return self

    def label(self, name: str) -> "Program":
        """Name the next instruction's position."""
        if name in self._labels:
            raise AssemblerError(f"duplicate label {name!r}")
        self._labels[name] = self._slot
        return self

    def build(self) -> list[Instruction]:
        out, slot = [], 0
        for index, item in enumerate(self._items):
            insn = item.insn
            if item.label is not None:
                if item.label not in self._labels:
                    raise AssemblerError(f"undefined label {item.label!r} (instruction {index})")
                delta = self._labels[item.label] - slot - 1
                if item.field == "off" and not -0x8000 <= delta <= 0x7FFF:
                    raise AssemblerError(f"label {item.label!r} is {delta} slots away: too far "
                                         f"for a 16-bit jump (instruction {index}); use ja32")
                insn = insn.with_(**{item.field: delta})
            problem = check(insn)
            if problem:
                raise AssemblerError(f"instruction {index}: {problem}")
            out.append(insn)
            slot += insn.slots
        return out

    def __len__(self) -> int:
        return len(self._items)

    # --- arithmetic --------------------------------------------------------------------------
    def _alu(self, cls: int, op: int, dst: Reg, src: Operand, off: int = 0) -> "Program":
        if isinstance(src, Reg):
            return self.emit(Instruction(cls | op | Source.X, dst=_reg(dst), src=int(src), off=off))
        return self.emit(Instruction(cls | op, dst=_reg(dst), imm=_imm32(src), off=off))

    def add(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.ADD, dst, src)
    def sub(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.SUB, dst, src)
    def mul(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.MUL, dst, src)
    def div(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.DIV, dst, src)
    def sdiv(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.DIV, dst, src, 1)
    def mod(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.MOD, dst, src)
    def smod(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.MOD, dst, src, 1)
    def or_(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.OR, dst, src)
    def and_(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.AND, dst, src)
    def xor(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.XOR, dst, src)
    def lsh(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.LSH, dst, src)
    def rsh(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.RSH, dst, src)
    def arsh(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.ARSH, dst, src)
    def mov(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU64, ALUOp.MOV, dst, src)

    def add32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.ADD, dst, src)
    def sub32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.SUB, dst, src)
    def mul32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.MUL, dst, src)
    def div32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.DIV, dst, src)
    def sdiv32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.DIV, dst, src, 1)
    def mod32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.MOD, dst, src)
    def smod32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.MOD, dst, src, 1)
    def or32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.OR, dst, src)
    def and32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.AND, dst, src)
    def xor32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.XOR, dst, src)
    def lsh32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.LSH, dst, src)
    def rsh32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.RSH, dst, src)
    def arsh32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.ARSH, dst, src)
    def mov32(self, dst: Reg, src: Operand) -> "Program": return self._alu(Class.ALU, ALUOp.MOV, dst, src)

    def neg(self, dst: Reg) -> "Program":
        return self.emit(Instruction(Class.ALU64 | ALUOp.NEG, dst=_reg(dst)))

    def neg32(self, dst: Reg) -> "Program":
        return self.emit(Instruction(Class.ALU | ALUOp.NEG, dst=_reg(dst)))

    def movsx(self, dst: Reg, src: Reg, bits: int, *, alu32: bool = False) -> "Program":
        """Sign-extending move of the low ``bits`` (8, 16, 32) of ``src``."""
        cls = Class.ALU if alu32 else Class.ALU64
        return self.emit(Instruction(cls | ALUOp.MOV | Source.X, dst=_reg(dst), src=_reg(src), off=bits))

    def be(self, dst: Reg, bits: int) -> "Program":
        """Convert to big endian (``r = be16 r``)."""
        return self.emit(Instruction(Class.ALU | ALUOp.END | Source.X, dst=_reg(dst), imm=bits))

    def le(self, dst: Reg, bits: int) -> "Program":
        return self.emit(Instruction(Class.ALU | ALUOp.END | Source.K, dst=_reg(dst), imm=bits))

    def bswap(self, dst: Reg, bits: int) -> "Program":
        """Unconditional byte swap (``r = bswap32 r``, -mcpu=v4)."""
        return self.emit(Instruction(Class.ALU64 | ALUOp.END, dst=_reg(dst), imm=bits))

    def lddw(self, dst: Reg, value: int) -> "Program":
        """Load a 64-bit constant (two slots)."""
        if not -(1 << 63) <= value < (1 << 64):
            raise AssemblerError(f"constant {value} does not fit in 64 bits")
        return self.emit(Instruction(LDDW, dst=_reg(dst), imm=value & 0xFFFFFFFFFFFFFFFF))

    def ld_map(self, dst: Reg, name: str) -> "Program":
        """Load a map (LDDW pseudo MAP_FD); the loader patches in the fd of map ``name``."""
        return self.emit(Instruction(LDDW, dst=_reg(dst), src=int(PseudoSrc.MAP_FD), ref=name))

    def ld_map_value(self, dst: Reg, name: str, offset: int = 0) -> "Program":
        """Load a pointer ``offset`` bytes into an array map's value (LDDW pseudo MAP_VALUE)."""
        return self.emit(Instruction(LDDW, dst=_reg(dst), src=int(PseudoSrc.MAP_VALUE),
                                     imm=(offset & 0xFFFFFFFF) << 32, ref=name))

    def ld_func(self, dst: Reg, label: str) -> "Program":
        """Load the address of the subprogram at ``label`` (LDDW pseudo FUNC, for callbacks)."""
        return self.emit(Instruction(LDDW, dst=_reg(dst), src=int(PseudoSrc.FUNC), ref=label), label, "imm")

    # --- memory ------------------------------------------------------------------------------
    def ldx(self, size: str | int | Size, dst: Reg, src: Reg, off: int = 0) -> "Program":
        """``dst = *(size *)(src + off)``."""
        return self.emit(Instruction(Class.LDX | Mode.MEM | _size(size), dst=_reg(dst), src=_reg(src), off=off))

    def ldxs(self, size: str | int | Size, dst: Reg, src: Reg, off: int = 0) -> "Program":
        """Sign-extending load (``dst = *(s8|s16|s32 *)(src + off)``, -mcpu=v4)."""
        return self.emit(Instruction(Class.LDX | Mode.MEMSX | _size(size), dst=_reg(dst), src=_reg(src), off=off))

    def stx(self, size: str | int | Size, dst: Reg, off: int, src: Reg) -> "Program":
        """``*(size *)(dst + off) = src``."""
        return self.emit(Instruction(Class.STX | Mode.MEM | _size(size), dst=_reg(dst), src=_reg(src), off=off))

    def st(self, size: str | int | Size, dst: Reg, off: int, imm: int) -> "Program":
        """``*(size *)(dst + off) = imm``."""
        return self.emit(Instruction(Class.ST | Mode.MEM | _size(size), dst=_reg(dst), off=off, imm=_imm32(imm)))

    def atomic(self, size: str | int | Size, op: str, dst: Reg, off: int, src: Reg, *,
               fetch: bool = False) -> "Program":
        """``lock *(size *)(dst + off) op= src`` (op: add, and, or, xor); ``fetch`` returns the old value in src."""
        if op not in _ATOMIC:
            raise AssemblerError(f"unknown atomic operation {op!r}: use add, and, or, xor "
                                 "(or the xchg/cmpxchg methods)")
        imm = _ATOMIC[op] | (AtomicOp.FETCH if fetch else 0)
        return self.emit(Instruction(Class.STX | Mode.ATOMIC | _size(size), dst=_reg(dst), src=_reg(src),
                                     off=off, imm=int(imm)))

    def xchg(self, size: str | int | Size, dst: Reg, off: int, src: Reg) -> "Program":
        return self.emit(Instruction(Class.STX | Mode.ATOMIC | _size(size), dst=_reg(dst), src=_reg(src),
                                     off=off, imm=int(AtomicOp.XCHG)))

    def cmpxchg(self, size: str | int | Size, dst: Reg, off: int, src: Reg) -> "Program":
        """Compare ``*(dst + off)`` with r0, store ``src`` if equal; r0 gets the old value."""
        return self.emit(Instruction(Class.STX | Mode.ATOMIC | _size(size), dst=_reg(dst), src=_reg(src),
                                     off=off, imm=int(AtomicOp.CMPXCHG)))

    # --- control flow ------------------------------------------------------------------------
    def ja(self, target: Target) -> "Program":
        return self.emit(Instruction(JA), target)

    def ja32(self, target: Target) -> "Program":
        """Unconditional jump with a 32-bit offset (``gotol``)."""
        return self.emit(Instruction(JA32), target, "imm")

    def _jump(self, cls: int, op: int, dst: Reg, src: Operand, target: Target) -> "Program":
        if isinstance(src, Reg):
            insn = Instruction(cls | op | Source.X, dst=_reg(dst), src=int(src))
        else:
            insn = Instruction(cls | op, dst=_reg(dst), imm=_imm32(src))
        return self.emit(insn, target)

    def jeq(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JEQ, dst, src, target)
    def jne(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JNE, dst, src, target)
    def jgt(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JGT, dst, src, target)
    def jge(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JGE, dst, src, target)
    def jlt(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JLT, dst, src, target)
    def jle(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JLE, dst, src, target)
    def jsgt(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JSGT, dst, src, target)
    def jsge(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JSGE, dst, src, target)
    def jslt(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JSLT, dst, src, target)
    def jsle(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JSLE, dst, src, target)
    def jset(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP, JumpOp.JSET, dst, src, target)

    def jeq32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JEQ, dst, src, target)
    def jne32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JNE, dst, src, target)
    def jgt32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JGT, dst, src, target)
    def jge32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JGE, dst, src, target)
    def jlt32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JLT, dst, src, target)
    def jle32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JLE, dst, src, target)
    def jsgt32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JSGT, dst, src, target)
    def jsge32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JSGE, dst, src, target)
    def jslt32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JSLT, dst, src, target)
    def jsle32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JSLE, dst, src, target)
    def jset32(self, dst: Reg, src: Operand, target: Target) -> "Program": return self._jump(Class.JMP32, JumpOp.JSET, dst, src, target)

    def call(self, helper: str | int) -> "Program":
        """Call a helper by name (``"map_lookup_elem"`` or ``"bpf_map_lookup_elem"``) or id."""
        if isinstance(helper, str):
            name = helper[4:] if helper.startswith("bpf_") else helper
            if name not in HELPER_IDS:
                raise AssemblerError(f"unknown helper {helper!r}")
            helper = HELPER_IDS[name]
        return self.emit(Instruction(CALL, imm=_imm32(helper)))

    def call_local(self, target: Target) -> "Program":
        """bpf-to-bpf call of the subprogram at ``target``."""
        return self.emit(Instruction(CALL, src=int(CallSrc.PSEUDO_CALL)), target, "imm")

    def exit(self) -> "Program":
        return self.emit(Instruction(EXIT))


def _imm32(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssemblerError(f"expected an integer immediate, got {value!r}")
    if -0x80000000 <= value <= 0x7FFFFFFF:
        return value
    if 0x80000000 <= value <= 0xFFFFFFFF:
        return value - (1 << 32)
    raise AssemblerError(f"immediate {value} does not fit in 32 bits")


__all__ = ["Program", "Reg", "R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "FP"]
