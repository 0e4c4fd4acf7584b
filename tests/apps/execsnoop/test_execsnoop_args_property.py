"""Argument capture follows one independent model, in the VM and in the kernel (hypothesis).

Model (libbpf-tools' execsnoop semantics): the filename, then argv[1..max_args-1], each cut to 127
bytes; ``truncated`` exactly when argv has more than max_args entries.
"""
from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.apps.execsnoop import (Execsnoop, ExecsnoopOptions, ProcessTable, SimulatedExec,
                                  run_simulated)

from execsnoop_helpers import collect_until

ARG = st.binary(min_size=0, max_size=200).filter(lambda b: b"\0" not in b)
ARGV_TAIL = st.lists(ARG, max_size=26)
MAX_ARGS = st.integers(min_value=1, max_value=20)


def expected(filename: bytes, argv: list[bytes], max_args: int) -> tuple[list[str], bool]:
    kept = [filename] + argv[1:max_args]
    return [a[:127].decode("utf-8", errors="replace") for a in kept], len(argv) > max_args


@settings(max_examples=20, deadline=None)
@given(tail=ARGV_TAIL, max_args=MAX_ARGS)
def test_vm_argument_capture_matches_the_model(tail, max_args):
    table = ProcessTable()
    child = table.spawn(1)
    argv = [b"prog"] + tail
    (event,) = run_simulated((table, [SimulatedExec(pid=child.pid, filename="/usr/bin/prog",
                                                    argv=argv)]),
                             ExecsnoopOptions(max_args=max_args))
    assert (event.args, event.truncated) == expected(b"/usr/bin/prog", argv, max_args)


@pytest.fixture(scope="module")
def kernel_snoop():          # only set up for kernel tests, after the kernel gate passed
    with Execsnoop(ExecsnoopOptions(max_args=7)) as snoop:
        yield snoop


@pytest.mark.kernel
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=ARGV_TAIL)
def test_kernel_argument_capture_matches_the_model(kernel_snoop, tail):
    argv = [b"true"] + tail
    child = subprocess.Popen(argv, executable="/bin/true")
    child.wait()
    events = collect_until(kernel_snoop, lambda evs: any(e.pid == child.pid for e in evs))
    (event,) = [e for e in events if e.pid == child.pid]
    assert event.ppid == os.getpid()
    assert (event.args, event.truncated) == expected(b"/bin/true", argv, 7)
