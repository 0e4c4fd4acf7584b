"""Fixtures for JIT tests: the VM test programs, the VM's generators (imported from tests/vm), both engines."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

VM_TESTS = Path(__file__).resolve().parents[1] / "vm"
if str(VM_TESTS) not in sys.path:
    sys.path.insert(0, str(VM_TESTS))
PROGS = VM_TESTS / "progs"


@pytest.fixture(scope="session")
def vm_prog_path(compile_bpf):
    """vm_prog_path("vm_xdp") -> compiled object path of tests/vm/progs/vm_xdp.c."""
    return lambda name: compile_bpf(PROGS / f"{name}.c")


@pytest.fixture(scope="session")
def frames() -> dict[str, bytes]:
    """Frames addressed inside 10.200.0.0/16 (test_run input only, never sent)."""
    from scapy.all import ARP, ICMP, IP, TCP, UDP
    from vm_support import ether
    return {
        "udp echo": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=1234, dport=7) / b"hello"),
        "udp dns": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=5, dport=53) / b"q"),
        "icmp": ether(IP(src="10.200.0.3", dst="10.200.0.2") / ICMP()),
        "tcp": ether(IP(src="10.200.1.1", dst="10.200.0.3") / TCP(sport=40000, dport=80) / (b"x" * 20)),
        "arp": ether(ARP(psrc="10.200.0.1", pdst="10.200.0.2")),
        "bytes": bytes(range(1, 61)),
    }
