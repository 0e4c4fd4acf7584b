"""Writing BTF back: byte-identical re-encoding of real blobs, editing, building, split BTF."""
from __future__ import annotations

import pytest

from pybpf.btf import BTF, Int, Kind, Member, Struct
from pybpf.btf.elf import find_btf_section
from pybpf.errors import BTFError


def test_corpus_btf_reencodes_byte_identically(corpus_objects):
    for path in corpus_objects.values():
        raw = find_btf_section(path.read_bytes())
        btf = BTF.parse(raw)
        assert btf.to_bytes(reencode=True) == raw, path.name


def test_vmlinux_reencodes_byte_identically(vmlinux_btf, vmlinux_bytes):
    assert vmlinux_btf.to_bytes(reencode=True) == vmlinux_bytes


def test_parse_of_to_bytes_equals_original_after_edit(zoo_object):
    btf = BTF.from_file(zoo_object)
    before = len(btf)
    new_id = btf.add_struct("added", 8, [("first", btf.find_one("int").id, 0)])
    again = BTF.parse(btf.to_bytes())
    assert again == btf
    assert again[new_id].name == "added" and len(again) == before + 1


def test_replacing_a_struct_moves_its_field(zoo_object, bpftool_raw, tmp_path):
    btf = BTF.from_file(zoo_object)
    pair = btf.find_one("packed_pair", Kind.STRUCT)
    moved = Struct(pair.name, 8, (pair.members[1], Member("c", pair.members[0].type_id, 32)))
    btf[pair.id] = moved
    out = tmp_path / "moved.btf"
    out.write_bytes(btf.to_bytes())
    text = bpftool_raw(out)
    assert f"[{pair.id}] STRUCT 'packed_pair' size=8 vlen=2" in text
    assert f"\t'c' type_id={pair.members[0].type_id} bits_offset=32" in text
    assert BTF.from_file(out).find_one("packed_pair").member("c").bit_offset == 32


def test_built_btf_is_accepted_by_bpftool(bpftool_raw, tmp_path):
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    u8 = btf.add_int("unsigned char", 1)
    fwd = btf.add_fwd("later")
    ptr = btf.add_ptr(fwd)
    arr = btf.add_array(u8, 6, i32)
    s = btf.add_struct("pkt", 24, [("len", i32, 0), ("mac", arr, 32), ("flag", u8, 80, 1),
                                   ("next", ptr, 128)])
    e = btf.add_enum("mode", {"OFF": 0, "ON": 1, "BAD": -1})
    e64 = btf.add_enum("wide", {"W": 1 << 40}, size=8)
    proto = btf.add_func_proto(i32, [("p", ptr), ("", 0)])
    btf.add_func("fn", proto)
    path = tmp_path / "built.btf"
    path.write_bytes(btf.to_bytes())
    text = bpftool_raw(path)
    assert f"[{s}] STRUCT 'pkt' size=24 vlen=4" in text
    assert "\t'flag' type_id=2 bits_offset=80 bitfield_size=1" in text
    assert f"[{e}] ENUM 'mode' encoding=SIGNED size=4 vlen=3" in text and "'BAD' val=-1" in text
    assert f"[{e64}] ENUM64 'wide' encoding=UNSIGNED size=8 vlen=1" in text
    assert "'W' val=1099511627776ULL" in text
    assert f"[{proto}] FUNC_PROTO '(anon)' ret_type_id={i32} vlen=2" in text


def test_split_btf_is_read_by_bpftool_with_base(zoo_object, bpftool_raw, tmp_path):
    base = BTF.from_file(zoo_object)
    split = BTF(base=base)
    node = base.find_one("node", Kind.STRUCT).id
    p = split.add_ptr(node)
    s = split.add_struct("module_thing", 16, [("n", p, 0), ("counter", base.find_one("int").id, 64)])
    base_file, split_file = tmp_path / "base.btf", tmp_path / "split.btf"
    base_file.write_bytes(base.to_bytes())
    split_file.write_bytes(split.to_bytes())
    text = bpftool_raw(split_file, base=base_file)
    assert text.splitlines()[0] == f"[{p}] PTR '(anon)' type_id={node}"
    assert f"[{s}] STRUCT 'module_thing' size=16 vlen=2" in text
    again = BTF.parse(split_file.read_bytes(), base)
    assert again.find_one("module_thing").id == s
    assert again.find_one("node").id == node           # found in the base
    assert again.resolve(again[p].type_id).name == "node"


def test_adding_void_is_refused():
    from pybpf.btf import VOID
    with pytest.raises(BTFError):
        BTF().add(VOID)


def test_enum_value_out_of_range_is_a_btf_error():
    btf = BTF()
    btf.add_enum("e", {"X": 1 << 33})        # 4-byte enum cannot hold it
    with pytest.raises(BTFError, match="32 bits"):
        btf.to_bytes()


def test_added_type_carries_its_new_id():
    btf = BTF()
    tid = btf.add(Int("int", 4, 1, 0, 32))
    assert btf[tid].id == tid == 1


def test_big_endian_btf_is_read_by_bpftool_like_little_endian(bpftool_raw, tmp_path):
    blobs = {}
    for endian in "<>":
        btf = BTF(endian=endian)
        i32 = btf.add_int("int", 4, signed=True)
        s = btf.add_struct("s", 8, [("a", i32, 0), ("b", i32, 32, 3)])
        btf.add_enum("e", {"X": -1})
        btf.add_enum("w", {"Y": 1 << 40}, size=8)
        btf.add_decl_tag("tag", s, 0)
        path = tmp_path / f"endian{ord(endian)}.btf"
        path.write_bytes(btf.to_bytes())
        blobs[endian] = path
        assert BTF.parse(path.read_bytes()) == btf
        assert BTF.parse(path.read_bytes()).find_one("s").id == s
    assert blobs["<"].read_bytes() != blobs[">"].read_bytes()
    assert bpftool_raw(blobs["<"]) == bpftool_raw(blobs[">"])


def test_shared_kernel_btf_is_read_only_but_copies_are_editable(vmlinux_btf):
    with pytest.raises(BTFError, match="read-only"):
        vmlinux_btf.add_int("mine", 4)
    with pytest.raises(BTFError, match="read-only"):
        vmlinux_btf[1] = Int("x", 4, 0, 0, 32)
    copy = vmlinux_btf.copy()
    new_id = copy.add_int("mine", 4)
    assert new_id == len(vmlinux_btf) and copy.find_one("mine").id == new_id
    assert vmlinux_btf.find("mine") == []


def test_alignment_follows_edits():
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    s = btf.add_struct("s", 8, [("a", i32, 0), ("b", i32, 32)])
    outer = btf.add_struct("outer", 8, [("inner", s, 0)])
    assert btf.align_of(outer) == 4
    i64 = btf.add_int("long", 8, signed=True)
    btf[s] = Struct("s", 8, (Member("a", i64, 0),))
    assert btf.align_of(outer) == 8
