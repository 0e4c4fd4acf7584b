"""Helpers for execsnoop tests: a poll loop and a fork+exec whose child pid we know.

Imported by the test modules (this directory is on sys.path under pytest); never leaves a child unreaped.
"""
from __future__ import annotations

import os
import time


def collect_until(snoop, wanted, *, timeout: float = 10.0):
    """Poll ``snoop`` until ``wanted(events)`` is true or ``timeout`` passes; return all events."""
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events.extend(snoop.poll(timeout=0.05))
        if wanted(events):
            break
    return events


def fork_exec(path: str, argv: list[str]) -> int:
    """fork(); the child execs ``path`` (exit 127 if that fails). Returns the child's pid, reaped."""
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(path, argv)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)
    return pid
