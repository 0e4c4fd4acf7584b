"""Line parser for llvm-objdump's BPF syntax (``w0 = 0x1``, ``if r1 == 0x0 goto +0x2``).

Turns one already comment-stripped line into a Parsed instruction; it never resolves labels itself.
"""
from __future__ import annotations

from .asm import Parsed, SourceLine


def parse_line(body: str, column: int, line: SourceLine) -> Parsed:
    word = body.split()[0]
    raise line.error(f"unknown mnemonic '{word}'", column)
