"""Native IR for the simulated environment's helpers: ktime (ns, boot, coarse, TAI), jiffies64,
get_prandom_u32 and get_smp_processor_id.

Each emitter adds a fast path to the generated code that gives exactly the interpreter's result
(pybpf.vm.helpers): the simulated clock and the splitmix64 PRNG are advanced in the SimEnv's own
cells (rt[RT_ENV_CELLS]), so no state is mirrored; the real clock is clock_gettime(CLOCK_MONOTONIC)
like helpers.real_clock. Whatever the fast path cannot reproduce (a custom clock callable, a
helper the machine's table overrides, a PRNG not seeded yet) continues to the Python helper.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ...isa.uapi import HELPER_IDS
from ..helpers import (ENV_NOW, ENV_RANDOM, ENV_SEEDED, SIM_CLOCK_STEP, SPLITMIX_GAMMA,
                       SPLITMIX_MUL1, SPLITMIX_MUL2)
from . import layout as L
from .irtypes import I32, I64, P64, c64 as _c64

if TYPE_CHECKING:
    from .codegen import _Gen

CLOCK_MONOTONIC = 1
COARSE_NS = 4_000_000                 # helpers.ktime_get_coarse_ns: 4 ms ticks
_CLOCK_TYPE = ir.FunctionType(I32, [I32, P64])

# helper id -> (NATIVE_* bit, kind)
TIME_HELPERS = {HELPER_IDS["ktime_get_ns"]: (L.NATIVE_KTIME, "ns"),
                HELPER_IDS["ktime_get_boot_ns"]: (L.NATIVE_KTIME_BOOT, "ns"),
                HELPER_IDS["ktime_get_tai_ns"]: (L.NATIVE_KTIME_TAI, "ns"),
                HELPER_IDS["ktime_get_coarse_ns"]: (L.NATIVE_KTIME_COARSE, "coarse"),
                HELPER_IDS["jiffies64"]: (L.NATIVE_JIFFIES, "jiffies")}
PRANDOM = HELPER_IDS["get_prandom_u32"]
CPU_ID = HELPER_IDS["get_smp_processor_id"]
HELPERS = frozenset(TIME_HELPERS) | {PRANDOM, CPU_ID}
# every helper this module runs natively, with its bit in rt[RT_NATIVE]
NATIVE_BITS = {**{hid: bit for hid, (bit, _) in TIME_HELPERS.items()},
               PRANDOM: L.NATIVE_PRANDOM, CPU_ID: L.NATIVE_CPU_ID}


def _enabled(gen: "_Gen", b: ir.IRBuilder, bit: int) -> ir.Value:
    return b.icmp_unsigned("!=", b.and_(gen.rt_load(b, L.RT_NATIVE), _c64(bit)), _c64(0))


def _scratch2(gen: "_Gen") -> ir.Value:
    """A u64[2] alloca in the function's entry block (struct timespec for clock_gettime)."""
    ts = getattr(gen, "_env_ts", None)
    if ts is None:
        b = ir.IRBuilder()
        b.position_at_start(gen.fn.entry_basic_block)
        ts = gen._env_ts = b.alloca(I64, size=2, name="env_ts")    # type: ignore[attr-defined]
    return ts


def emit(gen: "_Gen", helper_id: int, done: ir.Block) -> None:
    """Fast path of ``helper_id`` (one of HELPERS) ending in ``done``; gen.b continues in the
    Python fallback block."""
    if helper_id in TIME_HELPERS:
        _time(gen, helper_id, done)
    elif helper_id == PRANDOM:
        _prandom(gen, done)
    else:
        _cpu_id(gen, done)


def _time(gen: "_Gen", helper_id: int, done: ir.Block) -> None:
    bit, kind = TIME_HELPERS[helper_id]
    b = gen.b
    mode = b.select(_enabled(gen, b, bit), gen.rt_load(b, L.RT_CLOCK_MODE), _c64(L.CLOCK_PYTHON))
    sim, real, join, slow = (gen.new_block(n) for n in ("sim_clock", "real_clock", "clock_read",
                                                         "python_clock"))
    sw = b.switch(mode, slow)
    sw.add_case(_c64(L.CLOCK_SIMULATED), sim)
    sw.add_case(_c64(L.CLOCK_REAL), real)
    sb = ir.IRBuilder(sim)
    cells = sb.inttoptr(gen.rt_load(sb, L.RT_ENV_CELLS), P64)
    cell = sb.gep(cells, [_c64(ENV_NOW)])
    sim_now = sb.add(sb.load(cell), _c64(SIM_CLOCK_STEP))
    sb.store(sim_now, cell)
    sb.branch(join)
    rb = ir.IRBuilder(real)
    ts = _scratch2(gen)
    clock = rb.inttoptr(gen.rt_load(rb, L.RT_CLOCK), _CLOCK_TYPE.as_pointer())
    rb.call(clock, [ir.Constant(I32, CLOCK_MONOTONIC), ts])
    real_now = rb.add(rb.mul(rb.load(ts), _c64(1_000_000_000)), rb.load(rb.gep(ts, [_c64(1)])))
    rb.branch(join)
    jb = ir.IRBuilder(join)
    now = jb.phi(I64)
    now.add_incoming(sim_now, sim)
    now.add_incoming(real_now, real)
    if kind == "coarse":
        value = jb.mul(jb.udiv(now, _c64(COARSE_NS)), _c64(COARSE_NS))
    elif kind == "jiffies":
        # now * hz // 1e9 (mod 2**64) without a 128-bit division (a libcall MCJIT cannot link):
        # now = q * 1e9 + r, so it is q * hz + r * hz // 1e9, and r * hz < 2**62 (hz < 2**32)
        hz = gen.rt_load(jb, L.RT_HZ)
        q = jb.udiv(now, _c64(1_000_000_000))
        r = jb.urem(now, _c64(1_000_000_000))
        value = jb.add(jb.mul(q, hz), jb.udiv(jb.mul(r, hz), _c64(1_000_000_000)))
    else:
        value = now
    jb.store(value, gen.R[0])
    jb.branch(done)
    gen.b = ir.IRBuilder(slow)


def _prandom(gen: "_Gen", done: ir.Block) -> None:
    """splitmix64 step on cells[ENV_RANDOM]; r0 = upper 32 bits of the output (helpers.splitmix64)."""
    b = gen.b
    cells = b.inttoptr(gen.rt_load(b, L.RT_ENV_CELLS), P64)
    check, fast, slow = (gen.new_block(n) for n in ("prandom_seeded", "prandom", "python_prandom"))
    b.cbranch(_enabled(gen, b, L.NATIVE_PRANDOM), check, slow)
    sb = ir.IRBuilder(check)
    seeded = sb.load(sb.gep(cells, [_c64(ENV_SEEDED)]))
    sb.cbranch(sb.icmp_unsigned("!=", seeded, _c64(0)), fast, slow)
    fb = ir.IRBuilder(fast)
    cell = fb.gep(cells, [_c64(ENV_RANDOM)])
    state = fb.add(fb.load(cell), _c64(SPLITMIX_GAMMA))
    fb.store(state, cell)
    z = fb.mul(fb.xor(state, fb.lshr(state, _c64(30))), _c64(SPLITMIX_MUL1))
    z = fb.mul(fb.xor(z, fb.lshr(z, _c64(27))), _c64(SPLITMIX_MUL2))
    z = fb.xor(z, fb.lshr(z, _c64(31)))
    fb.store(fb.lshr(z, _c64(32)), gen.R[0])
    fb.branch(done)
    gen.b = ir.IRBuilder(slow)


def _cpu_id(gen: "_Gen", done: ir.Block) -> None:
    b = gen.b
    fast, slow = gen.new_block("cpu_id"), gen.new_block("python_cpu_id")
    b.cbranch(_enabled(gen, b, L.NATIVE_CPU_ID), fast, slow)
    fb = ir.IRBuilder(fast)
    fb.store(gen.rt_load(fb, L.RT_CPU), gen.R[0])
    fb.branch(done)
    gen.b = ir.IRBuilder(slow)


__all__ = ["HELPERS", "NATIVE_BITS", "emit"]
