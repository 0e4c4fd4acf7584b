"""``pybpf disasm`` and ``pybpf asm``: output equal to llvm-objdump-19 / llvm-mc-19, and one-line
errors (exit status 1, no traceback) for bad input.
Writes only under pytest's tmp_path; never touches the kernel."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pybpf.cli.main import main

from isa_llvm_tools import CORPUS, MCPUS, llvm_assemble, need

CASES = [(src, mcpu) for src in CORPUS for mcpu in MCPUS]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("src,mcpu", CASES, ids=[f"{s.stem}-{m}" for s, m in CASES])
@pytest.mark.parametrize("reloc", [False, True], ids=["plain", "with-relocations"])
def test_disasm_prints_what_llvm_objdump_prints(capsys, compile_bpf, src, mcpu, reloc):
    obj = compile_bpf(src, mcpu=mcpu)
    flags = ["-r"] if reloc else []
    code, out, err = _run(capsys, "disasm", *flags, "--alu32", "--llvm-exact", str(obj))
    expected = subprocess.run([need("llvm-objdump-19"), "-d", *flags, "--no-show-raw-insn",
                               "--mcpu=v4", str(obj)], capture_output=True, text=True, check=True).stdout
    assert (code, err) == (0, "")
    assert out == expected
    assert ("R_BPF_64_64" in out) == reloc      # every corpus program loads a map or a global


def test_disasm_section_option_selects_one_section(capsys, compile_bpf):
    obj = compile_bpf("isa/subprogs.c", mcpu="v4")
    code, out, _ = _run(capsys, "disasm", "--section", ".text", str(obj))
    assert code == 0
    assert "Disassembly of section .text:" in out and "section socket" not in out
    assert "<square>:" in out


def test_disasm_of_a_missing_section_is_an_error(capsys, compile_bpf):
    obj = compile_bpf("isa/subprogs.c", mcpu="v4")
    code, out, err = _run(capsys, "disasm", "--section", "nope", str(obj))
    assert code == 1 and "no executable section named 'nope'" in err


def test_asm_then_disasm_raw(capsys, tmp_path):
    source = tmp_path / "prog.s"
    source.write_text("r0 = 0\nloop:\nr0 += 1\nif r0 < 10 goto loop\nexit\n")
    output = tmp_path / "prog.bin"
    code, _, err = _run(capsys, "asm", str(source), "-o", str(output))
    assert (code, err) == (0, "")
    assert output.read_bytes() == llvm_assemble(source.read_text())
    code, out, _ = _run(capsys, "disasm", "--raw", str(output))
    assert code == 0
    assert out.splitlines() == ["       0:\tr0 = 0x0", "       1:\tr0 += 0x1",
                                "       2:\tif r0 < 0xa goto -0x2", "       3:\texit"]


def test_asm_error_is_one_line_with_file_line_and_column(capsys, tmp_path):
    source = tmp_path / "bad.s"
    source.write_text("r0 = 0\nr0 += r11\nexit\n")
    code, _, err = _run(capsys, "asm", str(source), "-o", str(tmp_path / "bad.bin"))
    assert code == 1
    assert err.count("\n") == 1
    assert f"{source}:2:7: invalid register 'r11'" in err
    assert not (tmp_path / "bad.bin").exists()


def _cli(*argv):
    return subprocess.run([sys.executable, "-m", "pybpf", *argv], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def bad_files(tmp_path, compile_bpf):
    good = compile_bpf("isa/arith.c", mcpu="v3").read_bytes()
    files = {
        "truncated": good[: len(good) // 3],
        "header-only": good[:40],
        "not-elf": b"this is not an ELF file at all\n" * 4,
        "empty": b"",
        "x86-elf": open("/bin/true", "rb").read(),     # a valid ELF for the wrong machine
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.o"
        paths[name].write_bytes(data)
    paths["missing"] = tmp_path / "missing.o"
    return paths


@pytest.mark.parametrize("kind", ["truncated", "header-only", "not-elf", "empty", "x86-elf", "missing"])
def test_bad_object_gives_one_line_on_stderr_and_exit_1(bad_files, kind):
    proc = _cli("disasm", str(bad_files[kind]))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("pybpf: error: ")
    assert str(bad_files[kind]) in proc.stderr


def test_raw_file_of_odd_length_gives_one_line_and_exit_1(tmp_path):
    raw = tmp_path / "odd.bin"
    raw.write_bytes(bytes.fromhex("b700000001000000950000"))
    proc = _cli("disasm", "--raw", str(raw))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "not a multiple of 8" in proc.stderr


@pytest.mark.parametrize("syntax", ["llvm", "conformance"])
def test_bare_listing_reads_back_through_pybpf_asm(capsys, compile_bpf, tmp_path, syntax):
    from pybpf.cli.disasm import read_code_sections
    obj = compile_bpf("isa/branches.c", mcpu="v3")
    (section,) = read_code_sections(obj)
    code, out, _ = _run(capsys, "disasm", "--bare", "--syntax", syntax, str(obj))
    assert code == 0 and out.startswith(f"# section {section.name}\n")
    source = tmp_path / "listing.s"
    source.write_text(out)
    code, _, err = _run(capsys, "asm", str(source), "-o", str(tmp_path / "listing.bin"))
    assert (code, err) == (0, "")
    assert (tmp_path / "listing.bin").read_bytes() == section.data


def test_conformance_syntax_refuses_map_loads_with_one_line(capsys, tmp_path):
    raw = tmp_path / "map.bin"
    raw.write_bytes(bytes.fromhex("1811000005000000" "0000000000000000" "9500000000000000"))
    code, _, err = _run(capsys, "disasm", "--raw", "--syntax", "conformance", str(raw))
    assert code == 1 and err.count("\n") == 1 and "no bpf_conformance spelling" in err


CONFORMANCE = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "bpf_conformance"


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="bpf_conformance suite not found")
def test_asm_reads_a_conformance_case(capsys, tmp_path):
    from pybpf.isa.conformance import parse_case
    case = CONFORMANCE / "tests" / "lddw.data"
    code, _, err = _run(capsys, "asm", str(case), "-o", str(tmp_path / "lddw.bin"))
    assert (code, err) == (0, "")
    assert (tmp_path / "lddw.bin").read_bytes() == parse_case(case).raw


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="bpf_conformance suite not found")
@pytest.mark.parametrize("name,message", [
    ("invalid_register", ":4:9: invalid register '%r50'"),
    ("unused-exit-imm", "exit must have all fields zero"),
    ("invalid_unknown_directive", ":4:1: unknown section"),
])
def test_asm_rejects_bad_conformance_cases_with_one_line(capsys, tmp_path, name, message):
    code, _, err = _run(capsys, "asm", str(CONFORMANCE / "negative" / f"{name}.data"),
                        "-o", str(tmp_path / "out.bin"))
    assert code == 1 and err.count("\n") == 1 and message in err


def test_disasm_r_lists_every_core_relocation_kind_like_llvm_objdump(capsys, compile_bpf):
    from isa_llvm_tools import CORPUS_DIR
    obj = compile_bpf(CORPUS_DIR / "core" / "core_relocs.c", mcpu="v3")
    code, out, err = _run(capsys, "disasm", "-r", "--alu32", "--llvm-exact", str(obj))
    expected = subprocess.run([need("llvm-objdump-19"), "-dr", "--no-show-raw-insn", "--mcpu=v4",
                               str(obj)], capture_output=True, text=True, check=True).stdout
    assert (code, err) == (0, "")
    assert out == expected
    kinds = {line.split("<")[1].split(">")[0] for line in out.splitlines() if "CO-RE <" in line}
    assert len(kinds) == 13
