"""Reading the kernel verifier's log: which instruction failed, why, and which source line it came from.

Pure text processing over the log and optional line-info records; never calls the kernel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\)")
_SOURCE_LINE = re.compile(r"^; (.*?)(?: @ (\S+):(\d+))?$")
_NOISE = re.compile(r"^(processed \d+ insns|verification time|stack depth|max_states_per_insn|"
                    r"mark_precise|last_idx|regs=|parent |func#|from \d+ to \d+|\s*$|"
                    r"-- BEGIN PROG LOAD LOG --|-- END PROG LOAD LOG --|Validating )")


@dataclass(frozen=True)
class VerifierFailure:
    """The interesting parts of a rejected program's log."""
    insn: int | None            # slot index of the last instruction the verifier looked at
    reason: str                 # the verifier's complaint (the last meaningful line)
    source: str | None          # source text of that instruction (from "; ... @ file:line")
    file: str | None
    line: int | None

    @property
    def location(self) -> str | None:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return None


def parse_log(log: str) -> VerifierFailure:
    """Find the failing instruction and the verifier's reason in a log_level 1/2 log."""
    lines = log.rstrip("\0").splitlines()
    insn = None
    source = file = None
    line_no = None
    insn_at = -1
    for i, text in enumerate(lines):
        m = _INSN_LINE.match(text)
        if m:
            insn = int(m.group(1))
            insn_at = i
    # source comment: the last "; ..." before (or at) the failing instruction
    search_end = insn_at if insn_at >= 0 else len(lines)
    for text in reversed(lines[:search_end + 1]):
        m = _SOURCE_LINE.match(text)
        if m and text.startswith("; "):
            source = m.group(1).strip()
            file = m.group(2)
            line_no = int(m.group(3)) if m.group(3) else None
            break
    reason = "; ".join(text.strip() for text in (lines[insn_at + 1:] if insn_at >= 0 else [])
                       if not _NOISE.match(text) and not text.startswith(";")
                       and not _INSN_LINE.match(text))
    if not reason:
        for text in reversed(lines):
            if text.strip() and not _NOISE.match(text):
                reason = text.strip()
                break
    return VerifierFailure(insn, reason, source, file, line_no)


def line_for_slot(line_info: Sequence[Any], slot: int) -> Any | None:
    """The line-info record (with ``slot``/``line``/``file_name``/``source``) covering ``slot``."""
    best = None
    for rec in line_info:
        rslot = getattr(rec, "slot", None)
        if rslot is None:
            continue
        if rslot <= slot and (best is None or rslot >= best.slot):
            best = rec
    return best


def describe(program: str, log: str, line_info: Sequence[Any] = (),
             section: str | None = None) -> tuple[str, VerifierFailure, str | None]:
    """A one-paragraph error message for a rejected program, the parsed failure, the source line."""
    failure = parse_log(log)
    where = f"program {program!r}" + (f" (section {section})" if section else "")
    source_line = None
    location = failure.location
    source = failure.source
    if failure.insn is not None and line_info:
        rec = line_for_slot(line_info, failure.insn)
        if rec is not None:
            fname = getattr(rec, "file_name", "") or ""
            location = location or (f"{fname}:{rec.line}" if fname else f"line {rec.line}")
            source = source or (getattr(rec, "source", "") or None)
    if location or source:
        source_line = " ".join(p for p in (location, source and f"'{source}'") if p)
    text = f"{where} rejected by the kernel verifier"
    if failure.insn is not None:
        text += f" at instruction {failure.insn}"
    if source_line:
        text += f", source {source_line}"
    if failure.reason:
        text += f": {failure.reason}"
    return text, failure, source_line
