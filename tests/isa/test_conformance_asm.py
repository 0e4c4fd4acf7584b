"""The bpf_conformance data parser and the assembler for its syntax, checked against the suite itself
and hand-encoded instructions from RFC 9669.
Reads the shared suite read-only; never runs programs or touches the kernel."""
from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.errors import AssemblerError, InstructionError
from pybpf.isa import Instruction, decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.conformance import parse_case

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance"
TESTS = sorted((CONFORMANCE / "tests").glob("*.data"))
NEGATIVE = CONFORMANCE / "negative"
UNUSED = sorted(NEGATIVE.glob("unused-*.data"))
BAD_ASM = ["invalid_imm32_dec_range", "invalid_imm32_hex_range", "invalid_label", "invalid_lock",
           "invalid_lock2", "invalid_mnemonic", "invalid_offset", "invalid_offset_range",
           "invalid_operand_count", "invalid_register"]

pytestmark = pytest.mark.skipif(not TESTS, reason=f"bpf_conformance suite not found at {CONFORMANCE}")


def test_the_suite_has_all_313_cases():
    assert len(TESTS) == 313


@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_every_conformance_program_assembles_to_valid_instructions(path):
    case = parse_case(path)
    insns = case.instructions()
    assert insns, "a conformance program is never empty"
    assert decode(encode(insns)) == insns          # encode() validates every field
    assert case.result is not None


@pytest.mark.parametrize("path", [p for p in TESTS if "-- raw" in p.read_text()],
                         ids=lambda p: p.stem)
def test_assembly_equals_the_raw_section(path):
    case = parse_case(path)
    assert case.raw is not None
    assert encode(assemble(case.asm)) == case.raw


@pytest.mark.parametrize("path", UNUSED, ids=[p.stem for p in UNUSED])
def test_encodings_with_unused_fields_set_are_rejected_by_decode(path):
    case = parse_case(path)
    assert case.raw is not None and case.error is not None
    with pytest.raises(InstructionError, match="invalid instruction"):
        decode(case.raw)


@pytest.mark.parametrize("name", BAD_ASM)
def test_bad_assembly_is_rejected_naming_line_and_column(name):
    case = parse_case(NEGATIVE / f"{name}.data")
    with pytest.raises(AssemblerError) as info:
        case.instructions()
    assert info.value.line is not None and info.value.line > case.asm_line - 1
    assert info.value.column is not None and info.value.column >= 1
    assert f"line {info.value.line}, column {info.value.column}" in str(info.value)


def test_unknown_section_directive_is_rejected_with_its_line():
    with pytest.raises(AssemblerError, match="unknown section") as info:
        parse_case(NEGATIVE / "invalid_unknown_directive.data")
    assert info.value.line == 4


def test_parse_case_reads_mem_and_result(tmp_path):
    case = parse_case(CONFORMANCE / "tests" / "subnet.data")
    assert case.mem[:4] == bytes([0x00, 0x00, 0xC0, 0x9F]) and len(case.mem) == 74
    assert case.result == 1 and case.error is None
    assert "mov %r2, 0xe" in case.asm and "#include" not in case.asm   # -- c ignored


def test_raw_section_in_64_bit_word_form_is_little_endian():
    case = parse_case(CONFORMANCE / "tests" / "lddw.data")
    assert case.raw == bytes.fromhex("1800000088776655" "0000000044332211" "9500000000000000")


def test_expected_error_text_is_kept():
    assert parse_case(NEGATIVE / "error.data").error == "Invalid"
    assert parse_case(NEGATIVE / "unused-exit-imm.data").error == ""
    assert parse_case(CONFORMANCE / "tests" / "exit.data").error is None


# Hand-encoded from RFC 9669 (opcode, regs nibble, little-endian off and imm).
HAND_ENCODED = [
    ("mov32 %r0, 1", "b400000001000000"),
    ("mov %r1, -1", "b7010000ffffffff"),
    ("add32 %r0, %r1", "0c10000000000000"),
    ("sdiv %r0, 3", "3700010003000000"),
    ("smod32 %r1, %r2", "9c21010000000000"),
    ("movsx832 %r0, %r1", "bc10080000000000"),
    ("movsx3264 %r2, %r3", "bf32200000000000"),
    ("neg %r3", "8703000000000000"),
    ("be16 %r0", "dc00000010000000"),
    ("le64 %r0", "d400000040000000"),
    ("bswap32 %r5", "d705000020000000"),
    ("ldxdw %r0, [%r1+8]", "7910080000000000"),
    ("ldxsb %r0, [%r1-2]", "9110feff00000000"),
    ("stxw [%r10-4], %r1", "631afcff00000000"),
    ("stb [%r10-1], 0x7f", "720affff7f000000"),
    ("jeq %r1, 0, +2", "1501020000000000"),
    ("jne32 %r1, %r2, -1", "5e21ffff00000000"),
    ("ja +1", "0500010000000000"),
    ("ja32 -3", "06000000fdffffff"),
    ("call 5", "8500000005000000"),
    ("call %r2", "8d02000000000000"),
    ("lock add [%r10-8], %r1", "db1af8ff00000000"),
    ("lock fetch add32 [%r10-4], %r1", "c31afcff01000000"),
    ("lock xchg [%r1+0], %r2", "db210000e1000000"),
    ("lock cmpxchg32 [%r1], %r2", "c3210000f1000000"),
    ("lock fetch xor [%r1+16], %r3", "db311000a1000000"),
    ("jsgt %r1, 0xffffffff, +0", "65010000ffffffff"),
]


@pytest.mark.parametrize("text,hexbytes", HAND_ENCODED, ids=[t for t, _ in HAND_ENCODED])
def test_instruction_encodes_as_the_rfc_specifies(text, hexbytes):
    assert encode(assemble(text)).hex() == hexbytes


def test_labels_resolve_to_slot_distances_counting_lddw_as_two():
    insns = assemble("ja L1\nlddw %r0, 1\nL1:\nexit")
    assert insns[0] == Instruction(0x05, off=2)


def test_ja32_and_local_call_put_the_label_distance_in_imm():
    insns = assemble("call local f\nja32 f\nexit\nf:\nexit")
    assert (insns[0].src, insns[0].imm) == (1, 2)
    assert (insns[1].opcode, insns[1].off, insns[1].imm) == (0x06, 0, 1)


def test_the_word_exit_as_a_jump_target_means_the_first_exit():
    insns = assemble("jne %r0, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit")
    assert insns[0].off == 1


def test_comments_and_blank_lines_are_ignored():
    assert assemble("# a comment\n\nmov %r0, 1 # trailing\nexit") == assemble("mov %r0, 1\nexit")


def test_duplicate_label_is_an_error():
    with pytest.raises(AssemblerError, match="duplicate label 'a'"):
        assemble("a:\nexit\na:\nexit")


def test_lddw_accepts_full_64_bit_and_negative_constants():
    assert assemble("lddw %r0, 0xffffffffffffffff")[0].imm == 0xFFFFFFFFFFFFFFFF
    assert assemble("lddw %r0, -1")[0].imm == 0xFFFFFFFFFFFFFFFF
    with pytest.raises(AssemblerError, match="64 bits"):
        assemble("lddw %r0, 0x10000000000000000")
