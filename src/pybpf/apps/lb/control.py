"""The load balancer's control plane: VIPs, backends, weights, config and statistics, kept in the maps.

Works on any pybpf Map objects (kernel maps, pinned or not, or VM maps) and keeps no state of its own,
so separate processes manage one balancer. Never loads programs, attaches, or touches the network.
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...obj.mapapi import BytesCodec, Map
from .layout import (Backend, Counter, FlowKey, LBConfig, LBConfigError, VipKey, family_of,
                     flow_hash, parse_address)
from .maglev import EMPTY, build_table

MAP_NAMES = ("vip_map", "maglev_table", "backends", "vip_backends", "conntrack", "config",
             "vip_stats", "backend_stats", "counters")
_UNUSED_BACKEND = bytes(Backend.SIZE)


@dataclass
class BackendInfo:
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    index: int
    weight: int
    packets: int = 0
    bytes: int = 0


@dataclass
class VipInfo:
    vip: VipKey
    index: int
    backends: list[BackendInfo] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0


class LoadBalancer:
    """Manage a running xdplb instance through its maps (``maps`` maps map name -> pybpf Map)."""

    def __init__(self, maps: Mapping[str, Map]) -> None:
        missing = [n for n in MAP_NAMES if n not in maps]
        if missing:
            raise LBConfigError(f"not an xdplb instance: missing maps {', '.join(missing)}")
        for m in maps.values():         # this module packs bytes itself (layout.py): no BTF records
            m.key_codec = BytesCodec(m.key_size)
            m.value_codec = BytesCodec(m.value_size)
        self.maps = maps
        self.max_vips = maps["vip_stats"].max_entries
        self.max_backends = maps["backends"].max_entries
        self.ring_size = maps["maglev_table"].max_entries // self.max_vips

    # --- configuration -----------------------------------------------------------------------
    def set_config(self, *, nexthop_mac: bytes, src_v4: str = "0.0.0.0", src_v6: str = "::") -> None:
        """Next-hop MAC of encapsulated packets and the outer source addresses."""
        if len(nexthop_mac) != 6:
            raise LBConfigError("next-hop MAC must be 6 bytes")
        v4, v6 = parse_address(src_v4), parse_address(src_v6)
        if v4.version != 4 or v6.version != 6:
            raise LBConfigError(f"outer source addresses must be IPv4 then IPv6, got {src_v4}, {src_v6}")
        cfg = LBConfig(bytes(nexthop_mac), v4, v6)
        self.maps["config"][_u32(0)] = cfg.to_bytes()

    def config(self) -> LBConfig:
        return LBConfig.from_bytes(self.maps["config"][_u32(0)])

    # --- VIPs ----------------------------------------------------------------------------------
    def _vip_index(self, vip: VipKey) -> int:
        raw = self.maps["vip_map"].lookup(vip.to_bytes())
        if raw is None:
            raise LBConfigError(f"VIP {vip} is not configured")
        return struct.unpack("<II", raw)[0]

    def vips(self) -> dict[VipKey, int]:
        return {VipKey.from_bytes(k): struct.unpack("<II", v)[0]
                for k, v in self.maps["vip_map"].items()}

    def add_vip(self, vip: VipKey | str) -> int:
        """Configure a VIP (no backends yet: its packets are dropped and counted). Returns its index."""
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        existing = self.vips()
        if vip in existing:
            return existing[vip]
        used = set(existing.values())
        free = next((i for i in range(self.max_vips) if i not in used), None)
        if free is None:
            raise LBConfigError(f"cannot add VIP {vip}: all {self.max_vips} VIP slots are in use")
        self._write_table(free, [EMPTY] * self.ring_size)
        self.maps["vip_map"][vip.to_bytes()] = struct.pack("<II", free, 0)
        return free

    def del_vip(self, vip: VipKey | str) -> None:
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        index = self._vip_index(vip)
        del self.maps["vip_map"][vip.to_bytes()]
        for backend_index, _ in self._members(index):
            del self.maps["vip_backends"][struct.pack("<II", index, backend_index)]
            self.maps["backends"][_u32(backend_index)] = _UNUSED_BACKEND
        self._write_table(index, [EMPTY] * self.ring_size)

    # --- backends ------------------------------------------------------------------------------
    def _members(self, vip_index: int) -> list[tuple[int, int]]:
        """(backend_index, weight) of one VIP, by backend index."""
        out = []
        for key, value in self.maps["vip_backends"].items():
            v, b = struct.unpack("<II", key)
            if v == vip_index:
                out.append((b, struct.unpack("<II", value)[0]))
        return sorted(out)

    def _backend(self, index: int) -> Backend | None:
        return Backend.from_bytes(self.maps["backends"][_u32(index)])

    def _find_member(self, vip_index: int, addr: Any) -> int | None:
        for backend_index, _ in self._members(vip_index):
            b = self._backend(backend_index)
            if b is not None and b.addr == addr:
                return backend_index
        return None

    def add_backend(self, vip: VipKey | str, addr: str, *, weight: int = 1) -> int:
        """Add a backend to a VIP (or change its weight) and rewrite the VIP's Maglev table."""
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        address = parse_address(addr)
        if family_of(address) == 4 and family_of(vip.addr) == 6:
            raise LBConfigError(f"backend {address}: an IPv6 VIP needs an IPv6 backend "
                                "(IPv6-in-IPv4 encapsulation is not offered)")
        _check_weight(weight)
        vip_index = self._vip_index(vip)
        index = self._find_member(vip_index, address)
        if index is None:
            index = self._free_backend_slot()
            self.maps["backends"][_u32(index)] = Backend(address).to_bytes()
        self.maps["vip_backends"][struct.pack("<II", vip_index, index)] = struct.pack("<II", weight, 0)
        self._rebuild(vip_index)
        return index

    def set_weight(self, vip: VipKey | str, addr: str, weight: int) -> None:
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        _check_weight(weight)
        vip_index = self._vip_index(vip)
        index = self._find_member(vip_index, parse_address(addr))
        if index is None:
            raise LBConfigError(f"backend {addr} is not part of VIP {vip}")
        self.maps["vip_backends"][struct.pack("<II", vip_index, index)] = struct.pack("<II", weight, 0)
        self._rebuild(vip_index)

    def del_backend(self, vip: VipKey | str, addr: str) -> None:
        """Remove a backend: its table slots go to the others; its tracked flows are re-picked."""
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        vip_index = self._vip_index(vip)
        index = self._find_member(vip_index, parse_address(addr))
        if index is None:
            raise LBConfigError(f"backend {addr} is not part of VIP {vip}")
        del self.maps["vip_backends"][struct.pack("<II", vip_index, index)]
        self._rebuild(vip_index)
        self.maps["backends"][_u32(index)] = _UNUSED_BACKEND

    def _free_backend_slot(self) -> int:
        used = {struct.unpack("<II", key)[1] for key in self.maps["vip_backends"].keys()}
        for index in range(self.max_backends):
            if index not in used and self._backend(index) is None:
                return index
        raise LBConfigError(f"all {self.max_backends} backend slots are in use")

    # --- Maglev table --------------------------------------------------------------------------
    def table_for(self, vip_index: int) -> list[int]:
        """The Maglev table a VIP should have: backend indices (EMPTY where no backend)."""
        members = self._members(vip_index)
        names: dict[str, int] = {}
        order: list[int] = []
        for backend_index, weight in members:
            backend = self._backend(backend_index)
            if backend is None:
                continue
            names[str(backend.addr)] = weight
            order.append(backend_index)
        positions = build_table(names, self.ring_size)
        return [EMPTY if p == EMPTY else order[p] for p in positions]

    def _rebuild(self, vip_index: int) -> None:
        self._write_table(vip_index, self.table_for(vip_index))

    def _write_table(self, vip_index: int, table: list[int]) -> None:
        base = vip_index * self.ring_size
        keys = struct.pack(f"<{len(table)}I", *range(base, base + len(table)))
        values = struct.pack(f"<{len(table)}I", *table)
        target = self.maps["maglev_table"]
        raw = getattr(target, "batch_update_raw", None)
        if raw is not None:
            raw(keys, values, len(table))
        else:
            target.batch_update((keys[i * 4:i * 4 + 4], values[i * 4:i * 4 + 4])
                                for i in range(len(table)))

    def read_table(self, vip: VipKey | str) -> list[int]:
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        base = self._vip_index(vip) * self.ring_size
        target = self.maps["maglev_table"]
        return [struct.unpack("<I", target[_u32(base + i)])[0] for i in range(self.ring_size)]

    def predict_backend(self, vip: VipKey | str, flow: FlowKey) -> int:
        """Backend index the data plane picks for a new flow (its conntrack aside)."""
        vip = VipKey.parse(vip) if isinstance(vip, str) else vip
        slot = self._vip_index(vip) * self.ring_size + flow_hash(flow) % self.ring_size
        return struct.unpack("<I", self.maps["maglev_table"][_u32(slot)])[0]

    # --- listing and statistics ---------------------------------------------------------------
    def describe(self) -> list[VipInfo]:
        """Every VIP with its backends, weights and per-CPU-summed traffic."""
        out = []
        for vip, index in sorted(self.vips().items(), key=lambda kv: kv[1]):
            packets, nbytes = _sum_traffic(self.maps["vip_stats"][_u32(index)])
            info = VipInfo(vip, index, packets=packets, bytes=nbytes)
            for backend_index, weight in self._members(index):
                backend = self._backend(backend_index)
                if backend is None:
                    continue
                p, b = _sum_traffic(self.maps["backend_stats"][_u32(backend_index)])
                info.backends.append(BackendInfo(backend.addr, backend_index, weight, p, b))
            out.append(info)
        return out

    def counters(self) -> dict[str, int]:
        counters = self.maps["counters"]
        out = {}
        for c in Counter:
            per_cpu = counters[_u32(int(c))]
            out[c.name.lower()] = sum(struct.unpack("<Q", bytes(v)[:8])[0] for v in _as_list(per_cpu))
        return out

    def flows(self) -> dict[FlowKey, int]:
        """Tracked flows -> backend index."""
        return {FlowKey.from_bytes(k): struct.unpack("<II", v)[0]
                for k, v in self.maps["conntrack"].items()}


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _as_list(value: Any) -> list[bytes]:
    return value if isinstance(value, list) else [value]


def _sum_traffic(per_cpu: Any) -> tuple[int, int]:
    packets = nbytes = 0
    for v in _as_list(per_cpu):
        p, b = struct.unpack("<QQ", bytes(v)[:16])
        packets += p
        nbytes += b
    return packets, nbytes


def _check_weight(weight: int) -> None:
    if not isinstance(weight, int) or not 0 <= weight <= 0xFFFF:
        raise LBConfigError(f"weight must be an integer in 0..65535, got {weight!r}")
