""".BTF.ext: func_info, line_info and CO-RE records against llvm-readelf/llvm-objdump and the source."""
from __future__ import annotations

import re
import subprocess

import pytest

from pybpf.btf import BTF, Composite, Func, Kind
from pybpf.btf.elf import find_btf_section
from pybpf.btf.ext import BTFExt, CoreReloKind, LineInfo, SourceMap
from pybpf.errors import BTFError


def _load(path):
    data = path.read_bytes()
    btf = BTF.parse(find_btf_section(data))
    raw = find_btf_section(data, name=".BTF.ext")
    return btf, raw, BTFExt.parse(raw, btf)


def _objdump(path) -> dict[str, dict[int, str]]:
    """section -> insn index -> instruction text, from llvm-objdump-19."""
    text = subprocess.run(["llvm-objdump-19", "-d", "--no-show-raw-insn", str(path)],
                          check=True, capture_output=True, text=True).stdout
    out: dict[str, dict[int, str]] = {}
    section = None
    for line in text.splitlines():
        m = re.match(r"Disassembly of section (.*):", line)
        if m:
            section = out.setdefault(m.group(1), {})
        m = re.match(r"\s+(\d+):\s+(.*)", line)
        if m and section is not None:
            section[int(m.group(1))] = m.group(2).strip()
    return out


def test_ext_reencodes_byte_identically(corpus_objects):
    for path in corpus_objects.values():
        btf, raw, ext = _load(path)
        assert ext.to_bytes(btf) == raw, path.name


def test_func_info_names_the_elf_function_symbols(corpus_objects):
    for path in corpus_objects.values():
        btf, _, ext = _load(path)
        syms = subprocess.run(["llvm-readelf-19", "-sS", "--wide", str(path)], check=True,
                              capture_output=True, text=True).stdout
        index_to_section = dict(re.findall(r"^\s*\[\s*(\d+)\] (\S+)", syms, re.M))
        expected = set()
        for value, ndx, name in re.findall(r"^\s*\d+: ([0-9a-f]+)\s+\d+ FUNC\s+\w+\s+\w+\s+(\d+) (\S+)",
                                           syms, re.M):
            expected.add((index_to_section[ndx], int(value, 16), name))
        got = set()
        for section, infos in ext.func_info.items():
            for fi in infos:
                func = btf[fi.type_id]
                assert isinstance(func, Func)
                got.add((section, fi.insn_off, func.name))
        assert got == expected, path.name


def test_line_info_text_is_the_source_files_line(corpus_objects):
    checked = 0
    for path in corpus_objects.values():
        _, _, ext = _load(path)
        for records in ext.line_info.values():
            for li in records:
                with open(li.file_name) as f:
                    source = f.read().splitlines()
                assert li.text == source[li.line - 1]
                assert 0 <= li.column <= len(li.text) + 1
                checked += 1
    assert checked > 10


def test_core_relo_records_sit_on_the_instructions_clang_patched(core_object):
    btf, _, ext = _load(core_object)
    insns = _objdump(core_object)
    relos = ext.core_relos["raw_tp/sys_enter"]
    assert {r.kind for r in relos} == {CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_EXISTS,
                                       CoreReloKind.TYPE_SIZE, CoreReloKind.ENUMVAL_VALUE}
    for r in relos:
        insn = insns["raw_tp/sys_enter"][r.insn]
        imm = int(re.search(r"= (0x[0-9a-f]+)", insn).group(1), 16)
        root = btf.resolve(r.type_id)
        path = r.access_path
        if r.kind == CoreReloKind.FIELD_BYTE_OFFSET:
            assert isinstance(root, Composite)
            assert imm == root.members[path[1]].bit_offset // 8
        elif r.kind == CoreReloKind.FIELD_EXISTS:
            assert imm == 1
        elif r.kind == CoreReloKind.TYPE_SIZE:
            assert imm == btf.size_of(root)
        elif r.kind == CoreReloKind.ENUMVAL_VALUE:
            assert root.kind == Kind.ENUM and imm == root.values[path[0]].value


def test_source_map_gives_the_line_of_the_last_record_at_or_before_an_insn():
    recs = [LineInfo(0, "a.c", "int f(void)", 3, 0), LineInfo(40, "a.c", "  x = 1;", 5, 5)]
    sm = SourceMap(recs)
    assert sm.lookup(0).line == 3
    assert sm.lookup(4).line == 3
    assert sm.lookup(5).line == 5 and sm.lookup(99).column == 5
    assert str(sm.lookup(6)) == "a.c:5:5: x = 1;"
    assert SourceMap(recs, insn_base=2).lookup(3).line == 5      # program starts at insn 2
    assert SourceMap(recs[1:]).lookup(2) is None


def test_source_map_of_a_real_program_covers_its_first_instruction(core_object):
    _, _, ext = _load(core_object)
    line = ext.source_map("raw_tp/sys_enter").lookup(0)
    assert line is not None and "read_task" in line.text


@pytest.mark.parametrize("cut", [3, 10, 30, 40, 100])
def test_truncated_ext_is_a_btf_error(core_object, cut):
    btf, raw, _ = _load(core_object)
    with pytest.raises(BTFError):
        BTFExt.parse(raw[:cut], btf)


def test_ext_with_bad_string_offset_is_a_btf_error(core_object):
    btf, raw, ext = _load(core_object)
    hdr_len = int.from_bytes(raw[4:8], "little")
    bad = bytearray(raw)
    bad[hdr_len + 4:hdr_len + 8] = (10 ** 8).to_bytes(4, "little")   # first section name offset
    with pytest.raises(BTFError, match="string table"):
        BTFExt.parse(bytes(bad), btf)


def test_from_elf_finds_btf_and_ext(core_object):
    ext = BTFExt.from_elf(core_object.read_bytes())
    assert ext is not None and "tp/syscalls/sys_enter_write" in ext.func_info


def test_source_line_shortcut_matches_source_map(core_object):
    _, _, ext = _load(core_object)
    for insn in (0, 7, 18, 26):
        assert ext.source_line("raw_tp/sys_enter", insn) == \
            ext.source_map("raw_tp/sys_enter").lookup(insn)
    assert ext.source_line("no_such_section", 0) is None


def test_larger_record_sizes_round_trip(core_object):
    """Newer producers may append fields to records; readers skip them (rec_size is per subsection)."""
    btf, _, ext = _load(core_object)
    ext.func_info_rec_size, ext.line_info_rec_size, ext.core_relo_rec_size = 12, 20, 24
    data = ext.to_bytes(btf)
    again = BTFExt.parse(data, btf)
    assert (again.func_info, again.line_info, again.core_relos) == \
        (ext.func_info, ext.line_info, ext.core_relos)
    assert again.line_info_rec_size == 20


def test_ext_without_core_relos_writes_the_short_header(core_object):
    btf, _, ext = _load(core_object)
    ext.core_relos = {}
    ext.hdr_len = 24
    data = ext.to_bytes(btf)
    assert int.from_bytes(data[4:8], "little") == 24
    assert BTFExt.parse(data, btf).line_info == ext.line_info
