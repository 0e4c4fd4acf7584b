"""Runs bpf_conformance test cases in the VM the way the suite's plugins do (r1 = memory, r2 = its length).

Judges one case at a time and reports an outcome; it never prints and never exits the process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BPFError
from .machine import Machine

MEM_BUFFER_SLACK = 0          # the suite passes exactly the bytes of the -- mem section


class _Unwind(Exception):
    pass


def _unwind(machine: Machine, r1: int, *_: int) -> int:
    """Helper 5 of the suite's plugins: returns r1; with r1 == 0 it would unwind the program."""
    return r1


CONFORMANCE_HELPERS = {5: _unwind}


@dataclass(frozen=True)
class CaseOutcome:
    name: str
    passed: bool
    detail: str
    instructions: int = 0


def run_case(case: object, *, engine: str = "interp", budget: int = 1_000_000) -> CaseOutcome:
    """Run one parsed case (pybpf.isa.conformance.ConformanceCase) and judge it."""
    name = getattr(case, "name", "?")
    expected_error = getattr(case, "error", None)
    expected = getattr(case, "result", None)
    try:
        insns = case.instructions()                         # type: ignore[attr-defined]
        machine = make_machine(engine)
        prog = machine.load(name, insns)
        mem = bytes(getattr(case, "mem", b"") or b"")
        if mem:
            region = machine.mem.new("mem", mem, kind="ctx")
            r1 = region.base
        else:
            r1 = 0
        value = machine.run(prog, r1, len(mem), budget=budget)
    except BPFError as exc:
        if expected_error is not None:
            return CaseOutcome(name, True, f"failed as expected: {exc}")
        return CaseOutcome(name, False, f"error: {exc}")
    if expected_error is not None:
        return CaseOutcome(name, False, f"expected an error ({expected_error!r}) but got {value:#x}")
    if expected is None:
        return CaseOutcome(name, False, "case has neither -- result nor -- error")
    ok = value == (expected & ((1 << 64) - 1))
    detail = f"returned {value:#x}" + ("" if ok else f", expected {expected:#x}")
    return CaseOutcome(name, ok, detail, machine.last_executed)


def make_machine(engine: str) -> Machine:
    if engine != "interp":
        from ..errors import NotSupportedError
        try:
            from .jit import make_machine as jit_machine        # type: ignore[import-not-found]
        except ImportError:
            raise NotSupportedError(f"VM engine {engine!r} is not available (only 'interp')") from None
        return jit_machine(helpers=CONFORMANCE_HELPERS)
    return Machine(helpers=CONFORMANCE_HELPERS)


def run_file(path: str | os.PathLike[str], *, engine: str = "interp") -> CaseOutcome:
    from ..isa.conformance import parse_case
    try:
        case = parse_case(path)
    except BPFError as exc:
        return CaseOutcome(Path(path).stem, False, f"cannot parse: {exc}")
    return run_case(case, engine=engine)


def case_files(directory: str | os.PathLike[str]) -> list[Path]:
    root = Path(directory)
    tests = root / "tests"
    if tests.is_dir():
        root = tests
    return sorted(root.glob("*.data"))


__all__ = ["run_case", "run_file", "case_files", "CaseOutcome", "CONFORMANCE_HELPERS"]
