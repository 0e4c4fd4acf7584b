"""Native ``bpf_csum_diff`` (IR emitter): the interpreter's helpers.csum_diff, Linux >= 6.13.

Sizes (low 32 bits) that are multiples of 4, of any total (Linux >= 6.13 has no 512-byte limit):
``from`` then ``to`` must be readable (a size of 0 reads nothing); the 32-bit partial sums
(helpers.csum_partial: 64-bit one's-complement sum of little-endian words, folded) are combined
as the helper does and folded to 16 bits. Other sizes go to the Python helper.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from .irtypes import I32, I64, M32, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen


def csum_partial_fn(module: ir.Module) -> ir.Function:
    """u64 csum_partial(host, n, seed32): helpers.csum_partial of n (a multiple of 4) bytes."""
    existing = module.globals.get("csum_partial")
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(I64, [I64, I64, I64]), name="csum_partial")
    fn.linkage = "internal"
    host, n, seed = fn.args
    entry, head, body, tail, half, fold = (fn.append_basic_block(x) for x in
                                           ("entry", "head", "body", "tail", "half", "fold"))

    def add_carry(b: ir.IRBuilder, total: ir.Value, word: ir.Value) -> ir.Value:
        s = b.add(total, word)
        return b.add(s, b.zext(b.icmp_unsigned("<", s, total), I64))   # end-around carry

    b = ir.IRBuilder(entry)
    whole = b.and_(n, _c64(~7))
    b.branch(head)
    b = ir.IRBuilder(head)
    i, total = b.phi(I64), b.phi(I64)
    i.add_incoming(_c64(0), entry)
    total.add_incoming(seed, entry)
    b.cbranch(b.icmp_unsigned("<", i, whole), body, tail)
    b = ir.IRBuilder(body)
    word = b.load(b.inttoptr(b.add(host, i), I64.as_pointer()), align=1)
    i.add_incoming(b.add(i, _c64(8)), body)
    total.add_incoming(add_carry(b, total, word), body)
    b.branch(head)
    b = ir.IRBuilder(tail)                      # n % 8 == 4: one zero-padded little-endian word
    b.cbranch(b.icmp_unsigned("!=", b.and_(n, _c64(4)), _c64(0)), half, fold)
    b = ir.IRBuilder(half)
    last = b.zext(b.load(b.inttoptr(b.add(host, whole), I32.as_pointer()), align=1), I64)
    padded = add_carry(b, total, last)
    b.branch(fold)
    b = ir.IRBuilder(fold)
    t = b.phi(I64)
    t.add_incoming(total, tail)
    t.add_incoming(padded, half)
    folded = b.add(b.lshr(t, _c64(32)), b.and_(t, _c64(M32)))
    over = b.icmp_unsigned(">", folded, _c64(M32))
    b.ret(b.select(over, b.add(b.and_(folded, _c64(M32)), _c64(1)), folded))
    return fn


def _readable_or_zero(gen: "_Gen", addr: ir.Value, size: ir.Value) -> ir.Value:
    """Host address of ``size`` readable bytes at ``addr`` (faulting like the helper's read), or 0
    without any check when ``size`` is 0 (the helper reads nothing then)."""
    b = gen.b
    start = b.block
    check, join = gen.new_block("csum_check"), gen.new_block("csum_checked")
    b.cbranch(b.icmp_unsigned("!=", size, _c64(0)), check, join)
    gen.b = ir.IRBuilder(check)
    host = gen.address_dynamic(addr, size)
    checked = gen.b.block
    gen.b.branch(join)
    gen.b = ir.IRBuilder(join)
    phi = gen.b.phi(I64)
    phi.add_incoming(_c64(0), start)
    phi.add_incoming(host, checked)
    return phi


def emit_csum_diff(gen: "_Gen", done: ir.Block) -> None:
    """bpf_csum_diff(from, from_size, to, to_size, seed) in native code, ending in ``done``; sizes
    that are not multiples of 4 continue in ``gen.b`` (the caller's Python helper call)."""
    b = gen.b
    from_, to = gen.reg(1), gen.reg(3)
    fsize, tsize = b.and_(gen.reg(2), _c64(M32)), b.and_(gen.reg(4), _c64(M32))
    seed = b.and_(gen.reg(5), _c64(M32))
    python, ok = gen.new_block("csum_python"), gen.new_block("csum_sizes_ok")
    ragged = b.icmp_unsigned("!=", b.and_(b.or_(fsize, tsize), _c64(3)), _c64(0))
    b.cbranch(ragged, python, ok)                    # sizes not multiples of 4: the Python helper
    gen.b = ir.IRBuilder(ok)
    old = _readable_or_zero(gen, from_, fsize)
    new = _readable_or_zero(gen, to, tsize)
    b = gen.b
    partial = csum_partial_fn(gen.module)
    no_to = b.icmp_unsigned("==", tsize, _c64(0))
    p_new = b.call(partial, [new, tsize, seed])
    p_old = b.call(partial, [old, fsize, b.select(no_to, b.xor(seed, _c64(M32)), _c64(0))])
    inv_old = b.xor(p_old, _c64(M32))
    both = b.add(p_new, inv_old)
    both = b.add(b.and_(both, _c64(M32)), b.lshr(both, _c64(32)))
    total = b.select(b.icmp_unsigned("==", fsize, _c64(0)), p_new, b.select(no_to, inv_old, both))
    for _ in range(2):                                            # from32to16
        total = b.add(b.and_(total, _c64(0xFFFF)), b.lshr(total, _c64(16)))
    gen.set_reg(0, total)
    b.branch(done)
    gen.b = ir.IRBuilder(python)


__all__ = ["csum_partial_fn", "emit_csum_diff"]
