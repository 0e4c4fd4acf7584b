"""Control-plane contract: bad requests raise LBConfigError naming the problem, and VIP/backend slots
are bounded and reused. Runs on kernel maps (the VM's maps get their parity from the packet tests),
checked by reading the maps back.
"""
from __future__ import annotations

import pytest

from lbsupport import open_balancer
from pybpf.apps.lb import EMPTY, LBConfigError, VipKey

VIP4 = "10.200.9.1:80/tcp"
VIP6 = "[fd00:200::9:1]:80/tcp"


@pytest.mark.parametrize("text, fragment", [
    ("10.200.9.1/tcp", "ADDR:PORT/PROTO"),
    ("10.200.9.1:80", "ADDR:PORT/PROTO"),
    ("10.200.9.1:80/sctp", "tcp or udp"),
    ("10.200.9.1:70000/tcp", "out of range"),
    ("10.200.9.300:80/tcp", "not an IPv4 or IPv6 address"),
])
def test_malformed_vip_text_is_rejected_with_the_reason(text, fragment):
    with pytest.raises(LBConfigError, match=fragment):
        VipKey.parse(text)


def test_vip_text_round_trips_for_both_families():
    assert str(VipKey.parse(VIP4)) == VIP4
    assert str(VipKey.parse(VIP6)) == VIP6


@pytest.fixture
def balancer():
    """Overrides the kernel+VM fixture: the kernel alone."""
    inst = open_balancer("kernel")
    try:
        yield inst
    finally:
        inst.close()


@pytest.mark.kernel
def test_ipv6_vip_refuses_an_ipv4_backend(balancer):
    balancer.lb.add_vip(VIP6)
    with pytest.raises(LBConfigError, match="IPv6 VIP needs an IPv6 backend"):
        balancer.lb.add_backend(VIP6, "10.200.3.1")


@pytest.mark.kernel
def test_backend_of_an_unknown_vip_is_rejected(balancer):
    with pytest.raises(LBConfigError, match="not configured"):
        balancer.lb.add_backend(VIP4, "10.200.3.1")


@pytest.mark.kernel
def test_removing_a_backend_that_is_not_there_is_rejected(balancer):
    balancer.lb.add_vip(VIP4)
    with pytest.raises(LBConfigError, match="not part of VIP"):
        balancer.lb.del_backend(VIP4, "10.200.3.1")


@pytest.mark.kernel
@pytest.mark.parametrize("weight", [-1, 70000, 1.5])
def test_out_of_range_weight_is_rejected(balancer, weight):
    balancer.lb.add_vip(VIP4)
    with pytest.raises(LBConfigError, match="weight"):
        balancer.lb.add_backend(VIP4, "10.200.3.1", weight=weight)


@pytest.mark.kernel
def test_vip_slots_run_out_at_the_map_size_and_are_reused_after_delete(balancer):
    lb = balancer.lb
    for i in range(lb.max_vips):
        lb.add_vip(f"10.200.9.{i + 1}:80/tcp")
    with pytest.raises(LBConfigError, match="VIP slots are in use"):
        lb.add_vip("10.200.10.1:80/tcp")
    lb.del_vip("10.200.9.5:80/tcp")
    assert lb.add_vip("10.200.10.1:80/tcp") == 4


@pytest.mark.kernel
def test_deleting_a_vip_empties_its_table_and_frees_its_backends(balancer):
    lb = balancer.lb
    lb.add_vip(VIP4)
    index = lb.add_backend(VIP4, "10.200.3.1")
    lb.del_vip(VIP4)
    lb.add_vip(VIP4)
    assert set(lb.read_table(VIP4)) == {EMPTY}
    assert lb.add_backend(VIP4, "10.200.3.2") == index        # the slot was freed


@pytest.mark.kernel
@pytest.mark.parametrize("src_v4, src_v6", [("10.200.2.300", "::"), ("fd00::1", "::"),
                                            ("10.200.2.1", "10.200.2.2")])
def test_bad_outer_source_address_is_rejected(balancer, src_v4, src_v6):
    with pytest.raises(LBConfigError):
        balancer.lb.set_config(nexthop_mac=b"\x02" * 6, src_v4=src_v4, src_v6=src_v6)


@pytest.mark.kernel
def test_config_reads_back_what_was_written(balancer):
    balancer.lb.set_config(nexthop_mac=bytes.fromhex("0200000000aa"), src_v4="10.200.2.1",
                           src_v6="fd00:200::2:1")
    raw = balancer.maps["config"][b"\0\0\0\0"]
    assert raw[:6] == bytes.fromhex("0200000000aa")                 # struct lb_config, by hand
    assert raw[8:12] == bytes([10, 200, 2, 1])
    assert raw[12:28] == bytes.fromhex("fd000200000000000000000000020001")
