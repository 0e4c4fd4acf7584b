"""The builder DSL: programs equal what llvm-mc-19 assembles from the same source, helper ids equal
libbpf's bpf_helper_defs.h, and a built program runs in the kernel with the expected result.
Only the kernel-marked test loads a program (closed on exit); nothing is attached or pinned."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pybpf.errors import AssemblerError
from pybpf.isa import encode
from pybpf.isa.builder import FP, R0, R1, R2, R3, Program, Reg

from isa_llvm_tools import llvm_assemble

HELPER_DEFS = Path("/usr/include/bpf/bpf_helper_defs.h")


def test_counter_program_matches_llvm_mc():
    p = Program()
    p.mov(R0, 0).stx("w", FP, -4, R0)
    p.mov(R2, FP).add(R2, -4)
    p.call("map_lookup_elem")
    p.jeq(R0, 0, "out")
    p.mov(R1, 1).atomic("dw", "add", R0, 0, R1)
    p.label("out").mov32(R0, 0).exit()
    expected = llvm_assemble("""
        r0 = 0
        *(u32 *)(r10 - 4) = r0
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    out:
        w0 = 0
        exit""")
    assert encode(p.build()) == expected


def test_every_alu_and_jump_method_matches_llvm_mc():
    p = Program()
    p.add32(R1, R2).sub(R1, 3).mul32(R1, -1).div(R1, R2).sdiv32(R1, 7).mod(R1, R3).smod(R1, -2)
    p.or_(R1, 0xF0).and32(R1, R2).xor(R1, R1).lsh(R1, 3).rsh32(R1, R2).arsh(R1, 1).neg32(R1)
    p.movsx(R1, R2, 16).movsx(R1, R2, 8, alu32=True).be(R1, 16).le(R1, 64).bswap(R1, 32)
    p.lddw(R1, 0x1122334455667788).ldx("h", R1, R2, 6).ldxs(1, R1, R2, -1).st("dw", FP, -8, -5)
    p.xchg("w", R1, 4, R2).cmpxchg("dw", R1, 8, R2).atomic(4, "xor", R1, 0, R2, fetch=True)
    p.label("top").jne32(R1, 5, "top").jsge(R1, R2, "end").jset(R1, 1, +1).ja("end")
    p.ja32("top").call_local("end").label("end").exit()
    expected = llvm_assemble("""
        w1 += w2
        r1 -= 3
        w1 *= -1
        r1 /= r2
        w1 s/= 7
        r1 %= r3
        r1 s%= -2
        r1 |= 0xf0
        w1 &= w2
        r1 ^= r1
        r1 <<= 3
        w1 >>= w2
        r1 s>>= 1
        w1 = -w1
        r1 = (s16)r2
        w1 = (s8)w2
        r1 = be16 r1
        r1 = le64 r1
        r1 = bswap32 r1
        r1 = 0x1122334455667788 ll
        r1 = *(u16 *)(r2 + 6)
        r1 = *(s8 *)(r2 - 1)
        *(u64 *)(r10 - 8) = -5
        w2 = xchg32_32(r1 + 4, w2)
        r0 = cmpxchg_64(r1 + 8, r0, r2)
        w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)
    top:
        if w1 != 5 goto top
        if r1 s>= r2 goto end
        if r1 & 1 goto +1
        goto end
        gotol top
        call end
    end:
        exit""")
    assert encode(p.build()) == expected


def test_ld_map_is_a_map_fd_load_naming_the_map():
    insn = Program().ld_map(R1, "counts").build()[0]
    assert (insn.opcode, insn.dst, insn.src, insn.imm, insn.ref) == (0x18, 1, 1, 0, "counts")
    value = Program().ld_map_value(R2, ".bss", 16).build()[0]
    assert (value.src, value.imm >> 32, value.ref) == (2, 16, ".bss")


def test_ld_func_points_at_the_label():
    insns = Program().ld_func(R2, "cb").exit().label("cb").exit().build()
    # kernel rule (verifier.c, bpf_pseudo_func): target slot = lddw slot + imm + 1; cb is slot 3
    assert (insns[0].src, insns[0].imm) == (4, 2)


@pytest.mark.skipif(not HELPER_DEFS.exists(), reason="libbpf headers not installed")
def test_helper_names_resolve_to_libbpf_ids():
    text = HELPER_DEFS.read_text()
    ids = {m.group(1): int(m.group(2)) for m in
           re.finditer(r"\(\*bpf_(\w+)\)\([^;]*?\)\s*=\s*\(void \*\)\s*(\d+);", text, re.S)}
    assert len(ids) > 200
    for name in ("map_lookup_elem", "ringbuf_output", "loop", "ktime_get_ns", "get_current_comm"):
        assert Program().call(name).build()[0].imm == ids[name]
        assert Program().call("bpf_" + name).build()[0].imm == ids[name]


def test_undefined_label_is_an_error():
    with pytest.raises(AssemblerError, match="undefined label 'nowhere'"):
        Program().ja("nowhere").exit().build()


def test_duplicate_label_is_an_error():
    with pytest.raises(AssemblerError, match="duplicate label 'a'"):
        Program().label("a").exit().label("a")


def test_bad_operands_are_errors_not_crashes():
    with pytest.raises(AssemblerError, match="register"):
        Program().mov(1, 2)                       # plain ints are not registers
    with pytest.raises(AssemblerError, match="32 bits"):
        Program().mov(R0, 1 << 40)
    with pytest.raises(AssemblerError, match="access size"):
        Program().ldx("q", R0, R1)
    with pytest.raises(AssemblerError, match="unknown helper"):
        Program().call("no_such_helper")
    with pytest.raises(AssemblerError, match="no register r11"):
        Reg(11)


def test_jump_too_far_for_16_bits_is_an_error():
    p = Program().ja("far")
    for _ in range(0x8000):
        p.mov(R0, 0)
    with pytest.raises(AssemblerError, match="too far"):
        p.label("far").exit().build()


@pytest.mark.kernel
def test_built_program_runs_in_the_kernel_with_the_expected_result():
    from pybpf.isa.uapi import ProgramType
    from pybpf.kernel.programs import KernelProgram
    # r0 = sum(1..10) computed in a loop, plus the first packet byte loaded through xdp_md->data.
    p = Program()
    p.ldx("w", R2, R1, 0)                        # r2 = ctx->data
    p.ldx("w", R3, R1, 4)                        # r3 = ctx->data_end
    p.mov(R0, 0).mov(R1, 10)
    p.label("loop").add(R0, R1).sub(R1, 1).jne(R1, 0, "loop")
    p.mov(R1, R2).add(R1, 1).jgt(R1, R3, "done")
    p.ldx("b", R1, R2, 0).add(R0, R1)
    p.label("done").exit()
    with KernelProgram.load(p.build(), prog_type=ProgramType.XDP, name="isa_builder") as prog:
        result = prog.test_run(bytes([7]) + bytes(63))
    assert result.retval == 55 + 7
