"""Our disassembly of every corpus program (tests/corpus/isa/*.c at -mcpu=v1..v4) equals
llvm-objdump-19's, line by line.
Compiles the corpus into the build cache only; never touches the kernel."""
from __future__ import annotations

import pytest

from pybpf.cli.disasm import read_code_sections
from pybpf.isa import Instruction, Size, decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import disassemble, nearest_symbol
from pybpf.isa.opcodes import AtomicOp

from isa_llvm_tools import CORPUS, FAR_JUMP, MCPUS, objdump

CASES = [(src, mcpu) for src in CORPUS for mcpu in MCPUS]
IDS = [f"{src.stem}-{mcpu}" for src, mcpu in CASES]


def _lossy_in_plain_llvm(insn: Instruction) -> bool:
    """32-bit atomics other than add: plain llvm-objdump prints <unknown> (or a wrong plain add)."""
    return insn.is_atomic and insn.size == Size.W and insn.imm != AtomicOp.ADD


@pytest.fixture(scope="module")
def compiled(compile_bpf):
    return {(src, mcpu): compile_bpf(src, mcpu=mcpu) for src, mcpu in CASES}


def _sections(obj):
    return {s.name: s for s in read_code_sections(obj)}


def test_the_corpus_covers_the_instruction_classes(compiled):
    """Guard against a corpus that silently lost its coverage (e.g. a failed #if)."""
    seen = set()
    for obj in compiled.values():
        for section in read_code_sections(obj):
            for insn in decode(section.data):
                seen.add(insn.opcode)
                if insn.is_atomic:
                    seen.add(("atomic", insn.size, insn.imm))
                if insn.opcode in (0xBF, 0xBC) and insn.off in (8, 16, 32):
                    seen.add("movsx")
                if insn.opcode == 0xBF and insn.off == 1:
                    seen.add("addr_space_cast")
                if insn.off == 1 and insn.cls in (4, 7) and insn.alu_op in (0x30, 0x90):
                    seen.add("sdiv/smod")
    for atomic in (0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1):
        assert ("atomic", Size.DW, atomic) in seen and ("atomic", Size.W, atomic) in seen
    assert {"movsx", "sdiv/smod", "addr_space_cast", 0x91, 0x89, 0xD7, 0xDC, 0x16, 0x85, 0x18,
            0x95} <= seen


@pytest.mark.parametrize("src,mcpu", CASES, ids=IDS)
def test_disassembly_matches_llvm_objdump(compiled, src, mcpu):
    obj = compiled[(src, mcpu)]
    plain, alu32 = objdump(obj), objdump(obj, "--mcpu=v4")
    sections = _sections(obj)
    assert set(plain) == set(sections)
    for name, section in sections.items():
        insns = decode(section.data)
        symbolize = nearest_symbol(section.symbols)
        ours = disassemble(insns, llvm_exact=True, symbolize=symbolize)
        ours32 = disassemble(insns, alu32=True, llvm_exact=True, symbolize=symbolize)
        assert [t for _, t in alu32[name]] == ours32, f"{name} (--mcpu=v4)"
        assert len(plain[name]) == len(insns)
        for insn, (slot, theirs), mine, theirs32 in zip(insns, plain[name], ours, alu32[name]):
            expected = theirs32[1] if _lossy_in_plain_llvm(insn) else theirs
            assert mine == expected, f"{name} slot {slot}"


@pytest.mark.parametrize("src,mcpu", CASES, ids=IDS)
def test_default_disassembly_differs_from_llvm_only_in_call_spelling(compiled, src, mcpu):
    obj = compiled[(src, mcpu)]
    for section in read_code_sections(obj):
        insns = decode(section.data)
        exact = disassemble(insns, llvm_exact=True)
        for insn, ours, theirs in zip(insns, disassemble(insns), exact):
            if insn.is_pseudo_call:
                assert ours == f"call pc{theirs[len('call '):]}" if theirs[5] == "-" else \
                    ours == f"call pc+{theirs[len('call '):]}"
            else:
                assert ours == theirs



@pytest.mark.parametrize("src,mcpu", CASES, ids=IDS)
def test_disassembly_assembles_back_to_the_section_bytes(compiled, src, mcpu):
    for section in read_code_sections(compiled[(src, mcpu)]):
        insns = decode(section.data)
        for alu32 in (False, True):
            text = "\n".join(disassemble(insns, alu32=alu32, symbolize=nearest_symbol(section.symbols)))
            assert encode(assemble(text)) == section.data, f"{section.name} alu32={alu32}"


def test_far_branch_becomes_gotol_and_matches_llvm_objdump(compile_bpf):
    obj = compile_bpf(FAR_JUMP, mcpu="v4")
    (section,) = read_code_sections(obj)
    insns = decode(section.data)
    assert any(insn.opcode == 0x06 for insn in insns), "clang should have emitted gotol"
    theirs = [text for _, text in objdump(obj, "--mcpu=v4")[section.name]]
    ours = disassemble(insns, alu32=True, symbolize=nearest_symbol(section.symbols))
    assert ours == theirs
    assert encode(assemble("\n".join(ours))) == section.data


def test_helper_calls_are_annotated_with_libbpf_names_and_still_read_back(compile_bpf):
    import re
    from pathlib import Path
    defs = Path("/usr/include/bpf/bpf_helper_defs.h")
    if not defs.exists():
        pytest.skip("libbpf headers not installed")
    names = {int(m.group(2)): f"bpf_{m.group(1)}" for m in re.finditer(
        r"\(\*bpf_(\w+)\)\([^;]*?\)\s*=\s*\(void \*\)\s*(\d+);", defs.read_text(), re.S)}
    (section,) = read_code_sections(compile_bpf("isa/maps_helpers.c", mcpu="v3"))
    insns = decode(section.data)
    lines = disassemble(insns, helper_names=True)
    calls = [(insn, line) for insn, line in zip(insns, lines) if insn.is_helper_call]
    assert len(calls) >= 6
    for insn, line in calls:
        assert line == f"call {insn.imm:#x} <{names[insn.imm]}>"
    assert encode(assemble("\n".join(lines))) == section.data
