"""Robustness: mutated, truncated and random BTF/.BTF.ext/ELF inputs raise only BTFError, never hang."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF
from pybpf.btf.c_dump import dump_c
from pybpf.btf.codec import codec_for
from pybpf.btf.elf import find_btf_section
from pybpf.btf.ext import BTFExt
from pybpf.btf.raw_dump import dump_raw
from pybpf.errors import BTFError

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


class Seed(tuple):
    """(.BTF, .BTF.ext, whole ELF) of the zoo object, with a short repr for failure reports."""

    def __repr__(self) -> str:
        return "<seed blobs of types_zoo.o>"


@pytest.fixture(scope="module")
def seed(zoo_object):
    data = zoo_object.read_bytes()
    return Seed((find_btf_section(data), find_btf_section(data, name=".BTF.ext"), data))


def exercise(data: bytes) -> None:
    """Everything a consumer might do with a blob; only BTFError may escape."""
    try:
        btf = BTF.parse(data)
        for t in btf:
            btf.find(t.name)
            for fn in (btf.size_of, btf.align_of, btf.resolve):
                try:
                    fn(t)
                except BTFError:
                    pass
            try:
                codec = codec_for(btf, t)
                if codec.size <= 4096:
                    value = codec.decode(bytes(codec.size))
                    codec.encode(value)
            except BTFError:
                pass
        dump_raw(btf)
        try:
            dump_c(btf)
        except BTFError:
            pass
        BTF.parse(btf.to_bytes(reencode=True))
    except BTFError:
        pass


def _mutate(blob: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(blob)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    return bytes(buf)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1,
                      max_size=8))
def test_mutated_btf_raises_only_btf_error(seed, edits):
    exercise(_mutate(seed[0], edits))


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_mutated_type_section_words_raise_only_btf_error(seed, edits):
    # mutations aimed at the type section's u32 fields (ids, sizes, counts, offsets)
    blob = bytearray(seed[0])
    type_len = struct.unpack_from("<I", blob, 12)[0]
    for pos, value in edits:
        word = 24 + (pos % (type_len // 4)) * 4
        struct.pack_into("<I", blob, word, (value << 24) | (pos & 0xFFFFFF))
    exercise(bytes(blob))


@FUZZ
@given(cut=st.integers(0, 4000))
def test_truncated_btf_raises_only_btf_error(seed, cut):
    exercise(seed[0][:cut % (len(seed[0]) + 1)])


@FUZZ
@given(body=st.binary(min_size=0, max_size=600), str_len=st.integers(0, 64))
def test_random_type_section_raises_only_btf_error(body, str_len):
    strings = b"\0" + b"n\0" * (str_len // 2)
    type_len = len(body) & ~3
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, type_len, type_len, len(strings))
    exercise(header + body[:type_len] + strings)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_btf_error(data):
    exercise(data)
    exercise(b"\x9f\xeb\x01\x00" + data)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1,
                      max_size=6), cut=st.integers(0, 1 << 16))
def test_mutated_btf_ext_raises_only_btf_error(seed, edits, cut):
    btf = BTF.parse(seed[0])
    data = _mutate(seed[1], edits)[:cut]
    try:
        ext = BTFExt.parse(data, btf)
        for section in ext.sections():
            sm = ext.source_map(section)
            sm.lookup(3)
        for relos in ext.core_relos.values():
            for r in relos:
                try:
                    r.access_path
                except BTFError:
                    pass
        ext.to_bytes(btf)
    except BTFError:
        pass


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), min_size=1,
                      max_size=6))
def test_mutated_elf_headers_raise_only_btf_error(seed, edits):
    elf = _mutate(seed[2][:4096] + seed[2][4096:], [(p % 64 if i % 2 else p, v)
                                                   for i, (p, v) in enumerate(edits)])
    try:
        find_btf_section(elf)
    except BTFError:
        pass


def test_huge_struct_gap_is_refused_not_dumped_forever():
    btf = BTF()
    i = btf.add_int("int", 4, signed=True)
    btf.add_struct("huge", 0xFFFFFFF0, [("x", i, 0)])
    with pytest.raises(BTFError, match="implausible"):
        dump_c(btf)


def test_typedef_cycle_is_a_btf_error_not_a_hang():
    btf = BTF()
    btf.add_typedef("a", 2)
    btf.add_typedef("b", 1)
    with pytest.raises(BTFError):
        btf.resolve(1)
    with pytest.raises(BTFError):
        btf.size_of(1)
    with pytest.raises(BTFError):
        dump_c(btf)
