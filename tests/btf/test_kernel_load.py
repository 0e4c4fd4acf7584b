"""BTF written by pybpf is accepted by the kernel's BTF verifier (BPF_BTF_LOAD) — the strictest reader."""
from __future__ import annotations

import ctypes
import os
import re
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.btf import BTF, INT_BOOL, INT_SIGNED, Int, Kind, Ptr
from pybpf.btf.elf import find_btf_section
from pybpf.errors import BTFError

BPF_BTF_LOAD = 18
SYS_BPF = 321


def kernel_btf_load(data: bytes) -> tuple[int, str]:
    """(errno or 0, verifier log) of BPF_BTF_LOAD for ``data``; closes the fd. The log is only
    requested after a failure (a successful load of a large BTF can overflow any log buffer)."""
    err, _ = _btf_load(data, log_size=0)
    if err == 0:
        return 0, ""
    _, log = _btf_load(data, log_size=1 << 20)
    return err, log


def _btf_load(data: bytes, log_size: int) -> tuple[int, str]:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(data)
    log = ctypes.create_string_buffer(max(log_size, 1))
    attr = (ctypes.c_uint8 * 128)()
    fields = (ctypes.c_uint64 * 2).from_buffer(attr)
    fields[0] = ctypes.addressof(buf)
    fields[1] = ctypes.addressof(log) if log_size else 0
    words = (ctypes.c_uint32 * 3).from_buffer(attr, 16)
    words[0], words[1], words[2] = len(data), log_size, 1 if log_size else 0
    fd = libc.syscall(SYS_BPF, BPF_BTF_LOAD, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return ctypes.get_errno(), log.value.decode(errors="replace")
    os.close(fd)
    return 0, ""


def _object_btf_fixed_up(path) -> BTF:
    """The object's BTF with every DATASEC's size and var offsets filled in like libbpf does."""
    data = path.read_bytes()
    btf = BTF.parse(find_btf_section(data))
    with open(path, "rb") as f:                  # every section, NOBITS .bss included
        sections = {sec.name: (0, sec["sh_size"]) for sec in ELFFile(f).iter_sections()}
    syms = subprocess.run(["llvm-readelf-19", "-s", str(path)], check=True, capture_output=True,
                          text=True).stdout
    offsets = {n: int(v, 16) for v, n in re.findall(
        r"^\s*\d+: ([0-9a-f]+)\s+\d+ OBJECT\s+\w+\s+\w+\s+\d+ (\S+)", syms, re.M)}
    for sec in list(btf.types(Kind.DATASEC)):
        size = sections[sec.name][1] if sec.name in sections else 0
        btf.fixup_datasec(sec.name, size, offsets)
    return btf


@pytest.mark.kernel
def test_kernel_accepts_built_btf():
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    u8 = btf.add_int("unsigned char", 1)
    fwd = btf.add_fwd("later")
    arr = btf.add_array(u8, 6, i32)
    s = btf.add_struct("pkt", 24, [("len", i32, 0), ("mac", arr, 32), ("flag", u8, 80, 1),
                                   ("next", btf.add_ptr(fwd), 128)])
    btf.add_enum("mode", {"OFF": 0, "ON": 1, "BAD": -1})
    btf.add_enum("wide", {"W": 1 << 40}, size=8)
    proto = btf.add_func_proto(i32, [("p", btf.add_ptr(s))])
    btf.add_func("fn", proto)
    err, log = kernel_btf_load(btf.to_bytes())
    assert err == 0, log


@pytest.mark.kernel
def test_kernel_accepts_object_btf_after_datasec_fixup(corpus_objects):
    btf = _object_btf_fixed_up(corpus_objects["codec_values"])
    err, log = kernel_btf_load(btf.to_bytes())
    assert err == 0, log


def _bad_member_type() -> BTF:
    btf = BTF()
    btf.add_int("int", 4, signed=True)
    btf.add_struct("bad", 4, [("x", 99, 0)])       # no type 99
    return btf


def _member_past_the_end() -> BTF:
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    btf.add_struct("bad", 4, [("x", i32, 0), ("y", i32, 32)])
    return btf


def _pointer_loop() -> BTF:
    btf = BTF()
    btf.add_const(2)
    btf.add_volatile(1)
    return btf


def _int_of_129_bits() -> BTF:
    btf = BTF()
    btf.add(Int("huge", 32, 0, 0, 129))
    return btf


def _int_bits_past_size() -> BTF:
    btf = BTF()
    btf.add(Int("wide", 4, 0, 8, 32))
    return btf


def _int_signed_bool() -> BTF:
    btf = BTF()
    btf.add(Int("sb", 1, INT_SIGNED | INT_BOOL, 0, 8))
    return btf


def _enum_of_size_3() -> BTF:
    btf = BTF()
    btf.add_enum("e", {"A": 1}, size=3)
    return btf


def _func_without_proto() -> BTF:
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    btf.add_func("f", i32)
    return btf


def _datasec_overlap() -> BTF:
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    a, b = btf.add_var("a", i32), btf.add_var("b", i32)
    btf.add_datasec(".data", 8, [(a, 0, 4), (b, 2, 4)])
    return btf


def _datasec_past_end() -> BTF:
    btf = BTF()
    i32 = btf.add_int("int", 4, signed=True)
    btf.add_datasec(".data", 4, [(btf.add_var("a", i32), 2, 4)])
    return btf


def _named_pointer() -> BTF:
    btf = BTF()
    btf.add(Ptr("p", btf.add_int("int", 4, signed=True)))
    return btf


def _typedef_with_bad_name() -> BTF:
    btf = BTF()
    btf.add_typedef("not an identifier", btf.add_int("int", 4, signed=True))
    return btf


def _member_with_bad_name() -> BTF:
    btf = BTF()
    btf.add_struct("s", 4, [("a-b", btf.add_int("int", 4, signed=True), 0)])
    return btf


def _enumerator_with_bad_name() -> BTF:
    btf = BTF()
    btf.add_enum("e", {"1st": 1})
    return btf


@pytest.mark.kernel
@pytest.mark.parametrize("make", [_named_pointer, _typedef_with_bad_name, _member_with_bad_name,
                                  _enumerator_with_bad_name, _bad_member_type, _member_past_the_end, _pointer_loop,
                                  _int_of_129_bits, _int_bits_past_size, _int_signed_bool,
                                  _enum_of_size_3, _func_without_proto, _datasec_overlap,
                                  _datasec_past_end])
def test_validate_rejects_btf_the_kernel_rejects(make):
    btf = make()
    err, _ = kernel_btf_load(btf.to_bytes())
    assert err != 0
    with pytest.raises(BTFError):
        btf.validate()


@pytest.mark.kernel
def test_validate_accepts_btf_the_kernel_accepts(corpus_objects, vmlinux_btf):
    btf = _object_btf_fixed_up(corpus_objects["codec_values"])
    assert kernel_btf_load(btf.to_bytes())[0] == 0
    btf.validate()


@pytest.mark.kernel
def test_validate_accepts_the_running_kernels_btf(vmlinux_btf):
    vmlinux_btf.validate()


@pytest.mark.kernel
def test_mutated_btf_the_kernel_accepts_parses_and_validates(corpus_objects):
    """Property: whatever the kernel's BTF verifier accepts, pybpf parses and validates. Words of
    the type section are overwritten with small numbers, string offsets (names landing mid-string,
    such as the ".c" tail of a file path) and random values."""
    import random
    import struct as st

    accepted = 0
    for name, path in sorted(corpus_objects.items()):
        base = bytearray(_object_btf_fixed_up(path).to_bytes())
        type_len, _, str_len = st.unpack_from("<III", base, 12)
        rnd = random.Random(name)
        for _ in range(150):
            blob = bytearray(base)
            for _ in range(rnd.randint(1, 2)):
                pos = 24 + 4 * rnd.randrange(type_len // 4)
                st.pack_into("<I", blob, pos, rnd.choice([0, 1, 2, 3, 7, 8, 16, 32, 64,
                                                          rnd.randrange(max(str_len, 1)),
                                                          rnd.randrange(1 << 32)]))
            if kernel_btf_load(bytes(blob))[0] != 0:
                continue
            accepted += 1
            btf = BTF.parse(bytes(blob))
            btf.validate()
    assert accepted > 30


@pytest.mark.kernel
@pytest.mark.parametrize("name", [".c", "a.c", ".", "_", "x9", "1abc", "a-b", "a b", "\u00e9"])
@pytest.mark.parametrize("where", ["typedef", "member", "enumerator"])
def test_identifier_rule_matches_the_kernel(name, where):
    """validate() accepts a name in a typedef, member or enumerator exactly when the kernel does
    (the kernel admits '.' anywhere: a mutated name offset landing on "x.c" loads)."""
    btf = BTF()
    i = btf.add_int("int", 4, signed=True)
    if where == "typedef":
        btf.add_typedef(name, i)
    elif where == "member":
        btf.add_struct("s", 4, [(name, i, 0)])
    else:
        btf.add_enum("e", [(name, 1)])
    kernel_ok = kernel_btf_load(btf.to_bytes())[0] == 0
    try:
        BTF.parse(btf.to_bytes()).validate()
        ours_ok = True
    except BTFError:
        ours_ok = False
    assert ours_ok == kernel_ok


@pytest.mark.kernel
def test_type_closure_extracted_from_vmlinux_is_complete(vmlinux_btf):
    from pybpf.btf.c_dump import dump_c
    task = vmlinux_btf.find_one("task_struct", Kind.STRUCT)
    small, mapping = vmlinux_btf.extract([task.id])
    assert len(small) < len(vmlinux_btf) // 5
    small.validate()
    assert kernel_btf_load(small.to_bytes())[0] == 0          # the kernel finds nothing missing
    assert dump_c(small, [mapping[task.id]]) == dump_c(vmlinux_btf, [task.id])


@pytest.mark.kernel
def test_random_built_btf_is_valid_for_us_bpftool_and_the_kernel(bpftool_raw, tmp_path):
    """Random layouts from the C-dump property test, written by pybpf: validate() passes, the
    kernel loads them, and bpftool lists them exactly like dump_raw."""
    from hypothesis import HealthCheck, given, settings

    from pybpf.btf.raw_dump import dump_raw
    from test_c_dump_layouts import build, layouts

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(spec=layouts())
    def check(spec):
        btf = build(spec)
        btf.validate()
        data = btf.to_bytes()
        err, log = kernel_btf_load(data)
        assert err == 0, log
        path = tmp_path / "random.btf"
        path.write_bytes(data)
        assert bpftool_raw(path) == dump_raw(BTF.parse(data))

    check()
