"""Hypothesis strategy for unverified programs (wild pointers, cross-region offsets, atomics) and a
runner comparing interpreter and JIT on them; run as a script it checks many in one process.

Not a test module on its own: tests run it in a subprocess so a crash of native code would show up
as a signal exit instead of killing pytest.
"""
from __future__ import annotations

import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import BPFError
from pybpf.isa.instruction import Instruction as I

SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
MEM_SIZE = 64
BUDGET = 20_000
ptr_reg = st.sampled_from([1, 2, 3, 4, 5, 10])
any_reg = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
offsets = st.one_of(st.integers(-600, 600), st.sampled_from([-32768, 32767, -1, 0, 63, 64, 511, 512]))
wild = st.one_of(st.integers(0, (1 << 64) - 1),
                 st.sampled_from([0, 1, 0x100 << 32, 0x101 << 32, (0x10F << 32) | 0xFFFFFFF8,
                                  (1 << 63), (1 << 64) - 1, 0xFFFFFFFF00000000]))


@st.composite
def instruction(draw) -> list[I]:
    kind = draw(st.sampled_from(["mov", "add", "addreg", "lddw", "load", "store", "storeimm",
                                 "atomic", "jump", "loadsx"]))
    size = draw(st.sampled_from([1, 2, 4, 8]))
    if kind == "mov":
        return [I(0xBF, draw(any_reg), draw(ptr_reg))]
    if kind == "add":
        return [I(0x07, draw(st.sampled_from([1, 2, 3, 4, 5])), 0, 0,
                  draw(st.one_of(st.integers(-1024, 1024), st.integers(-(1 << 31), (1 << 31) - 1))))]
    if kind == "addreg":
        return [I(0x0F, draw(st.sampled_from([2, 3, 4, 5])), draw(any_reg))]
    if kind == "lddw":
        return [I(0x18, draw(st.sampled_from([2, 3, 4, 5])), 0, 0, draw(wild))]
    if kind == "load":
        return [I(0x61 | SIZES[size], draw(any_reg), draw(ptr_reg), draw(offsets))]
    if kind == "loadsx" and size != 8:
        return [I(0x81 | SIZES[size], draw(any_reg), draw(ptr_reg), draw(offsets))]
    if kind == "store":
        return [I(0x63 | SIZES[size], draw(ptr_reg), draw(any_reg), draw(offsets))]
    if kind == "atomic":
        op = draw(st.sampled_from([0x00, 0x01, 0x40, 0xA1, 0xE1, 0xF1]))
        return [I(0xC3 | SIZES[draw(st.sampled_from([4, 8]))], draw(ptr_reg),
                  draw(st.sampled_from([0, 6, 7, 8, 9])), draw(offsets), op)]
    if kind == "jump":
        return [I(0x15, draw(any_reg), 0, draw(st.integers(0, 2)), draw(st.integers(0, 3)))]
    return [I(0x62 | SIZES[size], draw(ptr_reg), 0, draw(offsets), draw(st.integers(-5, 5)))]


@st.composite
def program(draw) -> list[I]:
    body: list[I] = [I(0xB7, r, 0, 0, draw(st.integers(-3, 3))) for r in (0, 6, 7, 8, 9)]
    body += [I(0xBF, 2, 1), I(0xBF, 3, 10), I(0xB7, 4, 0, 0, 0), I(0xB7, 5, 0, 0, 0)]
    for chunk in draw(st.lists(instruction(), min_size=1, max_size=30)):
        body += chunk
    # jumps may skip at most 2 slots: pad so every target exists
    return body + [I(0xB7, 0, 0, 0, 0), I(0xB7, 0, 0, 0, 0), I(0x95)]


def outcome(engine: str, insns: list[I], mem: bytes) -> tuple:
    """(result or error class, memory after) of one run in 'interp' or 'jit'."""
    from pybpf.vm.conformance import CONFORMANCE_HELPERS
    from pybpf.vm.machine import Machine
    if engine == "jit":
        from pybpf.vm.jit import make_machine
        machine = make_machine(helpers=CONFORMANCE_HELPERS, budget=BUDGET)
    else:
        machine = Machine(helpers=CONFORMANCE_HELPERS, budget=BUDGET)
    region = machine.mem.new("mem", mem, kind="ctx")
    try:
        prog = machine.load("fuzz", insns)
        result: object = machine.run(prog, region.base, len(mem))
    except BPFError as exc:
        result = type(exc).__name__
    return result, bytes(region.buf), bytes(machine.stacks[0].buf)


def check(max_examples: int, seed: int) -> int:
    count = 0

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(insns=program(), mem=st.binary(min_size=MEM_SIZE, max_size=MEM_SIZE))
    def agree(insns: list[I], mem: bytes) -> None:
        nonlocal count
        count += 1
        assert outcome("jit", insns, mem) == outcome("interp", insns, mem), insns

    from hypothesis import seed as hseed
    hseed(seed)(agree)()
    return count


if __name__ == "__main__":
    n = check(int(sys.argv[1]), int(sys.argv[2]))
    print(f"{n} unverified programs: interpreter and JIT agree")
