"""Fixtures for VM tests: the VM test programs compiled with clang-19, scapy packets, both backends."""
from __future__ import annotations

from pathlib import Path

import pytest

PROGS = Path(__file__).resolve().parent / "progs"


@pytest.fixture(scope="session")
def vm_object(compile_bpf):
    """vm_object("vm_xdp") -> ObjectSpec of tests/vm/progs/vm_xdp.c (freshly parsed each call)."""
    import pybpf

    def load(name: str):
        return pybpf.load_object(compile_bpf(PROGS / f"{name}.c"))
    return load


@pytest.fixture(scope="session")
def packets() -> dict[str, bytes]:
    """A few frames addressed inside 10.200.0.0/16 (never sent anywhere: test_run input only)."""
    from scapy.all import ICMP, IP, TCP, UDP, ARP
    from vm_support import ether
    return {
        "udp echo": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=1234, dport=7) / b"hello"),
        "udp other": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=5, dport=53) / b"q"),
        "icmp": ether(IP(src="10.200.0.3", dst="10.200.0.2") / ICMP()),
        "tcp": ether(IP(src="10.200.1.1", dst="10.200.0.3") / TCP(sport=40000, dport=80) / (b"x" * 20)),
        "arp": ether(ARP(psrc="10.200.0.1", pdst="10.200.0.2")),
        "bytes": bytes(range(1, 61)),
    }
