"""End to end in network namespaces: a client reaches the VIPs through a router, the balancer (native
XDP on a veth) encapsulates to three backends, and the backends answer the client directly.

Truth: the identity each backend's server writes into its reply, the kernel's interface counters,
and the client's connected sockets (which accept replies only from the VIP). Everything the fixture
creates (namespaces, veths, XDP links, pins, server processes) is removed even if a test fails.
"""
from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from pybpf.apps.lb.topology import (TCP_PORT, UDP_PORT, VIP4, VIP6, Topology, tcp_ask,
                                    tcp_identities, udp_identities)

FLOWS = 1500                    # enough that 10% of an even share is ~3 standard deviations
pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def topo():
    topology = Topology()
    try:
        topology.create()
        yield topology
    finally:
        topology.destroy()


def assert_even(names: dict[int, str], backends: list[str]) -> None:
    counts = Counter(names.values())
    assert set(counts) == set(backends)
    share = len(names) / len(backends)
    for name in backends:
        assert abs(counts[name] - share) <= 0.10 * share, counts


def backend_names(topo) -> list[str]:
    return [b.name for b in topo.backends]


def test_every_ipv4_tcp_connection_is_answered_and_spread_evenly(topo):
    names, _ = topo.in_client(tcp_identities, VIP4, TCP_PORT, range(20000, 20000 + FLOWS))
    assert len(names) == FLOWS
    assert_even(names, backend_names(topo))


def test_every_ipv4_udp_flow_is_answered_and_spread_evenly(topo):
    names = topo.in_client(udp_identities, VIP4, UDP_PORT, range(20000, 20000 + FLOWS))
    assert len(names) == FLOWS
    assert_even(names, backend_names(topo))


def test_every_ipv6_tcp_connection_is_answered_through_ip6ip6_and_spread_evenly(topo):
    names, _ = topo.in_client(tcp_identities, VIP6, TCP_PORT, range(22000, 22000 + FLOWS))
    assert len(names) == FLOWS
    assert_even(names, backend_names(topo))


def test_every_ipv6_udp_flow_is_answered_and_spread_evenly(topo):
    names = topo.in_client(udp_identities, VIP6, UDP_PORT, range(22000, 22000 + FLOWS))
    assert len(names) == FLOWS
    assert_even(names, backend_names(topo))


def rx_packets(ns: str, iface: str) -> int:
    out = subprocess.run(["ip", "-n", ns, "-j", "-s", "link", "show", iface], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def test_replies_bypass_the_balancer(topo):
    requests = 200
    before = rx_packets(topo.balancer, "eth0")
    names = topo.in_client(udp_identities, VIP4, UDP_PORT, range(30000, 30000 + requests))
    received = rx_packets(topo.balancer, "eth0") - before
    assert len(names) == requests                # every reply reached the client from the VIP...
    assert requests <= received <= requests + 4  # ...but only the requests crossed the balancer


def table_by_address(topo, vip: str) -> list[str | None]:
    """The VIP's Maglev table as read from the kernel map, with backend addresses for indices."""
    addr_of = {b.index: str(b.addr) for v in topo.lb.describe() if str(v.vip) == vip
               for b in v.backends}
    return [addr_of.get(i) for i in topo.lb.read_table(vip)]


def has_backend(topo, vip: str, addr: str) -> bool:
    return any(str(b.addr) == addr for v in topo.lb.describe() if str(v.vip) == vip
               for b in v.backends)


def test_removing_a_backend_moves_only_its_flows_and_adding_it_back_restores_the_table(topo):
    vip = f"{VIP4}:{TCP_PORT}/tcp"
    removed = topo.backends[0]
    table_before = table_by_address(topo, vip)
    first, sockets = topo.in_client(tcp_identities, VIP4, TCP_PORT, range(24000, 24300), keep_open=True)
    try:
        assert removed.name in first.values()
        topo.lb.del_backend(vip, removed.addr4)
        for sport, sock in sockets.items():
            if first[sport] == removed.name:
                with pytest.raises(OSError):      # moved to a backend that never saw the handshake
                    tcp_ask(sock)
            else:
                assert tcp_ask(sock) == first[sport]
        during, _ = topo.in_client(tcp_identities, VIP4, TCP_PORT, range(25000, 25300))
        assert removed.name not in during.values()
        assert len(set(during.values())) == len(topo.backends) - 1
    finally:
        for sock in sockets.values():
            sock.close()
        if not has_backend(topo, vip, removed.addr4):
            topo.lb.add_backend(vip, removed.addr4)
    assert table_by_address(topo, vip) == table_before
    after, _ = topo.in_client(tcp_identities, VIP4, TCP_PORT, range(26000, 26300))
    assert set(after.values()) == set(backend_names(topo))


def test_a_double_weight_backend_receives_half_of_the_new_flows(topo):
    vip = f"{VIP4}:{UDP_PORT}/udp"
    heavy = topo.backends[1]
    flows = 4000                    # the light backends' quarter shares need more samples
    topo.lb.set_weight(vip, heavy.addr4, 2)
    try:
        names = topo.in_client(udp_identities, VIP4, UDP_PORT, range(32000, 32000 + flows))
    finally:
        topo.lb.set_weight(vip, heavy.addr4, 1)
    counts = Counter(names.values())
    assert abs(counts[heavy.name] - flows / 2) <= 0.10 * flows / 2, counts
    for other in topo.backends:
        if other is not heavy:
            assert abs(counts[other.name] - flows / 4) <= 0.10 * flows / 4, counts
