"""The JIT against the bpf_conformance suite: every case must pass with engine="jit"."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.vm.conformance import case_files, run_file

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "bpf_conformance"
CASES = case_files(SUITE) if (SUITE / "tests").is_dir() else []


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_case_passes_in_jit(path: Path) -> None:
    outcome = run_file(path, engine="jit")
    assert outcome.passed, outcome.detail


def test_wrong_expected_result_is_still_a_failure_in_jit(conformance_dir: Path) -> None:
    outcome = run_file(conformance_dir / "negative" / "incorrect_return_value_high_bits.data",
                       engine="jit")
    assert not outcome.passed
    assert "expected 0x8977665544332211" in outcome.detail


def test_cli_conformance_engine_jit_reports_the_summary(conformance_dir: Path) -> None:
    case = conformance_dir / "tests" / "call_local.data"
    proc = subprocess.run([sys.executable, "-m", "pybpf", "conformance", "--engine", "jit", str(case)],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "1 passed, 0 failed", proc.stdout + proc.stderr
