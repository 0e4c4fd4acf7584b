"""Garbage in, pybpf.errors out: random programs never crash the interpreter or touch host memory."""
from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pybpf.errors import BPFError
from pybpf.isa.codec import decode
from pybpf.isa.instruction import Instruction
from pybpf.vm.helpers import HELPERS
from pybpf.vm.machine import Machine

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_or_error(insns, mem: bytes = b"") -> None:
    machine = Machine(helpers=HELPERS, budget=2000)
    try:
        prog = machine.load("garbage", insns)
        r1 = machine.mem.new("mem", mem or b"\0" * 8, kind="ctx").base
        value = machine.run(prog, r1, len(mem))
    except BPFError:
        return
    assert 0 <= value < 1 << 64


@SETTINGS
@given(st.binary(min_size=8, max_size=256).map(lambda b: b[:len(b) // 8 * 8]))
def test_random_bytes_only_raise_pybpf_errors(data: bytes) -> None:
    try:
        insns = decode(data, validate=False)
    except BPFError:
        return
    run_or_error(insns)


opcodes = st.sampled_from(sorted({c | s | o for c in range(8) for s in (0, 8) for o in range(0, 0x100, 0x10)}
                                 | {0x18, 0x85, 0x95, 0x8D, 0xC3, 0xDB, 0xE5}))


@SETTINGS
@given(st.lists(st.builds(Instruction, opcodes, st.integers(0, 10), st.integers(0, 10),
                          st.integers(-8, 8), st.integers(-300, 300)), min_size=1, max_size=30),
       st.binary(max_size=64))
def test_random_well_formed_fields_only_raise_pybpf_errors(insns, mem) -> None:
    run_or_error(insns + [Instruction(0x95)], mem)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(Instruction, st.just(0x85), st.just(0), st.just(0), st.just(0),
                          st.sampled_from(sorted(HELPERS))), min_size=1, max_size=6),
       st.lists(st.integers(0, 2**64 - 1), min_size=5, max_size=5))
# A 51 GB size for bpf_get_current_comm once made the VM allocate before checking the buffer
# (the whole test suite was OOM-killed); the destination must be checked first.
@example(calls=[Instruction(0x85, 0, 0, 0, 16)], args=[0, 51_575_253_658, 0, 0, 0])
@example(calls=[Instruction(0x85, 0, 0, 0, 113)], args=[0, 2**40, 0, 0, 0])
def test_helpers_called_with_garbage_arguments_only_raise_pybpf_errors(calls, args) -> None:
    machine = Machine(helpers=HELPERS, budget=2000)
    prog = machine.load("calls", calls + [Instruction(0x95)])
    try:
        machine.run(prog, *args)
    except BPFError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"") + b"\0"),
       st.lists(st.integers(0, 2**64 - 1), min_size=3, max_size=3))
def test_trace_printk_with_arbitrary_format_only_raises_pybpf_errors(fmt, args) -> None:
    from pybpf.vm.helpers import trace_printk
    machine = Machine(helpers=HELPERS)
    region = machine.mem.new("fmt", fmt, kind="user")
    try:
        trace_printk(machine, region.base, len(fmt), *args)
    except BPFError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["%d", "%5.2s", "%-+#0x", "%llx", "%c%%%u", "%p", "%10s", "%.3d", "%lu %ld"]),
       st.lists(st.integers(0, 2**64 - 1), min_size=3, max_size=3))
def test_trace_printk_common_formats_never_crash(fmt, args) -> None:
    test_trace_printk_with_arbitrary_format_only_raises_pybpf_errors.hypothesis.inner_test(
        fmt.encode() + b"\0", args)
