"""Line parser for the bpf_conformance / uBPF assembly syntax (``add32 %r0, 1``, ``ldxdw %r0, [%r1+8]``).

Turns one already comment-stripped line into a Parsed instruction; it never resolves labels itself.
"""
from __future__ import annotations

import re

from .asm import (
    Parsed, SourceLine, Token, parse_imm32, parse_imm64, parse_off16, register_number,
)
from .instruction import Instruction
from .opcodes import (
    CALL, EXIT, JA, JA32, LDDW, ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, Size, Source,
)

_TOKEN = re.compile(r"\[[^\]]*\]?|[^\s,\[]+")
_MEM = re.compile(r"\[\s*(%?\w+)\s*(?:([+-])\s*(\w+)\s*)?\]\Z")

_ALU = {"add": ALUOp.ADD, "sub": ALUOp.SUB, "mul": ALUOp.MUL, "div": ALUOp.DIV, "sdiv": ALUOp.DIV,
        "or": ALUOp.OR, "and": ALUOp.AND, "lsh": ALUOp.LSH, "rsh": ALUOp.RSH, "mod": ALUOp.MOD,
        "smod": ALUOp.MOD, "xor": ALUOp.XOR, "mov": ALUOp.MOV, "arsh": ALUOp.ARSH}
_JMP = {"jeq": JumpOp.JEQ, "jgt": JumpOp.JGT, "jge": JumpOp.JGE, "jset": JumpOp.JSET,
        "jne": JumpOp.JNE, "jsgt": JumpOp.JSGT, "jsge": JumpOp.JSGE, "jlt": JumpOp.JLT,
        "jle": JumpOp.JLE, "jslt": JumpOp.JSLT, "jsle": JumpOp.JSLE}
_SIZES = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
_ATOMIC = {"add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR}
_MOVSX = re.compile(r"movsx(8|16|32)(32|64)\Z")
_SWAP = re.compile(r"(be|le|swap|bswap)(16|32|64)\Z")
_LD = re.compile(r"(ldx|ldxs|stx|st)(b|h|w|dw)\Z")
_ALU_NAME = re.compile(r"([a-z]+?)(32|64)?\Z")


def _mnemonics() -> frozenset[str]:
    names = {"lddw", "ja", "ja32", "neg", "neg32", "neg64"}
    for base in list(_ALU) + list(_JMP):
        names.update({base, base + "32"})
    names.update(base + "64" for base in _ALU)
    names.update(f"movsx{a}{b}" for a in (8, 16, 32) for b in (32, 64) if a < b)
    names.update(f"{k}{w}" for k in ("be", "le", "swap", "bswap") for w in (16, 32, 64))
    names.update(f"{k}{s}" for k in ("ldx", "stx", "st") for s in _SIZES)
    names.update(f"ldxs{s}" for s in ("b", "h", "w"))
    return frozenset(names)


MNEMONICS = _mnemonics()


def looks_like(body: str) -> bool:
    """True when a line is in this syntax rather than llvm-objdump's."""
    if "%r" in body:
        return True
    word = body.split(None, 1)[0] if body.split() else ""
    if word == "lock":
        return "*(" not in body
    if word == "call":
        rest = body.split()[1:]
        return bool(rest) and rest[0] in ("local", "helper", "runtime")
    return word in MNEMONICS


def _tokens(body: str, column: int) -> list[Token]:
    return [Token(m.group(0), column + m.start()) for m in _TOKEN.finditer(body)]


def _reg(token: Token, line: SourceLine) -> int:
    if not token.text.startswith("%r"):
        raise line.error(f"expected a register like %r1, got '{token.text}'", token.column)
    return register_number(token.text[2:], token, line)


def _mem(token: Token, line: SourceLine) -> tuple[int, int]:
    match = _MEM.match(token.text)
    if not match:
        raise line.error(f"expected a memory operand like [%r1+8], got '{token.text}'", token.column)
    reg = _reg(Token(match.group(1), token.column + match.start(1)), line)
    if match.group(3) is None:
        return reg, 0
    off = Token(match.group(2) + match.group(3), token.column + match.start(2))
    return reg, parse_off16(off, line)


def _target(token: Token, line: SourceLine, field: str, insn: Instruction) -> Parsed:
    """A jump target: +N / -N slots, or a label resolved later."""
    if token.text[:1] in "+-":
        if field == "imm":
            return Parsed(insn.with_(imm=parse_imm32(token, line)))
        return Parsed(insn.with_(off=parse_off16(token, line)))
    return Parsed(insn, label=token, field=field)


def _expect(ops: list[Token], count: int, mnemonic: Token, line: SourceLine) -> None:
    if len(ops) != count:
        column = ops[count].column if len(ops) > count else mnemonic.column + len(mnemonic.text)
        raise line.error(f"'{mnemonic.text}' takes {count} operand{'s' * (count != 1)}, "
                         f"got {len(ops)}", column)


def parse_line(body: str, column: int, line: SourceLine) -> Parsed:
    tokens = _tokens(body, column)
    head, ops = tokens[0], tokens[1:]
    name = head.text.lower()
    if name == "lock":
        return _lock(head, ops, line)
    if name == "exit":
        _expect(ops, 0, head, line)
        return Parsed(Instruction(EXIT))
    if name == "call":
        return _call(head, ops, line)
    if name in ("ja", "ja32"):
        _expect(ops, 1, head, line)
        if name == "ja":
            return _target(ops[0], line, "off", Instruction(JA))
        return _target(ops[0], line, "imm", Instruction(JA32))
    if name == "lddw":
        _expect(ops, 2, head, line)
        return Parsed(Instruction(LDDW, dst=_reg(ops[0], line), imm=parse_imm64(ops[1], line)))
    if (match := _LD.match(name)):
        return _load_store(match.group(1), _SIZES[match.group(2)], head, ops, line)
    if (match := _SWAP.match(name)):
        _expect(ops, 1, head, line)
        kind, width = match.group(1), int(match.group(2))
        opcode = {"be": Class.ALU | ALUOp.END | Source.X, "le": Class.ALU | ALUOp.END | Source.K
                  }.get(kind, Class.ALU64 | ALUOp.END)
        return Parsed(Instruction(opcode, dst=_reg(ops[0], line), imm=width))
    if (match := _MOVSX.match(name)):
        _expect(ops, 2, head, line)
        cls = Class.ALU64 if match.group(2) == "64" else Class.ALU
        return Parsed(Instruction(cls | ALUOp.MOV | Source.X, dst=_reg(ops[0], line),
                                  src=_reg(ops[1], line), off=int(match.group(1))))
    match = _ALU_NAME.match(name)
    base, width = (match.group(1), match.group(2)) if match else (name, None)
    if base == "neg":
        _expect(ops, 1, head, line)
        cls = Class.ALU if width == "32" else Class.ALU64
        return Parsed(Instruction(cls | ALUOp.NEG, dst=_reg(ops[0], line)))
    if base in _ALU:
        _expect(ops, 2, head, line)
        cls = Class.ALU if width == "32" else Class.ALU64
        insn = Instruction(cls | _ALU[base], dst=_reg(ops[0], line),
                           off=1 if base in ("sdiv", "smod") else 0)
        return Parsed(_with_source(insn, ops[1], line))
    if base in _JMP and width != "64":
        _expect(ops, 3, head, line)
        cls = Class.JMP32 if width == "32" else Class.JMP
        insn = _with_source(Instruction(cls | _JMP[base], dst=_reg(ops[0], line)), ops[1], line)
        return _target(ops[2], line, "off", insn)
    raise line.error(f"unknown mnemonic '{head.text}'", head.column)


def _with_source(insn: Instruction, operand: Token, line: SourceLine) -> Instruction:
    """Fill the second operand: a register sets the X bit, anything else is an immediate."""
    if operand.text.startswith("%"):
        return insn.with_(opcode=insn.opcode | Source.X, src=_reg(operand, line))
    return insn.with_(imm=parse_imm32(operand, line))


def _load_store(kind: str, size: int, head: Token, ops: list[Token], line: SourceLine) -> Parsed:
    _expect(ops, 2, head, line)
    if kind in ("ldx", "ldxs"):
        if kind == "ldxs" and size == Size.DW:
            raise line.error(f"unknown mnemonic '{head.text}'", head.column)
        src, off = _mem(ops[1], line)
        mode = Mode.MEMSX if kind == "ldxs" else Mode.MEM
        return Parsed(Instruction(Class.LDX | mode | size, dst=_reg(ops[0], line), src=src, off=off))
    dst, off = _mem(ops[0], line)
    if kind == "stx":
        return Parsed(Instruction(Class.STX | Mode.MEM | size, dst=dst, src=_reg(ops[1], line), off=off))
    return Parsed(Instruction(Class.ST | Mode.MEM | size, dst=dst, off=off, imm=parse_imm32(ops[1], line)))


def _lock(head: Token, ops: list[Token], line: SourceLine) -> Parsed:
    """``lock [fetch] add|and|or|xor|xchg|cmpxchg[32] [%rD+off], %rS``."""
    fetch = bool(ops) and ops[0].text == "fetch"
    rest = ops[1:] if fetch else ops
    if len(rest) != 3:
        column = rest[3].column if len(rest) > 3 else (ops[-1].column if ops else head.column + 4)
        raise line.error("lock takes an operation, a memory operand and a register "
                         f"(lock [fetch] add [%r10-8], %r1); got {len(ops)} operands", column)
    op_token, mem, src = rest
    op_name = op_token.text.lower()
    width = Size.W if op_name.endswith("32") else Size.DW
    op_name = op_name[:-2] if op_name.endswith("32") else op_name
    if op_name in _ATOMIC:
        imm = _ATOMIC[op_name] | (AtomicOp.FETCH if fetch else 0)
    elif op_name in ("xchg", "cmpxchg"):
        imm = AtomicOp.XCHG if op_name == "xchg" else AtomicOp.CMPXCHG
    else:
        raise line.error(f"unknown atomic operation '{op_token.text}'", op_token.column)
    dst, off = _mem(mem, line)
    return Parsed(Instruction(Class.STX | Mode.ATOMIC | width, dst=dst, src=_reg(src, line),
                              off=off, imm=int(imm)))


def _call(head: Token, ops: list[Token], line: SourceLine) -> Parsed:
    """``call N`` (helper), ``call %rN`` (callx), ``call local LABEL``, ``call runtime N``."""
    mode = "helper"
    if len(ops) == 2:
        mode, ops = ops[0].text, ops[1:]
    _expect(ops, 1, head, line)
    target = ops[0]
    if mode == "helper":
        if target.text.startswith("%"):
            return Parsed(Instruction(CALL | Source.X, dst=_reg(target, line)))
        return Parsed(Instruction(CALL, imm=parse_imm32(target, line)))
    if mode == "local":
        return _target(target, line, "imm", Instruction(CALL, src=int(CallSrc.PSEUDO_CALL)))
    if mode == "runtime":
        return Parsed(Instruction(CALL, src=int(CallSrc.KFUNC), imm=parse_imm32(target, line)))
    raise line.error(f"unknown call kind '{mode}' (helper, local or runtime)", head.column + 5)
