"""Tristate numbers: a 64-bit value where each bit is known 0, known 1 or unknown (value, mask).

Pure arithmetic on Python ints kept within 64 bits; never raises and never looks at registers.
"""
from __future__ import annotations

from typing import NamedTuple

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class Tnum(NamedTuple):
    """Bits set in ``mask`` are unknown; the others equal the bits of ``value``."""
    value: int
    mask: int

    @property
    def is_const(self) -> bool:
        return self.mask == 0

    @property
    def min(self) -> int:
        return self.value

    @property
    def max(self) -> int:
        return self.value | self.mask

    def contains(self, other: "Tnum") -> bool:
        """True when every value ``other`` can hold, ``self`` can hold too."""
        if other.mask & ~self.mask:
            return False
        return self.value == other.value & ~self.mask

    def __str__(self) -> str:
        return f"({self.value:#x}; {self.mask:#x})"


UNKNOWN = Tnum(0, U64)


def const(value: int) -> Tnum:
    return Tnum(value & U64, 0)


def from_range(lo: int, hi: int) -> Tnum:
    """The smallest tnum holding every unsigned value in [lo, hi]."""
    lo &= U64
    hi &= U64
    if lo > hi:
        return UNKNOWN
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return Tnum(lo & ~delta & U64, delta)


def add(a: Tnum, b: Tnum) -> Tnum:
    sm = a.mask + b.mask
    sv = a.value + b.value
    sigma = sm + sv
    chi = sigma ^ sv
    mu = (chi | a.mask | b.mask) & U64
    return Tnum(sv & ~mu & U64, mu)


def sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & U64
    alpha = (dv + a.mask) & U64
    beta = (dv - b.mask) & U64
    chi = alpha ^ beta
    mu = (chi | a.mask | b.mask) & U64
    return Tnum(dv & ~mu & U64, mu)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    v = a.value & b.value
    return Tnum(v, alpha & beta & ~v & U64)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask | b.mask
    return Tnum(v, mu & ~v & U64)


def xor(a: Tnum, b: Tnum) -> Tnum:
    v = a.value ^ b.value
    mu = a.mask | b.mask
    return Tnum(v & ~mu & U64, mu)


def lshift(a: Tnum, k: int) -> Tnum:
    return Tnum((a.value << k) & U64, (a.mask << k) & U64)


def rshift(a: Tnum, k: int) -> Tnum:
    return Tnum(a.value >> k, a.mask >> k)


def _sext(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def arshift(a: Tnum, k: int, bits: int = 64) -> Tnum:
    full = (1 << bits) - 1
    return Tnum((_sext(a.value, bits) >> k) & full, (_sext(a.mask, bits) >> k) & full)


def mul(a: Tnum, b: Tnum) -> Tnum:
    acc_v = (a.value * b.value) & U64
    acc_m = Tnum(0, 0)
    while a.value or a.mask:
        if a.value & 1:
            acc_m = add(acc_m, Tnum(0, b.mask))
        elif a.mask & 1:
            acc_m = add(acc_m, Tnum(0, b.value | b.mask))
        a = rshift(a, 1)
        b = lshift(b, 1)
    return add(Tnum(acc_v, 0), acc_m)


def intersect(a: Tnum, b: Tnum) -> Tnum | None:
    """The values both may hold, or None when they disagree on a known bit."""
    if (a.value ^ b.value) & ~(a.mask | b.mask) & U64:
        return None
    v = a.value | b.value
    mu = a.mask & b.mask
    return Tnum(v & ~mu & U64, mu)


def union(a: Tnum, b: Tnum) -> Tnum:
    mu = a.mask | b.mask | (a.value ^ b.value)
    return Tnum(a.value & ~mu & U64, mu & U64)


def subreg(a: Tnum) -> Tnum:
    """The low 32 bits, zero-extended."""
    return Tnum(a.value & U32, a.mask & U32)
