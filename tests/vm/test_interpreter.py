"""The interpreter's own behaviour: errors, limits, calls and frames (values are hand-checked)."""
from __future__ import annotations

import pytest

from pybpf.errors import (HelperError, InstructionError, InstructionLimitError, MemoryAccessError,
                          VMError)
from pybpf.isa.asm import assemble
from pybpf.vm.helpers import HELPERS
from pybpf.vm.machine import MAX_CALL_FRAMES, STACK_SIZE, Machine


def run(text: str, *args: int, budget: int | None = None, helpers=None) -> int:
    machine = Machine(helpers=HELPERS if helpers is None else helpers)
    prog = machine.load("t", assemble(text))
    return machine.run(prog, *args, budget=budget)


def test_division_by_zero_gives_zero_and_modulo_keeps_dividend() -> None:
    assert run("r0 = 7\nr1 = 0\nr0 /= r1\nexit") == 0
    assert run("r0 = 7\nr1 = 0\nr0 %= r1\nexit") == 7


def test_32bit_alu_zero_extends_the_destination() -> None:
    assert run("r0 = -1\nw0 += 1\nexit") == 0
    assert run("r0 = -1\nw0 = w0\nexit") == 0xFFFFFFFF


def test_shift_count_is_masked_to_operand_width() -> None:
    assert run("r0 = 1\nr1 = 65\nr0 <<= r1\nexit") == 2
    assert run("w0 = 1\nw1 = 33\nw0 <<= w1\nexit") == 2


def test_signed_division_of_int_min_by_minus_one_wraps() -> None:
    assert run("r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s/= r1\nexit") == 1 << 63
    assert run("r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s%= r1\nexit") == 0


def test_loop_past_the_budget_raises_instruction_limit_error() -> None:
    with pytest.raises(InstructionLimitError, match="budget exhausted after 1000 instructions"):
        run("r0 = 0\nl: r0 += 1\ngoto l\nexit", budget=1000)


def test_read_outside_the_stack_names_pc_address_and_region() -> None:
    with pytest.raises(MemoryAccessError) as info:
        run("r0 = *(u64 *)(r10 + 8)\nexit")
    err = info.value
    assert err.pc == 0
    assert "stack region 'stack[0]'" in str(err)
    assert f"{Machine().stacks[0].base + STACK_SIZE + 8:#x}" in str(err)


def test_null_pointer_read_faults_instead_of_touching_host_memory() -> None:
    with pytest.raises(MemoryAccessError, match="at 0x0"):
        run("r1 = 0\nr0 = *(u8 *)(r1 + 0)\nexit")


def test_wild_pointer_write_faults() -> None:
    with pytest.raises(MemoryAccessError, match="invalid write of 8 byte"):
        run("r1 = 0x7fff00001234 ll\n*(u64 *)(r1 + 0) = r1\nexit")


def test_write_to_read_only_code_region_faults() -> None:
    machine = Machine(helpers=HELPERS)
    prog = machine.load("t", assemble("r1 = r2\n*(u8 *)(r1 + 0) = 1\nr0 = 0\nexit"))
    with pytest.raises(MemoryAccessError, match="read-only"):
        machine.run(prog, 0, prog.code_base)


def test_bpf_to_bpf_call_keeps_callee_saved_registers_and_separate_stacks() -> None:
    text = """
        r6 = 11
        *(u64 *)(r10 - 8) = r6
        call f
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        r0 += r6
        exit
    f:
        r6 = 100
        *(u64 *)(r10 - 8) = r6
        r0 = 1
        exit
    """
    assert run(text) == 1 + 11 + 11


def test_unbounded_recursion_stops_with_call_depth_error() -> None:
    with pytest.raises(VMError, match=f"call depth exceeds {MAX_CALL_FRAMES} frames"):
        run("call f\nexit\nf:\ncall f\nexit")


def test_recursion_within_the_frame_limit_runs() -> None:
    # f(n) = n == 0 ? 0 : n + f(n - 1), depth 7 including main
    text = """
        r1 = 6
        call f
        exit
    f:
        r0 = 0
        if r1 == 0 goto out
        r6 = r1
        r1 -= 1
        call f
        r0 += r6
    out:
        exit
    """
    assert run(text) == 21


def test_unknown_helper_is_a_load_time_error_naming_it() -> None:
    machine = Machine(helpers=HELPERS)
    with pytest.raises(HelperError, match="bpf_skb_vlan_push"):
        machine.load("t", assemble("call 18\nexit"))


def test_jump_outside_program_is_rejected_at_load() -> None:
    with pytest.raises(InstructionError, match="jumps to slot"):
        Machine().load("t", assemble("goto +5\nexit"))


def test_falling_off_the_end_is_an_error() -> None:
    with pytest.raises(VMError, match="fell off the end"):
        run("r0 = 0")


def test_instruction_count_is_reported() -> None:
    machine = Machine()
    prog = machine.load("t", assemble("r0 = 0\nr0 += 1\nr0 += 1\nexit"))
    machine.run(prog)
    assert machine.last_executed == 4


def test_atomic_fetch_add_returns_old_value_and_updates_memory() -> None:
    text = """
        r1 = 5
        *(u64 *)(r10 - 8) = r1
        r2 = 3
        r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)
        r0 = *(u64 *)(r10 - 8)
        r0 <<= 8
        r0 |= r2
        exit
    """
    assert run(text) == (8 << 8) | 5


def test_may_goto_falls_through_until_the_loop_allowance_is_used() -> None:
    from pybpf.isa.instruction import Instruction
    insns = [Instruction(0xB7, 0, 0, 0, 0),        # r0 = 0
             Instruction(0xE5, 0, 0, 2, 0),        # may_goto +2
             Instruction(0x07, 0, 0, 0, 1),        # r0 += 1
             Instruction(0x05, 0, 0, -3, 0),       # goto -3
             Instruction(0x95)]
    machine = Machine()
    machine.may_goto_limit = 3
    assert machine.run(machine.load("t", insns)) == 3


def test_send_signal_is_recorded_not_sent() -> None:
    machine = Machine(helpers=HELPERS)
    prog = machine.load("t", assemble("r1 = 10\ncall 109\nexit"))
    assert machine.run(prog) == 0
    assert machine.env.signals == [("process", 10)]


def test_probe_write_user_refuses_non_user_memory() -> None:
    machine = Machine(helpers=HELPERS)
    prog = machine.load("t", assemble("r1 = r10\nr1 += -8\nr2 = r10\nr2 += -16\nr3 = 8\ncall 36\nexit"))
    assert machine.run(prog) == (-14) & (2**64 - 1)          # -EFAULT: the stack is not user memory
    user = machine.mem.new("user buf", 8, kind="user")
    prog = machine.load("t2", assemble("r2 = r10\nr2 += -8\n*(u64 *)(r10 - 8) = r2\nr3 = 8\ncall 36\nexit"))
    assert machine.run(prog, user.base) == 0
    assert machine.mem.read(user.base, 8) == (machine.stack_tops[0] - 8).to_bytes(8, "little")
