"""A native open-addressing index over a VM hash map's keys, so generated code can look keys up.

Mirrors ``HashMap.slots`` (key -> value slot) and ``HashMap.free`` into ctypes arrays native code
reads and writes. Native inserts and LRU hits go to an op log that is replayed into the map (in
order: ``slots`` insertion/recency order, ``free`` pops) before any Python operation on it, so
eviction, iteration order and contents are exactly the interpreter's. It never decides semantics:
what native code does not handle (flags, a full map, LRU eviction) is done by the Python map.
"""
from __future__ import annotations

import ctypes
from typing import Any

from ...errors import JITError
from .irtypes import M64

EMPTY, TOMBSTONE = 0, 0xFFFFFFFF
OP_LOG_CAPACITY = 256           # native inserts/LRU hits recorded before native code defers to Python
OP_INSERT = 1 << 31             # op log entry: slot | OP_INSERT for an insert, slot for an LRU hit
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv_absorb(h: int, data: bytes) -> int:
    """FNV-1a-style steps over ``data``: 8-byte little-endian words, then the trailing bytes."""
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        h = ((h ^ int.from_bytes(data[i:i + 8], "little")) * FNV_PRIME) & M64
    for byte in data[whole:]:
        h = ((h ^ byte) * FNV_PRIME) & M64
    return h


def fnv_finish(h: int) -> int:
    """The final mix, so the low bits (used for the bucket) depend on every byte."""
    h ^= h >> 32
    h = (h * FNV_PRIME) & M64
    return h ^ (h >> 29)


def key_hash(data: bytes) -> int:
    """Hash of a key for the index; the generated code (codegen.hash_find) computes the same."""
    return fnv_finish(fnv_absorb(FNV_OFFSET, data))


class HashIndex:
    """Native mirror of one hash map: key index, key bytes, free-slot stack and the op log.

    Native code looks keys up through the index, updates values in place, and inserts new keys
    into free slots itself (key bytes, index entry, zeroed value); it logs inserts and LRU hits in
    the op log, which ``replay`` applies to the map (``slots`` order, ``free``) before any Python
    operation on it (the map's ``settle`` hook). Python-side inserts and deletes keep the mirror
    current through the wrapped ``_insert_slot``/``_delete``.
    """

    def __init__(self, vm_map: Any) -> None:
        self.map = vm_map
        self.key_size = vm_map.key_size
        size = 8
        while size < 2 * vm_map.max_entries:
            size *= 2
        self.mask = size - 1
        self.index = (ctypes.c_uint32 * size)()
        self.keys = (ctypes.c_uint8 * max(vm_map.max_entries * self.key_size, 1))()
        self.tombstones = 0
        self.log = (ctypes.c_uint32 * (2 + OP_LOG_CAPACITY))()
        self.log[1] = OP_LOG_CAPACITY
        # free[0] = count, free[1 + i] = map.free[i] (native pops from the top, as list.pop does)
        self.free = (ctypes.c_uint32 * (1 + vm_map.max_entries))()
        self.rebuild()
        self._mirror_free()
        insert, delete = vm_map._insert_slot, vm_map._delete

        def insert_slot(key: bytes) -> int:
            self.replay()                            # _insert_slot is internal: not settled
            evicting = len(vm_map.slots)
            slot = insert(key)
            if len(vm_map.slots) <= evicting:        # an LRU eviction replaced another key
                self.rebuild()
            elif slot >= 0:
                self.add(bytes(key), slot)
            self._mirror_free()
            return slot

        def delete_key(key: bytes) -> bool:
            removed = delete(key)                    # (the map's _delete settles first)
            if removed:
                self.remove(bytes(key))
                self._mirror_free()
            return removed
        vm_map._insert_slot, vm_map._delete = insert_slot, delete_key
        vm_map.settle = self.replay

    def _mirror_free(self) -> None:
        """Make the native free stack equal ``map.free`` (Python only pops and appends at the end,
        so only the count and the top entries can differ)."""
        free, mirror = self.map.free, self.free
        count = mirror[0]
        for i in range(min(count, len(free)), len(free)):
            mirror[1 + i] = free[i]
        mirror[0] = len(free)

    def replay(self) -> None:
        """Apply native inserts and LRU hits, oldest first, to the map; empty the log."""
        log = self.log
        count = log[0]
        if count == 0:
            return
        log[0] = 0
        k, vm_map = self.key_size, self.map
        slots, free = vm_map.slots, vm_map.free
        for i in range(2, 2 + count):
            entry = log[i]
            slot = entry & ~OP_INSERT
            key = bytes(self.keys[slot * k:slot * k + k])
            if entry & OP_INSERT:
                if not free or free[-1] != slot or key in slots:
                    raise JITError(f"map {vm_map.name!r}: native insert log out of step with the "
                                   f"map (slot {slot})")
                free.pop()
                slots[key] = slot
            elif slots.get(key) == slot and vm_map.lru:
                slots.move_to_end(key)

    @property
    def log_address(self) -> int:
        return ctypes.addressof(self.log)

    @property
    def free_address(self) -> int:
        return ctypes.addressof(self.free)

    @property
    def index_address(self) -> int:
        return ctypes.addressof(self.index)

    @property
    def keys_address(self) -> int:
        return ctypes.addressof(self.keys)

    def rebuild(self) -> None:
        ctypes.memset(self.index, 0, ctypes.sizeof(self.index))
        self.tombstones = 0
        for key, slot in self.map.slots.items():
            self.add(key, slot)

    def add(self, key: bytes, slot: int) -> None:
        k = self.key_size
        self.keys[slot * k:slot * k + k] = list(key)
        i = key_hash(key) & self.mask
        while self.index[i] not in (EMPTY, TOMBSTONE):
            i = (i + 1) & self.mask
        if self.index[i] == TOMBSTONE:
            self.tombstones -= 1
        self.index[i] = slot + 1

    def remove(self, key: bytes) -> None:
        k = self.key_size
        i = key_hash(key) & self.mask
        for _ in range(self.mask + 1):
            entry = self.index[i]
            if entry == EMPTY:
                return
            if entry != TOMBSTONE:
                slot = entry - 1
                if bytes(self.keys[slot * k:slot * k + k]) == key:
                    self.index[i] = TOMBSTONE
                    self.tombstones += 1
                    if self.tombstones > (self.mask + 1) // 4:
                        self.rebuild()
                    return
            i = (i + 1) & self.mask


__all__ = ["HashIndex", "key_hash", "fnv_absorb", "fnv_finish", "OP_INSERT"]
