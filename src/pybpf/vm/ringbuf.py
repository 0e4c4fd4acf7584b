"""VM ring buffer and perf event array maps, and the Python readers that consume them.

Keeps the kernel's accounting (8-byte record headers, 8-byte rounding, producer/consumer positions,
records visible in order once committed, drop on full); it never blocks: the VM is synchronous, so a
poll returns what programs have already submitted.
"""
from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..errors import MapError
from ..isa.uapi import MapType
from ..obj.mapapi import Codec
from ..obj.runtime import RingReader
from .maps import VMMap
from .memory import Region

RINGBUF_HDR_SIZE = 8
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP = 1, 2
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = 0, 1, 2, 3


@dataclass(eq=False)
class _Record:
    pos: int
    length: int
    region: Region
    state: str = "busy"                   # busy -> committed | discarded


class RingBufMap(VMMap):
    """BPF_MAP_TYPE_RINGBUF of ``max_entries`` bytes (a power of two, like the kernel requires)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        size = self.max_entries
        if size <= 0 or size & (size - 1):
            raise MapError(f"ring buffer {self.name!r}: size {size} must be a power of two")
        self.records: deque[_Record] = deque()
        self.producer_pos = 0
        self.consumer_pos = 0
        self.dropped = 0
        self.by_address: dict[int, _Record] = {}

    # --- program side ---------------------------------------------------------------------------
    def reserve(self, size: int) -> int:
        """Address of a new record's data (0 when it does not fit: counted in ``dropped``)."""
        total = (size + RINGBUF_HDR_SIZE + 7) & ~7
        if size <= 0 or size > self.max_entries or \
                self.producer_pos - self.consumer_pos + total > self.max_entries:
            self.dropped += 1
            return 0
        region = self.memory.new(f"ringbuf:{self.name}@{self.producer_pos}", size, kind="ringbuf")
        rec = _Record(self.producer_pos, size, region)
        self.producer_pos += total
        self.records.append(rec)
        self.by_address[region.base] = rec
        return region.base

    def commit(self, address: int, *, discard: bool) -> int:
        rec = self.by_address.pop(address & ((1 << 64) - 1), None)
        if rec is None or rec.state != "busy":
            return -errno.EINVAL
        rec.state = "discarded" if discard else "committed"
        return 0

    def output(self, data: bytes) -> int:
        address = self.reserve(len(data))
        if not address:
            return -errno.EAGAIN
        self.memory.write(address, data)
        return self.commit(address, discard=False)

    def query(self, flags: int) -> int:
        return {BPF_RB_AVAIL_DATA: self.producer_pos - self.consumer_pos,
                BPF_RB_RING_SIZE: self.max_entries, BPF_RB_CONS_POS: self.consumer_pos,
                BPF_RB_PROD_POS: self.producer_pos}.get(flags, 0)

    # --- consumer side --------------------------------------------------------------------------
    def consume(self) -> list[bytes]:
        """Pop every committed record in order, stopping at the first one still reserved."""
        out = []
        while self.records and self.records[0].state != "busy":
            rec = self.records.popleft()
            if rec.state == "committed":
                out.append(bytes(rec.region.buf))
            self.memory.unmap(rec.region)
            self.consumer_pos = rec.pos + ((rec.length + RINGBUF_HDR_SIZE + 7) & ~7)
        return out

    def ring_reader(self, codec: Codec | None = None) -> "VMRingReader":
        return VMRingReader(self, codec)

    # --- the Map interface has no elements for a ring buffer --------------------------------------
    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        raise MapError(f"map {self.name!r}: ring buffers have no elements to look up (use ring_reader())")

    def _update(self, key: bytes | None, value: bytes, flags: int = 0) -> None:
        raise MapError(f"map {self.name!r}: ring buffers cannot be updated from Python")

    def _delete(self, key: bytes) -> bool:
        raise MapError(f"map {self.name!r}: ring buffers have no elements to delete")

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        raise MapError(f"map {self.name!r}: ring buffers have no elements")

    def __len__(self) -> int:
        return 0


class VMRingReader(RingReader):
    """Reads records of a VM ring buffer (or perf event array); records are decoded by ``codec``."""

    def __init__(self, source: Any, codec: Codec | None = None) -> None:
        self.source = source
        self.codec = codec
        self.closed = False

    def poll(self, timeout: float | None = None) -> list[Any]:
        if self.closed:
            return []
        raw = self.source.consume()
        return [self.codec.decode(r) for r in raw] if self.codec is not None else raw

    def __iter__(self):                    # the VM never produces more while we wait
        yield from self.poll(0)

    def close(self) -> None:
        self.closed = True


class PerfEventArray(VMMap):
    """PERF_EVENT_ARRAY: bpf_perf_event_output appends (cpu, bytes) samples while a reader is open
    (like the kernel, where a CPU's slot holds a perf event only once a reader installed one;
    without it the helper returns -ENOENT); readers consume them."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.samples: deque[tuple[int, bytes]] = deque()
        self.lost = 0
        self.capacity = 1 << 16
        self.readers: list[VMRingReader] = []

    def output(self, cpu: int, data: bytes) -> int:
        if cpu >= self.max_entries:
            return -errno.E2BIG
        if not any(not r.closed for r in self.readers):
            return -errno.ENOENT
        if len(self.samples) >= self.capacity:
            self.lost += 1
            return -errno.ENOSPC
        self.samples.append((cpu, bytes(data)))
        return 0

    def consume(self) -> list[bytes]:
        out = [data for _, data in self.samples]
        self.samples.clear()
        return out

    def ring_reader(self, codec: Codec | None = None) -> VMRingReader:
        reader = VMRingReader(self, codec)
        self.readers.append(reader)
        return reader

    perf_reader = ring_reader

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        return None

    def _update(self, key: bytes | None, value: bytes, flags: int = 0) -> None:
        raise MapError(f"map {self.name!r}: perf event arrays take perf fds, not supported in the VM")

    def _delete(self, key: bytes) -> bool:
        return False

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        return None

    def __len__(self) -> int:
        return 0


__all__ = ["RingBufMap", "PerfEventArray", "VMRingReader", "BPF_F_CURRENT_CPU"]
