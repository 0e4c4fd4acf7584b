"""Small helpers shared by the VM tests (frame building); importable because pytest puts tests/vm on sys.path."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def on_cpu(cpu: int) -> Iterator[None]:
    """Pin this process to ``cpu`` so the kernel's test runs use that CPU's per-CPU slots (the VM
    is told the same CPU)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def on_cpu0():
    return on_cpu(0)


def ether(payload) -> bytes:
    """An Ethernet frame with fixed local MACs (no ARP/route lookups by scapy)."""
    from scapy.all import Ether
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload)


def sample_frames() -> dict[str, bytes]:
    """A few frames addressed inside 10.200.0.0/16 (test_run input only, never sent)."""
    from scapy.all import ARP, ICMP, IP, TCP, UDP
    return {
        "udp echo": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=1234, dport=7) / b"hello"),
        "udp dns": ether(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=5, dport=53) / b"q"),
        "icmp": ether(IP(src="10.200.0.3", dst="10.200.0.2") / ICMP()),
        "tcp": ether(IP(src="10.200.1.1", dst="10.200.0.3") / TCP(sport=40000, dport=80) / (b"x" * 20)),
        "arp": ether(ARP(psrc="10.200.0.1", pdst="10.200.0.2")),
        "bytes": bytes(range(1, 61)),
    }
