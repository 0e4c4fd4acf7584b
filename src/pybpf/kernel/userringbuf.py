"""User-space producer for BPF_MAP_TYPE_USER_RINGBUF maps (programs drain it with
bpf_user_ringbuf_drain): mmap the consumer page (ro) and producer page + data (rw).

Only writes samples into free space and advances the producer position after a sample is complete;
never touches the consumer position and never blocks.
"""
from __future__ import annotations

import mmap as _mmap
import struct
from collections.abc import Iterable
from typing import Any

from ..errors import KernelError
from ..isa.uapi import MapType
from ..obj.mapapi import Codec
from .ringbuf import PAGE_SIZE, map_ring_pages, unmap

HDR_SZ = 8
_U64 = struct.Struct("<Q")
_HDR = struct.Struct("<II")         # len (busy/discard bits clear: committed), pg_off (unused)


class RingBufFullError(KernelError):
    """No room for a sample in a user ring buffer (the program has not drained it yet)."""


class UserRingBufWriter:
    """Writes samples a BPF program will drain. ``write(sample)`` commits one; ``write_many``
    commits several and publishes them with one producer-position update."""

    def __init__(self, ring: Any, *, codec: Codec | None = None) -> None:
        if getattr(ring, "type", None) != MapType.USER_RINGBUF:
            raise KernelError(f"map {getattr(ring, 'name', '?')!r} is not a USER_RINGBUF map")
        self.map = ring
        self.codec = codec
        self.size = ring.max_entries
        self.mask = self.size - 1
        self._consumer: _mmap.mmap | None = None
        self._producer: _mmap.mmap | None = None
        try:
            self._consumer, self._producer = map_ring_pages(ring.fd, self.size, writer=True)
        except OSError as exc:
            raise KernelError(f"cannot map user ring buffer {ring.name!r}", errno=exc.errno or 0,
                              command="mmap") from None
        self.samples_written = 0

    def _positions(self) -> tuple[int, int]:
        if self._consumer is None or self._producer is None:
            raise KernelError("user ring buffer writer is closed")
        return _U64.unpack_from(self._consumer, 0)[0], _U64.unpack_from(self._producer, 0)[0]

    @property
    def free(self) -> int:
        """Bytes (headers included) the producer may still fill."""
        cons, prod = self._positions()
        return self.size - (prod - cons)

    def _encode(self, sample: Any) -> bytes:
        data = self.codec.encode(sample) if self.codec is not None else bytes(sample)
        if not data:
            raise KernelError("user ring buffer samples must not be empty")
        return data

    def write_many(self, samples: Iterable[Any]) -> int:
        """Commit every sample (all or none: RingBufFullError when they do not fit)."""
        encoded = [self._encode(s) for s in samples]
        cons, prod = self._positions()
        need = sum((len(d) + HDR_SZ + 7) & ~7 for d in encoded)
        if need > self.size - (prod - cons):
            raise RingBufFullError(f"user ring buffer {self.map.name!r} has "
                                   f"{self.size - (prod - cons)} free bytes, {need} needed")
        data_base = PAGE_SIZE
        pos = prod
        mem = self._producer
        for d in encoded:
            off = data_base + (pos & self.mask)
            mem[off + HDR_SZ:off + HDR_SZ + len(d)] = d          # double mapping: contiguous
            _HDR.pack_into(mem, off, len(d), 0)
            pos += (len(d) + HDR_SZ + 7) & ~7
        _U64.pack_into(mem, 0, pos)                               # publish (x86: stores in order)
        self.samples_written += len(encoded)
        return len(encoded)

    def write(self, sample: Any) -> None:
        self.write_many([sample])

    def close(self) -> None:
        unmap(self._producer, self._consumer)
        self._producer = self._consumer = None

    def __enter__(self) -> "UserRingBufWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
