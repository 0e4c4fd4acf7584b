"""Native ``bpf_map_lookup_elem`` as ONE shared function per module (IR emitter).

Every call site used to carry its own copy of the array/hash lookup (about 1.5 KB of machine code
each); a program with ten lookups then walked through ten copies, and single runs paid for them
in instruction-cache misses. The shared ``map_lookup`` does what the inline code did: arrays and
per-CPU arrays by index, hash maps through the mirrored key index (LRU hits logged), and LPM
tries through the mirrored prefix index (native_lpm), with the interpreter's read of the key
(raw bytes, bounds-checked). It never calls Python: anything it does not handle returns
LOOKUP_SLOW and the call site goes on to the Python helper.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from . import layout as L
from .irtypes import HASH_ABSENT, I32, I64, LIKELY, M32, P64, c64 as _c64
from .native_lpm import lpm_find_fn

if TYPE_CHECKING:
    from .codegen import _Gen

LOOKUP_DONE, LOOKUP_SLOW, LOOKUP_FAULT = 0, 1, 2


def lookup_fn(gen: "_Gen") -> ir.Function:
    """``u64 map_lookup(u64 *rt, u64 handle, u64 key, u64 *out)``: LOOKUP_DONE with the value
    address (or 0) in ``*out``; LOOKUP_SLOW; LOOKUP_FAULT with RT_FAULT_ADDR/INFO set."""
    module = gen.module
    existing = module.globals.get("map_lookup")
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(I64, [P64, I64, I64, P64]), name="map_lookup")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    rt, handle, key, out = fn.args
    blocks = {n: fn.append_basic_block(n) for n in (
        "entry", "probe", "array", "array_key", "hashed", "hash_key", "lpm", "lpm_key", "slow",
        "fault")}
    b = ir.IRBuilder(blocks["entry"])
    rt_word = lambda bb, i: bb.load(bb.gep(rt, [_c64(i)]))          # noqa: E731
    slot = b.lshr(handle, _c64(32))
    ok = b.and_(b.icmp_unsigned("<", slot, rt_word(b, L.RT_TABLE_LEN)),
                b.icmp_unsigned("==", b.and_(handle, _c64(M32)), _c64(0)))
    b.cbranch(ok, blocks["probe"], blocks["slow"])
    pb = ir.IRBuilder(blocks["probe"])
    rows = pb.inttoptr(rt_word(pb, L.RT_MAP_ROWS), P64)
    row = pb.mul(slot, _c64(L.MAP_ROW_WORDS))
    word = lambda bb, i: bb.load(bb.gep(rows, [bb.add(row, _c64(i))]))   # noqa: E731
    kind_word = word(pb, 0)
    kind = pb.and_(kind_word, _c64(0xFF))
    sw = pb.switch(kind, blocks["slow"])
    for k in (L.MAP_KIND_ARRAY, L.MAP_KIND_PERCPU_ARRAY):
        sw.add_case(_c64(k), blocks["array"])
    for k in (L.MAP_KIND_HASH, L.MAP_KIND_PERCPU_HASH, L.MAP_KIND_LRU_HASH,
              L.MAP_KIND_LRU_PERCPU_HASH):
        sw.add_case(_c64(k), blocks["hashed"])
    sw.add_case(_c64(L.MAP_KIND_LPM_TRIE), blocks["lpm"])
    fault = ir.IRBuilder(blocks["fault"])
    fault_size = fault.phi(I64)
    fault.store(key, fault.gep(rt, [_c64(L.RT_FAULT_ADDR)]))
    fault.store(fault_size, fault.gep(rt, [_c64(L.RT_FAULT_INFO)]))
    fault.ret(_c64(LOOKUP_FAULT))
    ir.IRBuilder(blocks["slow"]).ret(_c64(LOOKUP_SLOW))

    def readable(bb: ir.IRBuilder, size: ir.Value, next_block: ir.Block) -> ir.Value:
        """Host address of ``size`` readable bytes at ``key`` (else the fault block)."""
        key_slot = bb.lshr(key, _c64(32))
        offset = bb.and_(key, _c64(M32))
        in_table = fn.append_basic_block("key_row")
        bb.cbranch(bb.icmp_unsigned("<", key_slot, rt_word(bb, L.RT_TABLE_LEN)), in_table,
                   blocks["fault"])
        fault_size.add_incoming(size, bb.block)
        rb = ir.IRBuilder(in_table)
        table = rb.inttoptr(rt_word(rb, L.RT_TABLE), P64)
        at = rb.mul(key_slot, _c64(L.ROW_WORDS))
        host = rb.load(rb.gep(table, [at]))
        lo = rb.load(rb.gep(table, [rb.add(at, _c64(1))]))
        hi = rb.load(rb.gep(table, [rb.add(at, _c64(2))]))
        bad = rb.or_(rb.icmp_unsigned("<", offset, lo),
                     rb.icmp_unsigned(">", rb.add(offset, size), hi))
        address = rb.add(host, offset)
        rb.cbranch(bad, blocks["fault"], next_block)
        fault_size.add_incoming(size, rb.block)
        return address

    cpus = lambda bb: bb.lshr(kind_word, _c64(8))                   # noqa: E731
    # arrays: index < max_entries -> base + element * stride
    ab = ir.IRBuilder(blocks["array"])
    key_host = readable(ab, _c64(4), blocks["array_key"])
    kb = ir.IRBuilder(blocks["array_key"])
    index = kb.zext(kb.load(kb.inttoptr(key_host, I32.as_pointer()), align=1), I64)
    percpu = kb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_ARRAY))
    element = kb.select(percpu, kb.add(kb.mul(index, cpus(kb)), rt_word(kb, L.RT_CPU)), index)
    value = kb.add(word(kb, 3), kb.mul(element, word(kb, 2)))
    kb.store(kb.select(kb.icmp_unsigned("<", index, word(kb, 1)), value, _c64(0)), out)
    kb.ret(_c64(LOOKUP_DONE))
    # hash maps: the key index gives slot + 1 (0 or HASH_ABSENT | position: absent)
    hb = ir.IRBuilder(blocks["hashed"])
    key_host = readable(hb, word(hb, 4), blocks["hash_key"])
    fb = ir.IRBuilder(blocks["hash_key"])
    value, vb = hash_value(gen, fb, lambda bb, i: word(bb, i), kind, kind_word, key_host,
                           rt_word(fb, L.RT_CPU), blocks["slow"])
    vb.store(value, out)
    vb.ret(_c64(LOOKUP_DONE))
    # LPM tries: the longest matching prefix through the mirrored prefix index (slot + 1 or 0)
    tb = ir.IRBuilder(blocks["lpm"])
    key_size = word(tb, 4)
    key_host = readable(tb, key_size, blocks["lpm_key"])
    fb = ir.IRBuilder(blocks["lpm_key"])
    found = fb.call(lpm_find_fn(module), [key_host, key_size, word(fb, 5), word(fb, 6),
                                          word(fb, 7), word(fb, 8)])
    value = fb.add(word(fb, 3), fb.mul(fb.sub(found, _c64(1)), word(fb, 2)))
    fb.store(fb.select(fb.icmp_unsigned("==", found, _c64(0)), _c64(0), value), out)
    fb.ret(_c64(LOOKUP_DONE))
    return fn


def hash_value(gen: "_Gen", b: ir.IRBuilder, word, kind: ir.Value | int, kind_word: ir.Value,
               key_host: ir.Value, cpu: ir.Value, slow: ir.Block
               ) -> tuple[ir.Value, ir.IRBuilder]:
    """Value address (or 0) for the key at host ``key_host`` in the hash map of row ``word``
    (``word(builder, i)`` loads row word i; ``kind`` its MAP_KIND_*, a constant when the call site
    knows it): the key index's answer, an LRU hit appended to the touch log (a full log goes to
    ``slow``), per-CPU maps indexed by ``cpu``. Returns the value and the builder where it is
    known (``b``'s function: map_lookup's or the program's)."""
    known = isinstance(kind, int)
    found = b.call(gen.hash_find_fn(), [key_host, word(b, 4), word(b, 5), word(b, 6),
                                        word(b, 7)])
    found = b.select(b.icmp_unsigned(">=", found, _c64(HASH_ABSENT)), _c64(0), found)
    hit = b.icmp_unsigned("!=", found, _c64(0))
    done = b.append_basic_block("hash_value") if not known else None
    if known and kind in (L.MAP_KIND_LRU_HASH, L.MAP_KIND_LRU_PERCPU_HASH) or not known:
        log_block = b.append_basic_block("lru_log")
        append = b.append_basic_block("lru_append")
        after = b.append_basic_block("lru_done") if known else done
        is_lru = hit if known else b.and_(
            b.icmp_unsigned(">=", kind, _c64(L.MAP_KIND_LRU_HASH)), hit)
        b.cbranch(is_lru, log_block, after)
        lb = ir.IRBuilder(log_block)                 # LRU hits are logged; a full log: Python
        log = lb.inttoptr(word(lb, 8), I32.as_pointer())
        count = lb.load(log)
        lb.cbranch(lb.icmp_unsigned("<", count, lb.load(lb.gep(log, [_c64(1)]))), append, slow)
        ab = ir.IRBuilder(append)
        ab.store(ab.trunc(ab.sub(found, _c64(1)), I32),
                 ab.gep(log, [ab.add(ab.zext(count, I64), _c64(2))]))
        ab.store(ab.add(count, ir.Constant(I32, 1)), log)
        ab.branch(after)
        b = ir.IRBuilder(after)
    if known:
        percpu = ir.Constant(ir.IntType(1), int(kind in (L.MAP_KIND_PERCPU_HASH,
                                                         L.MAP_KIND_LRU_PERCPU_HASH)))
    else:
        percpu = b.or_(b.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_HASH)),
                       b.icmp_unsigned("==", kind, _c64(L.MAP_KIND_LRU_PERCPU_HASH)))
    slot1 = b.sub(found, _c64(1))
    element = b.select(percpu, b.add(b.mul(slot1, b.lshr(kind_word, _c64(8))), cpu), slot1)
    value = b.add(word(b, 3), b.mul(element, word(b, 2)))
    return b.select(hit, value, _c64(0)), b


def emit_lookup(gen: "_Gen", done: ir.Block) -> None:
    """Call site: r0 from map_lookup, a fault leaves with ST_FAULT at this pc, LOOKUP_SLOW goes
    on in ``gen.b`` (the Python helper call the caller emits next)."""
    b = gen.b
    status = b.call(lookup_fn(gen), [gen.rt, gen.reg(1), gen.reg(2), gen.tmp])
    ok, other, fault, slow = (gen.new_block(n) for n in ("lookup_ok", "lookup_other",
                                                          "lookup_fault", "python_lookup"))
    b.cbranch(b.icmp_unsigned("==", status, _c64(LOOKUP_DONE)), ok,
              other).set_weights([LIKELY, 1])
    okb = ir.IRBuilder(ok)
    okb.store(okb.load(gen.tmp), gen.R[0])
    okb.branch(done)
    ob = ir.IRBuilder(other)
    ob.cbranch(ob.icmp_unsigned("==", status, _c64(LOOKUP_FAULT)), fault, slow)
    gen._leave(ir.IRBuilder(fault), L.ST_FAULT, gen.pc)
    gen.b = ir.IRBuilder(slow)


def _proven_call_site(gen: "_Gen", kind: int, name: str, key_size: int):  # noqa: ANN202
    """Shared start of the inline lookups: the row of the map in r1 (``word(builder, i)``), its
    kind word, a branch to the generic path unless the row is of ``kind``, and the host address
    of the key in r2 (proven inside its region: no checks). Leaves ``gen.b`` on the fast path;
    returns (word, kind_word, key_host, generic block)."""
    b = gen.b
    rows = b.inttoptr(gen.rt_load(b, L.RT_MAP_ROWS), P64)
    row = b.mul(b.lshr(gen.reg(1), _c64(32)), _c64(L.MAP_ROW_WORDS))

    def word(bb: ir.IRBuilder, i: int) -> ir.Value:
        value = bb.load(bb.gep(rows, [bb.add(row, _c64(i))]))
        value.set_metadata("tbaa", gen.tbaa("table"))
        return value

    kind_word = word(b, 0)
    inline, generic = gen.new_block(name), gen.new_block("lookup_generic")
    b.cbranch(b.icmp_unsigned("==", b.and_(kind_word, _c64(0xFF)), _c64(kind)), inline,
              generic).set_weights([LIKELY, 1])
    gen.b = ib = ir.IRBuilder(inline)
    key = gen.reg(2)
    key_host = gen.proven_address(key, ib.lshr(key, _c64(32)), ib.and_(key, _c64(M32)),
                                  key_size, False)
    return word, kind_word, key_host, generic


def emit_hash_lookup(gen: "_Gen", done: ir.Block, kind: int) -> None:
    """Call site the verifier proved always looks up one kind of hash map (``kind``: layout
    MAP_KIND_HASH / _PERCPU_HASH / _LRU_HASH / _LRU_PERCPU_HASH) with a key inside a region: the
    key index is searched from here, without map_lookup's dispatch and key checks. A row of
    another kind, or a full LRU touch log, goes on to emit_lookup (and Python when needed)."""
    word, kind_word, key_host, generic = _proven_call_site(gen, kind, "hash_lookup", 1)
    value, vb = hash_value(gen, gen.b, word, kind, kind_word, key_host,
                           gen.rt_load(gen.b, L.RT_CPU), generic)
    vb.store(value, gen.R[0])
    vb.branch(done)
    gen.b = ir.IRBuilder(generic)
    emit_lookup(gen, done)


def emit_array_lookup(gen: "_Gen", done: ir.Block, kind: int) -> None:
    """Call site the verifier proved always looks up one kind of array map (``kind``: layout
    MAP_KIND_ARRAY or _PERCPU_ARRAY) with a key inside a region: the index is read and the value
    address computed inline, as the kernel's verifier inlines array lookups. A map row of any
    other kind (the helper replaced, a map the JIT does not serve natively) goes on to
    emit_lookup, so the proof only chooses the fast path; it never decides the result."""
    word, kind_word, key_host, generic = _proven_call_site(gen, kind, "array_lookup", 4)
    ib = gen.b
    index_value = ib.load(ib.inttoptr(key_host, I32.as_pointer()), align=1)
    index_value.set_metadata("tbaa", gen.tbaa("vm"))
    index = ib.zext(index_value, I64)
    element = index
    if kind == L.MAP_KIND_PERCPU_ARRAY:
        element = ib.add(ib.mul(index, ib.lshr(kind_word, _c64(8))), gen.rt_load(ib, L.RT_CPU))
    value = ib.add(word(ib, 3), ib.mul(element, word(ib, 2)))
    ib.store(ib.select(ib.icmp_unsigned("<", index, word(ib, 1)), value, _c64(0)), gen.R[0])
    ib.branch(done)
    gen.b = ir.IRBuilder(generic)
    emit_lookup(gen, done)


__all__ = ["emit_array_lookup", "emit_hash_lookup", "emit_lookup", "hash_value", "lookup_fn"]
