"""Parsing BTF: types, names, sizes and lookups checked against bpftool and the kernel's BTF."""
from __future__ import annotations

import re

import pytest

from pybpf.btf import (BTF, Array, Composite, Datasec, Enum64, Func, FuncProto, Fwd, Int, Kind,
                       Ptr, Struct, Union, Var, load_vmlinux)
from pybpf.btf.elf import find_btf_section
from pybpf.errors import BTFError


def _bpftool_headers(text: str) -> dict[int, tuple[str, str]]:
    """type id -> (KIND, name) from bpftool raw output."""
    out = {}
    for m in re.finditer(r"^\[(\d+)\] (\w+) '([^']*)'", text, re.M):
        out[int(m.group(1))] = (m.group(2), m.group(3))
    return out


def test_every_type_id_kind_and_name_match_bpftool_for_corpus(bpftool_raw, corpus_objects):
    for path in corpus_objects.values():
        btf = BTF.from_file(path)
        expected = _bpftool_headers(bpftool_raw(path))
        got = {t.id: (t.kind.name, t.name or "(anon)") for t in btf}
        assert got == expected, path.name


def test_len_counts_void_like_libbpf_type_cnt(bpftool_raw, zoo_object):
    btf = BTF.from_file(zoo_object)
    assert len(btf) - 1 == max(_bpftool_headers(bpftool_raw(zoo_object)))


def test_bitfield_members_have_bpftool_offsets_and_sizes(zoo_object, bpftool_raw):
    btf = BTF.from_file(zoo_object)
    flags = btf.find_one("flags", Kind.STRUCT)
    raw = bpftool_raw(zoo_object)
    block = re.search(rf"^\[{flags.id}\] STRUCT 'flags'.*?(?=^\[)", raw, re.M | re.S).group(0)
    expected = [(n, int(o), int(s or 0)) for n, o, s in re.findall(
        r"'(\w+)' type_id=\d+ bits_offset=(\d+)(?: bitfield_size=(\d+))?", block)]
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in flags.members] == expected
    assert flags.member("a").bitfield_size == 3 and flags.member("c").bit_offset == 8


def test_kinds_decode_to_their_classes(zoo_object):
    btf = BTF.from_file(zoo_object)
    assert isinstance(btf.find_one("big"), Enum64)
    assert btf.find_one("big").value_of("BIG_HUGE") == 0x123456789ABCDEF
    assert btf.find_one("color").value_of("BLUE") == -3
    assert isinstance(btf.find_one("either"), Union)
    assert isinstance(btf.find_one("opaque"), Fwd)
    assert isinstance(btf.find_one("helper"), Func)
    assert isinstance(btf[btf.find_one("helper").type_id], FuncProto)
    assert isinstance(btf.find_one("global_node"), Var)
    assert {d.name for d in btf.types(Kind.DATASEC)} >= {".maps", ".bss", ".rodata", "license"}


def test_variadic_function_pointer_has_trailing_void_param(zoo_object):
    btf = BTF.from_file(zoo_object)
    handler = btf.resolve(btf.find_one("handler_fn"))
    assert isinstance(handler, Ptr)
    proto = btf[handler.type_id]
    assert isinstance(proto, FuncProto) and proto.is_variadic and len(proto.params) == 3


def test_size_of_matches_clang_layout_from_datasec(zoo_object):
    # clang records each global's size in its DATASEC entry: an independent layout truth
    btf = BTF.from_file(zoo_object)
    checked = 0
    for sec in btf.types(Kind.DATASEC):
        for v in sec.vars:
            var = btf[v.type_id]
            if isinstance(var, Var):
                assert btf.size_of(var.type_id) == v.size, var.name
                checked += 1
    assert checked >= 5


def test_align_of_packed_struct_is_one(zoo_object):
    btf = BTF.from_file(zoo_object)
    assert btf.align_of(btf.find_one("packed_pair")) == 1
    assert btf.align_of(btf.find_one("node")) == 8
    assert btf.size_of(btf.find_one("packed_pair")) == 5


def test_resolve_skips_typedefs_and_qualifiers(zoo_object):
    btf = BTF.from_file(zoo_object)
    answer = btf.find_one("answer", Kind.VAR)          # volatile const int
    assert isinstance(btf.resolve(answer.type_id), Int)
    assert btf.resolve(answer.type_id).name == "int"
    assert btf.resolve(btf.find_one("u64_t")).name == "unsigned long long"


def test_find_with_kind_filters_and_find_one_raises_for_missing(zoo_object):
    btf = BTF.from_file(zoo_object)
    assert [t.kind for t in btf.find("values")] == [Kind.VAR]
    assert btf.find("values", Kind.STRUCT) == []
    with pytest.raises(BTFError, match="no_such_type"):
        btf.find_one("no_such_type")


def test_elf_without_btf_section_is_a_btf_error(tmp_path, zoo_object):
    data = bytearray(zoo_object.read_bytes())
    assert find_btf_section(bytes(data)) is not None
    stripped = tmp_path / "nobtf.o"
    import subprocess
    subprocess.run(["llvm-objcopy-19", "--remove-section=.BTF", "--remove-section=.BTF.ext",
                    str(zoo_object), str(stripped)], check=True)
    with pytest.raises(BTFError, match="no .BTF section"):
        BTF.from_file(stripped)


def test_missing_file_is_a_btf_error(tmp_path):
    with pytest.raises(BTFError, match="cannot read"):
        BTF.from_file(tmp_path / "absent.btf")


def test_bad_magic_is_rejected():
    with pytest.raises(BTFError, match="magic"):
        BTF.parse(b"\x00" * 64)


def test_vmlinux_task_struct_found_lazily_with_kernel_layout(vmlinux_path, vmlinux_raw_text):
    btf = BTF.from_file(vmlinux_path)               # fresh, not the shared cached instance
    task = btf.find_one("task_struct", Kind.STRUCT)
    for m in task.members:
        btf.resolve(m.type_id)
    raw = vmlinux_raw_text
    header = re.search(rf"^\[{task.id}\] STRUCT 'task_struct' size=(\d+) vlen=(\d+)$", raw, re.M)
    assert header is not None
    assert (task.size, len(task.members)) == (int(header.group(1)), int(header.group(2)))
    # far fewer types decoded than exist: the lazy promise
    assert len(btf._cache) < 1000 < len(btf)


def test_vmlinux_load_is_cached(vmlinux_path):
    assert load_vmlinux(vmlinux_path) is load_vmlinux(vmlinux_path)


def test_vmlinux_kind_counts_match_bpftool(vmlinux_btf, vmlinux_raw_text):
    raw = vmlinux_raw_text
    expected: dict[str, int] = {}
    for kind in re.findall(r"^\[\d+\] (\w+) ", raw, re.M):
        expected[kind] = expected.get(kind, 0) + 1
    got: dict[str, int] = {}
    for i in range(1, len(vmlinux_btf)):
        k = vmlinux_btf.kind_of(i).name
        got[k] = got.get(k, 0) + 1
    assert got == expected


def test_array_of_arrays_size(zoo_object):
    btf = BTF.from_file(zoo_object)
    arr = next(t for t in btf.types(Kind.ARRAY) if isinstance(t, Array)
               and btf.resolve(t.type_id).kind == Kind.PTR and t.nelems == 3)
    assert btf.size_of(arr) == 24
    assert isinstance(btf.find_one("node"), Composite)
    assert isinstance(btf.find_one(".maps"), Datasec)


def test_elf_with_vmlinux_btf_section_loads_like_the_raw_file(tmp_path, vmlinux_bytes,
                                                              zoo_object):
    """The BTFHub case: kernel BTF shipped inside an ELF file's .BTF section."""
    import subprocess
    raw = tmp_path / "vmlinux.btf"
    raw.write_bytes(vmlinux_bytes)
    elf = tmp_path / "vmlinux.elf"
    subprocess.run(["llvm-objcopy-19", "--remove-section=.rel.BTF", "--remove-section=.BTF",
                    "--remove-section=.rel.BTF.ext", "--remove-section=.BTF.ext",
                    f"--add-section=.BTF={raw}", str(zoo_object), str(elf)], check=True)
    btf = BTF.from_file(elf)
    assert btf.to_bytes() == vmlinux_bytes
    assert btf.find_one("task_struct", Kind.STRUCT).id == \
        BTF.parse(vmlinux_bytes).find_one("task_struct", Kind.STRUCT).id


@pytest.mark.parametrize("name", ["task_struct", "id", "u32", "next", "no_such_name_at_all"])
def test_find_returns_exactly_the_ids_bpftool_lists_under_that_name(vmlinux_path,
                                                                     vmlinux_raw_text, name):
    expected = [int(i) for i in re.findall(rf"^\[(\d+)\] \w+ '{re.escape(name)}'",
                                           vmlinux_raw_text, re.M)]
    btf = BTF.from_file(vmlinux_path)                # fresh: exercises the one-off scan path
    assert [t.id for t in btf.find(name)] == expected
    assert btf._ids_named_all(name) == expected       # and the dict-index path
