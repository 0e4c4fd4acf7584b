"""Range/tnum arithmetic is sound: every concrete result lies inside the abstract result.

The independent truth is plain integer arithmetic with 64/32-bit wrap-around (RFC 9669 semantics).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.verifier import bounds as B
from pybpf.verifier import tnum as T

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


def contains(b: B.Bounds, value: int) -> bool:
    u = value & U64
    s = u - (1 << 64) if u >> 63 else u
    lo = u & U32
    s32 = lo - (1 << 32) if lo >> 31 else lo
    return (b.umin <= u <= b.umax and b.smin <= s <= b.smax and b.u32min <= lo <= b.u32max
            and b.s32min <= s32 <= b.s32max and (u & ~b.var.mask & U64) == b.var.value)


@st.composite
def abstract_and_member(draw):
    """A Bounds built from a concrete range, with one member value."""
    kind = draw(st.sampled_from(["u", "s", "const", "tnum"]))
    if kind == "const":
        v = draw(st.integers(0, U64))
        return B.const(v), v
    if kind == "u":
        lo = draw(st.integers(0, U64))
        hi = draw(st.integers(lo, min(U64, lo + draw(st.sampled_from([0, 1, 255, 1 << 20, U64])))))
        v = draw(st.integers(lo, hi))
        return B.unsigned_range(lo, hi), v
    if kind == "s":
        lo = draw(st.integers(B.S64_MIN, B.S64_MAX))
        hi = draw(st.integers(lo, min(B.S64_MAX, lo + draw(st.sampled_from([0, 7, 1 << 16, U64])))))
        v = draw(st.integers(lo, hi))
        return B.signed_range(lo, hi), v & U64
    mask = draw(st.integers(0, U64))
    value = draw(st.integers(0, U64)) & ~mask
    member = value | (draw(st.integers(0, U64)) & mask)
    return B.normalize(B.Bounds(T.Tnum(value, mask), B.S64_MIN, B.S64_MAX, 0, U64)), member


def _shift(v: int) -> int:
    return v & 63


OPS64 = {
    "add": (B.add, lambda a, b: a + b),
    "sub": (B.sub, lambda a, b: a - b),
    "mul": (B.mul, lambda a, b: a * b),
    "and": (B.and_, lambda a, b: a & b),
    "or": (B.or_, lambda a, b: a | b),
    "xor": (B.xor, lambda a, b: a ^ b),
}


@settings(max_examples=150, deadline=None)
@given(abstract_and_member(), abstract_and_member(), st.sampled_from(sorted(OPS64)))
def test_64bit_alu_results_contain_the_concrete_result(a, b, op):
    (ab, av), (bb, bv) = a, b
    abstract, concrete = OPS64[op]
    assert contains(abstract(ab, bb), concrete(av, bv))


@settings(max_examples=120, deadline=None)
@given(abstract_and_member(), st.integers(0, 63), st.sampled_from(["lsh", "rsh", "arsh"]))
def test_shifts_by_constants_contain_the_concrete_result(a, k, op):
    ab, av = a
    s = av - (1 << 64) if av >> 63 else av
    if op == "lsh":
        assert contains(B.lshift(ab, B.const(k)), av << k)
    elif op == "rsh":
        assert contains(B.rshift(ab, B.const(k)), av >> k)
    else:
        assert contains(B.arshift(ab, B.const(k)), s >> k)


@settings(max_examples=120, deadline=None)
@given(abstract_and_member(), abstract_and_member(), st.sampled_from(["add", "sub", "mul"]))
def test_32bit_alu_results_contain_the_zero_extended_result(a, b, op):
    from pybpf.verifier.analyzer import Analyzer
    from pybpf.isa.opcodes import ALUOp
    (ab, av), (bb, bv) = a, b
    code = {"add": ALUOp.ADD, "sub": ALUOp.SUB, "mul": ALUOp.MUL}[op]
    concrete = OPS64[op][1](av & U32, bv & U32) & U32
    assert contains(Analyzer._scalar_alu(code, ab, bb, False, 0), concrete)


@settings(max_examples=150, deadline=None)
@given(abstract_and_member(), abstract_and_member(),
       st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<="]))
def test_branch_refinement_keeps_every_pair_that_satisfies_the_condition(a, b, op):
    (ab, av), (bb, bv) = a, b
    sa = av - (1 << 64) if av >> 63 else av
    sb = bv - (1 << 64) if bv >> 63 else bv
    holds = {"==": av == bv, "!=": av != bv, ">": av > bv, ">=": av >= bv, "<": av < bv,
             "<=": av <= bv, "s>": sa > sb, "s>=": sa >= sb, "s<": sa < sb, "s<=": sa <= sb}[op]
    refined = B.refine(ab, bb, op)
    if holds:
        assert refined is not None
        assert contains(refined[0], av) and contains(refined[1], bv)


@settings(max_examples=120, deadline=None)
@given(abstract_and_member(), abstract_and_member(), st.sampled_from(["<", ">=", "s<", "s>=", "=="]))
def test_jmp32_refinement_keeps_values_whose_low_halves_satisfy_it(a, b, op):
    from pybpf.verifier.analyzer import _refine
    (ab, av), (bb, bv) = a, b
    la, lb = av & U32, bv & U32
    sa = la - (1 << 32) if la >> 31 else la
    sb = lb - (1 << 32) if lb >> 31 else lb
    holds = {"<": la < lb, ">=": la >= lb, "s<": sa < sb, "s>=": sa >= sb, "==": la == lb}[op]
    refined = _refine(ab, bb, op, True)
    if holds:
        assert refined is not None
        assert contains(refined[0], av) and contains(refined[1], bv)


def test_tnum_add_of_known_bits_is_exact():
    assert T.add(T.const(5), T.const(7)) == T.const(12)


def test_tnum_from_range_covers_the_range():
    t = T.from_range(16, 31)
    assert t.value == 16 and t.mask == 15
