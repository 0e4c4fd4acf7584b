"""Under a burst of 20,000 execs from 4 processes, every exec is reported once or counted as dropped.

Truth: the burst helper (C, fork + vfork/execve) reports how many execs succeeded.
"""
from __future__ import annotations

import subprocess
import threading

import pytest

from pybpf.apps.execsnoop import Execsnoop, ExecsnoopOptions

pytestmark = pytest.mark.kernel

WORKERS, PER_WORKER = 4, 5000
TOTAL = WORKERS * PER_WORKER


def _run_burst(burst_tools) -> subprocess.Popen:
    burst, tiny = burst_tools
    return subprocess.Popen([str(burst), str(WORKERS), str(PER_WORKER), str(tiny)],
                            stdout=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> int:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"burst helper failed: {out!r}"
    return int(out)


def _drain(snoop, events, stop: threading.Event) -> None:
    while not stop.is_set():
        events.extend(snoop.poll(timeout=0.05))


def test_burst_while_reading_loses_nothing_unreported(burst_tools):
    events: list = []
    stop = threading.Event()
    name = burst_tools[1].name
    with Execsnoop(ExecsnoopOptions(name=name, ring_size=4 << 20)) as snoop:
        reader = threading.Thread(target=_drain, args=(snoop, events, stop))
        reader.start()
        try:
            done = _finish(_run_burst(burst_tools))
        finally:
            stop.set()
            reader.join()
        events.extend(snoop.poll(timeout=0.2))
        drops = snoop.drops()
    assert done == TOTAL
    assert len({(e.pid, e.ts_ns) for e in events}) == len(events), "duplicated events"
    assert all(e.comm == name and e.retval == 0 for e in events)
    assert len(events) + drops.total == TOTAL


def test_full_ring_buffer_drops_are_counted_exactly(burst_tools):
    with Execsnoop(ExecsnoopOptions(name=burst_tools[1].name, ring_size=4096)) as snoop:
        done = _finish(_run_burst(burst_tools))       # nobody reads while the burst runs
        events = []
        while batch := snoop.poll(timeout=0.1):
            events.extend(batch)
        drops = snoop.drops()
    assert done == TOTAL
    assert drops.ringbuf > 0
    assert len({(e.pid, e.ts_ns) for e in events}) == len(events)
    assert len(events) + drops.total == TOTAL
