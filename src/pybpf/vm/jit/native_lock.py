"""Native ``bpf_spin_lock`` / ``bpf_spin_unlock`` (IR emitters) and the held-lock set they share
with the Python helpers.

The interpreter's helpers are the semantics: lock checks the word is writable, refuses a lock
already in ``machine.held_locks`` (deadlock), adds it and stores 1; unlock refuses a lock not held,
removes it and stores 0. On a JITMachine ``held_locks`` is a :class:`NativeLockSet` whose first
LOCKS_NATIVE members live in a u64 array native code reads and updates, so both engines (and
Python helpers called from native code) see one set. Native code handles the ordinary cases; an
error (deadlock, not held) or a full native array goes to the Python helper, which raises.
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator, MutableSet
from typing import TYPE_CHECKING

from llvmlite import ir

from . import layout as L
from .irtypes import I32, I64, P64, M64, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen


class NativeLockSet(MutableSet[int]):
    """A set of lock addresses stored as ``words[0]`` = n, ``words[1..n]`` = addresses, then a
    Python overflow set. Invariant: the overflow is only used while the array is full, so native
    code (which only acts while the array is not full) always sees the whole set."""

    def __init__(self, items: Iterable[int] = ()) -> None:
        self.words = (ctypes.c_uint64 * (1 + L.LOCKS_NATIVE))()
        self.extra: set[int] = set()
        for item in items:
            self.add(item)

    @property
    def address(self) -> int:
        return ctypes.addressof(self.words)

    def _native(self) -> list[int]:
        return list(self.words[1:1 + self.words[0]])

    def __contains__(self, item: object) -> bool:
        return item in self._native() or item in self.extra

    def __iter__(self) -> Iterator[int]:
        return iter(self._native() + list(self.extra))

    def __len__(self) -> int:
        return self.words[0] + len(self.extra)

    def add(self, item: int) -> None:
        if item in self:
            return
        n = self.words[0]
        if n < L.LOCKS_NATIVE:
            self.words[1 + n] = item & M64
            self.words[0] = n + 1
        else:
            self.extra.add(item)

    def discard(self, item: int) -> None:
        native = self._native()
        if item not in native:
            self.extra.discard(item)
            return
        n = len(native)
        i = native.index(item)
        self.words[1 + i] = native[-1]
        self.words[0] = n - 1
        if self.extra:                            # keep the array full while the overflow is used
            self.words[n] = self.extra.pop()
            self.words[0] = n

    def clear(self) -> None:
        self.words[0] = 0
        self.extra.clear()

    def __repr__(self) -> str:
        return f"NativeLockSet({set(self)!r})"


def _scan(gen: "_Gen", locks: ir.Value, count: ir.Value, addr: ir.Value, found: ir.Block,
          missing: ir.Block) -> ir.Value:
    """Branch to ``found`` (index phi returned) when ``addr`` is among locks[1..count], else to
    ``missing``; builds from gen.b."""
    b = gen.b
    start = b.block
    head, body = gen.new_block("locks_head"), gen.new_block("locks_body")
    b.branch(head)
    hb = ir.IRBuilder(head)
    j = hb.phi(I64)
    j.add_incoming(_c64(0), start)
    hb.cbranch(hb.icmp_unsigned("<", j, count), body, missing)
    bb = ir.IRBuilder(body)
    held = bb.load(bb.gep(locks, [bb.add(j, _c64(1))]))
    j.add_incoming(bb.add(j, _c64(1)), body)
    bb.cbranch(bb.icmp_unsigned("==", held, addr), found, head)
    return j


def _lock_words(gen: "_Gen", slow: ir.Block) -> tuple[ir.Value, ir.Value]:
    """(locks array, count) when native code may use the set (published, not full), else -> slow."""
    b = gen.b
    addr = gen.rt_load(b, L.RT_LOCKS)
    have, ready = gen.new_block("locks_have"), gen.new_block("locks_ready")
    b.cbranch(b.icmp_unsigned("!=", addr, _c64(0)), have, slow)
    hb = ir.IRBuilder(have)
    locks = hb.inttoptr(addr, P64)
    count = hb.load(locks)
    hb.cbranch(hb.icmp_unsigned("<", count, _c64(L.LOCKS_NATIVE)), ready, slow)
    gen.b = ir.IRBuilder(ready)
    return locks, count


def emit_spin_lock(gen: "_Gen", done: ir.Block) -> None:
    """bpf_spin_lock(lock): the word must be writable (fault as the helper's check), then a lock
    not held is recorded and set to 1; held (deadlock) or a full array -> the Python helper."""
    lock = gen.reg(1)
    host, _ = gen.address(1, 0, 4, True)
    slow = gen.new_block("lock_python")
    locks, count = _lock_words(gen, slow)
    take = gen.new_block("lock_take")
    _scan(gen, locks, count, lock, slow, take)
    tb = ir.IRBuilder(take)
    tb.store(lock, tb.gep(locks, [tb.add(count, _c64(1))]))
    tb.store(tb.add(count, _c64(1)), locks)
    tb.store(ir.Constant(I32, 1), tb.inttoptr(host, I32.as_pointer()), align=1)
    tb.store(_c64(0), gen.R[0])
    tb.branch(done)
    gen.b = ir.IRBuilder(slow)


def emit_spin_unlock(gen: "_Gen", done: ir.Block) -> None:
    """bpf_spin_unlock(lock): a held lock is removed, then its word (must be writable, checked
    after the removal as the helper does) set to 0; not held or a full array -> Python."""
    lock = gen.reg(1)
    slow = gen.new_block("unlock_python")
    locks, count = _lock_words(gen, slow)
    found = gen.new_block("unlock_found")
    j = _scan(gen, locks, count, lock, found, slow)
    fb = ir.IRBuilder(found)
    last = fb.load(fb.gep(locks, [count]))
    fb.store(last, fb.gep(locks, [fb.add(j, _c64(1))]))
    fb.store(fb.sub(count, _c64(1)), locks)
    gen.b = fb
    host, _ = gen.address(1, 0, 4, True)
    b = gen.b
    b.store(ir.Constant(I32, 0), b.inttoptr(host, I32.as_pointer()), align=1)
    b.store(_c64(0), gen.R[0])
    b.branch(done)
    gen.b = ir.IRBuilder(slow)


__all__ = ["NativeLockSet", "emit_spin_lock", "emit_spin_unlock"]
