"""VM ring buffer and perf event array maps, and the Python readers that consume them.

Keeps the kernel's accounting (8-byte record headers, 8-byte rounding, producer/consumer positions,
records visible in order once committed, drop on full); it never blocks: the VM is synchronous, so a
poll returns what programs have already submitted.

Ring buffer layout (shared with native code, see pybpf.vm.jit.native_ringbuf): one VM region of
2 * size bytes holds the data area; a record at producer position ``pos`` starts at offset
``pos & (size - 1)`` (its 8-byte header slot) and its data follows contiguously, so a record that
wraps past ``size`` stays contiguous (the kernel maps the data pages twice for the same reason).
Record headers (length | BUSY | DISCARD, as the kernel's) live outside VM memory in ``headers``
(u32 per 8-byte unit), so a program can corrupt record data but never the ring's bookkeeping; the
positions and the drop counter live in ``ctl`` (u64[RB_WORDS]). Both sides run the same steps.
"""
from __future__ import annotations

import ctypes
import errno
from collections import deque
from typing import Any

from ..errors import MapError
from ..isa.uapi import MapType
from ..obj.mapapi import Codec
from ..obj.runtime import RingReader
from .maps import VMMap

RINGBUF_HDR_SIZE = 8
RINGBUF_BUSY_BIT = 1 << 31
RINGBUF_DISCARD_BIT = 1 << 30
RINGBUF_MAX_RECORD_SZ = (1 << 30) - 1     # the kernel's UINT_MAX / 4: length bits of a header
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP = 1, 2
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = 0, 1, 2, 3

# control words of a ring (ctypes u64 array ``RingBufMap.ctl``), read and written by native code
RB_PROD = 0               # producer position (bytes, never wraps)
RB_CONS = 1               # consumer position
RB_MASK = 2               # size - 1
RB_HEADERS = 3            # host address of u32 headers[size / 8], indexed by (pos & mask) >> 3
RB_DATA_VM = 4            # VM address of the data region
RB_DATA_HOST = 5          # host address of the data region's buffer
RB_DROPPED = 6            # reservations refused (no space, bad size)
RB_MAX_RECORD = 7         # largest record: min(size, RINGBUF_MAX_RECORD_SZ)
RB_WORDS = 8


def record_total(size: int) -> int:
    """Bytes a record of ``size`` data bytes takes in the ring (header, rounded to 8)."""
    return (size + RINGBUF_HDR_SIZE + 7) & ~7


class RingBufMap(VMMap):
    """BPF_MAP_TYPE_RINGBUF of ``max_entries`` bytes (a power of two, like the kernel requires)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        size = self.max_entries
        if size <= 0 or size & (size - 1):
            raise MapError(f"ring buffer {self.name!r}: size {size} must be a power of two")
        self.ctl = (ctypes.c_uint64 * RB_WORDS)()
        self.headers = (ctypes.c_uint32 * max(size // 8, 1))()
        self.region = self.memory.new(f"ringbuf:{self.name}", 2 * size, kind="ringbuf")
        self.region.owner = self
        self._data_view = ctypes.c_char.from_buffer(self.region.buf)   # buf is never resized
        ctl = self.ctl
        ctl[RB_MASK] = size - 1
        ctl[RB_HEADERS] = ctypes.addressof(self.headers)
        ctl[RB_DATA_VM] = self.region.base
        ctl[RB_DATA_HOST] = ctypes.addressof(self._data_view)
        ctl[RB_MAX_RECORD] = min(size, RINGBUF_MAX_RECORD_SZ)

    # positions and counters live in the shared control words
    @property
    def producer_pos(self) -> int:
        return self.ctl[RB_PROD]

    @property
    def consumer_pos(self) -> int:
        return self.ctl[RB_CONS]

    @property
    def dropped(self) -> int:
        return self.ctl[RB_DROPPED]

    @dropped.setter
    def dropped(self, value: int) -> None:
        self.ctl[RB_DROPPED] = value

    # --- program side ---------------------------------------------------------------------------
    def reserve(self, size: int) -> int:
        """Address of a new record's data (0 when it does not fit: counted in ``dropped``)."""
        ctl = self.ctl
        prod = ctl[RB_PROD]
        total = record_total(size)
        if size <= 0 or size > ctl[RB_MAX_RECORD] or \
                prod - ctl[RB_CONS] + total > self.max_entries:
            ctl[RB_DROPPED] += 1
            return 0
        off = prod & ctl[RB_MASK]
        self.headers[off >> 3] = size | RINGBUF_BUSY_BIT
        ctl[RB_PROD] = prod + total
        return ctl[RB_DATA_VM] + off + RINGBUF_HDR_SIZE

    def commit(self, address: int, *, discard: bool) -> int:
        """Submit (or discard) the reserved record whose data starts at ``address``; -EINVAL if
        there is none (not a record, or already submitted/discarded)."""
        off = (address & ((1 << 64) - 1)) - self.ctl[RB_DATA_VM] - RINGBUF_HDR_SIZE
        if off < 0 or off > self.ctl[RB_MASK] or off & 7:
            return -errno.EINVAL
        header = self.headers[off >> 3]
        if not header & RINGBUF_BUSY_BIT:
            return -errno.EINVAL
        self.headers[off >> 3] = (header & ~RINGBUF_BUSY_BIT) | \
            (RINGBUF_DISCARD_BIT if discard else 0)
        return 0

    def output(self, data: bytes) -> int:
        address = self.reserve(len(data))
        if not address:
            return -errno.EAGAIN
        start = address - self.ctl[RB_DATA_VM]
        self.region.buf[start:start + len(data)] = data
        return self.commit(address, discard=False)

    def query(self, flags: int) -> int:
        return {BPF_RB_AVAIL_DATA: self.producer_pos - self.consumer_pos,
                BPF_RB_RING_SIZE: self.max_entries, BPF_RB_CONS_POS: self.consumer_pos,
                BPF_RB_PROD_POS: self.producer_pos}.get(flags, 0)

    # --- consumer side --------------------------------------------------------------------------
    def consume(self) -> list[bytes]:
        """Pop every committed record in order, stopping at the first one still reserved."""
        out = []
        ctl, headers, buf = self.ctl, self.headers, self.region.buf
        cons, prod, mask = ctl[RB_CONS], ctl[RB_PROD], ctl[RB_MASK]
        while cons < prod:
            off = cons & mask
            header = headers[off >> 3]
            if header & RINGBUF_BUSY_BIT:
                break
            length = header & RINGBUF_MAX_RECORD_SZ
            if not header & RINGBUF_DISCARD_BIT:
                start = off + RINGBUF_HDR_SIZE
                out.append(bytes(buf[start:start + length]))
            cons += record_total(length)
        ctl[RB_CONS] = cons
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


__all__ = ["RingBufMap", "PerfEventArray", "VMRingReader", "BPF_F_CURRENT_CPU", "record_total"]
