"""Value ranges of a 64-bit register: a tnum plus signed and unsigned 64-bit min/max, kept in sync.

Sound over-approximations of ALU results and of what a conditional branch proves; never mutates its inputs.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from . import tnum as T
from .tnum import U32, U64, Tnum

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1


def to_signed(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def to_unsigned(x: int) -> int:
    return x & U64


class Bounds(NamedTuple):
    """All 64-bit values a scalar (or a pointer's variable offset) may hold."""
    var: Tnum
    smin: int
    smax: int
    umin: int
    umax: int
    u32min: int = 0
    u32max: int = U32
    s32min: int = -(1 << 31)
    s32max: int = (1 << 31) - 1

    @property
    def is_const(self) -> bool:
        return self.var.mask == 0

    @property
    def const(self) -> int:
        """The unsigned value of a known constant."""
        return self.var.value

    @property
    def sconst(self) -> int:
        return to_signed(self.var.value)

    def contains(self, other: "Bounds") -> bool:
        return (self.smin <= other.smin and other.smax <= self.smax and self.umin <= other.umin
                and other.umax <= self.umax and self.u32min <= other.u32min
                and other.u32max <= self.u32max and self.s32min <= other.s32min
                and other.s32max <= self.s32max and self.var.contains(other.var))

    def fits_u32(self) -> bool:
        return self.umax <= U32

    def describe(self) -> str:
        if self.is_const:
            return str(self.sconst)
        parts = []
        if self.smin != S64_MIN:
            parts.append(f"smin={self.smin}")
        if self.smax != S64_MAX:
            parts.append(f"smax={self.smax}")
        if self.umin != 0:
            parts.append(f"umin={self.umin}")
        if self.umax != U64:
            parts.append(f"umax={self.umax}")
        if self.var.mask != U64:
            parts.append(f"var_off={self.var}")
        return "(" + ",".join(parts) + ")" if parts else ""


UNKNOWN = Bounds(T.UNKNOWN, S64_MIN, S64_MAX, 0, U64)


def const(value: int) -> Bounds:
    u = value & U64
    return Bounds(Tnum(u, 0), to_signed(u), to_signed(u), u, u, u & U32, u & U32, _s32(u), _s32(u))


ZERO = const(0)


def unsigned_range(lo: int, hi: int) -> Bounds:
    return normalize(Bounds(T.from_range(lo, hi), S64_MIN, S64_MAX, lo, hi)) or UNKNOWN


def signed_range(lo: int, hi: int) -> Bounds:
    return normalize(Bounds(T.UNKNOWN, lo, hi, 0, U64)) or UNKNOWN


_HIGH = U64 ^ U32
_SIGN64 = 1 << 63


@lru_cache(maxsize=1 << 16)
def normalize(b: Bounds) -> Bounds | None:
    """Tighten each view (tnum, s64, u64, s32, u32) from the others; None when none can hold."""
    var, smin, smax, umin, umax, u32min, u32max, s32min, s32max = b
    v, m = var
    if not m:                                          # a constant: everything is exact
        if not (umin <= v <= umax and u32min <= (v & U32) <= u32max):
            return None
        sv = v - (1 << 64) if v >> 63 else v
        v32 = v & U32
        sv32 = v32 - (1 << 32) if v32 >> 31 else v32
        if not (smin <= sv <= smax and s32min <= sv32 <= s32max):
            return None
        return Bounds(var, sv, sv, v, v, v32, v32, sv32, sv32)
    for _ in range(3):
        before = (var, smin, smax, umin, umax, u32min, u32max, s32min, s32max)
        v, m = var
        if v > umin:
            umin = v
        if v | m < umax:
            umax = v | m
        if not m >> 63:
            lo = to_signed(v | (m & _SIGN64))
            hi = to_signed(v | (m & S64_MAX))
            if lo > smin:
                smin = lo
            if hi < smax:
                smax = hi
        v32, m32 = v & U32, m & U32
        if v32 > u32min:
            u32min = v32
        if v32 | m32 < u32max:
            u32max = v32 | m32
        if not m32 >> 31:
            lo, hi = _s32(v32 | (m32 & 0x80000000)), _s32(v32 | (m32 & 0x7FFFFFFF))
            if lo > s32min:
                s32min = lo
            if hi < s32max:
                s32max = hi
        # 32-bit views from the 64-bit ranges (when they stay within one 2^32 block)
        for lo, hi in ((umin, umax), (smin, smax)):
            if lo >> 32 == hi >> 32:
                l32, h32 = lo & U32, hi & U32
                if l32 > u32min:
                    u32min = l32
                if h32 < u32max:
                    u32max = h32
                if l32 >> 31 == h32 >> 31:
                    l32, h32 = _s32(l32), _s32(h32)
                    if l32 > s32min:
                        s32min = l32
                    if h32 < s32max:
                        s32max = h32
        if u32max <= S32_MAX or u32min > S32_MAX:
            lo, hi = _s32(u32min), _s32(u32max)
            if lo > s32min:
                s32min = lo
            if hi < s32max:
                s32max = hi
        if s32min >= 0 or s32max < 0:
            lo, hi = s32min & U32, s32max & U32
            if lo > u32min:
                u32min = lo
            if hi < u32max:
                u32max = hi
        if u32min > u32max or s32min > s32max:
            return None
        if not m >> 32:                                # upper half known: 64-bit from 32-bit
            upper = v & _HIGH
            if upper | u32min > umin:
                umin = upper | u32min
            if upper | u32max < umax:
                umax = upper | u32max
        if umin > umax or smin > smax:
            return None
        if umax <= S64_MAX or umin > S64_MAX:       # unsigned range keeps one sign
            lo, hi = to_signed(umin), to_signed(umax)
            if lo > smin:
                smin = lo
            if hi < smax:
                smax = hi
        if smin >= 0 or smax < 0:                   # signed range keeps one sign
            lo, hi = smin & U64, smax & U64
            if lo > umin:
                umin = lo
            if hi < umax:
                umax = hi
        if umin > umax or smin > smax:
            return None
        nv = T.intersect(var, T.from_range(umin, umax))
        if nv is None:
            return None
        if u32min or u32max != U32:
            r32 = T.from_range(u32min, u32max)
            nv = T.intersect(nv, Tnum(r32.value, r32.mask | _HIGH))
            if nv is None:
                return None
        var = nv
        if (var, smin, smax, umin, umax, u32min, u32max, s32min, s32max) == before:
            break
    return Bounds(var, smin, smax, umin, umax, u32min, u32max, s32min, s32max)


def _sync(var: Tnum, smin: int, smax: int, umin: int, umax: int, u32min: int = 0,
          u32max: int = U32, s32min: int = S32_MIN, s32max: int = S32_MAX) -> Bounds:
    return (normalize(Bounds(var, smin, smax, umin, umax, u32min, u32max, s32min, s32max))
            or normalize(Bounds(var, S64_MIN, S64_MAX, 0, U64)) or Bounds(var, S64_MIN, S64_MAX, 0, U64))


# --- 32-bit views ----------------------------------------------------------------------------
@lru_cache(maxsize=1 << 16)
def low32(b: Bounds) -> Bounds:
    """The low 32 bits of ``b`` as a zero-extended value (what an ALU32 op reads)."""
    return _sync(T.subreg(b.var), b.u32min, b.u32max, b.u32min, b.u32max, b.u32min, b.u32max,
                 b.s32min, b.s32max)


@lru_cache(maxsize=1 << 16)
def sext32(b: Bounds) -> Bounds:
    """The low 32 bits of ``b`` sign-extended to 64 (for signed 32-bit comparisons)."""
    var = T.arshift(T.lshift(b.var, 32), 32)
    return _sync(var, b.s32min, b.s32max, 0, U64, b.u32min, b.u32max, b.s32min, b.s32max)


def merge32(orig: Bounds, view: Bounds, signed: bool) -> Bounds | None:
    """Put what was learnt about a 32-bit view back into the full 64-bit value."""
    var = T.intersect(orig.var, Tnum(view.var.value & U32, (view.var.mask & U32) | _HIGH))
    if var is None:
        return None
    if signed:
        return normalize(Bounds(var, orig.smin, orig.smax, orig.umin, orig.umax, orig.u32min,
                                orig.u32max, max(orig.s32min, view.smin),
                                min(orig.s32max, view.smax)))
    return normalize(Bounds(var, orig.smin, orig.smax, orig.umin, orig.umax,
                            max(orig.u32min, view.umin), min(orig.u32max, view.umax),
                            orig.s32min, orig.s32max))


@lru_cache(maxsize=1 << 16)
def truncate32(b: Bounds) -> Bounds:
    """Result of an ALU32 op computed in 64 bits, zero-extended from its low 32 bits."""
    if 0 <= b.smin and b.umax <= U32:
        return b
    if b.umin >> 32 == b.umax >> 32:                 # no wrap across a 2^32 boundary
        lo, hi = b.umin & U32, b.umax & U32
        return _sync(T.subreg(b.var), lo, hi, lo, hi)
    if b.smin >> 32 == b.smax >> 32:
        lo, hi = b.smin & U32, b.smax & U32
        return _sync(T.subreg(b.var), lo, hi, lo, hi)
    var = T.subreg(b.var)
    return _sync(var, var.value, var.value | var.mask, var.value, var.value | var.mask)


def with_s32(b: Bounds, signed_result: Bounds) -> Bounds:
    """Tighten a zero-extended ALU32 result with the same op computed on sign-extended inputs."""
    if S32_MIN <= signed_result.smin and signed_result.smax <= S32_MAX:
        return normalize(Bounds(b.var, b.smin, b.smax, b.umin, b.umax, b.u32min, b.u32max,
                                max(b.s32min, signed_result.smin),
                                min(b.s32max, signed_result.smax))) or b
    return b


def sign_extend(b: Bounds, bits: int) -> Bounds:
    """Sign-extend the low ``bits`` bits (movsx / ldsx)."""
    if b.is_const:
        v = b.const & ((1 << bits) - 1)
        return const(v - (1 << bits) if v >> (bits - 1) else v)
    half = 1 << (bits - 1)
    if b.umax < half:                                 # sign bit is clear: value unchanged
        return b
    return signed_range(-half, half - 1)


# --- arithmetic ------------------------------------------------------------------------------
def add(a: Bounds, b: Bounds) -> Bounds:
    var = T.add(a.var, b.var)
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umax > U64:
        umin, umax = 0, U64
    return _sync(var, smin, smax, umin, umax)


def sub(a: Bounds, b: Bounds) -> Bounds:
    var = T.sub(a.var, b.var)
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    umin, umax = a.umin - b.umax, a.umax - b.umin
    if umin < 0:
        umin, umax = 0, U64
    return _sync(var, smin, smax, umin, umax)


def mul(a: Bounds, b: Bounds) -> Bounds:
    var = T.mul(a.var, b.var)
    umax = a.umax * b.umax
    if umax > U64:
        return _sync(var, S64_MIN, S64_MAX, 0, U64)
    return _sync(var, S64_MIN, S64_MAX, a.umin * b.umin, umax)


def and_(a: Bounds, b: Bounds) -> Bounds:
    var = T.and_(a.var, b.var)
    return _sync(var, S64_MIN, S64_MAX, var.value, min(a.umax, b.umax))


def or_(a: Bounds, b: Bounds) -> Bounds:
    var = T.or_(a.var, b.var)
    return _sync(var, S64_MIN, S64_MAX, max(a.umin, b.umin), var.value | var.mask)


def xor(a: Bounds, b: Bounds) -> Bounds:
    var = T.xor(a.var, b.var)
    return _sync(var, S64_MIN, S64_MAX, var.value, var.value | var.mask)


def lshift(a: Bounds, b: Bounds, bits: int = 64) -> Bounds:
    if not b.is_const:
        return UNKNOWN if bits == 64 else low32(UNKNOWN)
    k = b.const
    var = T.lshift(a.var, k)
    if (a.umax << k) <= U64:
        return _sync(var, S64_MIN, S64_MAX, a.umin << k, a.umax << k)
    return _sync(var, S64_MIN, S64_MAX, 0, U64)


def rshift(a: Bounds, b: Bounds) -> Bounds:
    if not b.is_const:
        return _sync(T.from_range(0, a.umax), S64_MIN, S64_MAX, 0, a.umax)
    k = b.const
    return _sync(T.rshift(a.var, k), S64_MIN, S64_MAX, a.umin >> k, a.umax >> k)


def arshift(a: Bounds, b: Bounds, bits: int = 64) -> Bounds:
    if not b.is_const:
        return UNKNOWN if bits == 64 else low32(UNKNOWN)
    k = b.const
    if bits == 32:
        lo = low32(a)
        s = lo.var
        v = T.arshift(s, k, 32)
        if lo.umax <= S32_MAX:
            return _sync(v, lo.umin >> k, lo.umax >> k, lo.umin >> k, lo.umax >> k)
        return low32(Bounds(v, S64_MIN, S64_MAX, 0, U64))
    return _sync(T.arshift(a.var, k), a.smin >> k, a.smax >> k, 0, U64)


def div(a: Bounds, b: Bounds, signed: bool) -> Bounds:
    if a.is_const and b.is_const and b.const and not signed:
        return const(a.const // b.const)
    if signed:
        return UNKNOWN
    if b.is_const and b.const:
        return unsigned_range(a.umin // b.const, a.umax // b.const)
    return unsigned_range(0, a.umax)


def mod(a: Bounds, b: Bounds, signed: bool) -> Bounds:
    if a.is_const and b.is_const and b.const and not signed:
        return const(a.const % b.const)
    if signed:
        return UNKNOWN
    if b.is_const and b.const:
        return unsigned_range(0, min(a.umax, b.const - 1))
    return unsigned_range(0, a.umax)


def neg(a: Bounds) -> Bounds:
    return sub(ZERO, a)


def bswap(a: Bounds, width: int, to_le: bool) -> Bounds:
    """Byte swap/truncate of END: constants computed, else unknown within ``width`` bits."""
    if a.is_const:
        v = a.const & ((1 << width) - 1)
        if not to_le:
            v = int.from_bytes(v.to_bytes(width // 8, "little"), "big")
        return const(v)
    if to_le and a.umax < (1 << width):
        return a
    return unsigned_range(0, (1 << width) - 1)


# --- conditional branches --------------------------------------------------------------------
def refine(a: Bounds, b: Bounds, op: str) -> tuple[Bounds, Bounds] | None:
    """What ``a <op> b`` being true tells about a and b (ops: == != > >= < <= s> s>= s< s<= &)."""
    if op in ("<", "<=", "s<", "s<="):
        flipped = {"<": ">", "<=": ">=", "s<": "s>", "s<=": "s>="}[op]
        res = refine(b, a, flipped)
        return None if res is None else (res[1], res[0])
    if op == "==":
        var = T.intersect(a.var, b.var)
        if var is None:
            return None
        x = normalize(Bounds(var, max(a.smin, b.smin), min(a.smax, b.smax),
                             max(a.umin, b.umin), min(a.umax, b.umax),
                             max(a.u32min, b.u32min), min(a.u32max, b.u32max),
                             max(a.s32min, b.s32min), min(a.s32max, b.s32max)))
        return None if x is None else (x, x)
    if op == "!=":
        if a.is_const and b.is_const:
            return None if a.const == b.const else (a, b)
        return _ne_const(a, b), _ne_const(b, a)  # type: ignore[return-value]
    if op == ">":
        na = normalize(a._replace(umin=max(a.umin, b.umin + 1)))
        nb = normalize(b._replace(umax=min(b.umax, a.umax - 1)))
    elif op == ">=":
        na = normalize(a._replace(umin=max(a.umin, b.umin)))
        nb = normalize(b._replace(umax=min(b.umax, a.umax)))
    elif op == "s>":
        na = normalize(a._replace(smin=max(a.smin, b.smin + 1)))
        nb = normalize(b._replace(smax=min(b.smax, a.smax - 1)))
    elif op == "s>=":
        na = normalize(a._replace(smin=max(a.smin, b.smin)))
        nb = normalize(b._replace(smax=min(b.smax, a.smax)))
    elif op == "&":
        if not ((a.var.value | a.var.mask) & (b.var.value | b.var.mask)):
            return None
        return a, b
    elif op == "!&":                                   # (a & b) == 0
        if a.var.value & b.var.value:
            return None
        if b.is_const:
            na = normalize(a._replace(var=Tnum(a.var.value & ~b.const & U64,
                                               a.var.mask & ~b.const & U64)))
            return None if na is None else (na, b)
        return a, b
    else:
        raise ValueError(op)
    if na is None or nb is None:
        return None
    return na, nb


def _ne_const(a: Bounds, b: Bounds) -> Bounds:
    if not b.is_const or a.is_const:
        return a
    c = b.const
    umin, umax, smin, smax = a.umin, a.umax, a.smin, a.smax
    if umin == c:
        umin += 1
    if umax == c:
        umax -= 1
    sc = to_signed(c)
    if smin == sc:
        smin += 1
    if smax == sc:
        smax -= 1
    return normalize(a._replace(smin=smin, smax=smax, umin=umin, umax=umax)) or a


NEGATE = {"==": "!=", "!=": "==", ">": "<=", ">=": "<", "<": ">=", "<=": ">",
          "s>": "s<=", "s>=": "s<", "s<": "s>=", "s<=": "s>", "&": "!&"}
