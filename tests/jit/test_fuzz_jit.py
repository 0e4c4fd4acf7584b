"""Generated programs: the JIT agrees with the interpreter (and with the kernel), and programs no
verifier has checked never crash the process — run-time checks turn bad accesses into errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf.errors import KernelError
from test_differential import PKT_LEN, VALUE_SIZE, make_spec, on_cpu0, program, run

HERE = Path(__file__).resolve().parent
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])


def test_unverified_programs_never_crash_and_agree_with_the_interpreter() -> None:
    """Wild pointers, offsets across regions, atomics on anything: run in a child process so a
    segfault would be seen as a signal exit; every program must end like in the interpreter."""
    proc = subprocess.run([sys.executable, str(HERE / "unsafe_programs.py"), "80", "7"],
                          capture_output=True, text=True, timeout=300, cwd=HERE)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "80 unverified programs: interpreter and JIT agree" in proc.stdout


def _observe(spec, engine: str, packet: bytes, values: list[bytes]):
    try:
        return run(spec, engine, packet, values)
    except pybpf.errors.BPFError as exc:
        return type(exc).__name__


@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_generated_xdp_programs_give_the_interpreters_results(data) -> None:
    insns = data.draw(program())
    packet = data.draw(st.binary(min_size=PKT_LEN, max_size=PKT_LEN + 16))
    values = data.draw(st.lists(st.binary(min_size=VALUE_SIZE, max_size=VALUE_SIZE),
                                min_size=4, max_size=4))
    assert _observe(make_spec(insns), "jit", packet, values) == \
        _observe(make_spec(insns), "interp", packet, values)


@pytest.mark.kernel
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_generated_xdp_programs_give_the_kernels_results_in_the_jit(data) -> None:
    from hypothesis import assume
    insns = data.draw(program())
    packet = data.draw(st.binary(min_size=PKT_LEN, max_size=PKT_LEN + 16))
    values = data.draw(st.lists(st.binary(min_size=VALUE_SIZE, max_size=VALUE_SIZE),
                                min_size=4, max_size=4))
    with on_cpu0():
        try:
            kernel = run(make_spec(insns), "kernel", packet, values)
        except KernelError:
            assume(False)               # the kernel's verifier rejected it
            return
    assert run(make_spec(insns), "jit", packet, values) == kernel
