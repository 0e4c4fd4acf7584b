"""Byte layouts of the load balancer's maps (mirrors bpf/xdplb.h) and codecs for pybpf maps.

Only packing and unpacking: never opens a map or touches the kernel. Change together with xdplb.h.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ...errors import BPFError

FAMILY_V4 = 4
FAMILY_V6 = 6
BACKEND_ALIVE = 1
PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class LBConfigError(BPFError):
    """A bad load-balancer request: malformed address/VIP, unknown VIP or backend, full table."""


class Counter(IntEnum):
    """Indices of the per-CPU ``counters`` map (enum lb_counter)."""

    RX = 0
    TX = 1
    PASS_NON_IP = 2
    PASS_NON_VIP = 3
    PASS_NON_L4 = 4
    PASS_FRAGMENT = 5
    PASS_IPV6_EXT = 6
    NEW_CONN = 7
    CT_MISS = 8
    CT_HIT = 9
    CT_STALE = 10
    DROP_TRUNCATED = 11
    DROP_BAD_HEADER = 12
    DROP_NO_BACKEND = 13
    DROP_NO_CONFIG = 14
    DROP_ENCAP = 15
    ICMP_TO_BACKEND = 16


def parse_address(text: str | IPAddress) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise LBConfigError(f"{text!r} is not an IPv4 or IPv6 address") from None


def family_of(addr: IPAddress) -> int:
    return FAMILY_V4 if addr.version == 4 else FAMILY_V6


def pack_address(addr: IPAddress) -> bytes:
    """union lb_addr: IPv4 in the first 4 bytes (network order), zero padded."""
    return addr.packed.ljust(16, b"\0")


def unpack_address(data: bytes, family: int) -> IPAddress:
    if family == FAMILY_V4:
        return ipaddress.IPv4Address(data[:4])
    return ipaddress.IPv6Address(data[:16])


@dataclass(frozen=True)
class VipKey:
    """struct lb_vip_key: address, port (0 = any port) and protocol of a virtual service."""

    addr: IPAddress
    port: int
    proto: int

    SIZE = 20

    @classmethod
    def parse(cls, text: str) -> "VipKey":
        """Parse ``10.200.9.1:80/tcp`` or ``[fd00:200::9]:53/udp`` (port 0 = any port)."""
        try:
            where, proto_name = text.rsplit("/", 1)
            host, port_text = where.rsplit(":", 1)
            host = host.strip("[]")
            port = int(port_text)
        except ValueError:
            raise LBConfigError(f"VIP {text!r}: expected ADDR:PORT/PROTO, e.g. 10.200.9.1:80/tcp") from None
        proto = PROTOCOLS.get(proto_name.lower())
        if proto is None:
            raise LBConfigError(f"VIP {text!r}: protocol must be tcp or udp")
        if not 0 <= port <= 65535:
            raise LBConfigError(f"VIP {text!r}: port {port} out of range")
        return cls(parse_address(host), port, proto)

    def to_bytes(self) -> bytes:
        return pack_address(self.addr) + struct.pack("!H", self.port) + bytes(
            [self.proto, family_of(self.addr)])

    @classmethod
    def from_bytes(cls, data: bytes) -> "VipKey":
        port, proto, family = struct.unpack("!HBB", data[16:20])
        return cls(unpack_address(data, family), port, proto)

    def __str__(self) -> str:
        host = f"[{self.addr}]" if self.addr.version == 6 else str(self.addr)
        return f"{host}:{self.port}/{PROTOCOL_NAMES.get(self.proto, self.proto)}"


@dataclass(frozen=True)
class Backend:
    """struct lb_backend."""

    addr: IPAddress
    alive: bool = True

    SIZE = 24

    def to_bytes(self) -> bytes:
        return pack_address(self.addr) + bytes([family_of(self.addr), 0, 0, 0]) + struct.pack(
            "<I", BACKEND_ALIVE if self.alive else 0)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Backend | None":
        family = data[16]
        flags, = struct.unpack("<I", data[20:24])
        if family not in (FAMILY_V4, FAMILY_V6):
            return None                     # an unused slot
        return cls(unpack_address(data, family), bool(flags & BACKEND_ALIVE))


@dataclass(frozen=True)
class LBConfig:
    """struct lb_config: next-hop MAC and outer source addresses."""

    nexthop_mac: bytes
    src_v4: ipaddress.IPv4Address
    src_v6: ipaddress.IPv6Address

    SIZE = 28

    def to_bytes(self) -> bytes:
        return self.nexthop_mac + b"\0\0" + self.src_v4.packed + self.src_v6.packed

    @classmethod
    def from_bytes(cls, data: bytes) -> "LBConfig":
        return cls(data[:6], ipaddress.IPv4Address(data[8:12]), ipaddress.IPv6Address(data[12:28]))


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    try:
        if len(parts) != 6:
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise LBConfigError(f"{text!r} is not a MAC address (aa:bb:cc:dd:ee:ff)") from None


@dataclass(frozen=True)
class FlowKey:
    """struct lb_flow_key: a client's 5-tuple."""

    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    proto: int

    SIZE = 40

    def to_bytes(self) -> bytes:
        return (pack_address(self.src) + pack_address(self.dst)
                + struct.pack("!HH", self.sport, self.dport)
                + bytes([self.proto, family_of(self.src), 0, 0]))

    @classmethod
    def from_bytes(cls, data: bytes) -> "FlowKey":
        sport, dport, proto, family = struct.unpack("!HHBB", data[32:38])
        return cls(unpack_address(data[:16], family), unpack_address(data[16:32], family),
                   sport, dport, proto)


class StructCodec:
    """A pybpf map codec for one of the dataclasses above (or raw bytes passed through)."""

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.size = cls.SIZE

    def encode(self, value: Any) -> bytes:
        data = value if isinstance(value, (bytes, bytearray)) else value.to_bytes()
        if len(data) != self.size:
            raise LBConfigError(f"{self.cls.__name__}: expected {self.size} bytes, got {len(data)}")
        return bytes(data)

    def decode(self, data: bytes) -> Any:
        return self.cls.from_bytes(bytes(data))


class PairCodec:
    """Two little-endian u32 (lb_vip_meta, lb_flow_value, lb_membership_*), or two u64 (lb_traffic)."""

    def __init__(self, fmt: str = "<II") -> None:
        self.fmt = fmt
        self.size = struct.calcsize(fmt)

    def encode(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return struct.pack(self.fmt, *value)

    def decode(self, data: bytes) -> tuple[int, int]:
        return struct.unpack(self.fmt, bytes(data))


class U32Codec:
    size = 4

    def encode(self, value: Any) -> bytes:
        return value if isinstance(value, bytes) else struct.pack("<I", value)

    def decode(self, data: bytes) -> int:
        return struct.unpack("<I", bytes(data))[0]


class U64Codec(U32Codec):
    size = 8

    def encode(self, value: Any) -> bytes:
        return value if isinstance(value, bytes) else struct.pack("<Q", value)

    def decode(self, data: bytes) -> int:
        return struct.unpack("<Q", bytes(data))[0]


def flow_hash(flow: FlowKey | bytes, seed: int = 0x2B7E1516) -> int:
    """MurmurHash3-32 of the 40-byte flow key, exactly as flow_hash() in xdplb.bpf.c."""
    data = flow if isinstance(flow, bytes) else flow.to_bytes()
    mask = 0xFFFFFFFF
    h = seed
    for (k,) in struct.iter_unpack("<I", data):
        k = (k * 0xCC9E2D51) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * 0x1B873593) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h
