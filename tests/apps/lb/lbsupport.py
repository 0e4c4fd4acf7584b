"""Shared helpers of the load-balancer tests: addresses, the services table, opening a balancer.

Imported by conftest.py and the test modules (a uniquely named module, unlike conftest).
"""
from __future__ import annotations

import functools

import pytest

NEXTHOP_MAC = "02:00:00:00:00:aa"
LB_MAC = "02:00:00:00:00:02"
CLIENT_MAC = "02:00:00:00:00:01"
SRC_V4 = "10.200.2.1"
SRC_V6 = "fd00:200::2:1"
# Packet-level tests use a smaller Maglev table (still prime) so the VM fills tables quickly; the
# namespace, CLI and benchmark runs use the default 65537.
TEST_DEFINES = {"LB_RING_SIZE": "4099"}


def vm_available() -> str | None:
    try:
        import pybpf.vm as vm
    except ImportError as exc:
        return f"pybpf.vm cannot be imported: {exc}"
    if not hasattr(vm, "Collection"):
        return "pybpf.vm.Collection does not exist yet"
    return _vm_runs_xdp()


@functools.lru_cache(maxsize=None)
def _vm_runs_xdp() -> str | None:
    """Probe once: can the VM run the floor program (packet reads through ctx->data)?"""
    from pybpf.apps.lb import deploy
    from pybpf.errors import BPFError
    frame = bytes.fromhex("0200000000020200000000010800") + bytes(46)
    try:
        with deploy.load("vm", defines=TEST_DEFINES) as inst:
            result = inst.programs["xdp_tx_floor"].test_run(frame)
    except BPFError as exc:
        return f"pybpf.vm cannot run a minimal XDP program yet: {exc}".splitlines()[0]
    expected = frame[6:12] + frame[0:6] + frame[12:]
    if result.retval != 3 or result.data_out != expected:
        return f"pybpf.vm runs the minimal XDP program wrongly: {result}"
    return None


def open_balancer(backend: str):
    """A fresh balancer with the next hop and outer source addresses configured."""
    from pybpf.apps.lb import deploy
    from pybpf.apps.lb.layout import parse_mac

    if backend != "kernel":        # kernel availability is gated by @pytest.mark.kernel
        reason = vm_available()
        if reason:
            pytest.skip(reason)
    inst = deploy.load(backend, defines=TEST_DEFINES)
    try:
        inst.lb.set_config(nexthop_mac=parse_mac(NEXTHOP_MAC), src_v4=SRC_V4, src_v6=SRC_V6)
    except BaseException:
        inst.close()
        raise
    return inst


# The services every packet-fixture test sees (one backend each, so the expected output does not
# depend on the flow hash).
V4_TCP = ("10.200.9.1:80/tcp", "10.200.3.11")
V4_UDP = ("10.200.9.1:53/udp", "10.200.3.12")
V6_TCP = ("[fd00:200::9:1]:80/tcp", "fd00:200::3:11")
V6_UDP = ("[fd00:200::9:1]:53/udp", "fd00:200::3:12")
V4_ANY_PORT = ("10.200.9.2:0/tcp", "10.200.3.13")
V4_OVER_V6 = ("10.200.9.3:80/tcp", "fd00:200::3:13")
NO_BACKEND_VIP = "10.200.9.4:80/tcp"
