"""Reader for bpf_conformance test data files (``-- asm``, ``-- raw``, ``-- mem``, ``-- result``, ``-- error``).

Parses one .data file into a ConformanceCase; it never runs a program (that is the VM's or kernel's job).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssemblerError, InstructionError
from .asm import assemble
from .codec import decode
from .instruction import Instruction

_KNOWN_SECTIONS = ("asm", "raw", "mem", "result", "error", "c", "no register offset")


@dataclass(frozen=True)
class ConformanceCase:
    """One test: a program (assembly and/or raw bytes), its input memory and expected outcome.

    ``result`` is the expected r0 (None when the file has no ``-- result``); ``error`` is the
    expected error text ("" for a bare ``-- error`` section, None when there is none).
    ``asm_line`` is the file line number of the first assembly line, for error messages.
    """

    name: str
    path: Path
    asm: str
    raw: bytes | None
    mem: bytes
    result: int | None
    error: str | None
    asm_line: int = 1

    def instructions(self) -> list[Instruction]:
        """The program: raw bytes decoded when present, else the assembly assembled.

        Raises InstructionError for an invalid raw encoding and AssemblerError (with the line
        number in the .data file) for bad assembly.
        """
        if self.raw is not None:
            try:
                return decode(self.raw)
            except InstructionError as exc:
                raise InstructionError(f"{self.path.name}: {exc}") from None
        try:
            return assemble(self.asm)
        except AssemblerError as exc:
            line = None if exc.line is None else exc.line + self.asm_line - 1
            raise _error(self.path, getattr(exc, "reason", str(exc)), line, exc.column,
                         exc.source) from None

    def program_bytes(self) -> bytes:
        """The program as the byte stream a loader takes."""
        from .codec import encode
        return self.raw if self.raw is not None else encode(self.instructions())


def _error(path: Path, message: str, line: int | None = None, column: int | None = None,
           source: str | None = None) -> AssemblerError:
    """An AssemblerError naming the .data file (``reason`` keeps the bare message)."""
    exc = AssemblerError(f"{path.name}: {message}", line=line, column=column, source=source)
    exc.reason = message
    return exc


def _hex_bytes(text: str, path: Path, line: int, what: str) -> bytes:
    """Whitespace-separated hex bytes (``aa bb 01``) or 64-bit words (``0x5566778800000018``)."""
    out = bytearray()
    for token in text.split():
        try:
            if token.lower().startswith("0x"):
                out += int(token, 16).to_bytes(8, "little")
            else:
                value = int(token, 16)
                if not 0 <= value <= 0xFF:
                    raise ValueError(token)
                out.append(value)
        except (ValueError, OverflowError):
            raise _error(path, f"bad {what} value '{token}'", line) from None
    return bytes(out)


def parse_case(path: str | os.PathLike[str]) -> ConformanceCase:
    """Parse one bpf_conformance ``.data`` file."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssemblerError(f"{path}: cannot read conformance file: {exc}") from None
    sections: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    current: str | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        stripped = raw_line.strip()
        if stripped.startswith("--"):
            name = stripped[2:].split("#", 1)[0].strip()
            if name not in _KNOWN_SECTIONS:
                raise _error(path, f"unknown section '-- {name}'", number, 1, raw_line)
            current = name
            sections.setdefault(name, [])
            starts.setdefault(name, number + 1)
            continue
        if current is not None:
            sections[current].append(raw_line)

    def content(name: str) -> list[str]:
        return [ln.split("#", 1)[0].strip() for ln in sections.get(name, []) if ln.split("#", 1)[0].strip()]

    raw = None
    if "raw" in sections:
        raw = _hex_bytes(" ".join(content("raw")), path, starts["raw"], "raw")
    mem = _hex_bytes(" ".join(content("mem")), path, starts.get("mem", 0), "mem")
    result = None
    if content("result"):
        token = content("result")[-1]
        try:
            result = int(token, 16) if token.lower().startswith("0x") else int(token, 10)
        except ValueError:
            raise _error(path, f"bad result '{token}'", starts["result"]) from None
    error = None
    if "error" in sections:
        error = "\n".join(ln.strip() for ln in sections["error"] if ln.strip())
    return ConformanceCase(name=path.stem, path=path, asm="\n".join(sections.get("asm", [])),
                           raw=raw, mem=mem, result=result, error=error,
                           asm_line=starts.get("asm", 1))


def iter_cases(directory: str | os.PathLike[str]) -> list[ConformanceCase]:
    """Every ``*.data`` case in a directory, sorted by name."""
    return [parse_case(p) for p in sorted(Path(directory).glob("*.data"))]


__all__ = ["ConformanceCase", "parse_case", "iter_cases"]
