"""Connection tracking: established flows keep their backend when the backend set changes, flows of a
removed backend are re-picked, and the counters tell new, hit, missed and stale flows apart.

Truth: which backend received a packet is read from the outer destination address of the frame the
program emits (decoded with scapy), never from our own bookkeeping.
"""
from __future__ import annotations

from collections import Counter

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

import pybpf
from lbsupport import CLIENT_MAC, LB_MAC, open_balancer
from pybpf.apps.lb.layout import FlowKey, parse_address

VIP = "10.200.9.1:80/tcp"
BACKENDS = ["10.200.3.11", "10.200.3.12", "10.200.3.13"]


def tcp_frame(sport: int, flags: str, client: str = "10.200.1.2") -> bytes:
    return raw(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src=client, dst="10.200.9.1")
               / TCP(sport=sport, dport=80, flags=flags))


def backend_of(inst, frame: bytes) -> str:
    result = inst.program.test_run(frame)
    assert result.retval == pybpf.XDP_TX
    return Ether(result.data_out)[IP].dst


def with_backends(inst, addrs):
    inst.lb.add_vip(VIP)
    for addr in addrs:
        inst.lb.add_backend(VIP, addr)


def test_established_flows_keep_their_backend_when_backends_are_added(balancer):
    with_backends(balancer, BACKENDS[:2])
    first = {port: backend_of(balancer, tcp_frame(port, "S")) for port in range(20000, 20060)}
    for addr in ["10.200.3.21", "10.200.3.22", "10.200.3.23"]:
        balancer.lb.add_backend(VIP, addr)
    later = {port: backend_of(balancer, tcp_frame(port, "A")) for port in first}
    assert later == first
    fresh = Counter(backend_of(balancer, tcp_frame(port, "S")) for port in range(30000, 30200))
    assert len(fresh) == 5                         # new connections do use the new backends


def test_removing_a_backend_moves_only_its_flows(balancer):
    with_backends(balancer, BACKENDS)
    first = {port: backend_of(balancer, tcp_frame(port, "S")) for port in range(20000, 20090)}
    removed = BACKENDS[0]
    on_removed = sum(1 for b in first.values() if b == removed)
    assert on_removed > 0
    stale_before = balancer.lb.counters()["ct_stale"]
    balancer.lb.del_backend(VIP, removed)
    later = {port: backend_of(balancer, tcp_frame(port, "A")) for port in first}
    for port, backend in first.items():
        if backend == removed:
            assert later[port] in BACKENDS[1:]
        else:
            assert later[port] == backend
    assert balancer.lb.counters()["ct_stale"] - stale_before == on_removed


def test_tcp_packet_of_an_untracked_flow_uses_maglev_and_counts_a_miss(balancer):
    with_backends(balancer, BACKENDS)
    before = balancer.lb.counters()
    first = backend_of(balancer, tcp_frame(25000, "A"))
    middle = balancer.lb.counters()
    assert backend_of(balancer, tcp_frame(25000, "PA")) == first
    after = balancer.lb.counters()
    assert (middle["ct_miss"] - before["ct_miss"], middle["new_conn"] - before["new_conn"]) == (1, 0)
    assert after["ct_hit"] - middle["ct_hit"] == 1


def test_udp_flow_is_tracked_after_its_first_packet(balancer):
    vip = "10.200.9.1:53/udp"
    balancer.lb.add_vip(vip)
    for addr in BACKENDS:
        balancer.lb.add_backend(vip, addr)
    frame = raw(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="10.200.1.2", dst="10.200.9.1")
                / UDP(sport=5555, dport=53))
    before = balancer.lb.counters()
    first = backend_of(balancer, frame)
    assert backend_of(balancer, frame) == first
    after = balancer.lb.counters()
    assert (after["new_conn"] - before["new_conn"], after["ct_hit"] - before["ct_hit"]) == (1, 1)
    tracked = balancer.lb.flows()
    key = FlowKey(parse_address("10.200.1.2"), parse_address("10.200.9.1"), 5555, 53, 17)
    assert key in tracked


def test_python_flow_hash_predicts_the_data_plane_choice(balancer):
    with_backends(balancer, BACKENDS)
    index_to_addr = {b.index: str(b.addr) for b in balancer.lb.describe()[0].backends}
    for port in range(40000, 40100):
        flow = FlowKey(parse_address("10.200.1.7"), parse_address("10.200.9.1"), port, 80, 6)
        predicted = index_to_addr[balancer.lb.predict_backend(VIP, flow)]
        assert backend_of(balancer, tcp_frame(port, "S", client="10.200.1.7")) == predicted


@pytest.mark.kernel
def test_kernel_and_vm_send_every_flow_to_the_same_backend():
    kernel, vm = open_balancer("kernel"), None
    try:
        vm = open_balancer("vm")
        for inst in (kernel, vm):
            with_backends(inst, BACKENDS)
        for port in range(50000, 50050):
            frame = tcp_frame(port, "S")
            assert backend_of(kernel, frame) == backend_of(vm, frame)
    finally:
        kernel.close()
        if vm is not None:
            vm.close()


def test_icmp_frag_needed_follows_the_tracked_flow_and_creates_no_entry(balancer):
    from scapy.layers.inet import ICMP
    with_backends(balancer, BACKENDS)
    owners = {port: backend_of(balancer, tcp_frame(port, "S")) for port in range(21000, 21030)}
    balancer.lb.add_backend(VIP, "10.200.3.14")         # the table changes; tracked flows do not
    tracked = len(balancer.lb.flows())
    for port, owner in owners.items():
        icmp = raw(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="10.200.3.1", dst="10.200.9.1")
                   / ICMP(type=3, code=4, nexthopmtu=1400)
                   / IP(src="10.200.9.1", dst="10.200.1.2") / TCP(sport=80, dport=port, flags="A"))
        assert backend_of(balancer, icmp) == owner
    assert len(balancer.lb.flows()) == tracked
