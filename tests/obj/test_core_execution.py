"""CO-RE observed at run time: a tc program reading a relocatable header from packet data is
relocated against hand-built BTFs and run with BPF_PROG_TEST_RUN (kernel) and in the VM; the
return value must be the 32-bit word at the offset the target BTF gives the field."""
from __future__ import annotations

import struct

import pytest

import pybpf
from pybpf.btf import BTF
from pybpf.obj import load_object

SOURCE = "core_packet.bpf.c"
# 64 bytes of packet: word i holds 0x1000 + i, so the returned word names its offset
PACKET = b"".join(struct.pack("<I", 0x1000 + i) for i in range(16))


def _target(b_offset: int | None) -> BTF:
    btf = BTF()
    u32 = btf.add_int("unsigned int", 4)
    members = [("a", u32, 0), ("c", u32, 4 * 8)]
    if b_offset is not None:
        members.append(("b", u32, b_offset * 8))
    btf.add_struct("pybpf_pkt_hdr", 12, members)
    return btf


@pytest.mark.kernel
@pytest.mark.parametrize("b_offset", [4, 8, 0])
def test_kernel_run_reads_the_field_where_the_target_btf_puts_it(corpus_object, b_offset):
    spec = load_object(corpus_object(SOURCE))
    with pybpf.Collection(spec, btf=_target(b_offset)) as coll:
        result = coll.programs["read_hdr"].test_run(PACKET)
    assert result.retval == 0x1000 + b_offset // 4


@pytest.mark.kernel
def test_kernel_run_takes_the_missing_field_branch(corpus_object):
    spec = load_object(corpus_object(SOURCE))
    with pybpf.Collection(spec, btf=_target(None)) as coll:
        assert coll.programs["read_hdr"].test_run(PACKET).retval == 1


@pytest.mark.parametrize("b_offset", [4, 8])
def test_vm_run_agrees_with_the_relocation(corpus_object, b_offset):
    spec = load_object(corpus_object(SOURCE))
    with pybpf.Collection(spec, backend="vm", btf=_target(b_offset)) as coll:
        result = coll.programs["read_hdr"].test_run(PACKET)
    assert result.retval == 0x1000 + b_offset // 4


def _two_flavors(second_b_offset: int | None) -> BTF:
    btf = _target(8)
    u32 = btf.find_one("unsigned int").id
    members = [("a", u32, 0)]
    if second_b_offset is not None:
        members.append(("b", u32, second_b_offset * 8))
    btf.add_struct("pybpf_pkt_hdr___v2", 12, members)
    return btf


def test_flavored_target_candidate_without_the_field_is_skipped(corpus_object):
    from pybpf.obj.core import relocate
    spec = load_object(corpus_object(SOURCE))
    result = relocate(spec.programs["read_hdr"], _two_flavors(None))
    (read,) = [o for o in result.outcomes if o.kind.name == "FIELD_BYTE_OFFSET"]
    assert read.new_value == 8 and "pybpf_pkt_hdr.b" in read.target


def test_flavored_target_candidates_disagreeing_is_an_ambiguity_error(corpus_object):
    from pybpf.errors import CORERelocationError
    from pybpf.obj.core import relocate
    spec = load_object(corpus_object(SOURCE))
    with pytest.raises(CORERelocationError, match="ambiguity"):
        relocate(spec.programs["read_hdr"], _two_flavors(4))


def _vmlinux_and_module(module_b_offset: int, *, base_has_it: bool = False):
    base = BTF()
    u32 = base.add_int("unsigned int", 4)
    if base_has_it:
        base.add_struct("pybpf_pkt_hdr", 12, [("a", u32, 0), ("b", u32, 4 * 8)])
    base = BTF.parse(base.to_bytes())
    module = BTF(base=base)
    module.add_struct("pybpf_pkt_hdr", 12, [("a", u32, 0), ("b", u32, module_b_offset * 8)])
    return [base, module]


def test_module_btf_supplies_types_vmlinux_lacks(corpus_object):
    from pybpf.obj.core import relocate
    spec = load_object(corpus_object(SOURCE))
    result = relocate(spec.programs["read_hdr"], _vmlinux_and_module(8))
    (read,) = [o for o in result.outcomes if o.kind.name == "FIELD_BYTE_OFFSET"]
    assert read.new_value == 8


def test_vmlinux_candidates_shadow_module_ones_like_libbpf(corpus_object):
    from pybpf.obj.core import relocate
    spec = load_object(corpus_object(SOURCE))
    result = relocate(spec.programs["read_hdr"], _vmlinux_and_module(8, base_has_it=True))
    (read,) = [o for o in result.outcomes if o.kind.name == "FIELD_BYTE_OFFSET"]
    assert read.new_value == 4
