"""bpf_ringbuf_output/reserve/submit/discard in native code: the same records, drops, positions and
errors as the interpreter (random operation mixes with wrap-around and a full ring), no Python
callback on the fast paths, and the kernel's records for a compiled program."""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import HelperError, MemoryAccessError
from pybpf.isa.instruction import Instruction as I
from pybpf.isa.uapi import MapType
from pybpf.vm.helpers import HELPERS
from pybpf.vm.jit import make_machine
from pybpf.vm.machine import Machine
from pybpf.vm.maps import create_map

RING_FD = 5
RING_SIZE = 512
M64 = (1 << 64) - 1
# ctx: op, size, fill, flags (u64 each), then 600 data bytes for output
OP_OUTPUT, OP_SUBMIT, OP_DISCARD, OP_QUERY = 0, 1, 2, 3
QUERY = [I(0xBF, 2, 1), I(0x18, 1, 1, 0, RING_FD), I(0x85, 0, 0, 0, 134), I(0x95)]   # query(r1)
PROGRAM = [
    I(0xBF, 6, 1),                                    # r6 = ctx
    I(0x79, 7, 6, 0), I(0x79, 8, 6, 8),               # r7 = op, r8 = size
    I(0x55, 7, 0, 8, OP_OUTPUT),                      # op != output: reserve path
    I(0x18, 1, 1, 0, RING_FD), I(0xBF, 2, 6), I(0x07, 2, 0, 0, 32),
    I(0xBF, 3, 8), I(0x79, 4, 6, 24),
    I(0x85, 0, 0, 0, 130), I(0x95),                   # r0 = output(ring, ctx + 32, size, flags)
    # reserve(ring, size, flags)
    I(0x18, 1, 1, 0, RING_FD), I(0xBF, 2, 8), I(0x79, 3, 6, 24), I(0x85, 0, 0, 0, 131),
    I(0x55, 0, 0, 2, 0), I(0xB7, 0, 0, 0, -1), I(0x95),   # NULL: r0 = -1
    I(0xBF, 9, 0),                                    # r9 = record
    I(0x79, 1, 6, 16),                                # r1 = fill
    I(0xA5, 8, 0, 2, 8),                              # size < 8: one byte
    I(0x7B, 9, 1, 0), I(0x05, 0, 0, 1, 0),
    I(0x73, 9, 1, 0),
    I(0xBF, 1, 9), I(0xB7, 2, 0, 0, 0),
    I(0x55, 7, 0, 2, OP_SUBMIT),
    I(0x85, 0, 0, 0, 132), I(0x05, 0, 0, 1, 0),       # submit
    I(0x85, 0, 0, 0, 133),                            # discard
    I(0xBF, 0, 9), I(0x67, 0, 0, 0, 32), I(0x77, 0, 0, 0, 32), I(0x95),   # r0 = record offset
]


def ring_machine(engine: str, size: int = RING_SIZE):
    machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
               else Machine(helpers=dict(HELPERS)))
    ring = create_map(memory=machine.mem, name="rb", type=MapType.RINGBUF, key_size=0,
                      value_size=0, max_entries=size)
    machine.register_map(ring, fd=RING_FD)
    ctx = machine.mem.new("ctx", 32 + 600, kind="ctx")
    ctx.buf[32:] = bytes(range(256)) * 2 + bytes(88)
    prog = machine.load("ring", PROGRAM)
    query = machine.load("query", QUERY)

    def run(op: int, size: int, fill: int = 0, flags: int = 0) -> int:
        if op == OP_QUERY:
            return machine.run(query, size)
        struct.pack_into("<4Q", ctx.buf, 0, op, size & M64, fill, flags)
        return machine.run(prog, ctx.base)
    return machine, ring, run


def script(seed: int, steps: int) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    for _ in range(steps):
        r = rng.random()
        if r < 0.12:
            out.append(("consume",))
        else:
            size = rng.choice([0, 1, 7, 8, 9, 16, 24, 100, 200, 255, 496, 497, 504, 600]
                              + [rng.randrange(1, 120)] * 6)
            out.append((rng.choice([OP_OUTPUT, OP_SUBMIT, OP_DISCARD]), size, rng.randrange(1 << 64)))
    return out


def replay(engine: str, steps: list[tuple]):
    machine, ring, run = ring_machine(engine)
    seen = []
    for step in steps:
        if step[0] == "consume":
            seen.append(ring.ring_reader().poll(0))
        else:
            seen.append(run(*step))
        seen.append([run(OP_QUERY, flags) for flags in (0, 1, 2, 3, 4, 1 << 40)])
    seen.append(ring.ring_reader().poll(0))
    return seen, (ring.producer_pos, ring.consumer_pos, ring.dropped), machine


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_ring_operations_match_the_interpreter(seed) -> None:
    steps = script(seed, 700)
    jit, jit_state, machine = replay("jit", steps)
    interp, interp_state, _ = replay("interp", steps)
    assert jit == interp
    assert jit_state == interp_state
    prod, cons, dropped = jit_state
    assert prod > 8 * RING_SIZE and dropped > 0 and prod == cons     # wrapped often, was full
    python = sum(1 for s in steps if s[0] == OP_OUTPUT and not 0 < s[1] <= RING_SIZE)
    assert machine.python_helper_calls == python        # only bad output sizes went to Python
    avail, size, cons_q, prod_q, other, huge = jit[-2]              # query after the last step
    assert (size, prod_q, avail, other, huge) == (RING_SIZE, prod, prod - cons_q, 0, 0)


def test_records_have_the_hand_checked_layout_and_positions() -> None:
    for engine in ("interp", "jit"):
        machine, ring, run = ring_machine(engine, size=64)
        assert run(OP_SUBMIT, 9, 0x1122334455667788) == 8            # header, then data
        assert run(OP_OUTPUT, 3) == 0                                  # 9 -> 24 bytes taken
        assert run(OP_DISCARD, 8, 5) == 24 + 16 + 8
        assert run(OP_SUBMIT, 16, 1) == M64                            # 56 + 24 > 64: dropped
        assert (ring.producer_pos, ring.dropped) == (56, 1)
        assert ring.ring_reader().poll(0) == [bytes.fromhex("8877665544332211") + bytes(1),
                                              bytes([0, 1, 2])]
        assert ring.consumer_pos == 56
        assert run(OP_SUBMIT, 16, 7) == 56 + 8                         # wraps: stays contiguous
        assert ring.ring_reader().poll(0) == [(7).to_bytes(8, "little") + bytes(8)]


def test_a_reserved_record_holds_back_later_ones_in_both_engines() -> None:
    out = {}
    for engine in ("interp", "jit"):
        machine, ring, run = ring_machine(engine)
        run(OP_OUTPUT, 4)
        addr = ring.reserve(8)                         # reserved from Python, not yet submitted
        run(OP_OUTPUT, 5)
        first = ring.ring_reader().poll(0)
        ring.commit(addr, discard=False)
        out[engine] = (first, ring.ring_reader().poll(0), ring.query(0))
    assert out["jit"] == out["interp"]
    assert out["jit"][0] == [bytes(range(4))] and len(out["jit"][1]) == 2


def test_python_fallbacks_decide_like_the_interpreter() -> None:
    """Reserve flags, an address that is not a reserved record, double submit, a bad data pointer."""
    stack_submit = [I(0xBF, 1, 10), I(0x07, 1, 0, 0, -8), I(0xB7, 2, 0, 0, 0),
                    I(0x85, 0, 0, 0, 132), I(0x95)]
    double = [I(0x18, 1, 1, 0, RING_FD), I(0xB7, 2, 0, 0, 8), I(0xB7, 3, 0, 0, 0),
              I(0x85, 0, 0, 0, 131), I(0xBF, 6, 0), I(0xBF, 1, 0), I(0xB7, 2, 0, 0, 0),
              I(0x85, 0, 0, 0, 132), I(0xBF, 1, 6), I(0x07, 1, 0, 0, 0), I(0xB7, 2, 0, 0, 0),
              I(0x85, 0, 0, 0, 133), I(0x95)]
    inside = [I(0x18, 1, 1, 0, RING_FD), I(0xB7, 2, 0, 0, 16), I(0xB7, 3, 0, 0, 0),
              I(0x85, 0, 0, 0, 131), I(0xBF, 1, 0), I(0x07, 1, 0, 0, 8), I(0xB7, 2, 0, 0, 0),
              I(0x85, 0, 0, 0, 132), I(0x95)]
    bad_data = [I(0x18, 1, 1, 0, RING_FD), I(0xB7, 2, 0, 0, 64), I(0xB7, 3, 0, 0, 16),
                I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, 130), I(0x95)]
    outcomes = {}
    for engine in ("interp", "jit"):
        machine, ring, run = ring_machine(engine)
        got = [run(OP_SUBMIT, 8, 1, flags=1), ring.dropped]             # flags: NULL, no drop
        for name, prog in (("stack", stack_submit), ("double", double), ("inside", inside),
                           ("bad data", bad_data)):
            try:
                got.append(machine.run(machine.load(name, prog)))
            except (HelperError, MemoryAccessError) as exc:
                got.append((type(exc).__name__, str(exc).split(": ", 1)[-1].split(" at ")[0]))
        got.append(ring.ring_reader().poll(0))
        outcomes[engine] = got
    assert outcomes["jit"] == outcomes["interp"]
    assert outcomes["jit"][:2] == [M64, 0]
    assert [o[0] for o in outcomes["jit"][2:6]] == ["HelperError"] * 3 + ["MemoryAccessError"]


PROG_DIR = Path(__file__).resolve().parent / "progs"


def _ring_session(coll) -> tuple:
    """Mixed reserve/submit/discard/output packets and repeat runs, polled now and then, so the
    4096-byte ring wraps and fills (the kernel does not count drops: the program does)."""
    out = []
    with coll.maps["ring"].ring_reader() as reader:
        mixed, output16 = coll.programs["ring_mixed"], coll.programs["ring_output16"]
        for round_ in range(6):
            for how in (1, 2, 0, 6, 4, 3, 2, 2, 1, 0):
                out.append(mixed.test_run(bytes([how]) + bytes(20 + round_)).retval)
            out.append(output16.test_run(bytes(60), repeat=40 + 30 * round_).retval)
            out.append([bytes(r) for r in reader.poll(0)])
        out.append(output16.test_run(bytes(61), repeat=400).retval)      # fills the ring
        out.append([bytes(r) for r in reader.poll(0)])
    return out, sorted(coll.maps["stats"].items())


@pytest.mark.kernel
def test_ring_records_from_the_jit_match_the_kernels(compile_bpf) -> None:
    spec = pybpf.load_object(compile_bpf(PROG_DIR / "jit_native.c"))
    seen = {}
    for backend in ("kernel", "jit"):
        with pybpf.Collection(spec, backend=backend) as coll:
            seen[backend] = _ring_session(coll)
    assert seen["jit"] == seen["kernel"]
    stats = dict(seen["jit"][1])
    assert stats[1] > 0                                # the last burst overflowed the ring
    assert sum(len(x) for x in seen["jit"][0] if isinstance(x, list)) > 4096 // 24


def test_compiled_ring_program_matches_the_interpreter(compile_bpf) -> None:
    spec = pybpf.load_object(compile_bpf(PROG_DIR / "jit_native.c"))
    seen = {}
    for backend in ("vm", "jit"):
        with pybpf.Collection(spec, backend=backend) as coll:
            seen[backend] = _ring_session(coll)
            if backend == "jit":
                calls = coll.machine.python_helper_calls
    assert seen["jit"] == seen["vm"]
    assert calls == 0
