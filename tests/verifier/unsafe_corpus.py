"""A corpus of unsafe eBPF programs, each annotated with the Linux verifier's rejection message.

Data only: tests check the annotation against the running kernel and that pybpf rejects each one.
Programs use the bpf_conformance assembly syntax plus ``ldmap`` (see asm_util); maps come from MAPS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.isa import Instruction

from asm_util import lookup, prog

XDP, SOCKET, TC, TP, KPROBE, RAW_TP, CGROUP_SKB = 6, 1, 3, 5, 2, 17, 8

PKT = """
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
"""
LOOKUP = lookup("arr")          # constant in-range key: the kernel knows r0 is not NULL
HLOOKUP = lookup("hash")        # may return NULL
CHECKED = LOOKUP + "jeq %r0, 0, +{skip}\n"
RESERVE = """
ldmap %r1, rb
mov %r2, 8
mov %r3, 0
call 131
"""


@dataclass
class Case:
    name: str
    prog_type: int
    kernel: str                       # substring of the kernel verifier's rejection message
    text: str | None = None
    raw: list[Instruction] | None = None
    options: dict[str, Any] = field(default_factory=dict)   # extra pybpf.verify() arguments

    def instructions(self) -> list[Instruction]:
        return list(self.raw) if self.raw is not None else prog(self.text or "")


def _deep_calls(depth: int) -> str:
    lines = []
    for i in range(depth):
        lines += [f"call local f{i}", "exit", f"f{i}:"]
    lines += ["mov %r0, 0", "exit"]
    return "mov %r0, 0\n" + "\n".join(lines)


CASES: list[Case] = [
    # --- control flow -------------------------------------------------------------------
    Case("unreachable_insn", XDP, "unreachable insn 2", "mov %r0, 0\nexit\nmov %r0, 1\nexit"),
    Case("jump_out_of_range_forward", XDP, "jump out of range", "mov %r0, 0\nja +5\nexit"),
    Case("jump_out_of_range_backward", XDP, "jump out of range", "mov %r0, 0\njeq %r0, 0, -5\nexit"),
    Case("falls_off_the_end", XDP, "last insn is not an exit or jmp", "mov %r0, 0\nexit\nmov %r0, 1"),
    Case("jump_into_lddw", XDP, "unreachable insn 1", "ja +1\nlddw %r0, 0x100000001\nexit"),
    Case("self_loop_forever", XDP, "infinite loop detected", "mov %r0, 0\nl: jeq %r0, 0, l\nexit"),
    Case("loop_without_progress", XDP, "infinite loop detected",
         "mov %r0, 0\nmov %r1, 5\nl: add %r1, 0\njne %r1, 0, l\nexit"),
    Case("unbounded_counter_loop", XDP, "BPF program is too large",
         "mov %r0, 0\nmov %r1, 0\nl: add %r1, 1\njne %r1, 0, l\nexit",
         options={"insn_limit": 20_000}),
    Case("huge_bound_loop", XDP, "BPF program is too large",
         "mov %r0, 0\nmov %r1, 0\nl: add %r1, 1\njlt %r1, 10000000, l\nexit",
         options={"insn_limit": 20_000}),
    Case("call_depth_nine_frames", XDP, "the call stack of 9 frames is too deep", _deep_calls(8)),
    Case("combined_stack_too_large", XDP, "combined stack size",
         "stdw [%r10-400], 0\ncall local f\nmov %r0, 0\nexit\nf: stdw [%r10-400], 0\nmov %r0, 0\nexit"),
    Case("subprog_falls_off", XDP, "last insn is not an exit or jmp",
         "call local f\nmov %r0, 0\nexit\nf: mov %r0, 0"),
    # --- registers ----------------------------------------------------------------------
    Case("read_uninit_r2", XDP, "R2 !read_ok", "mov %r0, %r2\nexit"),
    Case("exit_without_r0", XDP, "R0 !read_ok", "exit"),
    Case("write_r10", XDP, "frame pointer is read only", "mov %r10, 0\nmov %r0, 0\nexit"),
    Case("add_to_r10", XDP, "frame pointer is read only", "add %r10, -8\nmov %r0, 0\nexit"),
    Case("load_into_r10", XDP, "frame pointer is read only", "ldxdw %r10, [%r1]\nmov %r0, 0\nexit"),
    Case("r1_clobbered_by_call", XDP, "R1 !read_ok", "call 5\nmov %r0, %r1\nexit"),
    Case("r5_clobbered_by_call", XDP, "R5 !read_ok", "mov %r5, 1\ncall 7\nmov %r0, %r5\nexit"),
    Case("subprog_exit_without_r0", XDP, "R0 !read_ok",
         "call local f\nexit\nf: exit"),
    Case("callee_reads_r6", XDP, "R6 !read_ok",
         "mov %r6, 1\ncall local f\nexit\nf: mov %r0, %r6\nexit"),
    Case("uninit_on_one_path", XDP, "R6 !read_ok",
         "call 7\njeq %r0, 0, +1\nmov %r6, 1\nmov %r0, %r6\nexit"),
    Case("store_from_uninit", XDP, "R3 !read_ok", "stxdw [%r10-8], %r3\nmov %r0, 0\nexit"),
    # --- stack --------------------------------------------------------------------------
    Case("stack_write_above_fp", XDP, "invalid write to stack", "stdw [%r10], 0\nmov %r0, 0\nexit"),
    Case("stack_write_below_512", XDP, "invalid write to stack", "stdw [%r10-520], 0\nmov %r0, 0\nexit"),
    Case("stack_read_below_512", XDP, "invalid read from stack", "ldxdw %r0, [%r10-520]\nexit"),
    Case("stack_read_above_fp", XDP, "invalid read from stack", "ldxw %r0, [%r10+8]\nexit"),
    Case("stack_misaligned_write", XDP, "misaligned stack access", "stw [%r10-6], 0\nmov %r0, 0\nexit"),
    Case("stack_misaligned_read", XDP, "misaligned stack access",
         "stdw [%r10-8], 0\nldxdw %r0, [%r10-4]\nexit"),
    Case("stack_pointer_partial_fill", XDP, "invalid size of register fill",
         "stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit"),
    Case("stack_sub_from_fp", XDP, "subtraction from stack pointer prohibited",
         "mov %r1, %r10\nsub %r1, 8\nmov %r0, 0\nexit"),
    Case("stack_var_offset_out_of_frame", XDP, "invalid variable-offset",
         "call 7\nand %r0, 1023\nmov %r1, %r10\nadd %r1, -512\nadd %r1, %r0\nstb [%r1], 0\nmov %r0, 0\nexit"),
    Case("stack_ptr_plus_unbounded", XDP, "unbounded min value",
         "call 7\nmov %r1, %r10\nadd %r1, %r0\nldxb %r0, [%r1-8]\nexit"),
    # --- context ------------------------------------------------------------------------
    Case("xdp_ctx_write", XDP, "invalid bpf_context access", "stw [%r1], 0\nmov %r0, 0\nexit"),
    Case("xdp_ctx_read_past_end", XDP, "invalid bpf_context access", "ldxw %r0, [%r1+24]\nexit"),
    Case("xdp_ctx_read_u64", XDP, "invalid bpf_context access", "ldxdw %r0, [%r1]\nexit"),
    Case("xdp_ctx_read_u16", XDP, "invalid bpf_context access", "ldxh %r0, [%r1+12]\nexit"),
    Case("xdp_ctx_misaligned", XDP, "invalid bpf_context access", "ldxw %r0, [%r1+2]\nexit"),
    Case("xdp_ctx_egress_ifindex_outside_devmap", XDP, "invalid bpf_context access",
         "ldxw %r0, [%r1+20]\nexit"),
    Case("xdp_ctx_negative", XDP, "invalid bpf_context access", "ldxw %r0, [%r1-4]\nexit"),
    Case("tc_ctx_write_len", TC, "invalid bpf_context access", "stw [%r1], 0\nmov %r0, 0\nexit"),
    Case("tc_ctx_read_past_end", TC, "invalid bpf_context access", "ldxw %r0, [%r1+192]\nexit"),
    Case("tc_ctx_read_family", TC, "invalid bpf_context access", "ldxw %r0, [%r1+88]\nexit"),
    Case("socket_ctx_read_data", SOCKET, "invalid bpf_context access", "ldxw %r0, [%r1+76]\nexit"),
    Case("socket_ctx_write_mark", SOCKET, "invalid bpf_context access",
         "stw [%r1+8], 1\nmov %r0, 0\nexit"),
    Case("tracepoint_ctx_common_header", TP, "invalid bpf_context access", "ldxdw %r0, [%r1]\nexit"),
    Case("tracepoint_ctx_write", TP, "invalid bpf_context access", "stdw [%r1+8], 0\nmov %r0, 0\nexit"),
    Case("tracepoint_ctx_misaligned", TP, "invalid bpf_context access", "ldxdw %r0, [%r1+12]\nexit"),
    Case("kprobe_ctx_past_pt_regs", KPROBE, "invalid bpf_context access", "ldxdw %r0, [%r1+168]\nexit"),
    Case("kprobe_ctx_write", KPROBE, "invalid bpf_context access", "stdw [%r1+8], 0\nmov %r0, 0\nexit"),
    Case("raw_tp_ctx_past_args", RAW_TP, "invalid bpf_context access", "ldxdw %r0, [%r1+96]\nexit"),
    Case("raw_tp_ctx_write", RAW_TP, "invalid bpf_context access", "stdw [%r1], 0\nmov %r0, 0\nexit"),
    Case("modified_ctx_deref", XDP, "dereference of modified ctx ptr",
         "add %r1, 4\nldxw %r0, [%r1]\nexit"),
    Case("ctx_variable_offset", XDP, "variable ctx access",
         "mov %r6, %r1\ncall 7\nand %r0, 4\nadd %r6, %r0\nldxw %r0, [%r6]\nexit"),
    # --- packets ------------------------------------------------------------------------
    Case("pkt_read_unchecked", XDP, "invalid access to packet", PKT + "ldxb %r0, [%r2]\nexit"),
    Case("pkt_read_past_checked_range", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxb %r0, [%r2+14]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_u32_straddles_range", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxw %r0, [%r2+12]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_read_on_wrong_branch", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njle %r4, %r3, +2\nldxb %r0, [%r2]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_negative_offset", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxb %r0, [%r2-1]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_write_unchecked", XDP, "invalid access to packet", PKT + "stb [%r2], 0\nmov %r0, 0\nexit"),
    Case("pkt_end_arithmetic", XDP, "pointer arithmetic on pkt_end prohibited",
         PKT + "add %r3, -1\nmov %r0, 0\nexit"),
    Case("pkt_end_deref", XDP, "invalid mem access 'pkt_end'", PKT + "ldxb %r0, [%r3]\nexit"),
    Case("pkt_after_adjust_head", XDP, "invalid mem access 'scalar'",
         PKT + "mov %r6, %r1\nmov %r7, %r2\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +5\n"
         "mov %r1, %r6\nmov %r2, 0\ncall 44\nldxb %r0, [%r7]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_var_offset_unchecked", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +4\nldxb %r5, [%r2]\nadd %r2, %r5\n"
         "ldxb %r0, [%r2]\nexit\nmov %r0, 1\nexit"),
    Case("pkt_unbounded_var_add", XDP, "makes pkt pointer be out of bounds",
         "mov %r6, %r1\ncall 7\nldxw %r2, [%r6]\nlsh %r0, 32\narsh %r0, 32\nadd %r2, %r0\nmov %r0, 0\nexit"),
    Case("pkt_meta_unchecked", XDP, "invalid access to packet",
         "ldxw %r2, [%r1+8]\nldxb %r0, [%r2]\nexit"),
    Case("cgroup_skb_pkt_write", CGROUP_SKB, "cannot write into packet",
         "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 1\njgt %r4, %r3, +1\n"
         "stb [%r2], 0\nmov %r0, 1\nexit"),
    Case("pkt_ptr_compare_signed", XDP, "invalid access to packet",
         PKT + "mov %r4, %r2\nadd %r4, 14\njsgt %r4, %r3, +2\nldxb %r0, [%r2]\nexit\nmov %r0, 1\nexit"),
    # --- map values ---------------------------------------------------------------------
    Case("map_value_null_deref", XDP, "invalid mem access 'map_value_or_null'",
         HLOOKUP + "ldxdw %r0, [%r0]\nexit"),
    Case("map_value_deref_in_null_branch", XDP, "invalid mem access 'scalar'",
         HLOOKUP + "jne %r0, 0, +2\nldxdw %r0, [%r0]\nexit\nmov %r0, 0\nexit"),
    Case("null_check_against_zero_register", XDP, "invalid mem access 'map_value_or_null'",
         HLOOKUP + "mov %r1, 0\njeq %r0, %r1, +1\nldxdw %r0, [%r0]\nmov %r0, 0\nexit"),
    Case("null_check_with_swapped_operands", XDP, "invalid mem access 'map_value_or_null'",
         HLOOKUP + "mov %r1, 0\njeq %r1, %r0, +1\nldxdw %r0, [%r0]\nmov %r0, 0\nexit"),
    Case("map_value_write_unchecked", XDP, "invalid mem access 'map_value_or_null'",
         HLOOKUP + "stdw [%r0], 1\nmov %r0, 0\nexit"),
    Case("map_value_read_past_end", XDP, "invalid access to map value",
         CHECKED.format(skip=1) + "ldxb %r0, [%r0+16]\nexit"),
    Case("map_value_u64_straddles_end", XDP, "invalid access to map value",
         CHECKED.format(skip=1) + "ldxdw %r0, [%r0+12]\nexit"),
    Case("map_value_negative_offset", XDP, "invalid access to map value",
         CHECKED.format(skip=1) + "ldxb %r0, [%r0-1]\nexit"),
    Case("map_value_write_past_end", XDP, "invalid access to map value",
         CHECKED.format(skip=2) + "stw [%r0+16], 1\nmov %r0, 0\nexit"),
    Case("map_value_unbounded_index", XDP, "unbounded min value is not allowed",
         CHECKED.format(skip=4) + "mov %r6, %r0\ncall 7\nadd %r6, %r0\nldxb %r0, [%r6]\nexit"),
    Case("map_value_index_too_large", XDP, "invalid access to map value",
         CHECKED.format(skip=5) + "mov %r6, %r0\ncall 7\nand %r0, 31\nadd %r6, %r0\nldxb %r0, [%r6]\nexit"),
    Case("map_value_signed_index", XDP, "min value is negative",
         CHECKED.format(skip=6) + "mov %r6, %r0\ncall 7\nlsh %r0, 56\narsh %r0, 56\nadd %r6, %r0\n"
         "ldxb %r0, [%r6]\nexit"),
    Case("map_value_index_off_by_one", XDP, "invalid access to map value",
         CHECKED.format(skip=5) + "mov %r6, %r0\ncall 7\njgt %r0, 16, +3\nadd %r6, %r0\n"
         "ldxb %r0, [%r6]\nexit\nmov %r0, 0\nexit"),
    Case("readonly_map_write", XDP, "write into map forbidden",
         "ldmap %r1, ro + 0\nstw [%r1], 1\nmov %r0, 0\nexit"),
    Case("readonly_map_atomic", XDP, "write into map forbidden",
         "ldmap %r1, ro + 0\nmov %r2, 1\nlock add [%r1], %r2\nmov %r0, 0\nexit"),
    Case("global_value_past_end", XDP, "invalid access to map value",
         "ldmap %r1, arr + 8\nldxdw %r0, [%r1+8]\nexit"),
    Case("map_value_or_null_arith", XDP, "pointer arithmetic on map_value_or_null prohibited",
         HLOOKUP + "add %r0, 4\nmov %r0, 0\nexit"),
    Case("lookup_key_outside_stack", XDP, "invalid read from stack R2 off=-2 size=4",
         "mov %r2, %r10\nadd %r2, -2\nldmap %r1, arr\ncall 1\nmov %r0, 0\nexit"),
    Case("lookup_key_scalar", XDP, "R2 type=scalar expected=",
         "mov %r2, 0\nldmap %r1, arr\ncall 1\nmov %r0, 0\nexit"),
    Case("lookup_map_not_a_map", XDP, "R1 type=scalar expected=map_ptr",
         "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r1, 0\ncall 1\nmov %r0, 0\nexit"),
    Case("update_value_past_stack", XDP, "invalid read from stack R3 off=-8 size=16",
         "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\n"
         "ldmap %r1, arr\ncall 2\nmov %r0, 0\nexit"),
    Case("lookup_on_ringbuf", XDP, "invalid zero-sized read", lookup("rb") + "mov %r0, 0\nexit"),
    Case("lookup_on_perf_array", XDP, "cannot pass map_type 4 into func bpf_map_lookup_elem",
         lookup("perf") + "mov %r0, 0\nexit"),
    Case("ringbuf_output_on_hash", XDP, "cannot pass map_type 1 into func bpf_ringbuf_output",
         "stdw [%r10-8], 0\nldmap %r1, hash\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\n"
         "call 130\nmov %r0, 0\nexit"),
    Case("lookup_uninit_key_reg", XDP, "R2 !read_ok", "ldmap %r1, arr\ncall 1\nmov %r0, 0\nexit"),
    Case("map_ptr_write", XDP, "only read from bpf_array is supported",
         "ldmap %r1, arr\nstdw [%r1], 0\nmov %r0, 0\nexit"),
    Case("array_lookup_out_of_range_key", XDP, "invalid mem access 'map_value_or_null'",
         "mov %r3, 9\nstxw [%r10-8], %r3\nmov %r2, %r10\nadd %r2, -8\nldmap %r1, arr\ncall 1\n"
         "ldxdw %r0, [%r0]\nexit"),
    Case("array_lookup_unknown_key", XDP, "invalid mem access 'map_value_or_null'",
         "call 7\nstxw [%r10-8], %r0\nmov %r2, %r10\nadd %r2, -8\nldmap %r1, arr\ncall 1\n"
         "ldxdw %r0, [%r0]\nexit"),
    # --- pointer arithmetic -------------------------------------------------------------
    Case("ptr_and_const", XDP, "bitwise operator &= on pointer prohibited",
         "mov %r2, %r10\nand %r2, -8\nmov %r0, 0\nexit"),
    Case("ptr_or_const", XDP, "bitwise operator |= on pointer prohibited",
         "mov %r2, %r10\nor %r2, 1\nmov %r0, 0\nexit"),
    Case("ptr_lsh", XDP, "pointer arithmetic with <<= operator prohibited",
         "mov %r2, %r10\nlsh %r2, 1\nmov %r0, 0\nexit"),
    Case("ptr_mul", XDP, "pointer arithmetic with *= operator prohibited",
         "mov %r2, %r1\nmul %r2, 2\nmov %r0, 0\nexit"),
    Case("ptr_add32", XDP, "32-bit pointer arithmetic prohibited",
         "mov %r2, %r10\nadd32 %r2, -8\nmov %r0, 0\nexit"),
    Case("scalar_minus_ptr", XDP, "tried to subtract pointer from scalar",
         "mov %r2, 100\nsub %r2, %r1\nmov %r0, 0\nexit"),
    Case("ptr_plus_ptr", XDP, "pointer += pointer prohibited",
         "mov %r2, %r1\nadd %r2, %r10\nmov %r0, 0\nexit"),
    Case("map_ptr_plus_one", XDP, "pointer arithmetic on map_ptr prohibited",
         "ldmap %r1, arr\nadd %r1, 1\nmov %r0, 0\nexit"),
    Case("map_value_plus_huge", XDP, "is not allowed",
         CHECKED.format(skip=3) + "lddw %r1, 0x40000000\nadd %r0, %r1\nmov %r0, 0\nexit"),
    Case("ctx_ptr_xor", XDP, "bitwise operator ^= on pointer prohibited",
         "xor %r1, 1\nmov %r0, 0\nexit"),
    Case("ptr_from_scalar_deref", XDP, "invalid mem access 'scalar'",
         "lddw %r1, 0xffff888000000000\nldxdw %r0, [%r1]\nexit"),
    Case("scalar_deref_after_ptr_sub", XDP, "invalid mem access 'scalar'",
         "mov %r2, %r10\nsub %r2, %r1\nldxb %r0, [%r2]\nexit"),
    # --- helpers ------------------------------------------------------------------------
    Case("unknown_helper", XDP, "invalid func", "call 10000\nmov %r0, 0\nexit"),
    Case("probe_read_in_xdp", XDP, "cannot use helper bpf_probe_read#4",
         "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\ncall 4\nmov %r0, 0\nexit"),
    Case("csum_diff_in_tracepoint", TP, "cannot use helper bpf_csum_diff#28",
         "mov %r1, 0\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\nmov %r0, 0\nexit"),
    Case("xdp_adjust_head_in_tc", TC, "cannot use helper bpf_xdp_adjust_head#44",
         "mov %r2, 0\ncall 44\nmov %r0, 0\nexit"),
    Case("get_stackid_in_xdp", XDP, "cannot use helper bpf_get_stackid#27",
         "ldmap %r2, arr\nmov %r3, 0\ncall 27\nmov %r0, 0\nexit"),
    Case("perf_output_ctx_not_ctx", XDP, "R1 type=scalar expected=ctx",
         "stdw [%r10-8], 0\nmov %r1, 0\nldmap %r2, perf\nlddw %r3, 0xffffffff\nmov %r4, %r10\n"
         "add %r4, -8\nmov %r5, 8\ncall 25\nmov %r0, 0\nexit"),
    Case("perf_output_wrong_map", XDP, "cannot pass map_type 2 into func bpf_perf_event_output",
         "stdw [%r10-8], 0\nldmap %r2, arr\nlddw %r3, 0xffffffff\nmov %r4, %r10\n"
         "add %r4, -8\nmov %r5, 8\ncall 25\nmov %r0, 0\nexit"),
    Case("probe_read_size_may_be_negative", TP, "R2 min value is negative",
         "call 7\nmov %r2, %r0\nmov %r1, %r10\nadd %r1, -16\nmov %r3, 0\ncall 113\nmov %r0, 0\nexit"),
    Case("probe_read_unbounded_size", TP, "R2 unbounded memory access",
         "call 7\nmov %r2, %r0\nrsh %r2, 1\nmov %r1, %r10\nadd %r1, -16\nmov %r3, 0\ncall 113\n"
         "mov %r0, 0\nexit"),
    Case("probe_read_size_too_big", TP, "invalid write to stack R1 off=-16 size=32",
         "mov %r1, %r10\nadd %r1, -16\nmov %r2, 32\nmov %r3, 0\ncall 113\nmov %r0, 0\nexit"),
    Case("probe_read_negative_size", TP, "R2 min value is negative",
         "call 7\nmov %r2, %r0\nlsh %r2, 56\narsh %r2, 56\nmov %r1, %r10\nadd %r1, -16\nmov %r3, 0\n"
         "call 113\nmov %r0, 0\nexit"),
    Case("get_comm_zero_size", TP, "invalid zero-sized read",
         "mov %r1, %r10\nadd %r1, -16\nmov %r2, 0\ncall 16\nmov %r0, 0\nexit"),
    Case("get_comm_into_ctx", TP, "R1 type=ctx expected=",
         "mov %r2, 16\ncall 16\nmov %r0, 0\nexit"),
    Case("get_comm_into_map_value_too_small", TP, "invalid access to map value",
         CHECKED.format(skip=3) + "mov %r1, %r0\nmov %r2, 32\ncall 16\nmov %r0, 0\nexit"),
    Case("trace_printk_fmt_is_scalar", TP, "R1 type=scalar expected=",
         "mov %r1, 0\nmov %r2, 4\ncall 6\nmov %r0, 0\nexit"),
    Case("tail_call_wrong_map", XDP, "expected prog array map for tail call",
         "ldmap %r2, arr\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit"),
    Case("tail_call_ctx_scalar", XDP, "R1 type=scalar expected=ctx",
         "mov %r1, 0\nldmap %r2, progs\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit"),
    Case("helper_arg_uninit", XDP, "R3 !read_ok",
         "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, arr\ncall 2\nmov %r0, 0\nexit"),
    Case("csum_diff_pkt_unchecked", XDP, "invalid access to packet",
         PKT + "mov %r1, %r2\nmov %r2, 4\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\nmov %r0, 0\nexit"),
    # --- references ---------------------------------------------------------------------
    Case("ringbuf_record_leaked", XDP, "Unreleased reference",
         RESERVE + "jeq %r0, 0, +1\nstdw [%r0], 1\nmov %r0, 0\nexit"),
    Case("ringbuf_record_leaked_on_one_path", XDP, "Unreleased reference",
         RESERVE + "jeq %r0, 0, +7\nmov %r6, %r0\ncall 7\njeq %r0, 0, +3\n"
         "mov %r1, %r6\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
    Case("ringbuf_submit_unchecked", XDP, "expected=ringbuf_mem",
         RESERVE + "mov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
    Case("ringbuf_submit_stack_ptr", XDP, "expected=",
         "mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
    Case("ringbuf_write_after_submit", XDP, "invalid mem access 'scalar'",
         RESERVE + "jeq %r0, 0, +5\nmov %r6, %r0\nmov %r1, %r0\nmov %r2, 0\ncall 132\nstdw [%r6], 1\n"
         "mov %r0, 0\nexit"),
    Case("ringbuf_record_overflow", XDP, "invalid access to memory",
         RESERVE + "jeq %r0, 0, +4\nstdw [%r0+8], 1\nmov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
    Case("ringbuf_double_submit", XDP, "expected=ringbuf_mem",
         RESERVE + "jeq %r0, 0, +7\nmov %r6, %r0\nmov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r1, %r6\n"
         "mov %r2, 0\ncall 133\nmov %r0, 0\nexit"),
    Case("ringbuf_reserve_dynamic_size", XDP, "is not a known constant",
         "call 7\nmov %r2, %r0\nand %r2, 63\nldmap %r1, rb\nmov %r3, 0\ncall 131\nmov %r0, 0\nexit"),
    Case("ringbuf_submit_offset_ptr", XDP, "must have zero offset",
         RESERVE + "jeq %r0, 0, +4\nmov %r1, %r0\nadd %r1, 4\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
    Case("tail_call_with_reference", XDP, "tail_call would lead to reference leak",
         "mov %r9, %r1\n" + RESERVE + "jeq %r0, 0, +8\nmov %r6, %r0\nmov %r1, %r9\nldmap %r2, progs\n"
         "mov %r3, 0\ncall 12\n"
         "mov %r1, %r6\nmov %r2, 0\ncall 133\nmov %r0, 0\nexit"),
    # --- return values ------------------------------------------------------------------
    Case("cgroup_skb_returns_5", CGROUP_SKB, "should have been in [0, 1]", "mov %r0, 5\nexit"),
    Case("cgroup_skb_returns_random", CGROUP_SKB, "should have been in [0, 1]", "call 7\nexit"),
    Case("cgroup_skb_returns_pointer", CGROUP_SKB, "R0 is not a known value", "mov %r0, %r1\nexit"),
    Case("cgroup_skb_returns_negative", CGROUP_SKB, "should have been in [0, 1]", "mov %r0, -1\nexit"),
    # --- atomics ------------------------------------------------------------------------
    Case("atomic_on_ctx", XDP, "BPF_ATOMIC stores into R1 ctx is not allowed",
         "mov %r2, 1\nlock add [%r1], %r2\nmov %r0, 0\nexit"),
    Case("atomic_on_packet", XDP, "BPF_ATOMIC stores into R2 pkt is not allowed",
         PKT + "mov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, +2\nmov %r5, 1\nlock add [%r2], %r5\n"
         "mov %r0, 0\nexit"),
    Case("atomic_on_maybe_null", XDP, "map_value_or_null",
         HLOOKUP + "mov %r2, 1\nlock add [%r0], %r2\nmov %r0, 0\nexit"),
    Case("atomic_misaligned_map_value", XDP, "misaligned value access",
         CHECKED.format(skip=2) + "mov %r2, 1\nlock add [%r0+12], %r2\nmov %r0, 0\nexit"),
    Case("atomic_past_map_value", XDP, "invalid access to map value",
         CHECKED.format(skip=2) + "mov %r2, 1\nlock add32 [%r0+16], %r2\nmov %r0, 0\nexit"),
    # --- ALU encodings the verifier refuses --------------------------------------------
    Case("div_by_zero_imm", XDP, "div by zero", "mov %r0, 1\ndiv %r0, 0\nexit"),
    Case("mod_by_zero_imm", XDP, "div by zero", "mov %r0, 1\nmod32 %r0, 0\nexit"),
    Case("shift_by_64", XDP, "invalid shift 64", "mov %r0, 1\nlsh %r0, 64\nexit"),
    Case("shift32_by_32", XDP, "invalid shift 32", "mov %r0, 1\nrsh32 %r0, 32\nexit"),
    Case("arsh_negative", XDP, "invalid shift", "mov %r0, 1\narsh %r0, -1\nexit"),
    # --- legacy packet loads ------------------------------------------------------------
    Case("ld_abs_in_xdp", XDP, "BPF_LD_[ABS|IND] instructions not allowed",
         raw=[Instruction(0xBF, 6, 1), Instruction(0x30, imm=0), Instruction(0x95)]),
    Case("ld_abs_without_ctx_in_r6", SOCKET, "R6 != pointer to skb",
         raw=[Instruction(0xB7, 6, 0, 0, 0), Instruction(0x30, imm=0), Instruction(0x95)]),
    Case("ld_abs_clobbers_r1", SOCKET, "R1 !read_ok",
         raw=[Instruction(0xBF, 6, 1), Instruction(0x30, imm=0), Instruction(0xBF, 0, 1),
              Instruction(0x95)]),
]
