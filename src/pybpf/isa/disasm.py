"""eBPF disassembler: Instructions -> text in llvm-objdump-19's BPF syntax (``r1 = *(u32 *)(r6 + 0x4)``).

Formats instructions only; it never reads files, resolves relocations or guesses symbol names itself.

By default the text is exactly llvm-objdump's (``llvm-objdump-19 -d --no-show-raw-insn``), except
where llvm's text would lose information, so that ``assemble(disassemble(x)) == x`` always holds:

* bpf-to-bpf calls (src=1) print ``call pc+0xb`` / ``call pc-0x1``; llvm prints ``call 0xb``,
  which reads back as helper 11;
* kfunc calls (src=2) print ``call kfunc 0x4d2`` (``call kfunc 0x4d2, 0x1`` with a module BTF
  fd_array index in ``off``); llvm prints ``call 0x4d2``;
* ``ld_pseudo`` with a non-zero upper immediate prints it as a fourth operand; llvm drops it;
* a legacy indirect packet load with a non-zero immediate prints ``skb[r2 + 0xc]``; llvm ``skb[r2]``;
* 32-bit atomics other than a plain add print in llvm's alu32 form (``w1 = atomic_fetch_add((u32 *)
  (r1 + 0x0), w1)``) even without ``alu32``; plain llvm-objdump prints ``<unknown>`` or, for
  fetch-add, the same text as a plain add.

``llvm_exact=True`` reproduces llvm-objdump's lossy spelling of the first four too. ``alu32=True``
matches ``llvm-objdump --mcpu=v3``/``v4`` (``w0 = *(u16 *)...``, ``lock *(u32 *)... += w1``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .codec import ADDR_SPACE_CAST, check, slot_offsets
from .instruction import Instruction
from .uapi import HELPER_NAMES, helper_name
from .opcodes import (
    CALL, EXIT, JA, JA32, LDDW, ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, Size, Source,
)

JCOND = JumpOp.JCOND   # may_goto

_ALU_SYMBOL = {ALUOp.ADD: "+=", ALUOp.SUB: "-=", ALUOp.MUL: "*=", ALUOp.DIV: "/=",
               ALUOp.OR: "|=", ALUOp.AND: "&=", ALUOp.LSH: "<<=", ALUOp.RSH: ">>=",
               ALUOp.MOD: "%=", ALUOp.XOR: "^=", ALUOp.MOV: "=", ALUOp.ARSH: "s>>="}
_JMP_SYMBOL = {JumpOp.JEQ: "==", JumpOp.JNE: "!=", JumpOp.JGT: ">", JumpOp.JGE: ">=",
               JumpOp.JLT: "<", JumpOp.JLE: "<=", JumpOp.JSGT: "s>", JumpOp.JSGE: "s>=",
               JumpOp.JSLT: "s<", JumpOp.JSLE: "s<=", JumpOp.JSET: "&"}
_ATOMIC_SYMBOL = {AtomicOp.ADD: "+=", AtomicOp.AND: "&=", AtomicOp.OR: "|=", AtomicOp.XOR: "^="}
_ATOMIC_FETCH = {AtomicOp.ADD: "add", AtomicOp.AND: "and", AtomicOp.OR: "or", AtomicOp.XOR: "xor"}
_TYPE = {Size.B: "u8", Size.H: "u16", Size.W: "u32", Size.DW: "u64"}
_SIGNED_TYPE = {Size.B: "s8", Size.H: "s16", Size.W: "s32"}

Symbolizer = Callable[[int], "str | None"]


def hex_signed(value: int) -> str:
    """llvm's immediate spelling: ``0x1f``, ``-0x1``."""
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def hex_offset(value: int) -> str:
    """llvm's branch displacement spelling: ``+0x2``, ``-0x1``."""
    return f"-{-value:#x}" if value < 0 else f"+{value:#x}"


def _mem(reg: int, off: int) -> str:
    return f"(r{reg} - {-off:#x})" if off < 0 else f"(r{reg} + {off:#x})"


def _s64(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >> 63 else value


def format_instruction(insn: Instruction, *, alu32: bool = False, llvm_exact: bool = False,
                       target: str | None = None) -> str:
    """One instruction as llvm-objdump prints it; ``target`` is appended to jumps (and helper
    calls) as ``<target>``.

    Encodings that fail :func:`pybpf.isa.check` print as ``<unknown>``, like llvm-objdump.
    """
    if check(insn) is not None:
        return "<unknown>"
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        return _alu(insn)
    if cls in (Class.JMP, Class.JMP32):
        text = _jump(insn, llvm_exact, target)
        return f"{text} <{target}>" if target and _has_target(insn) else text
    if cls == Class.LD:
        return _ld(insn, llvm_exact)
    if cls == Class.LDX:
        if insn.mode == Mode.MEMSX:
            return f"r{insn.dst} = *({_SIGNED_TYPE[insn.size]} *){_mem(insn.src, insn.off)}"
        reg = "w" if alu32 and insn.size != Size.DW else "r"
        return f"{reg}{insn.dst} = *({_TYPE[insn.size]} *){_mem(insn.src, insn.off)}"
    if cls == Class.ST:
        return f"*({_TYPE[insn.size]} *){_mem(insn.dst, insn.off)} = {hex_signed(insn.imm)}"
    if insn.mode == Mode.ATOMIC:
        return _atomic(insn, alu32)
    reg = "w" if alu32 and insn.size != Size.DW else "r"
    return f"*({_TYPE[insn.size]} *){_mem(insn.dst, insn.off)} = {reg}{insn.src}"


def _alu(insn: Instruction) -> str:
    op = insn.alu_op
    reg = "r" if insn.cls == Class.ALU64 else "w"
    dst = f"{reg}{insn.dst}"
    if op == ALUOp.END:
        kind = "bswap" if insn.cls == Class.ALU64 else ("be" if insn.source == Source.X else "le")
        return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
    if op == ALUOp.NEG:
        return f"{dst} = -{dst}"
    symbol = _ALU_SYMBOL[ALUOp(op)]
    if op in (ALUOp.DIV, ALUOp.MOD) and insn.off == 1:
        symbol = "s" + symbol
    if insn.source == Source.K:
        return f"{dst} {symbol} {hex_signed(insn.imm)}"
    if op == ALUOp.MOV and insn.cls == Class.ALU64 and insn.off == ADDR_SPACE_CAST:
        return f"{dst} = addr_space_cast(r{insn.src}, {insn.imm >> 16:#x}, {insn.imm & 0xFFFF:#x})"
    if op == ALUOp.MOV and insn.off:
        return f"{dst} = (s{insn.off}){reg}{insn.src}"
    return f"{dst} {symbol} {reg}{insn.src}"


def _has_target(insn: Instruction) -> bool:
    return insn.opcode in (JA, JA32, Class.JMP | JCOND) or insn.is_conditional_jump


def _jump(insn: Instruction, llvm_exact: bool, target: str | None = None) -> str:
    op = insn.jump_op
    if insn.opcode == EXIT:
        return "exit"
    if insn.opcode == CALL:
        if insn.src == CallSrc.PSEUDO_CALL and not llvm_exact:
            return f"call pc{hex_offset(insn.imm)}"
        if insn.src == CallSrc.KFUNC and not llvm_exact:
            text = f"call kfunc {hex_signed(insn.imm)}"
            return f"{text}, {insn.off:#x}" if insn.off else text
        text = f"call {hex_signed(insn.imm)}"
        return f"{text} <{target}>" if target and insn.src == CallSrc.HELPER else text
    if insn.opcode == CALL | Source.X:
        return f"callx r{insn.dst}"
    if insn.opcode == JA:
        return f"goto {hex_offset(insn.off)}"
    if insn.opcode == JA32:
        return f"gotol {hex_offset(insn.imm)}"
    if insn.opcode == Class.JMP | JCOND:
        return f"may_goto {hex_offset(insn.off)}"
    reg = "r" if insn.cls == Class.JMP else "w"
    rhs = f"{reg}{insn.src}" if insn.source == Source.X else hex_signed(insn.imm)
    return f"if {reg}{insn.dst} {_JMP_SYMBOL[JumpOp(op)]} {rhs} goto {hex_offset(insn.off)}"


def _ld(insn: Instruction, llvm_exact: bool) -> str:
    if insn.opcode == LDDW:
        if insn.src == 0:
            return f"r{insn.dst} = {hex_signed(_s64(insn.imm))} ll"
        low, high = insn.imm & 0xFFFFFFFF, (insn.imm >> 32) & 0xFFFFFFFF
        text = f"ld_pseudo\tr{insn.dst}, {insn.src:#x}, {low:#x}"
        return text if llvm_exact or not high else f"{text}, {high:#x}"
    if insn.mode == Mode.ABS:
        operand = hex_signed(insn.imm)
    elif insn.imm and not llvm_exact:
        operand = f"r{insn.src} - {-insn.imm:#x}" if insn.imm < 0 else f"r{insn.src} + {insn.imm:#x}"
    else:
        operand = f"r{insn.src}"
    return f"r0 = *({_TYPE[insn.size]} *)skb[{operand}]"


def _atomic(insn: Instruction, alu32: bool) -> str:
    imm, wide = insn.imm, insn.size == Size.DW
    ptr = _mem(insn.dst, insn.off)
    reg = "r" if wide else "w"
    if imm in _ATOMIC_SYMBOL:
        src_reg = "w" if not wide and (alu32 or imm != AtomicOp.ADD) else "r"
        return f"lock *({_TYPE[insn.size]} *){ptr} {_ATOMIC_SYMBOL[AtomicOp(imm)]} {src_reg}{insn.src}"
    bare = ptr[1:-1]
    if imm == AtomicOp.XCHG:
        name = "xchg_64" if wide else "xchg32_32"
        return f"{reg}{insn.src} = {name}({bare}, {reg}{insn.src})"
    if imm == AtomicOp.CMPXCHG:
        name = "cmpxchg_64" if wide else "cmpxchg32_32"
        return f"{reg}0 = {name}({bare}, {reg}0, {reg}{insn.src})"
    name = _ATOMIC_FETCH[AtomicOp(imm & ~AtomicOp.FETCH)]
    return f"{reg}{insn.src} = atomic_fetch_{name}(({_TYPE[insn.size]} *){ptr}, {reg}{insn.src})"


def jump_target(insn: Instruction, slot: int) -> int | None:
    """The slot a jump (or bpf-to-bpf call) at ``slot`` goes to, or None for other instructions."""
    if insn.opcode == JA32 or insn.is_pseudo_call:
        return slot + 1 + insn.imm
    if _has_target(insn):
        return slot + 1 + insn.off
    return None


def disassemble(insns: Sequence[Instruction], *, alu32: bool = False, llvm_exact: bool = False,
                symbolize: Symbolizer | None = None, helper_names: bool = False) -> list[str]:
    """One line per instruction (no slot prefix). ``symbolize(slot)`` names jump targets;
    ``helper_names`` annotates helper calls (``call 0x1 <bpf_map_lookup_elem>``, not llvm's output
    but read back by the assembler, which ignores ``<...>`` annotations)."""
    lines = []
    for insn, slot in zip(insns, slot_offsets(insns)):
        target = None
        if symbolize is not None and (dest := jump_target(insn, slot)) is not None:
            target = symbolize(dest)
        if helper_names and insn.is_helper_call and insn.imm in HELPER_NAMES:
            target = helper_name(insn.imm)
        lines.append(format_instruction(insn, alu32=alu32, llvm_exact=llvm_exact, target=target))
    return lines


def nearest_symbol(symbols: dict[int, str]) -> Symbolizer:
    """llvm-objdump's ``<name+0xoff>`` for a slot, from a map of byte offset -> symbol name."""
    ordered = sorted(symbols.items())

    def name_of(slot: int) -> str | None:
        byte = slot * 8
        best = None
        for address, name in ordered:
            if address > byte:
                break
            best = (address, name)
        if best is None:
            return None
        delta = byte - best[0]
        return best[1] if delta == 0 else f"{best[1]}+{delta:#x}"

    return name_of


__all__ = ["format_instruction", "disassemble", "jump_target", "nearest_symbol", "hex_signed",
           "hex_offset", "JCOND"]
