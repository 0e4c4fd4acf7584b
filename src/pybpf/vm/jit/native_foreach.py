"""Native ``bpf_for_each_map_elem`` over (per-CPU) arrays and hash maps (IR emitter, key regions,
hash snapshots).

The interpreter's helper (helpers.for_each_map_elem) is the semantics: flags != 0 -> -EINVAL; each
element (arrays: index order; hash maps: a snapshot of HashMap.slots order, skipping elements
deleted meanwhile) gets callback(map, &key, &value, ctx) with the key in a read-only VM region;
r0 = callbacks made; the callback returning 1 stops. Native code does the same with a
preallocated read-only key region per callback depth (readable, key_size bytes, only while its
loop runs, like the helper's temporary region), calling the callback as a native call of the
program's own function (as native bpf_loop does). A hash map's snapshot comes from one Python
call (PSEUDO_FOREACH_SNAPSHOT); "still there" is the native key index's answer. Foreign
callbacks, keys over KEY_MAX bytes and depth overflow go to the Python helper.
"""
from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING, Any

from llvmlite import ir

from ..memory import Region
from . import layout as L
from .irtypes import I1, I32, I64, P64, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen

KEY_SIZE = 4                     # array keys
_U64 = struct.Struct("<Q")
KEY_MAX = 512                    # key regions' size: hash maps with longer keys go to Python


class ForEachKeys:
    """The per-depth key regions (VM address, host address) published at rt[RT_FOREACH_KEYS].

    Regions are created on first need (a program calling the helper is loaded), mapped with
    hi = 0 (unreadable); native code sets their row's hi to the key size while its loop runs and
    counts the open ones in words[FOREACH_OPEN], so the Python regions can follow (:meth:`pull`).
    Also keeps each depth's hash snapshot alive while native code walks it."""

    def __init__(self) -> None:
        self.words = (ctypes.c_uint64 * L.FOREACH_WORDS)()
        self.regions: list[Region | None] = [None] * L.FOREACH_DEPTHS
        self.snapshots: list[Any] = [None] * L.FOREACH_DEPTHS
        self._pulled_open = False

    @property
    def address(self) -> int:
        return ctypes.addressof(self.words)

    def allocate(self, mem: Any) -> None:
        """Map a closed key region for every callback depth (1 .. FOREACH_DEPTHS - 1), once."""
        if self.regions[1] is not None:
            return
        for depth in range(1, L.FOREACH_DEPTHS):
            region = mem.map(Region(f"for_each key[{depth}]", bytearray(KEY_MAX), False, "helper",
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


def _python_snapshot(gen: "_Gen", b: ir.IRBuilder, handle: ir.Value) -> tuple[ir.IRBuilder, ir.Value]:
    """Ask Python (PSEUDO_FOREACH_SNAPSHOT, r1 = map) for the hash map's iteration snapshot; a
    failed call leaves with its status. Returns (builder after the call, snapshot host address)."""
    gen.rt_store(b, L.RT_ARGS + 1, handle)
    gen.rt_store(b, L.RT_PC, _c64(gen.pc))
    cb = b.inttoptr(gen.rt_load(b, L.RT_HELPER), ir.FunctionType(I64, [I64]).as_pointer())
    status = b.call(cb, [_c64(L.PSEUDO_FOREACH_SNAPSHOT)])
    ok, bad = gen.new_block("snapshot_ok"), gen.new_block("snapshot_failed")
    b.cbranch(b.icmp_unsigned("==", status, _c64(0)), ok, bad)
    gen._leave(ir.IRBuilder(bad), status, None)
    ob = ir.IRBuilder(ok)
    return ob, gen.rt_load(ob, L.RT_ARGS)


def emit_for_each(gen: "_Gen", done: ir.Block) -> None:
    """bpf_for_each_map_elem(map, callback, ctx, flags): flags -> -EINVAL; (per-CPU) arrays and
    hash maps with a callback of this program iterate natively (hash maps over a snapshot of
    their order taken by one Python call); everything else continues to the Python helper in
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
    # the map: a (per-CPU) array or an indexed hash map row
    row_word = gen.map_row(ir.IRBuilder(check), handle, probe, slow)
    pb = ir.IRBuilder(probe)
    word = lambda i: row_word(pb, i)                                    # noqa: E731
    kind_word, entries, stride, base = word(0), word(1), word(2), word(3)
    kind = pb.and_(kind_word, _c64(0xFF))
    is_array = pb.or_(pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_ARRAY)),
                      pb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_ARRAY)))
    is_hash = pb.and_(pb.icmp_unsigned(">=", kind, _c64(L.MAP_KIND_HASH)),
                      pb.icmp_unsigned("<=", kind, _c64(L.MAP_KIND_LRU_PERCPU_HASH)))
    key_size = pb.select(is_hash, word(4), _c64(KEY_SIZE))
    mask, index, keys_host = word(5), word(6), word(7)
    # the callback: an entry of this program; the depth: a frame and a key region for it
    offset = pb.sub(callback, gen.rt_load(pb, L.RT_CODE_BASE))
    pc = pb.lshr(offset, _c64(3))
    is_entry = ir.Constant(I1, 0)
    for e in sorted(gen.entries):
        is_entry = pb.or_(is_entry, pb.icmp_unsigned("==", pc, _c64(e)))
    is_entry = pb.and_(is_entry, pb.icmp_unsigned("==", pb.and_(offset, _c64(7)), _c64(0)))
    depth = pb.add(gen.rt_load(pb, L.RT_DEPTH), _c64(1))
    keys_addr = gen.rt_load(pb, L.RT_FOREACH_KEYS)
    kinds_ok = pb.or_(is_array, pb.and_(is_hash, pb.icmp_unsigned("<=", key_size, _c64(KEY_MAX))))
    usable = pb.and_(pb.and_(kinds_ok, is_entry),
                     pb.and_(pb.icmp_unsigned("<", depth, _c64(L.FOREACH_DEPTHS)),
                             pb.icmp_unsigned("!=", keys_addr, _c64(0))))
    keys_blk = gen.new_block("foreach_keys")
    pb.cbranch(usable, keys_blk, slow)
    kb = ir.IRBuilder(keys_blk)
    keys = kb.inttoptr(keys_addr, P64)
    key_vm = kb.load(kb.gep(keys, [kb.mul(depth, _c64(2))]))
    key_host = kb.load(kb.gep(keys, [kb.add(kb.mul(depth, _c64(2)), _c64(1))]))
    kb.cbranch(kb.icmp_unsigned("!=", key_vm, _c64(0)), native, slow)
    # hash maps: the snapshot (u64 count, then per element u64 slot + key padded to 8 bytes)
    nb = ir.IRBuilder(native)
    snap_blk, start = gen.new_block("foreach_snapshot"), gen.new_block("foreach_start")
    nb.cbranch(is_hash, snap_blk, start)
    sb, snap = _python_snapshot(gen, ir.IRBuilder(snap_blk), handle)
    snap_count = sb.load(sb.inttoptr(snap, P64))
    snap_end = sb.block
    sb.branch(start)
    st = ir.IRBuilder(start)
    n = st.phi(I64)
    n.add_incoming(entries, native)
    n.add_incoming(snap_count, snap_end)
    snapshot = st.phi(I64)
    snapshot.add_incoming(_c64(0), native)
    snapshot.add_incoming(snap, snap_end)
    entry_bytes = st.add(_c64(8), st.and_(st.add(key_size, _c64(7)), _c64(~7)))
    # open the key region (row hi = key size), iterate, close it
    key_hi = st.add(st.mul(st.lshr(key_vm, _c64(32)), _c64(L.ROW_WORDS)), _c64(2))
    hi_ptr = lambda bb: bb.gep(bb.inttoptr(gen.rt_load(bb, L.RT_TABLE), P64), [key_hi])  # noqa: E731
    open_ptr = st.gep(keys, [_c64(L.FOREACH_OPEN)])
    st.store(key_size, hi_ptr(st))                 # (the table may move during callbacks: reload)
    st.store(st.add(st.load(open_ptr), _c64(1)), open_ptr)
    element_bytes = st.mul(st.lshr(kind_word, _c64(8)), stride)   # cpus * stride
    percpu = st.or_(st.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_ARRAY)),
                    st.or_(st.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_HASH)),
                           st.icmp_unsigned("==", kind, _c64(L.MAP_KIND_LRU_PERCPU_HASH))))
    cpu_bytes = st.select(percpu, st.mul(gen.rt_load(st, L.RT_CPU), stride), _c64(0))
    head, hash_elem, array_elem, call, more, failed, stop_blk, close = (
        gen.new_block(x) for x in ("foreach_head", "foreach_hash", "foreach_array",
                                   "foreach_call", "foreach_more", "foreach_failed",
                                   "foreach_stop", "foreach_close"))
    st.branch(head)
    hb = ir.IRBuilder(head)
    i = hb.phi(I64)                                # element index (array) / snapshot position
    count = hb.phi(I64)                            # callbacks made
    i.add_incoming(_c64(0), start)
    count.add_incoming(_c64(0), start)
    nxt = hb.add(i, _c64(1))
    more_elems = hb.icmp_unsigned("<", i, n)
    body = gen.new_block("foreach_body")
    hb.cbranch(more_elems, body, close)
    ib = ir.IRBuilder(body)
    ib.cbranch(is_hash, hash_elem, array_elem)
    ab = ir.IRBuilder(array_elem)                  # arrays: key = index
    ab.store(ab.trunc(i, I32), ab.inttoptr(key_host, I32.as_pointer()))
    ab.branch(call)
    xb = ir.IRBuilder(hash_elem)                   # hash maps: skip elements no longer there
    at = xb.add(snapshot, xb.add(_c64(8), xb.mul(i, entry_bytes)))
    elem_slot = xb.load(xb.inttoptr(at, P64))
    key_at = xb.add(at, _c64(8))
    found = xb.call(gen.hash_find_fn(), [key_at, key_size, mask, index, keys_host])
    live, dead = gen.new_block("foreach_live"), gen.new_block("foreach_dead")
    xb.cbranch(xb.icmp_unsigned("==", found, xb.add(elem_slot, _c64(1))), live, dead)
    lb = ir.IRBuilder(live)
    gen.copy(lb, key_host, key_at, key_size)
    lb.branch(call)
    db = ir.IRBuilder(dead)
    db.branch(head)
    i.add_incoming(nxt, dead)
    count.add_incoming(count, dead)
    bb = ir.IRBuilder(call)
    value_slot = bb.phi(I64)
    value_slot.add_incoming(i, array_elem)
    value_slot.add_incoming(elem_slot, live)
    value = bb.add(bb.add(base, bb.mul(value_slot, element_bytes)), cpu_bytes)   # this CPU's copy
    # a failed callback leaves with the key row still open: run() closes it
    gen.call_callback(bb, pc, depth, [handle, key_vm, value, ctx], more, failed)
    regs = gen.cb_regs
    mb = ir.IRBuilder(more)
    counted = mb.add(count, _c64(1))
    i.add_incoming(nxt, more)
    count.add_incoming(counted, more)
    stop = mb.icmp_unsigned("==", mb.load(mb.gep(regs, [_c64(0)])), _c64(1))
    mb.cbranch(stop, stop_blk, head)
    ir.IRBuilder(stop_blk).branch(close)
    cl = ir.IRBuilder(close)
    visited = cl.phi(I64)
    visited.add_incoming(count, head)
    visited.add_incoming(counted, stop_blk)
    cl.store(_c64(0), hi_ptr(cl))
    cl.store(cl.sub(cl.load(open_ptr), _c64(1)), open_ptr)
    cl.store(visited, gen.R[0])
    cl.branch(done)
    gen.b = ir.IRBuilder(slow)


def snapshot_words(vm_map: Any) -> Any:
    """The hash map's iteration snapshot for native for_each (native inserts and LRU hits
    replayed first, as the map does before entries_for_iteration): u64 count, then per element
    in HashMap.slots order u64 slot and the key padded to 8 bytes."""
    index = getattr(vm_map, "_jit_index", None)
    if index is not None:
        index.replay()
    items = list(vm_map.slots.items())
    pad = bytes(-vm_map.key_size % 8)
    data = b"".join([_U64.pack(len(items))] + [_U64.pack(slot) + key + pad for key, slot in items])
    return (ctypes.c_uint64 * (len(data) // 8)).from_buffer_copy(data)


__all__ = ["ForEachKeys", "emit_for_each", "snapshot_words"]
