"""`pybpf lb demo` and the load-balancer part of `pybpf demo` tell a true story, in the VM (crafted
packets) and in the kernel (namespace testbed): every connection is answered, a removed backend gets
no new flows, and it comes back.
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


@pytest.mark.kernel
def test_kernel_demo_answers_every_connection_and_skips_the_removed_backend():
    from pybpf.apps.lb.demo import run_demo
    lines: list[str] = []
    phases = run_demo(seconds=3, out=lines.append)
    assert set(phases) == {"normal", "without b1"}
    assert "b1" not in phases["without b1"] and sum(phases["without b1"].values()) == 150
    assert set(phases["normal"]) == {"b1", "b2", "b3"} and sum(phases["normal"].values()) == 300
    assert lines[-1] == "testbed removed"


def test_pybpf_demo_in_the_vm_shows_execsnoop_then_the_balancer(capsys):
    from pybpf.cli.main import main
    reason = vm_available()
    if reason:
        pytest.skip(reason)
    assert main(["demo", "--engine", "vm"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pybpf demo: execsnoop in the userspace VM")
    assert "\npybpf demo: XDP load balancer in the userspace VM on crafted packets" in out
    assert "b1 removed: 150 new TCP connections" in out
