"""Specific verifier rules, each checked against the kernel where it can judge the same program."""
from __future__ import annotations

import pytest

from asm_util import MAPS, prog
from pybpf.verifier import (HelperCallError, ReferenceLeakError, ReturnValueError,
                            StackAccessError, verify)

XDP, SOCKET = 6, 1
UNINIT_STACK_READ = "ldxdw %r0, [%r10-8]\nexit"
LOCK = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, arr\ncall 1\nmov %r6, %r0\n" \
       "mov %r1, %r6\ncall 93\n"
UNLOCK = "mov %r1, %r6\ncall 94\n"


@pytest.mark.kernel
def test_root_may_read_uninitialised_stack_like_the_kernel():
    from kernel_oracle import load
    assert load(prog(UNINIT_STACK_READ), XDP, MAPS).accepted
    assert verify(prog(UNINIT_STACK_READ), prog_type=XDP).accepted


def test_unprivileged_mode_rejects_uninitialised_stack_reads():
    with pytest.raises(StackAccessError, match="invalid read from stack"):
        verify(prog(UNINIT_STACK_READ), prog_type=XDP, privileged=False)


def test_unprivileged_mode_rejects_pointer_comparisons():
    text = "mov %r0, 0\nmov %r2, %r10\njeq %r2, %r1, +0\nexit"
    assert verify(prog(text), prog_type=XDP).accepted
    with pytest.raises(Exception, match="pointer comparison prohibited"):
        verify(prog(text), prog_type=XDP, privileged=False)


@pytest.mark.kernel
def test_bounded_loop_is_accepted_like_the_kernel():
    from kernel_oracle import load
    text = "mov %r0, 0\nmov %r1, 0\nl: add %r0, %r1\nadd %r1, 1\njlt %r1, 50, l\nexit"
    assert load(prog(text), XDP, MAPS).accepted
    result = verify(prog(text), prog_type=XDP)
    assert result.accepted and result.insns_processed >= 150   # every iteration was explored


@pytest.mark.kernel
def test_constant_array_key_lookup_needs_no_null_check_like_the_kernel():
    from kernel_oracle import load
    text = "stw [%r10-4], 3\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, arr\ncall 1\n" \
           "ldxdw %r0, [%r0+8]\nexit"
    text = text.replace("stw [%r10-4], 3", "mov %r3, 3\nstxw [%r10-8], %r3").replace("-4", "-8")
    assert load(prog(text), XDP, MAPS).accepted
    assert verify(prog(text), prog_type=XDP, maps=MAPS).accepted


def test_spin_lock_must_be_released_before_exit():
    with pytest.raises(ReferenceLeakError, match="bpf_spin_unlock is missing"):
        verify(prog(LOCK + "mov %r0, 0\nexit"), prog_type=XDP, maps=MAPS)


def test_no_helper_calls_while_holding_a_spin_lock():
    with pytest.raises(HelperCallError, match="not allowed while holding a lock"):
        verify(prog(LOCK + "call 7\n" + UNLOCK + "mov %r0, 0\nexit"), prog_type=XDP, maps=MAPS)


def test_lock_then_unlock_is_accepted():
    assert verify(prog(LOCK + UNLOCK + "mov %r0, 0\nexit"), prog_type=XDP, maps=MAPS).accepted


def test_bpf_loop_callback_must_return_zero_or_one():
    text = ("mov %r1, 10\nlddw %r2, 0\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\n"
            "cb: mov %r0, 7\nexit")
    insns = prog(text)
    from pybpf.isa.opcodes import PseudoSrc
    cb_slot = 9                      # slots: mov, lddw(2), mov, mov, call, mov, exit -> cb at 8
    insns[1] = insns[1].with_(src=PseudoSrc.FUNC, imm=cb_slot - 1 - 1 - 1)
    with pytest.raises(ReturnValueError, match="callback return"):
        verify(insns, prog_type=XDP)


def test_helper_not_available_to_the_program_type_is_named():
    with pytest.raises(HelperCallError, match="bpf_xdp_adjust_head"):
        verify(prog("mov %r2, 0\ncall 44\nmov %r0, 0\nexit"), prog_type=SOCKET)


def test_stack_written_by_a_loop_callback_is_not_trusted_afterwards():
    """The callback stores 100 into the caller's slot; using the old constant 0 would be unsound."""
    from pybpf.isa.opcodes import PseudoSrc
    from pybpf.verifier import MapValueBoundsError, PointerArithmeticError
    text = ("stdw [%r10-8], 0\nmov %r1, 4\nlddw %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\n"
            "call 181\nldxdw %r7, [%r10-8]\n" + "stw [%r10-12], 0\nmov %r2, %r10\nadd %r2, -12\n"
            "ldmap %r1, arr\ncall 1\nadd %r0, %r7\nldxb %r0, [%r0]\nmov %r0, 0\nexit\n"
            "cb: stdw [%r2], 100\nmov %r0, 0\nexit")
    insns = prog(text)
    cb = sum(i.slots for i in insns[:-3])
    insns[2] = insns[2].with_(src=PseudoSrc.FUNC, imm=cb - 2 - 1)
    with pytest.raises((MapValueBoundsError, PointerArithmeticError)):
        verify(insns, prog_type=XDP, maps=MAPS)


MAP_IN_MAP = """stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, outer
call 1
jeq %r0, 0, out
mov %r1, %r0
mov %r2, %r10
add %r2, -4
call 1
jeq %r0, 0, out
ldxdw %r0, [%r0+{off}]
out:
mov %r0, 2
exit"""


class _Inner:
    name, type, key_size, value_size, max_entries, flags, inner = "inner", 2, 4, 16, 4, 0, None


class _Outer:
    name, type, key_size, value_size, max_entries, flags, inner = "outer", 12, 4, 4, 2, 0, _Inner


@pytest.mark.kernel
@pytest.mark.parametrize("off,safe", [(8, True), (12, False)])
def test_map_in_map_lookups_use_the_inner_map_like_the_kernel(off, safe, monkeypatch):
    import ctypes
    import os
    import kernel_oracle
    inner_fd = kernel_oracle.create_map(2, 4, 16, 4)
    attr = (ctypes.c_uint32 * 32)()
    attr[0], attr[1], attr[2], attr[3], attr[5] = 12, 4, 4, 2, inner_fd
    outer_fd = kernel_oracle._bpf(0, attr)
    try:
        assert outer_fd >= 0
        monkeypatch.setattr(kernel_oracle, "create_map", lambda *a: os.dup(outer_fd))
        text = MAP_IN_MAP.format(off=off)
        assert kernel_oracle.load(prog(text), XDP, {"outer": (12, 4, 4, 2)}).accepted is safe
        assert verify(prog(text), prog_type=XDP, maps={"outer": _Outer},
                      raise_on_reject=False).accepted is safe
    finally:
        os.close(inner_fd)
        if outer_fd >= 0:
            os.close(outer_fd)
