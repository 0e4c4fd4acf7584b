"""Packet fixtures: each input packet, its expected verdict and the exact expected output packet.

Expected outputs are built independently with scapy (outer header fields chosen by hand: TTL 64,
id 0, no flags, protocol 4/41, TOS/traffic class copied; lengths and checksums computed by scapy),
and every case runs in the kernel (BPF_PROG_TEST_RUN) and in the VM through the same fixture.
"""
from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw, raw

import pybpf
from lbsupport import (CLIENT_MAC, LB_MAC, NEXTHOP_MAC, NO_BACKEND_VIP, SRC_V4, SRC_V6, V4_ANY_PORT,
                      V4_OVER_V6, V4_TCP, V4_UDP, V6_TCP, V6_UDP)

CLIENT4 = "10.200.1.2"
CLIENT6 = "fd00:200::1:2"


def eth(ethertype=None):
    return Ether(src=CLIENT_MAC, dst=LB_MAC) if ethertype is None else Ether(
        src=CLIENT_MAC, dst=LB_MAC, type=ethertype)


def vip_addr(vip: str) -> str:
    return vip.rsplit(":", 1)[0].strip("[]")


def ipip(inner: bytes, backend: str, tos: int = 0) -> bytes:
    """The frame the balancer must send for an IPv4 VIP with an IPv4 backend."""
    return raw(Ether(src=LB_MAC, dst=NEXTHOP_MAC) /
               IP(src=SRC_V4, dst=backend, proto=4, ttl=64, id=0, flags=0, tos=tos) / Raw(inner))


def over_ipv6(inner: bytes, backend: str, nh: int, tc: int = 0, fl: int = 0) -> bytes:
    return raw(Ether(src=LB_MAC, dst=NEXTHOP_MAC) /
               IPv6(src=SRC_V6, dst=backend, nh=nh, hlim=64, tc=tc, fl=fl) / Raw(inner))


def run(services, frame: bytes):
    return services.program.test_run(frame)


def inner_of(frame) -> bytes:
    return raw(frame)[14:]


# --- forwarded to a backend ------------------------------------------------------------------
def test_ipv4_tcp_syn_to_vip_is_ipip_encapsulated_to_its_backend(services):
    frame = eth() / IP(src=CLIENT4, dst=vip_addr(V4_TCP[0])) / TCP(sport=40000, dport=80, flags="S")
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(inner_of(frame), V4_TCP[1])


def test_ipv4_udp_to_vip_is_ipip_encapsulated_with_payload(services):
    frame = (eth() / IP(src=CLIENT4, dst=vip_addr(V4_UDP[0])) / UDP(sport=5353, dport=53)
             / Raw(b"query" * 20))
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(inner_of(frame), V4_UDP[1])


def test_ipv4_tos_is_copied_to_the_outer_header(services):
    frame = (eth() / IP(src=CLIENT4, dst=vip_addr(V4_TCP[0]), tos=0xb8)
             / TCP(sport=40001, dport=80, flags="S"))
    result = run(services, raw(frame))
    assert result.data_out == ipip(inner_of(frame), V4_TCP[1], tos=0xb8)


def test_ipv4_options_are_accepted_and_carried_inside_the_tunnel(services):
    frame = (eth() / IP(src=CLIENT4, dst=vip_addr(V4_TCP[0]), options=b"\x01\x01\x01\x00")
             / TCP(sport=40002, dport=80, flags="S"))
    assert IP(raw(frame)[14:]).ihl == 6
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(inner_of(frame), V4_TCP[1])


def test_ipv6_tcp_to_vip_is_ip6ip6_encapsulated_keeping_class_and_flow_label(services):
    frame = (eth() / IPv6(src=CLIENT6, dst=vip_addr(V6_TCP[0]), tc=0x2e, fl=0xabcde)
             / TCP(sport=40000, dport=80, flags="S"))
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == over_ipv6(inner_of(frame), V6_TCP[1], nh=41, tc=0x2e, fl=0xabcde)


def test_ipv6_udp_to_vip_is_ip6ip6_encapsulated(services):
    frame = (eth() / IPv6(src=CLIENT6, dst=vip_addr(V6_UDP[0])) / UDP(sport=5353, dport=53)
             / Raw(b"x" * 33))
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == over_ipv6(inner_of(frame), V6_UDP[1], nh=41)


@pytest.mark.parametrize("port", [1, 80, 8080, 65535])
def test_any_port_vip_matches_every_destination_port(services, port):
    frame = eth() / IP(src=CLIENT4, dst=vip_addr(V4_ANY_PORT[0])) / TCP(sport=41000, dport=port)
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(inner_of(frame), V4_ANY_PORT[1])


def test_ipv4_vip_with_ipv6_backend_is_ipv4_in_ipv6(services):
    frame = eth() / IP(src=CLIENT4, dst=vip_addr(V4_OVER_V6[0])) / TCP(sport=40003, dport=80, flags="S")
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == over_ipv6(inner_of(frame), V4_OVER_V6[1], nh=4)


def test_ethernet_padding_is_kept_but_not_counted_in_outer_length(services):
    packet = IP(src=CLIENT4, dst=vip_addr(V4_TCP[0])) / TCP(sport=40004, dport=80, flags="S")
    frame = raw(eth() / packet) + b"\0" * 6            # a 60-byte minimum Ethernet frame
    result = run(services, frame)
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(raw(packet), V4_TCP[1]) + b"\0" * 6


def test_icmp_frag_needed_for_a_vip_flow_goes_to_the_backend_owning_the_flow(services):
    frame = (eth() / IP(src="10.200.3.1", dst=vip_addr(V4_TCP[0])) / ICMP(type=3, code=4, nexthopmtu=1400)
             / IP(src=vip_addr(V4_TCP[0]), dst=CLIENT4) / TCP(sport=80, dport=40000, flags="SA"))
    before = services.lb.counters()["icmp_to_backend"]
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == ipip(inner_of(frame), V4_TCP[1])
    assert services.lb.counters()["icmp_to_backend"] == before + 1


def test_icmpv6_packet_too_big_for_a_vip_flow_goes_to_the_backend_owning_the_flow(services):
    frame = (eth() / IPv6(src="fd00:200::3:1", dst=vip_addr(V6_TCP[0])) / ICMPv6PacketTooBig(mtu=1280)
             / IPv6(src=vip_addr(V6_TCP[0]), dst=CLIENT6) / TCP(sport=80, dport=40000, flags="SA"))
    result = run(services, raw(frame))
    assert result.retval == pybpf.XDP_TX
    assert result.data_out == over_ipv6(inner_of(frame), V6_TCP[1], nh=41)


# --- passed to the kernel untouched, and counted -----------------------------------------------
PASSED = {
    "non-vip address": (lambda: eth() / IP(src=CLIENT4, dst="10.200.8.8") / TCP(dport=80), "pass_non_vip"),
    "vip address, other port": (lambda: eth() / IP(src=CLIENT4, dst="10.200.9.1") / TCP(dport=81),
                                "pass_non_vip"),
    "vip port, other protocol": (lambda: eth() / IP(src=CLIENT4, dst="10.200.9.1") / UDP(dport=80),
                                 "pass_non_vip"),
    "ipv6 non-vip": (lambda: eth() / IPv6(src=CLIENT6, dst="fd00:200::8:8") / UDP(dport=53),
                     "pass_non_vip"),
    "arp": (lambda: eth() / ARP(psrc=CLIENT4, pdst="10.200.9.1"), "pass_non_ip"),
    "icmp echo to vip": (lambda: eth() / IP(src=CLIENT4, dst="10.200.9.1") / ICMP(), "pass_non_l4"),
    "icmp frag-needed quoting a non-vip flow": (lambda: eth() / IP(src="10.200.3.1", dst="10.200.9.1")
                                                / ICMP(type=3, code=4, nexthopmtu=1400)
                                                / IP(src="10.200.9.1", dst=CLIENT4)
                                                / TCP(sport=81, dport=40000), "pass_non_vip"),
    "icmp port-unreachable quoting a vip flow": (lambda: eth() / IP(src="10.200.3.1", dst="10.200.9.1")
                                                 / ICMP(type=3, code=3)
                                                 / IP(src="10.200.9.1", dst=CLIENT4)
                                                 / TCP(sport=80, dport=40000), "pass_non_l4"),
    "icmp frag-needed quoting too few bytes": (lambda: eth() / IP(src="10.200.3.1", dst="10.200.9.1")
                                               / ICMP(type=3, code=4)
                                               / Raw(raw(IP(src="10.200.9.1", dst=CLIENT4)
                                                         / TCP(sport=80, dport=40000))[:22]),
                                               "pass_non_l4"),
    "first ipv4 fragment to vip": (lambda: eth() / IP(src=CLIENT4, dst="10.200.9.1", flags="MF")
                                   / TCP(dport=80), "pass_fragment"),
    "later ipv4 fragment to vip": (lambda: eth() / IP(src=CLIENT4, dst="10.200.9.1", frag=100, proto=6)
                                   / Raw(b"y" * 40), "pass_fragment"),
    "ipv6 fragment header to vip": (lambda: eth() / IPv6(src=CLIENT6, dst="fd00:200::9:1")
                                    / IPv6ExtHdrFragment(m=1) / TCP(dport=80), "pass_fragment"),
    "ipv6 hop-by-hop to vip": (lambda: eth() / IPv6(src=CLIENT6, dst="fd00:200::9:1")
                               / IPv6ExtHdrHopByHop() / TCP(dport=80), "pass_ipv6_ext"),
}


@pytest.mark.parametrize("case", list(PASSED))
def test_packet_is_passed_untouched_and_counted(services, case):
    build, counter = PASSED[case]
    frame = raw(build())
    assert len(frame) >= 14
    before = services.lb.counters()[counter]
    result = run(services, frame)
    assert result.retval == pybpf.XDP_PASS
    assert result.data_out == frame
    assert services.lb.counters()[counter] == before + 1


# --- dropped, and counted --------------------------------------------------------------------
def _with_ip_field(field: str, value: int) -> bytes:
    return raw(eth() / IP(src=CLIENT4, dst="10.200.9.1", **{field: value}) / TCP(dport=80))


DROPPED = {
    "tcp header cut short": (lambda: raw(eth() / IP(src=CLIENT4, dst="10.200.9.1") / TCP(dport=80))[:-8],
                             "drop_truncated"),
    "udp header cut short": (lambda: raw(eth() / IP(src=CLIENT4, dst="10.200.9.1", proto=17)
                                         / Raw(b"\x00\x35\x00")), "drop_truncated"),
    "ipv4 header cut short": (lambda: raw(eth() / IP(src=CLIENT4, dst="10.200.9.1"))[:14 + 12],
                              "drop_truncated"),
    "ipv4 total length beyond frame": (lambda: _with_ip_field("len", 200), "drop_truncated"),
    "ipv4 total length below header": (lambda: _with_ip_field("len", 19), "drop_bad_header"),
    "ipv4 ihl below 5": (lambda: _with_ip_field("ihl", 4), "drop_bad_header"),
    "ipv4 options beyond frame": (lambda: raw(eth() / IP(src=CLIENT4, dst="10.200.9.1", options=b"\x01" * 40)
                                              / TCP(dport=80))[:14 + 40], "drop_truncated"),
    "ipv4 header longer than total length": (lambda: _with_ip_field("ihl", 15), "drop_bad_header"),
    "version 6 in an ipv4 frame": (lambda: _with_ip_field("version", 6), "drop_bad_header"),
    "ipv6 header cut short": (lambda: raw(eth() / IPv6(src=CLIENT6, dst="fd00:200::9:1"))[:14 + 30],
                              "drop_truncated"),
    "ipv6 payload length beyond frame": (lambda: raw(eth() / IPv6(src=CLIENT6, dst="fd00:200::9:1",
                                                                  plen=500) / TCP(dport=80)),
                                         "drop_truncated"),
    "tcp data offset below 5": (lambda: raw(eth() / IP(src=CLIENT4, dst="10.200.9.1")
                                            / TCP(dport=80, dataofs=3)), "drop_bad_header"),
    "vip without backends": (lambda: raw(eth() / IP(src=CLIENT4, dst=vip_addr(NO_BACKEND_VIP))
                                         / TCP(dport=80, flags="S")), "drop_no_backend"),
}


@pytest.mark.parametrize("case", list(DROPPED))
def test_malformed_or_unserviceable_packet_is_dropped_and_counted(services, case):
    build, counter = DROPPED[case]
    frame = build()
    before = services.lb.counters()[counter]
    result = run(services, frame)
    assert result.retval == pybpf.XDP_DROP
    assert services.lb.counters()[counter] == before + 1


def test_vip_and_backend_statistics_count_packets_and_bytes(services):
    vip, backend = V6_UDP
    frame = raw(eth() / IPv6(src=CLIENT6, dst=vip_addr(vip)) / UDP(sport=7000, dport=53) / Raw(b"z" * 10))
    def traffic():
        info = next(v for v in services.lb.describe() if str(v.vip) == vip)
        return info.packets, info.bytes, info.backends[0].packets, info.backends[0].bytes
    before = traffic()
    for _ in range(3):
        assert run(services, frame).retval == pybpf.XDP_TX
    after = traffic()
    assert [a - b for a, b in zip(after, before)] == [3, 3 * len(frame), 3, 3 * len(frame)]
