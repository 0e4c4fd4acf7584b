"""Value codecs: decode clang-initialized globals to the C initializer's values, encode them back."""
from __future__ import annotations

import re
import subprocess

import pytest

from pybpf.btf import BTF, Kind, load_vmlinux
from pybpf.btf.codec import Record, ValueCodecError, codec_for
from pybpf.btf.elf import find_btf_section
from pybpf.errors import BTFError, MapError

# the initializer of `val` in corpus/codec_values.c, written out by hand
EXPECTED_VAL = {
    "pid": 1234, "delta": -5, "comm": "bash",
    "f": {"a": 5, "b": 17, "c": -9, "wide": 0x123456789A, "tail": 7},
    "color": -3, "seen": True, "pp": {"c": "x", "i": -2}, "ports": [80, 443],
    "u": {"word": 0x11223344, "bytes": bytes([0x44, 0x33, 0x22, 0x11]),
          "halves": {"lo": 0x3344, "hi": 0x1122}},
    "_anon9": {"x": 10, "y": -20}, "ratio": 1.5, "initial": "Q",
    "pairs": [{"c": "a", "i": 1}, {"c": "b", "i": 2}], "ptr": 0,
}


@pytest.fixture(scope="module")
def data_section(corpus_objects):
    """(btf with .data fixed up from the ELF symbol table, .data bytes, symbol offsets)."""
    path = corpus_objects["codec_values"]
    raw = path.read_bytes()
    btf = BTF.parse(find_btf_section(raw))
    syms = subprocess.run(["llvm-readelf-19", "-s", str(path)], check=True, capture_output=True,
                          text=True).stdout
    offsets = {n: int(v, 16) for v, n in re.findall(
        r"^\s*\d+: ([0-9a-f]+)\s+\d+ OBJECT\s+\w+\s+\w+\s+\d+ (\S+)", syms, re.M)}
    data = find_btf_section(raw, name=".data")
    btf.fixup_datasec(".data", len(data), offsets)
    return btf, data, offsets


def test_struct_decodes_to_the_c_initializer(data_section):
    btf, data, offsets = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    start = offsets["val"]
    record = codec.decode(data[start:start + codec.size])
    assert record == EXPECTED_VAL
    assert record.f.c == -9 and record.comm == "bash" and record.pairs[1].c == "b"


def test_struct_encodes_from_a_dict_to_clangs_bytes(data_section):
    btf, data, offsets = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    start = offsets["val"]
    assert codec.encode(EXPECTED_VAL) == data[start:start + codec.size]


def test_datasec_decodes_every_global_and_round_trips(data_section):
    btf, data, _ = data_section
    codec = codec_for(btf, btf.find_one(".data", Kind.DATASEC))
    rec = codec.decode(data)
    assert rec.counter == 99 and rec.favourite == 5 and rec.favourite.name == "GREEN"
    assert codec.encode(rec) == data


def test_anonymous_member_fields_are_reachable_directly(data_section):
    btf, data, offsets = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    rec = codec.decode(data[:codec.size])
    assert (rec.x, rec.y) == (10, -20)
    rec.y = 7
    assert codec.decode(codec.encode(rec)).y == 7
    assert codec.decode(codec.encode({"x": 3})).x == 3


def test_missing_fields_encode_as_zero(data_section):
    btf, _, _ = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    assert codec.encode({}) == bytes(codec.size)
    assert codec.decode(codec.encode({"pid": 7})).pid == 7


def test_bitfield_overflow_is_rejected(data_section):
    btf, _, _ = data_section
    codec = codec_for(btf, btf.find_one("flags", Kind.STRUCT))
    with pytest.raises(ValueCodecError, match="3-bit field 'a'"):
        codec.encode({"a": 8})
    with pytest.raises(ValueCodecError):
        codec.encode({"c": -65})


def test_codec_errors_are_map_and_btf_errors(data_section):
    btf, _, _ = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    with pytest.raises(MapError):
        codec.encode({"comm": "a name that is far too long"})
    with pytest.raises(BTFError):
        codec.encode({"no_such_field": 1})
    with pytest.raises(ValueCodecError):
        codec.decode(b"\0" * 3)


def test_enum_encodes_by_name(data_section):
    btf, _, _ = data_section
    codec = codec_for(btf, btf.find_one("color", Kind.ENUM))
    assert codec.encode("BLUE") == (-3).to_bytes(4, "little", signed=True)
    assert codec.decode(codec.encode(5)).name == "GREEN"
    assert codec.decode((77).to_bytes(4, "little")) == 77


def test_record_repr_is_readable(data_section):
    btf, data, _ = data_section
    codec = codec_for(btf, btf.find_one("packed_pair", Kind.STRUCT))
    assert repr(codec.decode(b"z\x05\0\0\0")) == "packed_pair(c='z', i=5)"
    assert isinstance(codec.decode(b"z\x05\0\0\0"), Record)


def test_functions_have_no_codec(data_section):
    btf, _, _ = data_section
    with pytest.raises(BTFError, match="no value codec"):
        codec_for(btf, btf.find_one("keep", Kind.FUNC))


def test_vmlinux_struct_codec_size_matches_btf(vmlinux_btf):
    for name in ("task_struct", "sk_buff", "xdp_md", "bpf_attr"):
        t = vmlinux_btf.find_one(name)
        codec = codec_for(vmlinux_btf, t)
        assert codec.size == vmlinux_btf.size_of(t)
        assert codec.encode(codec.decode(bytes(codec.size))) == bytes(codec.size)


def test_decoded_records_work_as_dict_keys(data_section):
    btf, data, offsets = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    a = codec.decode(data[:codec.size])
    b = codec.decode(data[:codec.size])
    other = codec.decode(codec.encode({"pid": 1}))
    table = {a: "first", other: "second"}
    assert table[b] == "first" and len(table) == 2


def test_record_replace_returns_a_changed_copy(data_section):
    btf, data, _ = data_section
    codec = codec_for(btf, btf.find_one("packed_pair", Kind.STRUCT))
    rec = codec.decode(b"z\x05\0\0\0")
    changed = rec._replace(i=9)
    assert (rec.i, changed.i, changed.c) == (5, 9, "z")
    assert codec.encode(changed) == b"z\x09\0\0\0"
    with pytest.raises(AttributeError):
        rec._replace(nope=1)


def test_record_repr_names_enum_values(data_section):
    btf, data, offsets = data_section
    codec = codec_for(btf, btf.find_one("value", Kind.STRUCT))
    text = repr(codec.decode(data[:codec.size]))
    assert "color=BLUE" in text and "f=flags(a=5, b=17, c=-9" in text
