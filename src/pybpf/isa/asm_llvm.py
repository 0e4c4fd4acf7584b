"""Line parser for llvm-objdump's BPF syntax (``w0 = 0x1``, ``if r1 == 0x0 goto +0x2``, ``lock *(u64 *)...``).

Turns one already comment-stripped line into a Parsed instruction; it never resolves labels itself.
Also reads pybpf's lossless spellings (``call pc+0x3``, ``call kfunc 0x4d2``, ``ld_pseudo r1, 0x2, 0x0, 0x8``)
and ``call LABEL`` (a bpf-to-bpf call, as llvm-mc assembles it).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from .asm import Parsed, SourceLine, Token, parse_imm32, parse_imm64, parse_int, register_number
from .instruction import Instruction
from .opcodes import (
    CALL, EXIT, JA, JA32, LDDW, ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, Size, Source,
)

_NUM = r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)"
_IDENT = r"[A-Za-z_.$][\w.$]*"
_REG = r"[rw][0-9]+"
_TYPE = r"\*\(\s*(?P<type>[us](?:8|16|32|64))\s*\*\)"
_CAST = r"\(\s*(?P<type>[us](?:8|16|32|64))\s*\*\)"
_MEM_BARE = rf"(?P<base>{_REG})\s*(?P<sign>[+-])\s*(?P<off>0[xX][0-9a-fA-F]+|[0-9]+)"
_MEM = rf"\(\s*{_MEM_BARE}\s*\)"
_TARGET = rf"(?P<target>[+-]\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)|{_IDENT})"
_ANNOTATION = re.compile(r"\s*<[^<>]*>\s*$")

_SIZES = {"8": Size.B, "16": Size.H, "32": Size.W, "64": Size.DW}
_ALU_OPS = {"+=": ALUOp.ADD, "-=": ALUOp.SUB, "*=": ALUOp.MUL, "/=": ALUOp.DIV, "s/=": ALUOp.DIV,
            "|=": ALUOp.OR, "&=": ALUOp.AND, "<<=": ALUOp.LSH, ">>=": ALUOp.RSH,
            "%=": ALUOp.MOD, "s%=": ALUOp.MOD, "^=": ALUOp.XOR, "=": ALUOp.MOV, "s>>=": ALUOp.ARSH}
_JMP_OPS = {"==": JumpOp.JEQ, "!=": JumpOp.JNE, ">": JumpOp.JGT, ">=": JumpOp.JGE,
            "<": JumpOp.JLT, "<=": JumpOp.JLE, "s>": JumpOp.JSGT, "s>=": JumpOp.JSGE,
            "s<": JumpOp.JSLT, "s<=": JumpOp.JSLE, "&": JumpOp.JSET}
_ATOMIC_OPS = {"+=": AtomicOp.ADD, "&=": AtomicOp.AND, "|=": AtomicOp.OR, "^=": AtomicOp.XOR,
               "add": AtomicOp.ADD, "and": AtomicOp.AND, "or": AtomicOp.OR, "xor": AtomicOp.XOR}


class _Match:
    """A regex match that turns its groups into tokens carrying source columns."""

    def __init__(self, match: re.Match[str], column: int, line: SourceLine) -> None:
        self.m, self.column, self.line = match, column, line

    def has(self, name: str) -> bool:
        return self.m.group(name) is not None

    def text(self, name: str) -> str:
        return self.m.group(name)

    def token(self, name: str) -> Token:
        return Token(self.m.group(name), self.column + self.m.start(name))

    def reg(self, name: str, width: str | None = None) -> int:
        """Register number of group ``name``; ``width`` "r"/"w" demands that prefix."""
        tok = self.token(name)
        if width is not None and tok.text[0] != width:
            kind = "64-bit (rN)" if width == "r" else "32-bit (wN)"
            raise self.line.error(f"expected a {kind} register here, got '{tok.text}'", tok.column)
        return register_number(tok.text[1:], tok, self.line)

    def width(self, name: str) -> str:
        return self.m.group(name)[0]

    def off(self) -> int:
        tok = Token(self.m.group("sign") + self.m.group("off"), self.column + self.m.start("sign"))
        value, _ = parse_int(tok, self.line, "offset")
        if not -0x8000 <= value <= 0x7FFF:
            raise self.line.error(f"offset {tok.text} does not fit in 16 bits", tok.column)
        return value

    def size(self) -> int:
        return _SIZES[self.m.group("type")[1:]]

    def signed_type(self) -> bool:
        return self.m.group("type")[0] == "s"

    def error(self, message: str, name: str) -> Exception:
        return self.line.error(message, self.column + self.m.start(name))


Builder = Callable[[_Match], Parsed]
_RULES: list[tuple[re.Pattern[str], Builder]] = []


def _rule(pattern: str) -> Callable[[Builder], Builder]:
    def add(func: Builder) -> Builder:
        _RULES.append((re.compile(pattern + r"\Z"), func))
        return func
    return add


def _target(m: _Match, insn: Instruction, field: str) -> Parsed:
    tok = m.token("target")
    if tok.text[0] in "+-":
        value, _ = parse_int(Token(tok.text.replace(" ", ""), tok.column), m.line, "jump offset")
        limit = 1 << (31 if field == "imm" else 15)
        if not -limit <= value < limit:
            raise m.line.error(f"jump offset {tok.text} does not fit in {field}", tok.column)
        return Parsed(insn.with_(**{field: value}))
    return Parsed(insn, label=tok, field=field)


@_rule(r"exit")
def _exit(m: _Match) -> Parsed:
    return Parsed(Instruction(EXIT))


@_rule(rf"callx\s+(?P<dst>{_REG})")
def _callx(m: _Match) -> Parsed:
    return Parsed(Instruction(CALL | Source.X, dst=m.reg("dst", "r")))


@_rule(rf"call\s+pc\s*(?P<target>[+-]\s*(?:0[xX][0-9a-fA-F]+|[0-9]+))")
def _pseudo_call(m: _Match) -> Parsed:
    return _target(m, Instruction(CALL, src=int(CallSrc.PSEUDO_CALL)), "imm")


@_rule(rf"call\s+kfunc\s+(?P<imm>{_NUM})(?:\s*,\s*(?P<fdidx>{_NUM}))?")
def _kfunc_call(m: _Match) -> Parsed:
    """``call kfunc BTF_ID[, FD_ARRAY_INDEX]`` (the index selects a module's BTF; 0 is vmlinux)."""
    off = 0
    if m.has("fdidx"):
        off, _ = parse_int(m.token("fdidx"), m.line, "fd_array index")
        if not 0 <= off <= 0x7FFF:
            raise m.error(f"fd_array index {m.text('fdidx')} must be 0..32767", "fdidx")
    return Parsed(Instruction(CALL, src=int(CallSrc.KFUNC), off=off,
                              imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True)))


@_rule(rf"call\s+(?P<imm>{_NUM})")
def _helper_call(m: _Match) -> Parsed:
    return Parsed(Instruction(CALL, imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True)))


@_rule(rf"call\s+(?P<target>{_IDENT})")
def _label_call(m: _Match) -> Parsed:
    return _target(m, Instruction(CALL, src=int(CallSrc.PSEUDO_CALL)), "imm")


@_rule(rf"(?P<op>goto|gotol|may_goto)\s+{_TARGET}")
def _goto(m: _Match) -> Parsed:
    op = m.text("op")
    if op == "gotol":
        return _target(m, Instruction(JA32), "imm")
    return _target(m, Instruction(JA if op == "goto" else Class.JMP | JumpOp.JCOND), "off")


@_rule(rf"if\s+(?P<dst>{_REG})\s*(?P<cmp>==|!=|s>=|s<=|s>|s<|>=|<=|>|<|&)\s*"
       rf"(?:(?P<src>{_REG})|(?P<imm>{_NUM}))\s+goto\s+{_TARGET}")
def _branch(m: _Match) -> Parsed:
    width = m.width("dst")
    cls = Class.JMP if width == "r" else Class.JMP32
    insn = Instruction(cls | _JMP_OPS[m.text("cmp")], dst=m.reg("dst"))
    if m.has("src"):
        insn = insn.with_(opcode=insn.opcode | Source.X, src=m.reg("src", width))
    else:
        insn = insn.with_(imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True))
    return _target(m, insn, "off")


@_rule(rf"(?P<dst>{_REG})\s*=\s*(?P<imm>{_NUM})\s+ll")
def _lddw(m: _Match) -> Parsed:
    return Parsed(Instruction(LDDW, dst=m.reg("dst", "r"), imm=parse_imm64(m.token("imm"), m.line)))


@_rule(rf"ld_pseudo\s+(?P<dst>{_REG})\s*,\s*(?P<src>{_NUM})\s*,\s*(?P<imm>{_NUM})"
       rf"(?:\s*,\s*(?P<high>{_NUM}))?")
def _ld_pseudo(m: _Match) -> Parsed:
    src, _ = parse_int(m.token("src"), m.line, "pseudo source")
    if not 0 <= src <= 15:
        raise m.error(f"pseudo source {src} does not fit in 4 bits", "src")
    low = parse_imm32(m.token("imm"), m.line, unsigned_decimal=True) & 0xFFFFFFFF
    high = parse_imm32(m.token("high"), m.line) & 0xFFFFFFFF if m.has("high") else 0
    return Parsed(Instruction(LDDW, dst=m.reg("dst", "r"), src=src, imm=low | high << 32))


@_rule(rf"(?P<dst>{_REG})\s*=\s*{_TYPE}\s*skb\[\s*(?:(?P<src>{_REG})(?:\s*(?P<sign>[+-])\s*"
       rf"(?P<add>0[xX][0-9a-fA-F]+|[0-9]+))?|(?P<imm>{_NUM}))\s*\]")
def _packet_load(m: _Match) -> Parsed:
    if m.text("dst") != "r0":
        raise m.error("legacy packet loads always write r0", "dst")
    if m.signed_type() or m.size() == Size.DW:
        raise m.error("legacy packet loads are u8, u16 or u32", "type")
    if m.has("src"):
        imm = 0
        if m.has("add"):
            imm = parse_imm32(Token(m.text("sign") + m.text("add"), m.column + m.m.start("sign")), m.line)
        return Parsed(Instruction(Class.LD | Mode.IND | m.size(), src=m.reg("src", "r"), imm=imm))
    return Parsed(Instruction(Class.LD | Mode.ABS | m.size(), imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True)))


@_rule(rf"(?P<dst>{_REG})\s*=\s*{_TYPE}\s*{_MEM}")
def _load(m: _Match) -> Parsed:
    size, signed = m.size(), m.signed_type()
    if signed and size == Size.DW:
        raise m.error("there is no signed 64-bit load; use u64", "type")
    if m.width("dst") == "w" and (signed or size == Size.DW):
        raise m.error("only u8/u16/u32 loads may target a w register", "dst")
    mode = Mode.MEMSX if signed else Mode.MEM
    return Parsed(Instruction(Class.LDX | mode | size, dst=m.reg("dst"), src=m.reg("base", "r"),
                              off=m.off()))


@_rule(rf"{_TYPE}\s*{_MEM}\s*=\s*(?:(?P<src>{_REG})|(?P<imm>{_NUM}))")
def _store(m: _Match) -> Parsed:
    if m.signed_type():
        raise m.error("stores use unsigned types (u8, u16, u32, u64)", "type")
    size, dst, off = m.size(), m.reg("base", "r"), m.off()
    if m.has("src"):
        if m.width("src") == "w" and size == Size.DW:
            raise m.error("a 64-bit store needs an r register", "src")
        return Parsed(Instruction(Class.STX | Mode.MEM | size, dst=dst, src=m.reg("src"), off=off))
    return Parsed(Instruction(Class.ST | Mode.MEM | size, dst=dst, off=off,
                              imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True)))


def _atomic_size(m: _Match) -> int:
    if m.signed_type() or m.size() not in (Size.W, Size.DW):
        raise m.error("atomic operations are u32 or u64", "type")
    return m.size()


@_rule(rf"lock\s+{_TYPE}\s*{_MEM}\s*(?P<aop>\+=|&=|\|=|\^=)\s*(?P<src>{_REG})")
def _lock(m: _Match) -> Parsed:
    size = _atomic_size(m)
    if size == Size.DW and m.width("src") == "w":
        raise m.error("a 64-bit atomic needs an r register", "src")
    return Parsed(Instruction(Class.STX | Mode.ATOMIC | size, dst=m.reg("base", "r"),
                              src=m.reg("src"), off=m.off(), imm=int(_ATOMIC_OPS[m.text("aop")])))


def _same_register(m: _Match, a: str, b: str, width: str) -> int:
    reg = m.reg(b, width)
    if m.reg(a, width) != reg:
        raise m.error(f"'{m.text(a)}' must be the same register as '{m.text(b)}'", a)
    return reg


@_rule(rf"(?P<dst>{_REG})\s*=\s*atomic_fetch_(?P<fop>add|and|or|xor)\(\s*{_CAST}\s*{_MEM}\s*,"
       rf"\s*(?P<src>{_REG})\s*\)")
def _fetch(m: _Match) -> Parsed:
    size = _atomic_size(m)
    src = _same_register(m, "dst", "src", "r" if size == Size.DW else "w")
    imm = _ATOMIC_OPS[m.text("fop")] | AtomicOp.FETCH
    return Parsed(Instruction(Class.STX | Mode.ATOMIC | size, dst=m.reg("base", "r"), src=src,
                              off=m.off(), imm=int(imm)))


@_rule(rf"(?P<dst>{_REG})\s*=\s*(?P<name>xchg_64|xchg32_32)\(\s*{_MEM_BARE}\s*,\s*(?P<src>{_REG})\s*\)")
def _xchg(m: _Match) -> Parsed:
    size = Size.DW if m.text("name") == "xchg_64" else Size.W
    src = _same_register(m, "dst", "src", "r" if size == Size.DW else "w")
    return Parsed(Instruction(Class.STX | Mode.ATOMIC | size, dst=m.reg("base", "r"), src=src,
                              off=m.off(), imm=int(AtomicOp.XCHG)))


@_rule(rf"(?P<dst>{_REG})\s*=\s*(?P<name>cmpxchg_64|cmpxchg32_32)\(\s*{_MEM_BARE}\s*,"
       rf"\s*(?P<old>{_REG})\s*,\s*(?P<src>{_REG})\s*\)")
def _cmpxchg(m: _Match) -> Parsed:
    size = Size.DW if m.text("name") == "cmpxchg_64" else Size.W
    width = "r" if size == Size.DW else "w"
    for name in ("dst", "old"):
        if m.reg(name, width) != 0:
            raise m.error(f"cmpxchg compares and returns in {width}0, not '{m.text(name)}'", name)
    return Parsed(Instruction(Class.STX | Mode.ATOMIC | size, dst=m.reg("base", "r"),
                              src=m.reg("src", width), off=m.off(), imm=int(AtomicOp.CMPXCHG)))


@_rule(rf"(?P<dst>{_REG})\s*=\s*(?P<kind>be|le|bswap)(?P<bits>16|32|64)\s+(?P<src>{_REG})")
def _byte_swap(m: _Match) -> Parsed:
    dst = _same_register(m, "src", "dst", "r")
    opcode = {"be": Class.ALU | ALUOp.END | Source.X, "le": Class.ALU | ALUOp.END | Source.K,
              "bswap": Class.ALU64 | ALUOp.END}[m.text("kind")]
    return Parsed(Instruction(opcode, dst=dst, imm=int(m.text("bits"))))


@_rule(rf"(?P<dst>{_REG})\s*=\s*-\s*(?P<src>{_REG})")
def _neg(m: _Match) -> Parsed:
    width = m.width("dst")
    dst = _same_register(m, "src", "dst", width)
    return Parsed(Instruction((Class.ALU64 if width == "r" else Class.ALU) | ALUOp.NEG, dst=dst))


@_rule(rf"(?P<dst>{_REG})\s*=\s*addr_space_cast\(\s*(?P<src>{_REG})\s*,\s*(?P<das>{_NUM})\s*,"
       rf"\s*(?P<sas>{_NUM})\s*\)")
def _addr_space_cast(m: _Match) -> Parsed:
    spaces = []
    for name in ("das", "sas"):
        value, _ = parse_int(m.token(name), m.line, "address space")
        if not 0 <= value <= 0xFFFF:
            raise m.error(f"address space {m.text(name)} does not fit in 16 bits", name)
        spaces.append(value)
    return Parsed(Instruction(Class.ALU64 | ALUOp.MOV | Source.X, dst=m.reg("dst", "r"),
                              src=m.reg("src", "r"), off=1, imm=spaces[0] << 16 | spaces[1]))


@_rule(rf"(?P<dst>{_REG})\s*=\s*\(\s*s(?P<bits>8|16|32)\s*\)\s*(?P<src>{_REG})")
def _movsx(m: _Match) -> Parsed:
    width = m.width("dst")
    if width == "w" and m.text("bits") == "32":
        raise m.error("(s32) sign extension needs 64-bit registers", "bits")
    cls = Class.ALU64 if width == "r" else Class.ALU
    return Parsed(Instruction(cls | ALUOp.MOV | Source.X, dst=m.reg("dst"), src=m.reg("src", width),
                              off=int(m.text("bits"))))


@_rule(rf"(?P<dst>{_REG})\s*(?P<aop>s/=|s%=|s>>=|\+=|-=|\*=|/=|\|=|&=|<<=|>>=|%=|\^=|=)\s*"
       rf"(?:(?P<src>{_REG})|(?P<imm>{_NUM}))")
def _alu(m: _Match) -> Parsed:
    width, aop = m.width("dst"), m.text("aop")
    cls = Class.ALU64 if width == "r" else Class.ALU
    insn = Instruction(cls | _ALU_OPS[aop], dst=m.reg("dst"), off=1 if aop in ("s/=", "s%=") else 0)
    if m.has("src"):
        return Parsed(insn.with_(opcode=insn.opcode | Source.X, src=m.reg("src", width)))
    return Parsed(insn.with_(imm=parse_imm32(m.token("imm"), m.line, unsigned_decimal=True)))


def parse_line(body: str, column: int, line: SourceLine) -> Parsed:
    text = _ANNOTATION.sub("", body)
    for pattern, build in _RULES:
        match = pattern.match(text)
        if match:
            return build(_Match(match, column, line))
    if not text.strip():
        raise line.error("expected an instruction before the <target> annotation", column)
    word = text.split()[0]
    if re.fullmatch(_REG, word) is None and word not in (
            "if", "goto", "gotol", "may_goto", "call", "callx", "exit", "lock", "ld_pseudo") \
            and not word.startswith("*("):
        raise line.error(f"unknown mnemonic '{word}'", column)
    raise line.error(f"cannot parse '{text.strip()}' as an instruction", column)
