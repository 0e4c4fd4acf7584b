"""Native ``bpf_for_each_map_elem`` over arrays and per-CPU arrays (IR emitter + its key regions).

The interpreter's helper (helpers.for_each_map_elem) is the semantics: flags != 0 -> -EINVAL; each
element in index order gets callback(map, &key, &value, ctx) with the key in a read-only VM
region; r0 = elements visited; the callback returning 1 stops. Native code does the same with a
preallocated read-only 4-byte key region per callback depth (readable only while its loop runs,
like the helper's temporary region), calling the callback as a native call of the program's own
function (as native bpf_loop does). Hash maps, foreign callbacks and depth overflow go to Python.
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

from llvmlite import ir

from ..memory import Region
from . import layout as L

if TYPE_CHECKING:
    from .codegen import _Gen

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
P64 = I64.as_pointer()
M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
KEY_SIZE = 4                     # array keys; the only maps iterated natively


def _c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v & M64)


class ForEachKeys:
    """The per-depth key regions (VM address, host address) published at rt[RT_FOREACH_KEYS].

    Regions are created on first need (a program calling the helper is loaded), mapped with
    hi = 0 (unreadable); native code sets their row's hi to 4 while its loop runs and counts the
    open ones in words[FOREACH_OPEN], so the Python regions can follow (:meth:`pull`)."""

    def __init__(self) -> None:
        self.words = (ctypes.c_uint64 * L.FOREACH_WORDS)()
        self.regions: list[Region | None] = [None] * L.FOREACH_DEPTHS
        self._pulled_open = False

    @property
    def address(self) -> int:
        return ctypes.addressof(self.words)

    def allocate(self, mem: Any) -> None:
        """Map a closed key region for every callback depth (1 .. FOREACH_DEPTHS - 1), once."""
        if self.regions[1] is not None:
            return
        for depth in range(1, L.FOREACH_DEPTHS):
            region = mem.map(Region(f"for_each key[{depth}]", bytearray(KEY_SIZE), False, "helper",
                                    lo=0, hi=0))
            self.regions[depth] = region
            self.words[2 * depth] = region.base
            self.words[2 * depth + 1] = mem.rows[(region.base >> 32) * L.ROW_WORDS]

    def pull(self, mem: Any) -> None:
        """Native rows -> Python regions (hi), so Python helpers called from a native for_each
        callback see the key region readable exactly when native code does."""
        is_open = self.words[L.FOREACH_OPEN] != 0
        if not is_open and not self._pulled_open:
            return
        for region in self.regions:
            if region is not None:
                region.hi = mem.rows[(region.base >> 32) * L.ROW_WORDS + 2]
        self._pulled_open = is_open                 # closed later: the next pull closes them too

    def close_all(self, mem: Any) -> None:
        """Make every key region unreadable again (a run that failed inside a native loop)."""
        if not self.words[L.FOREACH_OPEN] and not self._pulled_open:
            return
        self.words[L.FOREACH_OPEN] = 0
        self._pulled_open = False
        for region in self.regions:
            if region is not None:
                region.hi = 0
                mem.rows[(region.base >> 32) * L.ROW_WORDS + 2] = 0


def emit_for_each(gen: "_Gen", done: ir.Block) -> None:
    """bpf_for_each_map_elem(map, callback, ctx, flags): flags -> -EINVAL; (per-CPU) arrays with a
    callback of this program iterate natively; everything else continues to the Python helper in
    the block left in ``gen.b``."""
    b = gen.b
    handle, callback, ctx, flags = gen.reg(1), gen.reg(2), gen.reg(3), gen.reg(4)
    einval, check, probe, native, slow = (gen.new_block(n) for n in
                                          ("foreach_einval", "foreach_check", "foreach_row",
                                           "foreach_native", "foreach_python"))
    b.cbranch(b.icmp_unsigned("!=", flags, _c64(0)), einval, check)
    eb = ir.IRBuilder(einval)
    eb.store(_c64(-22), gen.R[0])                                  # -EINVAL, before the map check
    eb.branch(done)
    # the map: a (per-CPU) array row
    cb = ir.IRBuilder(check)
    slot = cb.lshr(handle, _c64(32))
    ok = cb.and_(cb.icmp_unsigned("<", slot, gen.rt_load(cb, L.RT_TABLE_LEN)),
                 cb.icmp_unsigned("==", cb.and_(handle, _c64(M32)), _c64(0)))
    cb.cbranch(ok, probe, slow)
    pb = ir.IRBuilder(probe)
    rows = pb.inttoptr(gen.rt_load(pb, L.RT_MAP_ROWS), P64)
    row = pb.mul(slot, _c64(L.MAP_ROW_WORDS))
    kind_word = pb.load(pb.gep(rows, [row]))
    entries = pb.load(pb.gep(rows, [pb.add(row, _c64(1))]))
    stride = pb.load(pb.gep(rows, [pb.add(row, _c64(2))]))
    base = pb.load(pb.gep(rows, [pb.add(row, _c64(3))]))
    kind = pb.and_(kind_word, _c64(0xFF))
    is_array = pb.or_(pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_ARRAY)),
                      pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_ARRAY)))
    # the callback: an entry of this program; the depth: a frame and a key region for it
    offset = pb.sub(callback, gen.rt_load(pb, L.RT_CODE_BASE))
    pc = pb.lshr(offset, _c64(3))
    is_entry = ir.Constant(I1, 0)
    for e in sorted(gen.entries):
        is_entry = pb.or_(is_entry, pb.icmp_unsigned("==", pc, _c64(e)))
    is_entry = pb.and_(is_entry, pb.icmp_unsigned("==", pb.and_(offset, _c64(7)), _c64(0)))
    depth = pb.add(gen.rt_load(pb, L.RT_DEPTH), _c64(1))
    keys_addr = gen.rt_load(pb, L.RT_FOREACH_KEYS)
    usable = pb.and_(pb.and_(is_array, is_entry),
                     pb.and_(pb.icmp_unsigned("<", depth, _c64(L.FOREACH_DEPTHS)),
                             pb.icmp_unsigned("!=", keys_addr, _c64(0))))
    keys_blk = gen.new_block("foreach_keys")
    pb.cbranch(usable, keys_blk, slow)
    kb = ir.IRBuilder(keys_blk)
    keys = kb.inttoptr(keys_addr, P64)
    key_vm = kb.load(kb.gep(keys, [kb.mul(depth, _c64(2))]))
    key_host = kb.load(kb.gep(keys, [kb.add(kb.mul(depth, _c64(2)), _c64(1))]))
    kb.cbranch(kb.icmp_unsigned("!=", key_vm, _c64(0)), native, slow)
    # open the key region (row hi = 4), iterate, close it
    nb = ir.IRBuilder(native)
    key_hi = nb.add(nb.mul(nb.lshr(key_vm, _c64(32)), _c64(L.ROW_WORDS)), _c64(2))
    hi_ptr = lambda bb: bb.gep(bb.inttoptr(gen.rt_load(bb, L.RT_TABLE), P64), [key_hi])  # noqa: E731
    open_ptr = nb.gep(keys, [_c64(L.FOREACH_OPEN)])
    nb.store(_c64(KEY_SIZE), hi_ptr(nb))          # (the table may move during callbacks: reload)
    nb.store(nb.add(nb.load(open_ptr), _c64(1)), open_ptr)
    element_bytes = nb.mul(nb.lshr(kind_word, _c64(8)), stride)   # cpus * stride; CPU 0's value
    head, body, more, failed, stop_blk, close = (gen.new_block(n) for n in
                                                 ("foreach_head", "foreach_body", "foreach_more",
                                                  "foreach_failed", "foreach_stop",
                                                  "foreach_close"))
    nb.branch(head)
    hb = ir.IRBuilder(head)
    i = hb.phi(I64)
    i.add_incoming(_c64(0), native)
    hb.cbranch(hb.icmp_unsigned(">=", i, entries), close, body)
    bb = ir.IRBuilder(body)
    bb.store(bb.trunc(i, I32), bb.inttoptr(key_host, I32.as_pointer()))
    regs = gen.cb_regs
    for k in range(11):
        bb.store(_c64(0), bb.gep(regs, [_c64(k)]))
    bb.store(handle, bb.gep(regs, [_c64(1)]))
    bb.store(key_vm, bb.gep(regs, [_c64(2)]))
    bb.store(bb.add(base, bb.mul(i, element_bytes)), bb.gep(regs, [_c64(3)]))
    bb.store(ctx, bb.gep(regs, [_c64(4)]))
    tops = bb.inttoptr(gen.rt_load(bb, L.RT_STACK_TOPS), P64)
    bb.store(bb.load(bb.gep(tops, [depth])), bb.gep(regs, [_c64(10)]))
    gen.rt_store(bb, L.RT_DEPTH, depth)
    status = bb.call(gen.fn, [gen.rt, regs, pc])
    gen.rt_store(bb, L.RT_DEPTH, bb.sub(depth, _c64(1)))
    bb.cbranch(bb.icmp_unsigned("==", status, _c64(0)), more, failed)
    fb = ir.IRBuilder(failed)                     # the key row stays open: run() closes it
    is_tail = fb.icmp_unsigned("==", status, _c64(L.ST_TAIL_CALL))
    gen._leave(fb, fb.select(is_tail, _c64(L.ST_TAIL_IN_SUBPROG), status), None)
    mb = ir.IRBuilder(more)
    nxt = mb.add(i, _c64(1))
    i.add_incoming(nxt, more)
    stop = mb.icmp_unsigned("==", mb.load(mb.gep(regs, [_c64(0)])), _c64(1))
    mb.cbranch(stop, stop_blk, head)
    sb = ir.IRBuilder(stop_blk)
    sb.branch(close)
    cl = ir.IRBuilder(close)
    visited = cl.phi(I64)
    visited.add_incoming(i, head)
    visited.add_incoming(nxt, stop_blk)
    cl.store(_c64(0), hi_ptr(cl))
    cl.store(cl.sub(cl.load(open_ptr), _c64(1)), open_ptr)
    cl.store(visited, gen.R[0])
    cl.branch(done)
    gen.b = ir.IRBuilder(slow)


__all__ = ["ForEachKeys", "emit_for_each"]
