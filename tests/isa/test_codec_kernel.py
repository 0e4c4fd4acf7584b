"""The codec's field rules for kfunc calls and addr_space_cast agree with the kernel's verifier:
encodings we reject are refused by the kernel for their fields, encodings we accept are not.
Loads tiny socket filters only (closed at once); nothing is attached or pinned."""
from __future__ import annotations

import pytest

from pybpf.errors import KernelVerifierError
from pybpf.isa import Instruction, check, encode

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
