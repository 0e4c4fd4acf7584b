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


def asm_with_map(source: str, ref: str = "m") -> list:
    """Assemble llvm-objdump-syntax ``source``; every 64-bit load (``rN = 0 ll``) becomes a
    reference to map ``ref``."""
    from pybpf.isa import Instruction, assemble
    return [Instruction(0x18, i.dst, 1, 0, 0, ref=ref) if i.opcode == 0x18 else i
            for i in assemble(source)]


def xdp_spec(insns: list, maps: dict | None = None, *, name: str = "p"):
    """An ObjectSpec holding one XDP program ``name`` and the MapSpecs ``maps`` (name -> spec)."""
    from pybpf.isa.uapi import ProgramType
    from pybpf.obj.spec import ObjectSpec, ProgramSpec
    prog = ProgramSpec(name=name, section="xdp", type=ProgramType.XDP, expected_attach_type=None,
                       attach_to="", instructions=insns, license="GPL")
    return ObjectSpec(path=f"<{name}>", programs={name: prog}, maps=dict(maps or {}),
                      license="GPL")
