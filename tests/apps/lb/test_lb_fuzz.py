"""Mutated and truncated packets never mis-route: a property test on the kernel-verified program.

Truth: scapy re-parses whatever the program emits. XDP_PASS must hand back the frame unchanged;
XDP_TX must carry a well-formed outer header (checksum recomputed by scapy) addressed to the one
backend of the VIP the inner packet is really addressed to, with the inner packet intact. When the
VM can run XDP, it must produce the same verdict and bytes as the kernel.
"""
from __future__ import annotations

import functools
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

import pybpf
from lbsupport import (CLIENT_MAC, LB_MAC, NEXTHOP_MAC, SRC_V4, SRC_V6, V4_ANY_PORT, V4_OVER_V6,
                      V4_TCP, V4_UDP, V6_TCP, V6_UDP, open_balancer, vm_available)

SERVICES = [V4_TCP, V4_UDP, V6_TCP, V6_UDP, V4_ANY_PORT, V4_OVER_V6]


def _vip_table():
    table = {}
    for vip, backend in SERVICES:
        where, proto = vip.rsplit("/", 1)
        host, port = where.rsplit(":", 1)
        table[(ipaddress.ip_address(host.strip("[]")), int(port), proto)] = backend
    return table


VIPS = _vip_table()


@functools.lru_cache(maxsize=None)
def seeds() -> tuple[bytes, ...]:
    e = Ether(src=CLIENT_MAC, dst=LB_MAC)
    return (raw(e / IP(src="10.200.1.2", dst="10.200.9.1") / TCP(sport=1234, dport=80, flags="S")),
            raw(e / IP(src="10.200.1.2", dst="10.200.9.1") / UDP(sport=1234, dport=53) / Raw(b"q" * 8)),
            raw(e / IPv6(src="fd00:200::1:2", dst="fd00:200::9:1") / TCP(sport=1234, dport=80)),
            raw(e / IPv6(src="fd00:200::1:2", dst="fd00:200::9:1") / UDP(sport=1, dport=53)),
            raw(e / IP(src="10.200.1.2", dst="10.200.9.2", options=b"\x01" * 4) / TCP(dport=7)),
            raw(e / IP(src="10.200.1.2", dst="10.200.9.3") / TCP(sport=9, dport=80, flags="S")))


@st.composite
def mutated_frames(draw):
    frame = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(12, len(frame) - 1))       # keep the MACs: they are not parsed
        frame[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(14, len(frame)))
    return bytes(frame[:cut])


def backend_for_inner(inner: bytes, version: int) -> str | None:
    """The backend an intact inner packet must go to (None: it is addressed to no VIP)."""
    pkt = IP(inner) if version == 4 else IPv6(inner)
    l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
    if l4 is None:
        return None
    proto = "tcp" if isinstance(l4, TCP) else "udp"
    dst = ipaddress.ip_address(pkt.dst)
    return VIPS.get((dst, l4.dport, proto)) or VIPS.get((dst, 0, proto))


def check_forwarded(frame: bytes, out: bytes) -> None:
    eth = Ether(out)
    assert eth.dst == NEXTHOP_MAC and eth.src == LB_MAC
    if eth.type == 0x0800:
        outer = eth[IP]
        header = out[14:34]
        assert outer.proto == 4 and outer.src == SRC_V4 and outer.ttl == 64
        recomputed = IP(header)
        del recomputed.chksum
        assert IP(raw(recomputed)).chksum == outer.chksum
        inner = out[34:34 + outer.len - 20]
        version = 4
    else:
        outer = eth[IPv6]
        assert outer.src == SRC_V6 and outer.hlim == 64 and outer.nh in (4, 41)
        inner = out[54:54 + outer.plen]
        version = 4 if outer.nh == 4 else 6
    assert inner == frame[14:14 + len(inner)]                 # carried unchanged
    assert str(ipaddress.ip_address(outer.dst)) == str(ipaddress.ip_address(
        backend_for_inner(inner, version)))


@pytest.fixture(scope="module")
def pair():
    kernel = open_balancer("kernel")
    vm = None
    try:
        if vm_available() is None:
            vm = open_balancer("vm")
        for inst in filter(None, (kernel, vm)):
            for vip, backend in SERVICES:
                inst.lb.add_vip(vip)
                inst.lb.add_backend(vip, backend)
        yield kernel, vm
    finally:
        kernel.close()
        if vm is not None:
            vm.close()


@pytest.mark.kernel
@given(frame=mutated_frames())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_packets_are_passed_unchanged_dropped_or_forwarded_to_the_right_backend(pair, frame):
    kernel, vm = pair
    result = kernel.program.test_run(frame)
    assert result.retval in (pybpf.XDP_PASS, pybpf.XDP_DROP, pybpf.XDP_TX)
    if result.retval == pybpf.XDP_PASS:
        assert result.data_out == frame
    elif result.retval == pybpf.XDP_TX:
        check_forwarded(frame, result.data_out)
    if vm is not None:
        mirrored = vm.program.test_run(frame)
        assert (mirrored.retval, mirrored.data_out) == (result.retval, result.data_out)
