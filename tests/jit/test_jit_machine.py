"""JITMachine behaviour on hand-written programs: faults, budgets, depth limits, errors raised by
helpers, code caching — each checked against the interpreter or hand-computed values."""
from __future__ import annotations

import pytest

from pybpf.errors import HelperError, InstructionLimitError, MemoryAccessError, VMError
from pybpf.isa.asm import assemble
from pybpf.vm.conformance import CONFORMANCE_HELPERS
from pybpf.vm.jit import engine, make_machine, program_key
from pybpf.vm.machine import Machine


def run_both(source: str, mem: bytes = b"", budget: int = 100_000):
    """[(interp result or exception), (jit result or exception)] for one program."""
    out = []
    for machine in (Machine(helpers=CONFORMANCE_HELPERS, budget=budget),
                    make_machine(helpers=CONFORMANCE_HELPERS, budget=budget)):
        region = machine.mem.new("mem", mem, kind="ctx") if mem else None
        try:
            prog = machine.load("t", assemble(source))
            out.append(machine.run(prog, region.base if region else 0, len(mem)))
        except VMError as exc:
            out.append(exc)
    return out


def test_out_of_bounds_read_is_a_memory_access_error_at_the_faulting_pc() -> None:
    interp, jit = run_both("mov %r0, 0\nldxdw %r0, [%r1+60]\nexit", mem=bytes(64))
    assert isinstance(jit, MemoryAccessError) and jit.pc == 1
    assert str(jit) == str(interp)


def test_write_to_read_only_code_region_is_refused() -> None:
    machine = make_machine(helpers=CONFORMANCE_HELPERS)
    prog = machine.load("t", assemble("stw [%r1+0], 7\nmov %r0, 0\nexit"))
    with pytest.raises(MemoryAccessError, match="read-only"):
        machine.run(prog, prog.code_base)


def test_null_and_wild_pointers_fault_instead_of_crashing() -> None:
    for address in (0, 8, 1 << 63, (1 << 64) - 8, 0x7FFF_0000_0000_0000):
        interp, jit = run_both(f"lddw %r2, {address:#x}\nldxdw %r0, [%r2+0]\nexit")
        assert isinstance(jit, MemoryAccessError) and type(interp) is type(jit)


def test_infinite_loop_stops_with_instruction_limit_error() -> None:
    interp, jit = run_both("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit", budget=10_000)
    assert isinstance(jit, InstructionLimitError) and isinstance(interp, InstructionLimitError)


def test_bounded_loop_gives_the_hand_computed_sum() -> None:
    source = "mov %r0, 0\nmov %r1, 100\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit"
    assert run_both(source) == [5050, 5050]


def test_unbounded_recursion_hits_the_call_depth_limit() -> None:
    interp, jit = run_both("call local f\nexit\nf:\ncall local f\nexit")
    assert isinstance(jit, VMError) and "call depth exceeds 8 frames" in str(jit)
    assert isinstance(interp, VMError) and "call depth exceeds 8 frames" in str(interp)


def test_each_call_frame_gets_its_own_stack() -> None:
    source = ("stdw [%r10-8], 11\ncall local f\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n"
              "f:\nstdw [%r10-8], 31\nldxdw %r0, [%r10-8]\nexit")
    assert run_both(source) == [42, 42]


def test_helper_exception_comes_back_as_the_same_error_with_the_pc() -> None:
    def failing(machine, *args):
        raise HelperError("boom from a helper")
    machine = make_machine(helpers={**CONFORMANCE_HELPERS, 7: failing})
    prog = machine.load("t", assemble("mov %r0, 0\ncall 7\nexit"))
    with pytest.raises(HelperError, match="boom from a helper") as info:
        machine.run(prog)
    assert info.value.pc == 1


def test_python_helper_sees_arguments_and_sets_r0() -> None:
    seen = []

    def record(machine, *args):
        seen.append(args)
        return sum(args)
    machine = make_machine(helpers={**CONFORMANCE_HELPERS, 7: record})
    prog = machine.load("t", assemble("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\n"
                                      "call 7\nadd %r0, 100\nexit"))
    assert machine.run(prog) == 115
    assert seen == [(1, 2, 3, 4, 5)]


def test_same_instructions_compile_once_per_process() -> None:
    insns = assemble("mov %r0, 12345\nexit")
    first = make_machine()
    first.run(first.load("a", insns))
    size = engine.cache_size()
    second = make_machine()
    prog = second.load("b", insns)
    assert second.run(prog) == 12345
    assert engine.cache_size() == size
    assert prog.native.key == "bpf_" + program_key(insns).hex()[:32]


def test_runs_do_not_leak_stack_contents_between_runs() -> None:
    machine = make_machine(helpers=CONFORMANCE_HELPERS)
    prog = machine.load("t", assemble("ldxdw %r0, [%r10-8]\nstdw [%r10-8], 99\nexit"))
    assert [machine.run(prog), machine.run(prog)] == [0, 0]


def _loop_program(nr: int, stop_at: int, flags: int = 0):
    """r0 = bpf_loop(nr, cb, 0, flags); cb returns 1 (stop) when its index == stop_at."""
    from pybpf.isa.instruction import Instruction as I
    return [I(0xB7, 1, 0, 0, nr), I(0x18, 2, 4, 0, 5), I(0xB7, 3, 0, 0, 0),   # lddw r2, cb (slot 7)
            I(0xB7, 4, 0, 0, flags), I(0x85, 0, 0, 0, 181), I(0x95),
            I(0xB7, 0, 0, 0, 0), I(0x55, 1, 0, 1, stop_at), I(0xB7, 0, 0, 0, 1), I(0x95)]


def _run_helpers_program(insns):
    from pybpf.vm.helpers import HELPERS
    out = []
    for machine in (Machine(helpers=dict(HELPERS)), make_machine(helpers=dict(HELPERS))):
        try:
            out.append(machine.run(machine.load("t", insns)))
        except VMError as exc:
            out.append(type(exc).__name__)
    return out


@pytest.mark.parametrize("nr,stop_at,expected", [(10, 5, 6), (10, 99, 10), (0, 0, 0)])
def test_bpf_loop_callbacks_run_natively_with_the_helpers_return_value(nr, stop_at, expected) -> None:
    assert _run_helpers_program(_loop_program(nr, stop_at)) == [expected, expected]


def test_bpf_loop_with_flags_or_too_many_loops_returns_the_helpers_errno() -> None:
    import errno
    assert _run_helpers_program(_loop_program(3, 9, flags=1)) == [(-errno.EINVAL) & ((1 << 64) - 1)] * 2
    from pybpf.isa.instruction import Instruction as I
    big = _loop_program(0, 9)
    big[0] = I(0x18, 1, 0, 0, (1 << 23) + 1)               # lddw r1, BPF_MAX_LOOPS + 1
    big[1] = I(0x18, 2, 4, 0, 5)                           # the callback is one slot further on
    assert _run_helpers_program(big) == [(-errno.E2BIG) & ((1 << 64) - 1)] * 2


def test_programs_are_compiled_on_first_run_only() -> None:
    machine = make_machine()
    prog = machine.load("lazy", assemble("mov %r0, 424242\nadd %r0, 1\nexit"))
    before = engine.cache_size()
    assert prog.native is None
    assert machine.run(prog) == 424243
    assert prog.native is not None and engine.cache_size() == before + 1
