"""Tiny hand-assembled BPF snippets shared by the kernel-backend tests (no kernel access here)."""
from __future__ import annotations

from pybpf.isa import Instruction as I


def mov64_imm(dst: int, imm: int) -> I:
    return I(0xB7, dst, 0, 0, imm)


def exit_() -> I:
    return I(0x95)


def return_imm(value: int) -> list[I]:
    return [mov64_imm(0, value), exit_()]


def ringbuf_emit_u64(map_name: str, value: int) -> list[I]:
    """*(u64 *)(fp-8) = value; bpf_ringbuf_output(&map, fp-8, 8, 0)."""
    return [I(0x7A, 10, 0, -8, value), I(0x18, 1, 1, 0, 0, ref=map_name), I(0xBF, 2, 10),
            I(0x07, 2, 0, 0, -8), mov64_imm(3, 8), mov64_imm(4, 0), I(0x85, 0, 0, 0, 130)]
