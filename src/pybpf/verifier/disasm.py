"""One-line, kernel-log-style text for an instruction (``r1 = *(u32 *)(r2 +4)``), for explanations.

Formatting only; never validates or interprets beyond naming operands.
"""
from __future__ import annotations

from ..isa import Instruction
from ..isa.opcodes import Class, Mode
from ..isa.uapi import helper_name

_ALU = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=",
        0x70: ">>=", 0x90: "%=", 0xA0: "^=", 0xB0: "=", 0xC0: "s>>="}
_JMP = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=",
        0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<="}
_SZ = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_SSZ = {0x00: "s32", 0x08: "s16", 0x10: "s8", 0x18: "s64"}


def format_insn(insn: Instruction, pc: int = 0) -> str:
    cls, op = insn.cls, insn.opcode
    try:
        if cls in (Class.ALU, Class.ALU64):
            r = "r" if cls == Class.ALU64 else "w"
            code = insn.alu_op
            if code == 0x80:
                return f"{r}{insn.dst} = -{r}{insn.dst}"
            if code == 0xD0:
                kind = "be" if insn.source else ("bswap" if cls == Class.ALU64 else "le")
                return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
            src = f"{r}{insn.src}" if insn.source else f"{insn.imm}"
            if code == 0xB0 and insn.source and insn.off:
                src = f"(s{insn.off}){r}{insn.src}"
            sym = _ALU.get(code, "?")
            if code in (0x30, 0x90) and insn.off == 1:
                sym = "s" + sym
            return f"{r}{insn.dst} {sym} {src}"
        if op == 0x18:
            tag = f" ll  ; {insn.ref}" if insn.ref else " ll"
            return f"r{insn.dst} = {insn.imm64:#x}{tag}"
        if cls == Class.LDX:
            sz = (_SSZ if insn.mode == Mode.MEMSX else _SZ)[insn.size]
            return f"r{insn.dst} = *({sz} *)(r{insn.src} {insn.off:+d})"
        if cls == Class.ST:
            return f"*({_SZ[insn.size]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
        if cls == Class.STX:
            if insn.mode == Mode.ATOMIC:
                return f"lock *({_SZ[insn.size]} *)(r{insn.dst} {insn.off:+d}) op{insn.imm:#x}= r{insn.src}"
            return f"*({_SZ[insn.size]} *)(r{insn.dst} {insn.off:+d}) = r{insn.src}"
        if cls == Class.LD:
            return f"r0 = {'ind' if insn.mode == Mode.IND else 'abs'} {_SZ[insn.size]} [{insn.imm}]"
        code = insn.jump_op
        if op == 0x95:
            return "exit"
        if op == 0x85:
            if insn.src == 1:
                return f"call pc{insn.imm:+d} (insn {pc + 1 + insn.imm})"
            if insn.src == 2:
                return f"call kfunc {insn.ref or insn.imm}"
            return f"call {helper_name(insn.imm)}#{insn.imm}"
        if code == 0x00:
            return f"goto pc{insn.jump_offset:+d} (insn {pc + 1 + insn.jump_offset})"
        r = "r" if cls == Class.JMP else "w"
        src = f"{r}{insn.src}" if insn.source else f"{insn.imm}"
        return f"if {r}{insn.dst} {_JMP.get(code, '?')} {src} goto pc{insn.off:+d} (insn {pc + 1 + insn.off})"
    except (KeyError, ValueError):
        return f"opcode {op:#04x}"
