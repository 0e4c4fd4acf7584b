"""The VM interpreter against the bpf_conformance suite (an independent truth for RFC 9669 semantics)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.vm.conformance import case_files, run_file

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "bpf_conformance"
CASES = case_files(SUITE) if (SUITE / "tests").is_dir() else []


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_case_passes_in_interpreter(path: Path) -> None:
    outcome = run_file(path, engine="interp")
    assert outcome.passed, outcome.detail


def test_suite_has_all_313_cases(conformance_dir: Path) -> None:
    assert len(case_files(conformance_dir)) == 313


def test_wrong_expected_result_is_reported_as_failure(conformance_dir: Path) -> None:
    outcome = run_file(conformance_dir / "negative" / "incorrect_return_value_high_bits.data")
    assert not outcome.passed
    assert "expected 0x8977665544332211" in outcome.detail


def test_cli_prints_summary_line_and_exit_status(conformance_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pybpf", "conformance", str(conformance_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "313 passed, 0 failed"
    assert proc.returncode == 0


def test_cli_exit_status_is_one_when_a_case_fails(conformance_dir: Path) -> None:
    bad = conformance_dir / "negative" / "incorrect_return_value_high_bits.data"
    proc = subprocess.run([sys.executable, "-m", "pybpf", "conformance", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "0 passed, 1 failed"
    assert proc.returncode == 1
