"""``pybpf verify``: exit 0 with a summary when every program is accepted, non-zero with the reason."""
from __future__ import annotations

from pathlib import Path

from pybpf.cli.main import main

PROGS = Path(__file__).resolve().parent / "progs"


def test_verify_accepts_a_safe_program_and_prints_counts(compile_bpf, capsys):
    obj = compile_bpf(PROGS / "xdp_missing_check.c")
    assert main(["verify", str(obj), "--prog", "good_check"]) == 0
    out = capsys.readouterr().out
    assert "good_check (xdp): accepted" in out and "insns processed" in out


def test_verify_rejects_with_explanation_and_nonzero_exit(compile_bpf, capsys):
    obj = compile_bpf(PROGS / "xdp_missing_check.c")
    assert main(["verify", str(obj)]) == 1
    captured = capsys.readouterr()
    assert "short_check (xdp): REJECTED" in captured.out
    assert "invalid access to packet" in captured.out and "source:" in captured.out
    assert "1/2 programs accepted" in captured.err


def test_verify_unknown_program_name_is_an_error(compile_bpf, capsys):
    obj = compile_bpf(PROGS / "xdp_missing_check.c")
    assert main(["verify", str(obj), "--prog", "nope"]) == 1
    assert "no program named nope" in capsys.readouterr().err
