"""The codec's field rules agree with the kernel's verifier: every encoding the codec accepts passes
the kernel's field checks (callx excepted), and kfunc/addr_space_cast edge cases match exactly.
Loads tiny socket filters only (closed at once); nothing is attached or pinned."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings

from pybpf.errors import KernelVerifierError
from pybpf.isa import Instruction, check, encode

from test_properties import instruction

# (name, instruction, the kernel's complaint when the encoding itself is bad, else None)
CASES = [
    ("addr_space_cast 1->0", Instruction(0xBF, 0, 2, 1, 1), None),
    ("addr_space_cast 0->1", Instruction(0xBF, 0, 2, 1, 1 << 16), None),
    ("addr_space_cast 1->2", Instruction(0xBF, 0, 2, 1, 2), "can only convert between address space"),
    ("kfunc in module btf 1", Instruction(0x85, 0, 2, 1, 1234), None),
    ("kfunc negative index", Instruction(0x85, 0, 2, -1, 1234), "negative offset disallowed"),
    ("helper with offset", Instruction(0x85, 0, 0, 1, 5), "BPF_CALL uses reserved fields"),
]


@pytest.mark.kernel
@pytest.mark.parametrize("name,insn,complaint", CASES, ids=[c[0] for c in CASES])
def test_codec_validity_matches_the_kernel(name, insn, complaint):
    from pybpf.isa.uapi import ProgramType
    from pybpf.kernel.programs import KernelProgram
    program = [Instruction(0xB7, dst=2), insn, Instruction(0xB7), Instruction(0x95)]
    with pytest.raises(KernelVerifierError) as info:     # none of these can load: no arena/fd_array
        KernelProgram.load(encode(program, validate=False), prog_type=ProgramType.SOCKET_FILTER,
                           name="isa_codec", log_level=1).close()
    log = info.value.log or str(info.value)
    if complaint is None:
        assert check(insn) is None
        for bad in ("reserved fields", "can only convert", "negative offset", "unknown opcode"):
            assert bad not in log
    else:
        assert check(insn) is not None
        assert complaint in log


# The kernel's complaints about an instruction's fields (as opposed to its meaning in context).
FIELD_COMPLAINTS = ("reserved fields", "unknown opcode", "invalid BPF_ALU opcode", "invalid BPF_LD_IMM",
                    "invalid bpf_ld_imm64", "invalid atomic operand size", "invalid atomic opcode",
                    "can only convert", "negative offset disallowed", "invalid insn code",
                    "invalid src_reg", "invalid dst_reg", "invalid may_goto", "invalid size")


def _field_complaint(log: str) -> str | None:
    for text in FIELD_COMPLAINTS:
        if text in log:
            return text
    match = re.search(r"R\d+ is invalid", log)
    return match.group(0) if match else None


def _tame(insn: Instruction) -> Instruction:
    """Keep jumps inside the test program (forward, at most 30 slots) so check_cfg stays quiet."""
    if insn.opcode == 0x06 or (insn.opcode == 0x85 and insn.src == 1):
        return insn.with_(imm=min(max(insn.imm, 0), 30))
    if insn.is_jump and insn.opcode not in (0x85, 0x8D, 0x95):
        return insn.with_(off=min(max(insn.off, 0), 30))
    return insn


def _kernel_log(insn: Instruction) -> str:
    from pybpf.isa.uapi import ProgramType
    from pybpf.kernel.programs import KernelProgram
    program = [Instruction(0xB7, dst=r) for r in range(10)] + [insn, Instruction(0xB7)]
    program += [Instruction(0x07)] * 40 + [Instruction(0x95)]
    try:
        KernelProgram.load(encode(program, validate=False), prog_type=ProgramType.SOCKET_FILTER,
                           name="isa_codec", log_level=1).close()
    except KernelVerifierError as exc:
        return exc.log or str(exc)
    return ""


@pytest.mark.kernel
@settings(max_examples=250, deadline=None)
@given(instruction.map(_tame))
def test_every_instruction_the_codec_accepts_passes_the_kernels_field_checks(insn):
    log = _kernel_log(insn)
    complaint = _field_complaint(log)
    if insn.opcode == 0x8D:                  # callx: LLVM's encoding, which Linux does not implement
        assert complaint == "unknown opcode"
    else:
        assert complaint is None, f"{insn}: {log.strip().splitlines()[-2:]}"
