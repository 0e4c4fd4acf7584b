"""A native open-addressing index over a VM hash map's keys, so generated code can look keys up.

Mirrors ``HashMap.slots`` (key -> value slot) into two ctypes arrays (index of slot+1 entries, key
bytes per slot), updated on every insert/delete the map makes; it never changes which keys the map
holds and never decides semantics (the Python map stays the truth; the index only answers "which
slot"). For LRU maps native hits are appended to a touch log that is replayed into the map's
recency order (``OrderedDict.move_to_end``) before any Python operation that depends on that order,
so eviction and iteration order are exactly the interpreter's.
"""
from __future__ import annotations

import ctypes
from typing import Any

EMPTY, TOMBSTONE = 0, 0xFFFFFFFF
TOUCH_LOG_CAPACITY = 256        # native LRU hits recorded before native code defers to Python
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
M64 = (1 << 64) - 1


def key_hash(data: bytes) -> int:
    """FNV-1a-style hash over 8-byte little-endian words then single bytes, with a final mix so
    the low bits (used for the bucket) depend on every byte; the generated code computes the same."""
    h = FNV_OFFSET
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        h = ((h ^ int.from_bytes(data[i:i + 8], "little")) * FNV_PRIME) & M64
    for byte in data[whole:]:
        h = ((h ^ byte) * FNV_PRIME) & M64
    h ^= h >> 32
    h = (h * FNV_PRIME) & M64
    return h ^ (h >> 29)


class HashIndex:
    """Index of one hash map; installed by wrapping the map's _insert_slot/_delete."""

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
        self.touch_log = None
        if getattr(vm_map, "lru", False):
            self.touch_log = (ctypes.c_uint32 * (2 + TOUCH_LOG_CAPACITY))()
            self.touch_log[1] = TOUCH_LOG_CAPACITY
            self._wrap_order_readers(vm_map)
        self.rebuild()
        insert, delete = vm_map._insert_slot, vm_map._delete

        def insert_slot(key: bytes) -> int:
            self.replay_touches()
            evicting = len(vm_map.slots)
            slot = insert(key)
            if len(vm_map.slots) <= evicting:        # an LRU eviction replaced another key
                self.rebuild()
            elif slot >= 0:
                self.add(bytes(key), slot)
            return slot

        def delete_key(key: bytes) -> bool:
            self.replay_touches()
            removed = delete(key)
            if removed:
                self.remove(bytes(key))
            return removed
        vm_map._insert_slot, vm_map._delete = insert_slot, delete_key

    def _wrap_order_readers(self, vm_map: Any) -> None:
        """Replay native touches before the map reads or changes its recency order."""
        touch, next_key, raw_keys = vm_map._touch, vm_map._next_key, vm_map.raw_keys
        entries = vm_map.entries_for_iteration

        def touch_key(key: bytes) -> None:
            self.replay_touches()
            touch(key)

        def next_key_after(key: bytes | None) -> bytes | None:
            self.replay_touches()
            return next_key(key)

        def all_keys() -> Any:
            self.replay_touches()
            return raw_keys()

        def iteration() -> Any:
            self.replay_touches()
            return entries()
        vm_map._touch, vm_map._next_key, vm_map.raw_keys = touch_key, next_key_after, all_keys
        vm_map.entries_for_iteration = iteration

    def replay_touches(self) -> None:
        """Apply the native LRU hits, oldest first, to the map's recency order; empty the log."""
        log = self.touch_log
        if log is None or log[0] == 0:
            return
        count, k, slots = log[0], self.key_size, self.map.slots
        for i in range(2, 2 + count):
            slot = log[i]
            key = bytes(self.keys[slot * k:slot * k + k])
            if slots.get(key) == slot:
                slots.move_to_end(key)
        log[0] = 0

    @property
    def touch_log_address(self) -> int:
        return 0 if self.touch_log is None else ctypes.addressof(self.touch_log)

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


__all__ = ["HashIndex", "key_hash"]
