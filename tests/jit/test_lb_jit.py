"""The configured load balancer (bpf/xdplb.bpf.c: 1 VIP, 3 backends) gives the same verdicts,
encapsulated packets and flow table in the JIT (native LRU conntrack lookups, native
bpf_xdp_adjust_head) as in the kernel's BPF_PROG_TEST_RUN and the interpreter."""
from __future__ import annotations

import contextlib

import pytest

VIP = "10.200.9.1:80/tcp"


def _packets() -> list[bytes]:
    from scapy.all import IP, TCP, Ether
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = []
    for sport in (40001, 40002, 40003):
        for flags in ("S", "A", "A"):                       # new flow, then established twice
            out.append(bytes(eth / IP(src="10.200.1.2", dst="10.200.9.1") /
                             TCP(sport=sport, dport=80, flags=flags)))
    out.append(bytes(eth / IP(src="10.200.1.2", dst="10.200.7.7") / TCP(sport=1, dport=80)))
    return out


@contextlib.contextmanager
def _configured(backend: str):
    from pybpf.apps.lb import deploy
    with deploy.load(backend) as inst:
        lb = inst.lb
        lb.set_config(nexthop_mac=bytes.fromhex("0200000000aa"), src_v4="10.200.2.1",
                      src_v6="fd00:200::2:1")
        lb.add_vip(VIP)
        for i in range(3):
            lb.add_backend(VIP, f"10.200.3.{11 + i}")
        yield inst


def _trace(backend: str, repeat: int = 1) -> tuple[list[tuple[int, bytes]], dict]:
    with _configured(backend) as inst:
        runs = [(r.retval, r.data_out) for r in
                (inst.program.test_run(p, repeat=repeat) for p in _packets())]
        return runs, dict(inst.lb.flows())


def test_configured_lb_in_jit_matches_the_interpreter() -> None:
    jit = _trace("jit")
    assert jit == _trace("vm")
    assert {retval for retval, _ in jit[0]} == {3, 2}            # encapsulated (TX) and passed
    assert len(jit[1]) == 3


@pytest.mark.kernel
@pytest.mark.parametrize("repeat", [1, 7])
def test_configured_lb_in_jit_matches_the_kernel(repeat) -> None:
    """With repeat the kernel reruns on the already encapsulated packet (changes accumulate)."""
    assert _trace("jit", repeat) == _trace("kernel", repeat)
