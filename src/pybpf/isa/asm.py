"""eBPF assembler: text in the bpf_conformance/uBPF syntax or llvm-objdump's syntax -> Instructions.

Turns source text into Instruction values and resolves labels; it never writes files or touches the kernel.
Both syntaxes may be mixed, the syntax is detected per line. Errors are AssemblerError naming line and column.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AssemblerError
from .codec import check
from .instruction import Instruction
from .opcodes import EXIT, MAX_REG

_LABEL_DEF = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*:(?!\S)")
_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)\Z")


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of one source line and the 1-based column where it starts."""
    text: str
    column: int


class SourceLine:
    """One line of assembly, able to raise errors that point into it."""

    def __init__(self, number: int, text: str) -> None:
        self.number = number
        self.text = text

    def error(self, message: str, column: int | None = None) -> AssemblerError:
        exc = AssemblerError(message, line=self.number, column=column, source=self.text)
        exc.reason = message        # the message without location, for re-wrapping
        return exc


@dataclass(slots=True)
class Parsed:
    """One assembled instruction, possibly waiting for a label to fill its jump field."""
    insn: Instruction
    label: Token | None = None     # unresolved jump/call target
    field: str = "off"              # which field the label fills: "off" or "imm"


# --- numbers ---------------------------------------------------------------------------------
def parse_int(token: Token, line: SourceLine, what: str = "number") -> tuple[int, bool]:
    """Return (value, was_hex) for decimal or 0x-hex text with an optional sign."""
    text = token.text
    if not _INT.match(text):
        raise line.error(f"invalid {what} '{text}'", token.column)
    body = text.lstrip("+-")
    value = int(body, 16) if body[:2].lower() == "0x" else int(body, 10)
    return (-value if text.startswith("-") else value), body[:2].lower() == "0x"


def parse_imm32(token: Token, line: SourceLine, *, unsigned_decimal: bool = False) -> int:
    """A 32-bit immediate: hex may be written unsigned (0xffffffff); decimal must fit int32
    unless ``unsigned_decimal`` (llvm-mc also takes 4294967295)."""
    value, was_hex = parse_int(token, line, "immediate")
    if (was_hex or unsigned_decimal) and 0 <= value <= 0xFFFFFFFF:
        return value - (1 << 32) if value & 0x80000000 else value
    if -0x80000000 <= value <= 0x7FFFFFFF:
        return value
    raise line.error(f"immediate {token.text} does not fit in 32 bits", token.column)


def parse_imm64(token: Token, line: SourceLine) -> int:
    """A 64-bit immediate as the unsigned value LDDW stores."""
    value, _ = parse_int(token, line, "immediate")
    if -(1 << 63) <= value < (1 << 64):
        return value & 0xFFFFFFFFFFFFFFFF
    raise line.error(f"immediate {token.text} does not fit in 64 bits", token.column)


def parse_off16(token: Token, line: SourceLine) -> int:
    """A signed 16-bit offset: hex may be written unsigned (0xfff8), decimal must fit int16."""
    value, was_hex = parse_int(token, line, "offset")
    if was_hex and 0 <= value <= 0xFFFF:
        return value - (1 << 16) if value & 0x8000 else value
    if -0x8000 <= value <= 0x7FFF:
        return value
    raise line.error(f"offset {token.text} does not fit in 16 bits", token.column)


def register_number(name: str, token: Token, line: SourceLine) -> int:
    """Validate a register number already stripped of its prefix."""
    if name.isdigit() and int(name) <= MAX_REG and str(int(name)) == name:
        return int(name)
    raise line.error(f"invalid register '{token.text}' (registers are r0..r{MAX_REG})", token.column)


# --- driver ----------------------------------------------------------------------------------
LineParser = Callable[[str, int, SourceLine], "Parsed"]


def _strip_comment(text: str) -> str:
    for marker in ("#", ";", "//"):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text.rstrip()


def _pick_parser(body: str) -> LineParser:
    from . import asm_conformance, asm_llvm     # they import this module's helpers
    if asm_conformance.looks_like(body):
        return asm_conformance.parse_line
    return asm_llvm.parse_line


def assemble(text: str) -> list[Instruction]:
    """Assemble source text into instructions; labels (``name:``) may be used as jump targets.

    Accepts the bpf_conformance syntax (``mov32 %r0, 1``, ``jeq %r1, 0, +2``, ``lock fetch add
    [%r10-8], %r1``) and llvm-objdump's (``w0 = 0x1``, ``if r1 == 0x0 goto +0x2``), per line.
    """
    parsed: list[Parsed] = []
    lines: list[tuple[SourceLine, int]] = []
    labels: dict[str, int] = {}
    slot = 0
    first_exit: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = SourceLine(number, raw)
        body = _strip_comment(raw)
        start = 0
        while (match := _LABEL_DEF.match(body, start)):
            name = match.group(1)
            if name in labels:
                raise line.error(f"duplicate label '{name}'", match.start(1) + 1)
            labels[name] = slot
            start = match.end()
        if not body[start:].strip():
            continue
        offset = len(body) - len(body[start:].lstrip())
        item = _pick_parser(body[offset:])(body[offset:], offset + 1, line)
        if item.insn.opcode == EXIT and first_exit is None:
            first_exit = slot
        parsed.append(item)
        lines.append((line, offset + 1))
        slot += item.insn.slots
    if first_exit is not None:
        labels.setdefault("exit", first_exit)   # bpf_conformance: "exit" names the first exit
    return _resolve(parsed, lines, labels)


def _resolve(parsed: list[Parsed], lines: list[tuple[SourceLine, int]],
             labels: dict[str, int]) -> list[Instruction]:
    out: list[Instruction] = []
    slot = 0
    for item, (line, column) in zip(parsed, lines):
        insn = item.insn
        if item.label is not None:
            target = labels.get(item.label.text)
            if target is None:
                raise line.error(f"undefined label '{item.label.text}'", item.label.column)
            delta = target - slot - 1
            if item.field == "imm":
                insn = insn.with_(imm=delta)
            elif -0x8000 <= delta <= 0x7FFF:
                insn = insn.with_(off=delta)
            else:
                raise line.error(f"label '{item.label.text}' is {delta} slots away, beyond a 16-bit "
                                 "jump offset (use ja32/gotol)", item.label.column)
        problem = check(insn)
        if problem:
            raise line.error(f"invalid instruction: {problem}", column)
        out.append(insn)
        slot += insn.slots
    return out


__all__ = ["assemble", "Token", "SourceLine", "Parsed", "parse_int", "parse_imm32", "parse_imm64",
           "parse_off16", "register_number"]
