"""Native ``bpf_map_push_elem`` / ``bpf_map_pop_elem`` / ``bpf_map_peek_elem`` on queue and stack
maps: the map's items live in a ring native code shares with Python (IR emitters + the ring).

QueueStackMap (maps.py) is the semantics: its ``items_`` deque is replaced, on a JITMachine, by a
:class:`NativeRing` with the deque methods it uses, so Python and native code see one sequence.
Native code does what the helpers do, in their order: push reads the value (fault), checks flags
(-EINVAL), full without BPF_EXIST (-E2BIG), drops the oldest when full with BPF_EXIST, appends;
pop/peek give -ENOENT when empty, else (pop: remove, then) write the value (fault). Items pushed
from Python shorter than value_size (only possible through push_elem directly) make native code
defer to Python until they are gone.
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from llvmlite import ir

from ...errors import MapError
from . import layout as L
from .irtypes import P64, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen

HEAD, COUNT, ODD = 0, 1, 2      # ring header words: oldest slot, items, items shorter than value_size
HEADER_WORDS = 4
BPF_EXIST = 2


class NativeRing:
    """A bounded FIFO/LIFO of byte strings in one ctypes block: u64 header (HEAD, COUNT, ODD, 0)
    then ``capacity`` slots of ``value_size`` bytes; the deque subset QueueStackMap uses."""

    def __init__(self, capacity: int, value_size: int, items: Iterable[bytes] = ()) -> None:
        self.capacity, self.value_size = capacity, value_size
        self.words = (ctypes.c_uint64 * (HEADER_WORDS + (capacity * value_size + 7) // 8))()
        self.address = ctypes.addressof(self.words)
        self._data = self.address + 8 * HEADER_WORDS
        self.short: dict[int, int] = {}          # slot -> length of a short item
        for item in items:
            self.append(item)

    def _slot(self, index: int) -> int:
        return (self.words[HEAD] + index) % self.capacity

    def _read(self, slot: int) -> bytes:
        data = ctypes.string_at(self._data + slot * self.value_size, self.value_size)
        n = self.short.get(slot)
        return data if n is None else data[:n]

    def _forget(self, slot: int) -> None:
        if self.short.pop(slot, None) is not None:
            self.words[ODD] = len(self.short)

    def __len__(self) -> int:
        return self.words[COUNT]

    def __bool__(self) -> bool:
        return self.words[COUNT] != 0

    def __getitem__(self, index: int) -> bytes:
        count = self.words[COUNT]
        if not -count <= index < count:
            raise IndexError("ring index out of range")
        return self._read(self._slot(index % count))

    def __iter__(self) -> Iterator[bytes]:
        return iter([self[i] for i in range(len(self))])

    def append(self, item: bytes) -> None:
        count = self.words[COUNT]
        if count >= self.capacity:
            raise MapError("queue/stack ring is full")
        slot = self._slot(count)
        self._forget(slot)
        data = bytes(item[:self.value_size])
        ctypes.memmove(self._data + slot * self.value_size, data.ljust(self.value_size, b"\0"),
                       self.value_size)
        if len(data) != self.value_size:
            self.short[slot] = len(data)
            self.words[ODD] = len(self.short)
        self.words[COUNT] = count + 1

    def popleft(self) -> bytes:
        if not self:
            raise IndexError("pop from an empty ring")
        slot = self._slot(0)
        data = self._read(slot)
        self._forget(slot)
        self.words[HEAD] = (slot + 1) % self.capacity
        self.words[COUNT] -= 1
        return data

    def pop(self) -> bytes:
        if not self:
            raise IndexError("pop from an empty ring")
        slot = self._slot(self.words[COUNT] - 1)
        data = self._read(slot)
        self._forget(slot)
        self.words[COUNT] -= 1
        return data


MAX_RING_BYTES = 64 << 20       # bigger queues keep their deque (every operation in Python)


def fits(vm_map: object) -> bool:
    """Whether the map's ring (allocated whole, up front) is small enough to mirror natively."""
    return vm_map.max_entries * vm_map.value_size <= MAX_RING_BYTES      # type: ignore[attr-defined]


def install(vm_map: object) -> NativeRing:
    """Move a QueueStackMap's items into a NativeRing (once per map) and return the ring."""
    ring = getattr(vm_map, "items_")
    if not isinstance(ring, NativeRing):
        ring = NativeRing(vm_map.max_entries, vm_map.value_size, ring)   # type: ignore[attr-defined]
        vm_map.items_ = ring                                              # type: ignore[attr-defined]
    return ring


def map_row(vm_map: object, ring: NativeRing) -> list[int]:
    """The map row native push/pop/peek read: kind, max_entries, value_size, ring address."""
    from ...isa.uapi import MapType
    kind = L.MAP_KIND_QUEUE if vm_map.type == MapType.QUEUE else L.MAP_KIND_STACK  # type: ignore
    return [kind, ring.capacity, ring.value_size, ring.address]


def _ring_row(gen: "_Gen", slow: ir.Block) -> tuple[ir.Value, ...]:
    """(kind, max_entries, value_size, ring words, data host address) of the queue or stack map
    in r1; anything else (or a ring holding short items, or value_size 0) -> slow."""
    probe, ready, usable = (gen.new_block(n) for n in ("qrow", "qring", "qusable"))
    row_word = gen.map_row(gen.b, gen.reg(1), probe, slow)
    pb = ir.IRBuilder(probe)
    kind = pb.and_(row_word(pb, 0), _c64(0xFF))
    is_ring = pb.or_(pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_QUEUE)),
                     pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_STACK)))
    pb.cbranch(is_ring, ready, slow)
    rb = ir.IRBuilder(ready)
    entries, value_size, ring_addr = (row_word(rb, i) for i in (1, 2, 3))
    ring = rb.inttoptr(ring_addr, P64)
    odd = rb.load(rb.gep(ring, [_c64(ODD)]))
    rb.cbranch(rb.and_(rb.icmp_unsigned("==", odd, _c64(0)),
                       rb.icmp_unsigned("!=", value_size, _c64(0))), usable, slow)
    gen.b = ir.IRBuilder(usable)
    data = gen.b.add(ring_addr, _c64(8 * HEADER_WORDS))
    return kind, entries, value_size, ring, data


def emit_push(gen: "_Gen", done: ir.Block) -> None:
    """bpf_map_push_elem(map, value, flags) on queue/stack maps; other maps -> Python."""
    slow = gen.new_block("push_python")
    kind, entries, value_size, ring, data = _ring_row(gen, slow)
    src = gen.address_dynamic(gen.reg(2), value_size)
    b = gen.b
    flags = gen.reg(3)
    head_p, count_p = b.gep(ring, [_c64(HEAD)]), b.gep(ring, [_c64(COUNT)])
    head, count = b.load(head_p), b.load(count_p)
    full = b.icmp_unsigned(">=", count, entries)
    exist = b.icmp_unsigned("!=", b.and_(flags, _c64(BPF_EXIST)), _c64(0))
    einval = b.icmp_unsigned("!=", b.and_(flags, _c64(~BPF_EXIST)), _c64(0))
    e2big = b.and_(full, b.not_(exist))
    fail, go = gen.new_block("push_errno"), gen.new_block("push_store")
    b.cbranch(b.or_(einval, e2big), fail, go)
    fb = ir.IRBuilder(fail)
    fb.store(fb.select(einval, _c64(-22), _c64(-7)), gen.R[0])
    fb.branch(done)
    gb = ir.IRBuilder(go)
    head = gb.select(full, gb.urem(gb.add(head, _c64(1)), entries), head)   # drop the oldest
    count = gb.select(full, gb.sub(count, _c64(1)), count)
    slot = gb.urem(gb.add(head, count), entries)
    gen.copy(gb, gb.add(data, gb.mul(slot, value_size)), src, value_size)
    gb.store(head, head_p)
    gb.store(gb.add(count, _c64(1)), count_p)
    gb.store(_c64(0), gen.R[0])
    gb.branch(done)
    gen.b = ir.IRBuilder(slow)


def emit_pop(gen: "_Gen", done: ir.Block, delete: bool) -> None:
    """bpf_map_pop_elem / bpf_map_peek_elem(map, value) on queue/stack maps; others -> Python."""
    slow = gen.new_block("pop_python")
    kind, entries, value_size, ring, data = _ring_row(gen, slow)
    b = gen.b
    head_p, count_p = b.gep(ring, [_c64(HEAD)]), b.gep(ring, [_c64(COUNT)])
    head, count = b.load(head_p), b.load(count_p)
    empty, take = gen.new_block("pop_enoent"), gen.new_block("pop_take")
    b.cbranch(b.icmp_unsigned("==", count, _c64(0)), empty, take)
    eb = ir.IRBuilder(empty)
    eb.store(_c64(-2), gen.R[0])                                   # -ENOENT
    eb.branch(done)
    tb = gen.b = ir.IRBuilder(take)
    is_stack = tb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_STACK))
    slot = tb.select(is_stack, tb.urem(tb.add(head, tb.sub(count, _c64(1))), entries), head)
    if delete:                                                      # removed before the write
        tb.store(tb.select(is_stack, head, tb.urem(tb.add(head, _c64(1)), entries)), head_p)
        tb.store(tb.sub(count, _c64(1)), count_p)
    dst = gen.address_dynamic(gen.reg(2), value_size, write=True)
    b = gen.b
    gen.copy(b, dst, b.add(data, b.mul(slot, value_size)), value_size)
    b.store(_c64(0), gen.R[0])
    b.branch(done)
    gen.b = ir.IRBuilder(slow)


def emit_pop_elem(gen: "_Gen", done: ir.Block) -> None:
    emit_pop(gen, done, True)


def emit_peek_elem(gen: "_Gen", done: ir.Block) -> None:
    emit_pop(gen, done, False)


__all__ = ["NativeRing", "emit_peek_elem", "emit_pop_elem", "emit_push", "fits", "install",
           "map_row"]
