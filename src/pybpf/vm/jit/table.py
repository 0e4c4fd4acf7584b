"""The VM's region table mirrored as native memory: one row (host, lo, hi, flags) per address slot.

A :class:`TableMemory` is a :class:`pybpf.vm.memory.Memory` whose map/unmap also update the native
rows generated code reads; it never lets a row point at a buffer it does not keep exported (an
exported ``bytearray`` cannot be resized, so a cached host address stays valid until unmapped).
"""
from __future__ import annotations

import ctypes

from ..memory import Memory, Region
from . import layout as L

_UNMAPPED = (0, 1, 0, 0)               # lo > hi: every access fails


class TableMemory(Memory):
    """Memory plus its native region table (``rows``) and rewritten-field table (``hooks``)."""

    def __init__(self) -> None:
        super().__init__()
        self.capacity = 0
        self.rows = (ctypes.c_uint64 * 0)()
        self.map_rows = (ctypes.c_uint64 * 0)()   # layout.MAP_ROW_WORDS words per slot
        self._exports: dict[int, object] = {}       # slot -> ctypes view keeping buf exported
        self._volatile: dict[int, Region] = {}      # packet/ctx regions: lo/hi/fields may change
        self.hooks = (ctypes.c_uint64 * 32)()
        self.hook_count = 0
        self.on_resize = None                        # callback() after the tables moved
        self._grow(0x200)

    # --- table maintenance --------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        capacity = max(need, self.capacity * 2, 0x200)
        rows = (ctypes.c_uint64 * (capacity * L.ROW_WORDS))()
        ctypes.memmove(rows, self.rows, ctypes.sizeof(self.rows))
        for slot in range(self.capacity, capacity):
            rows[slot * 4 + 1] = 1
        map_rows = (ctypes.c_uint64 * (capacity * L.MAP_ROW_WORDS))()
        ctypes.memmove(map_rows, self.map_rows, ctypes.sizeof(self.map_rows))
        self.rows, self.map_rows, self.capacity = rows, map_rows, capacity
        if self.on_resize is not None:
            self.on_resize()

    def set_map_row(self, slot: int, words: list[int]) -> None:
        """Describe the map whose handle lives in ``slot`` for native lookups (kind 0 = none)."""
        if slot >= self.capacity:
            self._grow(slot + 1)
        i = slot * L.MAP_ROW_WORDS
        self.map_rows[i:i + L.MAP_ROW_WORDS] = (list(words) + [0] * L.MAP_ROW_WORDS)[:L.MAP_ROW_WORDS]

    def _write_row(self, slot: int, region: Region) -> None:
        base = slot * L.ROW_WORDS
        rows = self.rows
        rows[base + 1] = max(region.lo, 0)
        rows[base + 2] = max(min(region.hi, len(region.buf)), 0)
        rows[base + 3] = (L.FLAG_WRITABLE if region.writable else 0) | \
            (L.FLAG_HOOKED if region.fields is not None else 0)

    def map(self, region: Region, *, slot: int | None = None) -> Region:
        region = super().map(region, slot=slot)
        slot = region.base >> 32
        if slot >= self.capacity:
            self._grow(slot + 1)
        if region.buf:
            view = ctypes.c_char.from_buffer(region.buf)     # exports buf: it cannot be resized
            self._exports[slot] = view
            self.rows[slot * L.ROW_WORDS] = ctypes.addressof(view)
        else:
            self._exports.pop(slot, None)
            self.rows[slot * L.ROW_WORDS] = 0
        self._write_row(slot, region)
        if region.kind in ("packet", "ctx"):
            self._volatile[slot] = region
        return region

    def unmap(self, region: Region) -> None:
        slot = region.base >> 32
        mapped = self.slots.get(slot) is region
        super().unmap(region)
        if mapped and slot < self.capacity:
            base = slot * L.ROW_WORDS
            for i, v in enumerate(_UNMAPPED):
                self.rows[base + i] = v
            self._exports.pop(slot, None)
            self._volatile.pop(slot, None)
            self.map_rows[slot * L.MAP_ROW_WORDS] = 0

    def sync(self, full: bool = False) -> None:
        """Copy lo/hi/flags of regions that may have changed (all regions when ``full``) and
        re-evaluate the rewritten context fields (``Region.fields``)."""
        regions = self.slots if full else self._volatile
        for slot, region in regions.items():
            self._write_row(slot, region)
        count = 0
        for slot, region in self._volatile.items():
            if region.fields:
                for (off, size), hook in region.fields.items():
                    if count * 4 + 4 > len(self.hooks):
                        self._grow_hooks()
                    i = count * 4
                    self.hooks[i:i + 4] = [slot, off, size, hook() & ((1 << 64) - 1)]
                    count += 1
        self.hook_count = count

    def _grow_hooks(self) -> None:
        bigger = (ctypes.c_uint64 * (len(self.hooks) * 2))()
        ctypes.memmove(bigger, self.hooks, ctypes.sizeof(self.hooks))
        self.hooks = bigger


__all__ = ["TableMemory"]
