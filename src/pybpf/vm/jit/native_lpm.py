"""Native ``bpf_map_lookup_elem`` on LPM tries: a flat prefix index the Python map keeps current.

LPMTrieMap (maps.py) is the semantics: ``entries`` maps (prefixlen, masked data) to a value slot
and a lookup takes the longest stored prefix no longer than the key's prefixlen that matches the
key's data bits, most significant bit of the first data byte first (the kernel's trie order). A
key whose prefixlen exceeds the trie's bits matches nothing.

``LPMIndex`` mirrors ``entries`` in ctypes memory native code reads:

- one open-addressed table (linear probing, u32 entries: 0 empty, TOMBSTONE deleted, else
  slot + 1) over (prefixlen, masked data), hashed by ``prefix_hash``;
- a record per value slot: the stored key as the map keys it (u32 prefixlen, data with the bits
  past the prefix cleared), ``key_size`` bytes each, so a probe compares the candidate exactly;
- the prefix lengths present, longest first (u32 count, then the lengths).

The native ``lpm_find`` walks those lengths from the longest down, skips lengths above the key's
prefixlen and probes the table for the key's data masked to each; the first hit is the longest
match. Native code never changes the index: every insert and delete goes through the Python map
(``_store``/``_delete``, wrapped here), which updates the mirror before it returns.
"""
from __future__ import annotations

import ctypes
from collections import Counter
from typing import Any

from llvmlite import ir

from .hashindex import EMPTY, FNV_OFFSET, FNV_PRIME, TOMBSTONE, fnv_absorb, fnv_finish
from .irtypes import I8, I32, I64, M64, c64 as _c64

def prefix_hash(data: bytes, plen: int) -> int:
    """Hash of the first ``plen`` bits of ``data`` (bits past the prefix ignored) and ``plen``:
    hashindex's FNV-1a-style steps over the whole bytes (seeded with ``plen``), then the partial
    byte masked, and its final mix; ``lpm_find`` computes the same on the lookup key."""
    full, rem = divmod(plen, 8)
    h = fnv_absorb(((FNV_OFFSET ^ plen) * FNV_PRIME) & M64, data[:full])
    if rem:
        h = ((h ^ (data[full] & (0xFF << (8 - rem)) & 0xFF)) * FNV_PRIME) & M64
    return fnv_finish(h)


class LPMIndex:
    """Native mirror of one LPMTrieMap's ``entries`` (see the module docstring for the layout).

    Installs itself on the map: its ``_store`` and ``_delete`` are wrapped so every successful
    insert (from Python or from a program's bpf_map_update_elem, which reaches the map through
    the Python helper) and every delete updates the mirror before returning.
    """

    def __init__(self, vm_map: Any) -> None:
        self.map = vm_map
        self.key_size = vm_map.key_size
        size = 8
        while size < 2 * vm_map.max_entries:
            size *= 2
        self.mask = size - 1
        self.index = (ctypes.c_uint32 * size)()
        self.records = (ctypes.c_uint8 * (vm_map.max_entries * self.key_size))()
        self.lengths = (ctypes.c_uint32 * (vm_map.max_prefix + 2))()
        self.positions: dict[tuple[int, int], int] = {}   # entry -> its position in the table
        self.counts: Counter[int] = Counter()               # prefix length -> entries
        self.tombstones = 0
        self.rebuild()
        self._install(vm_map)

    def _install(self, vm_map: Any) -> None:
        """Wrap the map's two mutators so the mirror follows every insert and delete."""
        store, delete = vm_map._store, vm_map._delete

        def store_key(key: bytes | None, value: bytes, flags: int) -> int:
            result = store(key, value, flags)
            if result == 0:
                parsed = vm_map._parse(key)
                if parsed not in self.positions:
                    self.add(parsed, vm_map.entries[parsed])
            return result

        def delete_key(key: bytes) -> bool:
            parsed = vm_map._parse(key)
            removed = delete(key)
            if removed:
                self.remove(parsed)
            return removed
        vm_map._store, vm_map._delete = store_key, delete_key

    @property
    def index_address(self) -> int:
        return ctypes.addressof(self.index)

    @property
    def records_address(self) -> int:
        return ctypes.addressof(self.records)

    @property
    def lengths_address(self) -> int:
        return ctypes.addressof(self.lengths)

    def row(self) -> list[int]:
        """Map row words 5.. (layout.MAP_KIND_LPM_TRIE): mask, index, records, lengths."""
        return [self.mask, self.index_address, self.records_address, self.lengths_address]

    def rebuild(self) -> None:
        """Index every entry of the map afresh (no tombstones)."""
        ctypes.memset(self.index, 0, ctypes.sizeof(self.index))
        self.positions.clear()
        self.counts.clear()
        self.tombstones = 0
        for entry, slot in self.map.entries.items():
            self._insert(entry, slot)
        self._write_lengths()

    def add(self, entry: tuple[int, int], slot: int) -> None:
        """Index a new entry ``(prefixlen, masked data)`` stored in value slot ``slot``."""
        fresh = entry[0] not in self.counts
        self._insert(entry, slot)
        if fresh:
            self._write_lengths()

    def remove(self, entry: tuple[int, int]) -> None:
        """Drop an entry the map deleted (its table position becomes a tombstone)."""
        position = self.positions.pop(entry, None)
        if position is None:
            return
        self.index[position] = TOMBSTONE
        self.tombstones += 1
        plen = entry[0]
        self.counts[plen] -= 1
        if self.counts[plen] == 0:
            del self.counts[plen]
            self._write_lengths()
        if self.tombstones > (self.mask + 1) // 4:
            self.rebuild()

    def _insert(self, entry: tuple[int, int], slot: int) -> None:
        plen, masked = entry
        data = masked.to_bytes(self.key_size - 4, "big")
        record = plen.to_bytes(4, "little") + data
        ctypes.memmove(ctypes.addressof(self.records) + slot * self.key_size, record,
                       self.key_size)
        i = prefix_hash(data, plen) & self.mask
        while self.index[i] not in (EMPTY, TOMBSTONE):
            i = (i + 1) & self.mask
        if self.index[i] == TOMBSTONE:
            self.tombstones -= 1
        self.index[i] = slot + 1
        self.positions[entry] = i
        self.counts[plen] += 1

    def _write_lengths(self) -> None:
        present = sorted(self.counts, reverse=True)
        self.lengths[1:1 + len(present)] = present
        self.lengths[0] = len(present)


def install(vm_map: Any) -> LPMIndex:
    """The map's index, created (and hooked into the map) on first use; shared by machines."""
    index = getattr(vm_map, "_jit_index", None)
    if index is None:
        index = LPMIndex(vm_map)
        vm_map._jit_index = index
    return index


def lpm_find_fn(module: ir.Module) -> ir.Function:
    """``u64 lpm_find(key_host, key_size, mask, index_host, records_host, lengths_host)``: slot + 1
    of the longest prefix matching the key at ``key_host`` (u32 prefixlen, data), 0 for none."""
    existing = module.globals.get("lpm_find")
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(I64, [I64] * 6), name="lpm_find")
    fn.linkage = "internal"
    key, key_size, mask, index, records, lengths = fn.args
    bl = {n: fn.append_basic_block(n) for n in (
        "entry", "length", "length_body", "hash", "words", "word", "bytes", "byte", "tail",
        "tail_byte", "mix", "probe", "probe_live", "probe_entry", "candidate", "compare",
        "compare_byte", "compare_tail", "compare_tail_byte", "probe_next", "next_length",
        "hit", "miss")}
    p8, p32, p64 = I8.as_pointer(), I32.as_pointer(), I64.as_pointer()
    prime = _c64(FNV_PRIME)
    u32_at = lambda bb, addr: bb.zext(bb.load(bb.inttoptr(addr, p32), align=1), I64)  # noqa: E731
    u8_at = lambda bb, addr: bb.zext(bb.load(bb.inttoptr(addr, p8)), I64)             # noqa: E731

    b = ir.IRBuilder(bl["entry"])
    plen = u32_at(b, key)
    data = b.add(key, _c64(4))
    count = u32_at(b, lengths)
    b.cbranch(b.icmp_unsigned(">", plen, b.mul(b.sub(key_size, _c64(4)), _c64(8))),
              bl["miss"], bl["length"])
    # the prefix lengths present, longest first; lengths above the key's prefixlen are skipped
    b = ir.IRBuilder(bl["length"])
    i = b.phi(I64)
    i.add_incoming(_c64(0), bl["entry"])
    b.cbranch(b.icmp_unsigned("<", i, count), bl["length_body"], bl["miss"])
    b = ir.IRBuilder(bl["length_body"])
    length = u32_at(b, b.add(lengths, b.mul(b.add(i, _c64(1)), _c64(4))))
    b.cbranch(b.icmp_unsigned(">", length, plen), bl["next_length"], bl["hash"])
    b = ir.IRBuilder(bl["next_length"])
    i.add_incoming(b.add(i, _c64(1)), bl["next_length"])
    b.branch(bl["length"])
    # prefix_hash of the key's data masked to ``length`` bits
    b = ir.IRBuilder(bl["hash"])
    full = b.lshr(length, _c64(3))
    rem = b.and_(length, _c64(7))
    partial_mask = b.and_(b.shl(_c64(0xFF), b.sub(_c64(8), rem)), _c64(0xFF))
    whole = b.and_(full, _c64(~7))
    h0 = b.mul(b.xor(_c64(FNV_OFFSET), length), prime)
    b.branch(bl["words"])
    b = ir.IRBuilder(bl["words"])
    j, h = b.phi(I64), b.phi(I64)
    j.add_incoming(_c64(0), bl["hash"])
    h.add_incoming(h0, bl["hash"])
    b.cbranch(b.icmp_unsigned("<", j, whole), bl["word"], bl["bytes"])
    b = ir.IRBuilder(bl["word"])
    w = b.load(b.inttoptr(b.add(data, j), p64), align=1)
    j.add_incoming(b.add(j, _c64(8)), bl["word"])
    h.add_incoming(b.mul(b.xor(h, w), prime), bl["word"])
    b.branch(bl["words"])
    b = ir.IRBuilder(bl["bytes"])
    k, g = b.phi(I64), b.phi(I64)
    k.add_incoming(j, bl["words"])
    g.add_incoming(h, bl["words"])
    b.cbranch(b.icmp_unsigned("<", k, full), bl["byte"], bl["tail"])
    b = ir.IRBuilder(bl["byte"])
    k.add_incoming(b.add(k, _c64(1)), bl["byte"])
    g.add_incoming(b.mul(b.xor(g, u8_at(b, b.add(data, k))), prime), bl["byte"])
    b.branch(bl["bytes"])
    b = ir.IRBuilder(bl["tail"])
    has_tail = b.icmp_unsigned("!=", rem, _c64(0))
    b.cbranch(has_tail, bl["tail_byte"], bl["mix"])
    b = ir.IRBuilder(bl["tail_byte"])           # length <= data bits: byte ``full`` exists
    tail = b.and_(u8_at(b, b.add(data, full)), partial_mask)
    g_tail = b.mul(b.xor(g, tail), prime)
    b.branch(bl["mix"])
    b = ir.IRBuilder(bl["mix"])
    f = b.phi(I64)
    f.add_incoming(g, bl["tail"])
    f.add_incoming(g_tail, bl["tail_byte"])
    m = b.mul(b.xor(f, b.lshr(f, _c64(32))), prime)
    m = b.xor(m, b.lshr(m, _c64(29)))
    start = b.and_(m, mask)
    b.branch(bl["probe"])
    # linear probing: an empty entry ends this length; tombstones and other prefixes are passed
    b = ir.IRBuilder(bl["probe"])
    pos, tries = b.phi(I64), b.phi(I64)
    pos.add_incoming(start, bl["mix"])
    tries.add_incoming(_c64(0), bl["mix"])
    b.cbranch(b.icmp_unsigned(">", tries, mask), bl["next_length"], bl["probe_live"])
    b = ir.IRBuilder(bl["probe_live"])
    entry = u32_at(b, b.add(index, b.mul(pos, _c64(4))))
    b.cbranch(b.icmp_unsigned("==", entry, _c64(EMPTY)), bl["next_length"], bl["probe_entry"])
    b = ir.IRBuilder(bl["probe_entry"])
    b.cbranch(b.icmp_unsigned("==", entry, _c64(TOMBSTONE)), bl["probe_next"], bl["candidate"])
    b = ir.IRBuilder(bl["candidate"])
    record = b.add(records, b.mul(b.sub(entry, _c64(1)), key_size))
    stored = b.add(record, _c64(4))
    b.cbranch(b.icmp_unsigned("==", u32_at(b, record), length), bl["compare"], bl["probe_next"])
    b = ir.IRBuilder(bl["compare"])
    c = b.phi(I64)
    c.add_incoming(_c64(0), bl["candidate"])
    b.cbranch(b.icmp_unsigned("<", c, full), bl["compare_byte"], bl["compare_tail"])
    b = ir.IRBuilder(bl["compare_byte"])
    same = b.icmp_unsigned("==", u8_at(b, b.add(data, c)), u8_at(b, b.add(stored, c)))
    c.add_incoming(b.add(c, _c64(1)), bl["compare_byte"])
    b.cbranch(same, bl["compare"], bl["probe_next"])
    b = ir.IRBuilder(bl["compare_tail"])
    b.cbranch(has_tail, bl["compare_tail_byte"], bl["hit"])
    b = ir.IRBuilder(bl["compare_tail_byte"])
    x = b.and_(u8_at(b, b.add(data, full)), partial_mask)
    y = b.and_(u8_at(b, b.add(stored, full)), partial_mask)
    b.cbranch(b.icmp_unsigned("==", x, y), bl["hit"], bl["probe_next"])
    b = ir.IRBuilder(bl["probe_next"])
    pos.add_incoming(b.and_(b.add(pos, _c64(1)), mask), bl["probe_next"])
    tries.add_incoming(b.add(tries, _c64(1)), bl["probe_next"])
    b.branch(bl["probe"])
    ir.IRBuilder(bl["hit"]).ret(entry)
    ir.IRBuilder(bl["miss"]).ret(_c64(0))
    return fn


__all__ = ["LPMIndex", "install", "lpm_find_fn", "prefix_hash"]
