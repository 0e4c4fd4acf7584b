"""The VM's simulated 64-bit address space: a table of separate regions, every access bounds-checked.

Never touches host memory through a program-supplied address: a pointer is a plain int that is only ever
used to pick a region and an offset into that region's own ``bytearray``.

Layout (shared with the native JIT)
-----------------------------------
The address space is split into 4 GiB *slots*: bits 63..32 of an address are the slot number, bits
31..0 the offset inside the slot. Slot 0 is never mapped, so NULL (and small integers used as
pointers) always fault. Each mapped slot holds exactly one :class:`Region`::

    address = (slot << 32) | offset        region.base == slot << 32
    valid   : region.lo <= offset and offset + size <= region.hi   (hi <= len(region.buf))
    writes  : additionally need region.writable

``lo``/``hi`` are mutable so a packet region can follow ``bpf_xdp_adjust_head``/``_tail`` without
moving its buffer; a region's ``buf`` is allocated once and never resized, so a JIT may cache a host
pointer to it (``Memory.table()`` returns ``(slot, host_address, lo, hi, flags)`` rows) as long as it
re-reads ``lo``/``hi`` after every helper call. A region with ``fields`` set (a program context such
as ``xdp_md``) rewrites some loads: ``fields[(offset, size)]`` is a zero-argument callable whose
result is returned instead of the stored bytes (how ``ctx->data`` becomes a real packet pointer, like
the kernel's context-access rewriting); a JIT must route loads from such regions through
``Memory.load``.
"""
from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import MemoryAccessError

SLOT_SHIFT = 32
SLOT_SIZE = 1 << SLOT_SHIFT
OFFSET_MASK = SLOT_SIZE - 1
M64 = (1 << 64) - 1

_UNPACK = {1: struct.Struct("<B").unpack_from, 2: struct.Struct("<H").unpack_from,
           4: struct.Struct("<I").unpack_from, 8: struct.Struct("<Q").unpack_from}
_PACK = {1: struct.Struct("<B").pack_into, 2: struct.Struct("<H").pack_into,
         4: struct.Struct("<I").pack_into, 8: struct.Struct("<Q").pack_into}
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: M64}


@dataclass(eq=False, slots=True)
class Region:
    """One contiguous piece of simulated memory (a stack frame, the context, a packet, map values...)."""

    name: str
    buf: bytearray
    writable: bool = True
    kind: str = "data"                  # stack, ctx, packet, map_value, ringbuf, helper, user, kernel
    lo: int = 0
    hi: int = -1
    fields: dict[tuple[int, int], Callable[[], int]] | None = None
    base: int = 0                       # assigned by Memory.map
    owner: object = None                # the map / object this region belongs to, if any

    def __post_init__(self) -> None:
        if self.hi < 0:
            self.hi = len(self.buf)

    @property
    def end(self) -> int:
        return self.base + self.hi

    def describe(self) -> str:
        return (f"{self.kind} region {self.name!r} [{self.base + self.lo:#x}, {self.base + self.hi:#x})"
                f"{'' if self.writable else ' read-only'}")


def _fault(kind: str, addr: int, size: int, region: Region | None) -> MemoryAccessError:
    where = (f"nearest: {region.describe()}" if region is not None
             else "no region is mapped there")
    err = MemoryAccessError(f"invalid {kind} of {size} byte(s) at {addr:#x}: {where}")
    err.address, err.size, err.region = addr, size, region   # type: ignore[attr-defined]
    return err


class Memory:
    """The region table plus checked load/store of 1, 2, 4 and 8 byte little-endian values."""

    def __init__(self) -> None:
        self.slots: dict[int, Region] = {}
        self._next_slot = 0x100          # low slots stay unmapped: small ints never look like pointers
        self._free_slots: list[int] = []

    # --- mapping ----------------------------------------------------------------------------
    def map(self, region: Region, *, slot: int | None = None) -> Region:
        """Give ``region`` a base address and make it accessible; returns the region."""
        if len(region.buf) > SLOT_SIZE:
            raise MemoryAccessError(f"region {region.name!r} of {len(region.buf)} bytes exceeds 4 GiB")
        if slot is None:
            slot = self._free_slots.pop() if self._free_slots else self._take_slot()
        region.base = slot << SLOT_SHIFT
        self.slots[slot] = region
        return region

    def _take_slot(self) -> int:
        slot = self._next_slot
        self._next_slot += 1
        return slot

    def unmap(self, region: Region) -> None:
        slot = region.base >> SLOT_SHIFT
        if self.slots.get(slot) is region:
            del self.slots[slot]
            self._free_slots.append(slot)

    def new(self, name: str, size_or_data: int | bytes | bytearray, *, kind: str = "data",
            writable: bool = True) -> Region:
        buf = (bytearray(size_or_data) if isinstance(size_or_data, int)
               else bytearray(size_or_data))
        return self.map(Region(name, buf, writable, kind))

    def region_at(self, addr: int) -> Region | None:
        return self.slots.get((addr & M64) >> SLOT_SHIFT)

    def nearest(self, addr: int) -> Region | None:
        """The region containing ``addr``'s slot, else the mapped region with the closest base."""
        region = self.region_at(addr)
        if region is not None or not self.slots:
            return region
        slot = (addr & M64) >> SLOT_SHIFT
        best = min(self.slots, key=lambda s: abs(s - slot))
        return self.slots[best]

    # --- checked access -------------------------------------------------------------------------
    def resolve(self, addr: int, size: int, *, write: bool = False) -> tuple[Region, int]:
        """Region and offset for an access of ``size`` bytes at ``addr``; MemoryAccessError if invalid."""
        addr &= M64
        region = self.slots.get(addr >> SLOT_SHIFT)
        off = addr & OFFSET_MASK
        if region is None or off < region.lo or off + size > region.hi or size < 0:
            raise _fault("write" if write else "read", addr, size, region or self.nearest(addr))
        if write and not region.writable:
            raise _fault("write (read-only memory)", addr, size, region)
        return region, off

    def load(self, addr: int, size: int) -> int:
        region, off = self.resolve(addr, size)
        if region.fields is not None:
            hook = region.fields.get((off, size))
            if hook is not None:
                return hook() & M64
        return _UNPACK[size](region.buf, off)[0]

    def store(self, addr: int, size: int, value: int) -> None:
        region, off = self.resolve(addr, size, write=True)
        _PACK[size](region.buf, off, value & _MASK[size])

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr`` (helper arguments such as keys and buffers)."""
        if size == 0:
            return b""
        region, off = self.resolve(addr, size)
        return bytes(region.buf[off:off + size])

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        region, off = self.resolve(addr, len(data), write=True)
        region.buf[off:off + len(data)] = data

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string starting at ``addr`` (without the NUL), at most ``limit`` bytes."""
        region, off = self.resolve(addr, 1)
        end = min(region.hi, off + limit)
        data = region.buf[off:end]
        nul = data.find(0)
        if nul < 0:
            if end - off < limit:
                raise _fault("read (unterminated string)", addr + (end - off), 1, region)
            return bytes(data)
        return bytes(data[:nul])

    # --- fast accessors used by the interpreter's pre-decoded instructions ------------------------
    def loader(self, size: int) -> Callable[[int], int]:
        """A function ``load(addr) -> int`` for one access size (no per-call size dispatch)."""
        slots, unpack, mask = self.slots, _UNPACK[size], _MASK[size]

        def load(addr: int) -> int:
            region = slots.get(addr >> SLOT_SHIFT)
            off = addr & OFFSET_MASK
            if region is None or off < region.lo or off + size > region.hi:
                raise _fault("read", addr, size, region or self.nearest(addr))
            if region.fields is not None:
                hook = region.fields.get((off, size))
                if hook is not None:
                    return hook() & M64
            return unpack(region.buf, off)[0]
        return load

    def storer(self, size: int) -> Callable[[int, int], None]:
        slots, pack, mask = self.slots, _PACK[size], _MASK[size]

        def store(addr: int, value: int) -> None:
            region = slots.get(addr >> SLOT_SHIFT)
            off = addr & OFFSET_MASK
            if region is None or off < region.lo or off + size > region.hi or not region.writable:
                raise _fault("write" if region is None or region.writable
                             else "write (read-only memory)", addr, size,
                             region or self.nearest(addr))
            pack(region.buf, off, value & mask)
        return store

    # --- for a native JIT ------------------------------------------------------------------------
    def table(self) -> list[tuple[int, int, int, int, int]]:
        """Rows ``(slot, host_address_of_buf, lo, hi, flags)``; flags bit 0 = writable, bit 1 = hooked."""
        rows = []
        for slot, region in sorted(self.slots.items()):
            host = ctypes.addressof((ctypes.c_char * max(len(region.buf), 1)).from_buffer(region.buf)) \
                if region.buf else 0
            flags = (1 if region.writable else 0) | (2 if region.fields is not None else 0)
            rows.append((slot, host, region.lo, region.hi, flags))
        return rows


__all__ = ["Memory", "Region", "SLOT_SHIFT", "SLOT_SIZE", "M64"]
