"""Perf event buffer consumer for BPF_MAP_TYPE_PERF_EVENT_ARRAY: one BPF_OUTPUT perf ring per CPU.

Opens and mmaps per-CPU perf events, stores their fds in the map, reads samples and lost counts;
it never leaves perf fds or mappings behind on close() or on a failed setup.
"""
from __future__ import annotations

import mmap as _mmap
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

from ..errors import KernelError
from ..isa.uapi import MapType
from ..obj.mapapi import Codec
from ..obj.runtime import RingReader
from . import perf
from . import syscall as sc
from .ringbuf import unmap
from .cpus import online_cpus

PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
PAGE_SIZE = _mmap.PAGESIZE
_HDR = struct.Struct("<IHH")


@dataclass
class PerfSample:
    """One sample: ``cpu`` it came from and its raw bytes (may carry alignment padding at the end)."""
    cpu: int
    data: Any


class _CPURing:
    def __init__(self, cpu: int, pages: int) -> None:
        attr = perf.perf_attr(type=perf.PERF_TYPE_SOFTWARE, config=perf.PERF_COUNT_SW_BPF_OUTPUT,
                              sample_period=1, sample_type=perf.PERF_SAMPLE_RAW, wakeup_events=1)
        self.cpu = cpu
        self.fd = perf.open_event(attr, pid=-1, cpu=cpu, what=f"perf buffer on CPU {cpu}")
        try:
            self.mm = _mmap.mmap(self.fd.number, (1 + pages) * PAGE_SIZE, _mmap.MAP_SHARED,
                                 _mmap.PROT_READ | _mmap.PROT_WRITE)
        except OSError as exc:
            self.fd.close()
            raise KernelError(f"cannot mmap perf buffer of CPU {cpu}", errno=exc.errno or 0,
                              command="mmap") from None
        offset, size = struct.unpack_from("<QQ", self.mm, 1040)
        self.data_offset = offset or PAGE_SIZE
        self.data_size = size or pages * PAGE_SIZE

    def read(self, out: list[tuple[int, bytes]]) -> int:
        """Append (record type, payload) for every record; return lost-sample count seen."""
        head, tail = struct.unpack_from("<QQ", self.mm, 1024)
        lost = 0
        size, base, mm = self.data_size, self.data_offset, self.mm
        while tail < head:
            off = tail % size
            hdr = self._copy(off, 8)
            rtype, _misc, rsize = _HDR.unpack(hdr)
            if rsize < 8:
                break
            body = self._copy((off + 8) % size, rsize - 8)
            if rtype == PERF_RECORD_SAMPLE:
                (raw_size,) = struct.unpack_from("<I", body, 0)
                out.append((self.cpu, body[4:4 + raw_size]))
            elif rtype == PERF_RECORD_LOST:
                lost += struct.unpack_from("<QQ", body, 0)[1]
            tail += rsize
        struct.pack_into("<Q", mm, 1032, tail)
        _ = base
        return lost

    def _copy(self, off: int, length: int) -> bytes:
        base, size = self.data_offset, self.data_size
        if off + length <= size:
            return self.mm[base + off: base + off + length]
        first = size - off
        return self.mm[base + off: base + size] + self.mm[base: base + length - first]

    def close(self) -> None:
        unmap(self.mm)
        self.fd.close()


class PerfBufReader(RingReader):
    """Reads a PERF_EVENT_ARRAY map (bpf_perf_event_output). ``lost`` counts dropped samples."""

    def __init__(self, array: Any, *, codec: Codec | None = None, pages: int = 8,
                 cpus: list[int] | None = None) -> None:
        if array.type != MapType.PERF_EVENT_ARRAY:
            raise KernelError(f"map {array.name!r} is {array.type.name}, not PERF_EVENT_ARRAY")
        if pages & (pages - 1):
            raise KernelError(f"perf buffer pages must be a power of two, not {pages}")
        self.map = array
        self.codec = codec
        self.lost = 0
        self._rings: list[_CPURing] = []
        self._epoll: select.epoll | None = select.epoll()
        try:
            for cpu in cpus if cpus is not None else online_cpus():
                if cpu >= array.max_entries:
                    continue
                ring = _CPURing(cpu, pages)
                self._rings.append(ring)
                array._update(cpu.to_bytes(4, "little"), ring.fd.number.to_bytes(4, "little"))
                sc.ioctl(ring.fd.number, perf.PERF_EVENT_IOC_ENABLE)
                self._epoll.register(ring.fd.number, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    def consume(self) -> list[Any]:
        raw: list[tuple[int, bytes]] = []
        for ring in self._rings:
            self.lost += ring.read(raw)
        if self.codec is None:
            return [PerfSample(cpu, data) for cpu, data in raw]
        size = self.codec.size
        return [PerfSample(cpu, self.codec.decode(data[:size])) for cpu, data in raw]

    def poll(self, timeout: float | None = None) -> list[Any]:
        if self._epoll is None:
            raise KernelError("perf buffer reader is closed")
        out = self.consume()
        if out or timeout == 0:
            return out
        deadline = None if timeout is None else time.monotonic() + timeout
        while not out:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                self._epoll.poll(-1 if remaining is None else remaining)
            except InterruptedError:
                pass
            out = self.consume()
        return out

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        for ring in self._rings:
            if not self.map.closed:
                try:
                    self.map._delete(ring.cpu.to_bytes(4, "little"))
                except KernelError:
                    pass
            ring.close()
        self._rings = []


__all__ = ["PerfBufReader", "PerfSample"]
