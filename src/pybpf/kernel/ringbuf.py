"""BPF ring buffer consumer: mmap the consumer page (rw) and producer+data pages (ro), epoll for data.

Reads records the kernel committed and advances the consumer position; it never writes anywhere
but the consumer position and never blocks when asked not to.
"""
from __future__ import annotations

import errno as _errno
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
            self._consumer = _mmap.mmap(fd, PAGE_SIZE, _mmap.MAP_SHARED,
                                        _mmap.PROT_READ | _mmap.PROT_WRITE, offset=0)
            self._producer = _mmap.mmap(fd, PAGE_SIZE + 2 * self.size, _mmap.MAP_SHARED,
                                        _mmap.PROT_READ, offset=PAGE_SIZE)
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
        """Hand each ready record (a memoryview valid only during the call) to ``handle``."""
        cons, prod = self._positions()
        data, mask = self._data, self.mask
        count = 0
        while cons < prod:
            off = cons & mask
            hdr = _U32.unpack_from(data, off)[0]
            if hdr & BPF_RINGBUF_BUSY_BIT:
                break
            length = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
            cons += (length + BPF_RINGBUF_HDR_SZ + 7) & ~7
            if not hdr & BPF_RINGBUF_DISCARD_BIT:
                handle(data[off + BPF_RINGBUF_HDR_SZ: off + BPF_RINGBUF_HDR_SZ + length])
                count += 1
            self._set_consumer(cons)
            if limit is not None and count >= limit:
                break
            if cons >= prod:
                prod = _U64.unpack_from(self._producer, 0)[0]   # type: ignore[arg-type]
        self.records_read += count
        return count

    def _decode(self, view: memoryview) -> Any:
        if self.codec is None:
            return bytes(view)
        return self.codec.decode(bytes(view[:self.codec.size]) if len(view) > self.codec.size
                                 else bytes(view))

    def consume(self) -> list[Any]:
        """Every ready record, decoded (no waiting). Callbacks run per record when set."""
        out: list[Any] = []
        decode = self._decode
        if self.callback is not None:
            cb = self.callback
            self.consume_raw(lambda v: out.append(cb(decode(v))))
        else:
            self.consume_raw(lambda v: out.append(decode(v)))
        return out

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

    def poll_batch(self, timeout: float | None = None) -> list[memoryview]:
        """Like poll, but one copy of the ready span and a memoryview per record (cheap, undecoded)."""
        self.wait(timeout)
        cons, prod = self._positions()
        if cons >= prod:
            return []
        start = cons & self.mask
        span = bytes(self._data[start:start + (prod - cons)])     # double mapping: contiguous
        view = memoryview(span)
        out: list[memoryview] = []
        pos = 0
        end = len(span)
        while pos + BPF_RINGBUF_HDR_SZ <= end:
            hdr = _U32.unpack_from(span, pos)[0]
            if hdr & BPF_RINGBUF_BUSY_BIT:
                break
            length = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
            step = (length + BPF_RINGBUF_HDR_SZ + 7) & ~7
            if pos + step > end:
                break
            if not hdr & BPF_RINGBUF_DISCARD_BIT:
                out.append(view[pos + BPF_RINGBUF_HDR_SZ:pos + BPF_RINGBUF_HDR_SZ + length])
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
        for name in ("_producer", "_consumer"):
            m = getattr(self, name)
            if m is not None:
                try:
                    m.close()
                except (BufferError, ValueError):
                    pass
                setattr(self, name, None)

    @classmethod
    def multi(cls, readers: Iterable["RingBufReader"]) -> "RingPollGroup":
        """One epoll over several rings: ``group.poll(timeout)`` -> [(reader, record), ...]."""
        return RingPollGroup(list(readers))


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
_ = _errno
