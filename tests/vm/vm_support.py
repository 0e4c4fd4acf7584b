"""Small helpers shared by the VM tests (frame building); importable because pytest puts tests/vm on sys.path."""
from __future__ import annotations


def ether(payload) -> bytes:
    """An Ethernet frame with fixed local MACs (no ARP/route lookups by scapy)."""
    from scapy.all import Ether
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload)
