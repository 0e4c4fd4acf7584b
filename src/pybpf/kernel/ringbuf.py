"""BPF ring buffer consumer: mmap the consumer page (rw) and producer+data pages (ro), epoll for data.

Reads records the kernel committed and advances the consumer position; it never writes anywhere
but the consumer position and never blocks when asked not to.
"""
from __future__ import annotations

import mmap as _mmap
import select
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import KernelError
from ..isa.uapi import MapType
from ..obj.mapapi import Codec
from ..obj.runtime import RingReader

BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
PAGE_SIZE = _mmap.PAGESIZE
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def map_ring_pages(fd: int, size: int, *, writer: bool) -> tuple[_mmap.mmap, _mmap.mmap]:
    """(consumer page, producer page + data area mapped twice) of a ring buffer map of ``size``
    bytes. Each side maps its own position writable: a reader the consumer page, a user ring
    buffer writer the producer pages. Raises OSError with nothing left mapped."""
    rw = _mmap.PROT_READ | _mmap.PROT_WRITE
    consumer = _mmap.mmap(fd, PAGE_SIZE, _mmap.MAP_SHARED, _mmap.PROT_READ if writer else rw,
                          offset=0)
    try:
        producer = _mmap.mmap(fd, PAGE_SIZE + 2 * size, _mmap.MAP_SHARED,
                              rw if writer else _mmap.PROT_READ, offset=PAGE_SIZE)
    except OSError:
        consumer.close()
        raise
    return consumer, producer


def unmap(*maps: _mmap.mmap | None) -> None:
    """Close mappings, skipping None and ones still exported (a live memoryview keeps them)."""
    for m in maps:
        if m is not None:
            try:
                m.close()
            except (BufferError, ValueError):
                pass


def _timeout_ms(timeout: float | None) -> int:
    if timeout is None:
        return -1
    return max(0, int(timeout * 1000 + 0.999))


class RingBufReader(RingReader):
    """Reads a BPF_MAP_TYPE_RINGBUF map. ``poll()`` returns decoded records; ``poll_batch()`` returns
    memoryviews over one copy of everything ready; ``poll_array(dtype)`` a numpy structured array."""

    def __init__(self, ring: Any, *, codec: Codec | None = None,
                 callback: Callable[[Any], Any] | None = None) -> None:
        if getattr(ring, "type", MapType.RINGBUF) != MapType.RINGBUF:
            raise KernelError(f"map {getattr(ring, 'name', '?')!r} is {ring.type.name}, not RINGBUF")
        self.map = ring
        self.name = getattr(ring, "name", "ringbuf")
        self.codec = codec
        self.callback = callback
        self.size = ring.max_entries
        self.mask = self.size - 1
        fd = ring.fd
        self._consumer: _mmap.mmap | None = None
        self._producer: _mmap.mmap | None = None
        self._epoll: select.epoll | None = None
        try:
            self._consumer, self._producer = map_ring_pages(fd, self.size, writer=False)
            self._epoll = select.epoll()
            self._epoll.register(fd, select.EPOLLIN)
        except OSError as exc:
            self.close()
            raise KernelError(f"cannot map ring buffer {self.name!r}", errno=exc.errno or 0,
                              command="mmap") from None
        self._data = memoryview(self._producer)[PAGE_SIZE:]
        self.records_read = 0

    # --- positions --------------------------------------------------------------------------
    def _positions(self) -> tuple[int, int]:
        if self._consumer is None or self._producer is None:
            raise KernelError(f"ring buffer reader {self.name!r} is closed")
        return _U64.unpack_from(self._consumer, 0)[0], _U64.unpack_from(self._producer, 0)[0]

    def _set_consumer(self, pos: int) -> None:
        _U64.pack_into(self._consumer, 0, pos)      # type: ignore[arg-type]

    @property
    def available(self) -> int:
        """Bytes (headers included) committed or in flight between consumer and producer."""
        cons, prod = self._positions()
        return prod - cons

    def fileno(self) -> int:
        return self.map.fd

    # --- consuming --------------------------------------------------------------------------
    def consume_raw(self, handle: Callable[[memoryview], Any], limit: int | None = None) -> int:
        """Hand each ready record (a memoryview valid only during the call) to ``handle``.

        The consumer position is published after each pass over the ready span (and whenever
        ``limit`` stops early), so the producer gets the space back in batches.
        """
        cons, prod = self._positions()
        data, mask, unpack = self._data, self.mask, _U32.unpack_from
        count = 0
        stop = False
        while cons < prod and not stop:
            while cons < prod:
                off = cons & mask
                hdr = unpack(data, off)[0]
                if hdr & BPF_RINGBUF_BUSY_BIT:
                    stop = True
                    break
                length = hdr & 0x3FFFFFFF
                cons += (length + 15) & ~7           # 8-byte header, 8-byte aligned
                if not hdr & BPF_RINGBUF_DISCARD_BIT:
                    handle(data[off + 8:off + 8 + length])
                    count += 1
                    if limit is not None and count >= limit:
                        stop = True
                        break
            self._set_consumer(cons)
            if not stop:
                prod = _U64.unpack_from(self._producer, 0)[0]   # type: ignore[arg-type]
        self.records_read += count
        return count

    def consume(self) -> list[Any]:
        """Every ready record, decoded (no waiting). Callbacks run per record when set."""
        records: list[Any] = self._take_batch()
        if self.codec is not None:
            codec = self.codec
            size = codec.size
            records = [codec.decode(r[:size] if len(r) > size else r) for r in records]
        if self.callback is not None:
            cb = self.callback
            records = [cb(r) for r in records]
        return records

    def wait(self, timeout: float | None) -> bool:
        """Block until the ring has data (or ``timeout``); True when data is ready."""
        if self._epoll is None:
            raise KernelError(f"ring buffer reader {self.name!r} is closed")
        if self.available:
            return True
        if timeout == 0:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                events = self._epoll.poll(-1 if remaining is None else remaining)
            except InterruptedError:
                events = []
            if events or self.available:
                return bool(self.available) or bool(events)
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def poll(self, timeout: float | None = None) -> list[Any]:
        """Wait up to ``timeout`` seconds (None forever, 0 not at all); return all ready records."""
        self.wait(timeout)
        return self.consume()

    def poll_batch(self, timeout: float | None = None, *,
                   views: bool = False) -> list[bytes] | list[memoryview]:
        """Like poll, but undecoded and cheap: one copy of the ready span, then one slice per
        record (bytes; memoryviews into the copy with ``views=True`` — measured slower here).

        Runs of equal-size records are sliced at a fixed stride without walking each header in
        Python when numpy is available.
        """
        self.wait(timeout)
        return self._take_batch(views)

    def _take_batch(self, views: bool = False) -> list[Any]:
        cons, prod = self._positions()
        if cons >= prod:
            return []
        start = cons & self.mask
        span = bytes(self._data[start:start + (prod - cons)])     # double mapping: contiguous
        view: Any = memoryview(span) if views else span
        out: list[Any] = []
        pos, end = 0, len(span)
        unpack = _U32.unpack_from
        while pos + BPF_RINGBUF_HDR_SZ <= end:
            hdr = unpack(span, pos)[0]
            if hdr & BPF_RINGBUF_BUSY_BIT:
                break
            length = hdr & 0x3FFFFFFF
            step = (length + 15) & ~7
            if pos + step > end:
                break
            if not hdr & BPF_RINGBUF_DISCARD_BIT:
                run = _fixed_run(span, pos, hdr, step, end)
                if run > 1:
                    out.extend([view[p + 8:p + 8 + length]
                                for p in range(pos, pos + run * step, step)])
                    pos += run * step
                    continue
                out.append(view[pos + 8:pos + 8 + length])
            pos += step
        self._set_consumer(cons + pos)
        self.records_read += len(out)
        return out

    def poll_array(self, dtype: Any, timeout: float | None = None) -> Any:
        """Fixed-size records as one numpy structured array of ``dtype`` (record layout)."""
        import numpy as np

        dt = np.dtype(dtype)
        size = dt.itemsize
        stride = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7
        self.wait(timeout)
        cons, prod = self._positions()
        if cons >= prod:
            return np.empty(0, dtype=dt)
        start = cons & self.mask
        n = (prod - cons) // stride
        frame = np.dtype({"names": ["hdr", "rec"], "formats": ["<u4", dt],
                          "offsets": [0, BPF_RINGBUF_HDR_SZ], "itemsize": stride})
        arr = np.frombuffer(self._data, dtype=frame, count=n, offset=start)
        hdrs = arr["hdr"]
        busy = np.flatnonzero(hdrs & BPF_RINGBUF_BUSY_BIT)
        if busy.size:
            n = int(busy[0])
            arr, hdrs = arr[:n], hdrs[:n]
        lengths = hdrs & ~np.uint32(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
        bad = np.flatnonzero(lengths != size)
        if bad.size:                    # a record of another size: stop before it
            n = int(bad[0])
            arr, hdrs = arr[:n], hdrs[:n]
        keep = (hdrs & BPF_RINGBUF_DISCARD_BIT) == 0
        records = arr["rec"][keep].copy()
        self._set_consumer(cons + n * stride)
        self.records_read += len(records)
        if n == 0 and bad.size:         # the first record is variable-size: hand it out generically
            return np.empty(0, dtype=dt)
        return records

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        self._data = memoryview(b"")
        unmap(self._producer, self._consumer)
        self._producer = self._consumer = None

    @classmethod
    def multi(cls, readers: Iterable["RingBufReader"]) -> "RingPollGroup":
        """One epoll over several rings: ``group.poll(timeout)`` -> [(reader, record), ...]."""
        return RingPollGroup(list(readers))


def _fixed_run(span: bytes, pos: int, hdr: int, step: int, end: int) -> int:
    """How many consecutive records from ``pos`` have exactly header ``hdr`` (same size, committed)."""
    if step % 4 or end - pos < 2 * step:
        return 1
    try:
        import numpy as np
    except ImportError:
        return 1
    count = (end - pos) // step
    words = np.frombuffer(span, dtype="<u4", count=count * step // 4, offset=pos)[::step // 4]
    differing = np.flatnonzero(words != hdr)
    return int(differing[0]) if differing.size else count


class RingPollGroup:
    """Several ring buffer readers behind one epoll."""

    def __init__(self, readers: list[RingBufReader]) -> None:
        self.readers = readers
        self._epoll = select.epoll()
        self._by_fd = {}
        for r in readers:
            self._epoll.register(r.fileno(), select.EPOLLIN)
            self._by_fd[r.fileno()] = r

    def poll(self, timeout: float | None = None) -> list[tuple[RingBufReader, Any]]:
        out: list[tuple[RingBufReader, Any]] = []
        for r in self.readers:
            out.extend((r, rec) for rec in r.consume())
        if out or timeout == 0:
            return out
        try:
            events = self._epoll.poll(-1 if timeout is None else timeout)
        except InterruptedError:
            events = []
        for fd, _ in events:
            r = self._by_fd[fd]
            out.extend((r, rec) for rec in r.consume())
        if not events:
            for r in self.readers:
                out.extend((r, rec) for rec in r.consume())
        return out

    def close(self) -> None:
        self._epoll.close()

    def __enter__(self) -> "RingPollGroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["RingBufReader", "RingPollGroup"]
