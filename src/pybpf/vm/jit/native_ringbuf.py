"""Native IR for bpf_ringbuf_output / _reserve / _submit / _discard / _query on VM ring buffers.

Runs the same steps as pybpf.vm.ringbuf.RingBufMap on the ring's shared control words (RB_*) and
out-of-band headers: reserve writes a BUSY header and advances the producer position, submit and
discard clear BUSY (discard sets DISCARD), output copies the data and writes a committed header,
a refused reservation counts a drop. A ring is found through the map row of its handle slot
(MAP_KIND_RINGBUF) or of its data region slot (MAP_KIND_RINGBUF_DATA), both set by
JITMachine.register_map. Anything else (flags on reserve, sizes out of range on output, an address
that is not a reserved record, a helper the machine overrides) continues to the Python helper,
which decides (and raises) exactly as for the interpreter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ...isa.uapi import HELPER_IDS
from ..ringbuf import (BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_PROD_POS, BPF_RB_RING_SIZE,
                       RB_CONS, RB_DATA_HOST, RB_DATA_VM, RB_DROPPED, RB_HEADERS, RB_MASK,
                       RB_MAX_RECORD, RB_PROD, RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT,
                       RINGBUF_HDR_SIZE)
from . import layout as L
from .irtypes import I1, I8, I32, I64, P64, M32, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen

EAGAIN = 11

OUTPUT = HELPER_IDS["ringbuf_output"]
RESERVE = HELPER_IDS["ringbuf_reserve"]
SUBMIT = HELPER_IDS["ringbuf_submit"]
DISCARD = HELPER_IDS["ringbuf_discard"]
QUERY = HELPER_IDS["ringbuf_query"]
HELPERS = frozenset({OUTPUT, RESERVE, SUBMIT, DISCARD, QUERY})
NATIVE_BITS = {OUTPUT: L.NATIVE_RB_OUTPUT, RESERVE: L.NATIVE_RB_RESERVE,
               SUBMIT: L.NATIVE_RB_SUBMIT, DISCARD: L.NATIVE_RB_DISCARD,
               QUERY: L.NATIVE_RB_QUERY}


def emit(gen: "_Gen", helper_id: int, done: ir.Block) -> None:
    """Fast path of ``helper_id`` (one of HELPERS) ending in ``done``; gen.b continues in the
    Python fallback block."""
    slow = gen.new_block("python_ringbuf")
    if helper_id in (SUBMIT, DISCARD):
        _commit(gen, helper_id == DISCARD, done, slow)
    elif helper_id == QUERY:
        _query(gen, done, slow)
    else:
        _reserve_or_output(gen, helper_id == OUTPUT, done, slow)
    gen.b = ir.IRBuilder(slow)


def _ring_of(gen: "_Gen", address: ir.Value, kind: int, extra: ir.Value, slow: ir.Block,
             ) -> ir.Value:
    """Control words (u64*) of the ring whose ``kind`` map row is in ``address``'s slot; other
    addresses, or ``extra`` false, branch to ``slow``. Leaves gen.b in the found block."""
    b = gen.b
    slot = b.lshr(address, _c64(32))
    ok = b.and_(extra, b.icmp_unsigned("<", slot, gen.rt_load(b, L.RT_TABLE_LEN)))
    probe, found = gen.new_block("ring_row"), gen.new_block("ring")
    b.cbranch(ok, probe, slow)
    pb = ir.IRBuilder(probe)
    rows = pb.inttoptr(gen.rt_load(pb, L.RT_MAP_ROWS), P64)
    row = pb.mul(slot, _c64(L.MAP_ROW_WORDS))
    kind_word = pb.load(pb.gep(rows, [row]))
    ctl_addr = pb.load(pb.gep(rows, [pb.add(row, _c64(1))]))
    pb.cbranch(pb.icmp_unsigned("==", pb.and_(kind_word, _c64(0xFF)), _c64(kind)), found, slow)
    gen.b = ir.IRBuilder(found)
    return gen.b.inttoptr(ctl_addr, P64)


def _word(b: ir.IRBuilder, ctl: ir.Value, index: int) -> ir.Value:
    return b.gep(ctl, [_c64(index)])


def _enabled(gen: "_Gen", b: ir.IRBuilder, bit: int) -> ir.Value:
    return b.icmp_unsigned("!=", b.and_(gen.rt_load(b, L.RT_NATIVE), _c64(bit)), _c64(0))


def _header(b: ir.IRBuilder, ctl: ir.Value, off: ir.Value) -> ir.Value:
    headers = b.inttoptr(b.load(_word(b, ctl, RB_HEADERS)), I32.as_pointer())
    return b.gep(headers, [b.lshr(off, _c64(3))])


def _reserve_or_output(gen: "_Gen", output: bool, done: ir.Block, slow: ir.Block) -> None:
    """reserve(map, size, flags) / output(map, data, size, flags) with RingBufMap.reserve's
    checks: size in [1, RB_MAX_RECORD] and room for the record, else a counted drop."""
    b = gen.b
    handle = gen.reg(1)
    extra = b.and_(_enabled(gen, b, L.NATIVE_RB_OUTPUT if output else L.NATIVE_RB_RESERVE),
                   b.icmp_unsigned("==", b.and_(handle, _c64(M32)), _c64(0)))
    if not output:                                  # flags: Python returns NULL, no drop counted
        extra = b.and_(extra, b.icmp_unsigned("==", gen.reg(3), _c64(0)))
    ctl = _ring_of(gen, handle, L.MAP_KIND_RINGBUF, extra, slow)
    b = gen.b
    size = gen.reg(3) if output else gen.reg(2)
    bad_size = b.icmp_unsigned(">=", b.sub(size, _c64(1)), b.load(_word(b, ctl, RB_MAX_RECORD)))
    src = None
    if output:                 # Python reads the data first (fault), bad sizes: Python decides
        sized = gen.new_block("rb_output_sized")
        b.cbranch(bad_size, slow, sized)
        gen.b = ir.IRBuilder(sized)
        src = gen.address_dynamic(gen.reg(2), size)
        b = gen.b
        bad_size = ir.Constant(I1, 0)
    total = b.and_(b.add(size, _c64(RINGBUF_HDR_SIZE + 7)), _c64(~7))
    prod = b.load(_word(b, ctl, RB_PROD))
    mask = b.load(_word(b, ctl, RB_MASK))
    used = b.add(b.sub(prod, b.load(_word(b, ctl, RB_CONS))), total)
    full = b.icmp_unsigned(">", used, b.add(mask, _c64(1)))
    drop, take = gen.new_block("rb_drop"), gen.new_block("rb_take")
    b.cbranch(b.or_(bad_size, full), drop, take)
    db = ir.IRBuilder(drop)
    dropped = _word(db, ctl, RB_DROPPED)
    db.store(db.add(db.load(dropped), _c64(1)), dropped)
    db.store(_c64(-EAGAIN if output else 0), gen.R[0])
    db.branch(done)
    tb = ir.IRBuilder(take)
    off = tb.and_(prod, mask)
    data_off = tb.add(off, _c64(RINGBUF_HDR_SIZE))
    header = tb.trunc(size, I32)
    if output:
        dest = tb.add(tb.load(_word(tb, ctl, RB_DATA_HOST)), data_off)
        _memmove(gen, tb, dest, src, size)
        tb.store(_c64(0), gen.R[0])
    else:
        header = tb.or_(header, ir.Constant(I32, RINGBUF_BUSY_BIT))
        tb.store(tb.add(tb.load(_word(tb, ctl, RB_DATA_VM)), data_off), gen.R[0])
    tb.store(header, _header(tb, ctl, off))
    tb.store(tb.add(prod, total), _word(tb, ctl, RB_PROD))
    tb.branch(done)


def _query(gen: "_Gen", done: ir.Block, slow: ir.Block) -> None:
    """query(map, flags): RingBufMap.query's AVAIL_DATA, RING_SIZE, CONS_POS, PROD_POS, else 0."""
    b = gen.b
    handle = gen.reg(1)
    extra = b.and_(_enabled(gen, b, L.NATIVE_RB_QUERY),
                   b.icmp_unsigned("==", b.and_(handle, _c64(M32)), _c64(0)))
    ctl = _ring_of(gen, handle, L.MAP_KIND_RINGBUF, extra, slow)
    b = gen.b
    flags = gen.reg(2)
    prod, cons = b.load(_word(b, ctl, RB_PROD)), b.load(_word(b, ctl, RB_CONS))
    size = b.add(b.load(_word(b, ctl, RB_MASK)), _c64(1))
    value = _c64(0)
    for which, v in ((BPF_RB_AVAIL_DATA, b.sub(prod, cons)), (BPF_RB_RING_SIZE, size),
                     (BPF_RB_CONS_POS, cons), (BPF_RB_PROD_POS, prod)):
        value = b.select(b.icmp_unsigned("==", flags, _c64(which)), v, value)
    b.store(value, gen.R[0])
    b.branch(done)


def _commit(gen: "_Gen", discard: bool, done: ir.Block, slow: ir.Block) -> None:
    """submit/discard(data, flags) of a record still reserved (BUSY): anything else to Python."""
    b = gen.b
    data = gen.reg(1)
    ctl = _ring_of(gen, data, L.MAP_KIND_RINGBUF_DATA,
                   _enabled(gen, b, L.NATIVE_RB_DISCARD if discard else L.NATIVE_RB_SUBMIT), slow)
    b = gen.b
    low = b.and_(data, _c64(M32))
    off = b.sub(low, _c64(RINGBUF_HDR_SIZE))
    good = b.and_(b.icmp_unsigned(">=", low, _c64(RINGBUF_HDR_SIZE)),
                  b.and_(b.icmp_unsigned("<=", off, b.load(_word(b, ctl, RB_MASK))),
                         b.icmp_unsigned("==", b.and_(off, _c64(7)), _c64(0))))
    check, commit = gen.new_block("rb_record"), gen.new_block("rb_commit")
    b.cbranch(good, check, slow)
    cb = ir.IRBuilder(check)
    where = _header(cb, ctl, off)
    header = cb.load(where)
    busy = cb.icmp_unsigned("!=", cb.and_(header, ir.Constant(I32, RINGBUF_BUSY_BIT)),
                            ir.Constant(I32, 0))
    cb.cbranch(busy, commit, slow)
    mb = ir.IRBuilder(commit)
    new = mb.and_(header, ir.Constant(I32, ~RINGBUF_BUSY_BIT & M32))
    if discard:
        new = mb.or_(new, ir.Constant(I32, RINGBUF_DISCARD_BIT))
    mb.store(new, where)
    mb.store(_c64(0), gen.R[0])
    mb.branch(done)


def _memmove(gen: "_Gen", b: ir.IRBuilder, dest: ir.Value, src: ir.Value, size: ir.Value) -> None:
    """memmove between checked host addresses (overlap-safe, like Python's read-then-write)."""
    p8 = I8.as_pointer()
    fn = gen.module.declare_intrinsic("llvm.memmove", [p8, p8, I64])
    b.call(fn, [b.inttoptr(dest, p8), b.inttoptr(src, p8), size, ir.Constant(I1, 0)])


__all__ = ["HELPERS", "NATIVE_BITS", "emit"]
