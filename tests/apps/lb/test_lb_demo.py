"""The VM flavour of `pybpf lb demo` (the fallback when the kernel is unusable) tells a true story:
every crafted connection is forwarded, a removed backend gets no new flows, and comes back.
"""
from __future__ import annotations

import re

import pytest

from lbsupport import vm_available


def test_vm_demo_spreads_flows_drops_the_removed_backend_and_restores_it():
    reason = vm_available()
    if reason:
        pytest.skip(reason)
    from pybpf.apps.lb.demo import run_vm_demo
    lines: list[str] = []
    phases = run_vm_demo(flows=60, out=lines.append)
    assert list(phases) == ["3 backends", "b1 removed", "b1 added back"]
    assert all(sum(c.values()) == 60 and "?" not in c for c in phases.values())
    assert set(phases["3 backends"]) == {"b1", "b2", "b3"}
    assert "b1" not in phases["b1 removed"]
    assert set(phases["b1 added back"]) == {"b1", "b2", "b3"}
    kept_line = next(line for line in lines if "established flows on b2/b3 kept" in line)
    kept, total = re.search(r"(\d+)/(\d+)", kept_line).groups()
    assert kept == total and int(total) > 0
