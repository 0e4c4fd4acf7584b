"""Externs: .kconfig layout and kfunc/ksym references, checked against libbpf's own decisions."""
from __future__ import annotations

import re

import pytest

from pybpf.isa.opcodes import CALL, CallSrc, PseudoSrc
from pybpf.obj import load_object

SOURCE = "core_externs.bpf.c"


@pytest.mark.kernel
def test_kconfig_extern_offsets_match_libbpf(corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(SOURCE)
    expected = {m.group(2): int(m.group(1)) for m in re.finditer(
        r"extern \(kcfg\) #\d+: symbol \d+, off (\d+), name (\S+)", loaded.log)}
    spec = load_object(corpus_object(SOURCE))
    ours = {name: e.offset for name, e in spec.kconfig_externs.items()}
    assert ours == expected and expected


@pytest.mark.kernel
def test_kfunc_calls_sit_where_libbpf_found_them(corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(SOURCE)
    expected = sorted((m.group(1), int(m.group(2))) for m in re.finditer(
        r"found extern #\d+ '(bpf_rcu_read_\w+)' \(sym \d+\) for insn #(\d+)", loaded.log))
    spec = load_object(corpus_object(SOURCE))
    program = spec.programs["on_switch"]
    slot = 0
    ours = []
    for insn in program.instructions:
        if insn.opcode == CALL and insn.src == CallSrc.KFUNC:
            ours.append((insn.ref, slot))
        slot += insn.slots
    assert sorted(ours) == expected and expected


@pytest.mark.kernel
def test_kconfig_loads_point_at_the_same_kconfig_offsets_as_the_kernel(corpus_object,
                                                                       libbpf_loaded):
    loaded = libbpf_loaded(SOURCE)
    kernel = [int(m.group(1)) for e in loaded.xlated["on_switch"]
              for m in [re.search(r"map\[id:\d+\]\[0\]\+(\d+)", e.get("disasm", ""))] if m]
    spec = load_object(corpus_object(SOURCE))
    ours = [i.imm >> 32 for i in spec.programs["on_switch"].instructions
            if i.is_wide and i.src == PseudoSrc.MAP_VALUE]
    assert ours == kernel


def test_externs_are_classified_by_datasec(corpus_object):
    spec = load_object(corpus_object(SOURCE))
    assert set(spec.kconfig_externs) == {"LINUX_KERNEL_VERSION", "CONFIG_BPF_SYSCALL",
                                         "CONFIG_HZ", "CONFIG_PYBPF_NO_SUCH_OPTION"}
    assert {n: e.is_func for n, e in spec.ksyms.items()} == {"bpf_rcu_read_lock": True,
                                                            "bpf_rcu_read_unlock": True}
    assert spec.externs["CONFIG_HZ"].weak and not spec.externs["LINUX_KERNEL_VERSION"].weak
    kconfig = spec.maps[".kconfig"]
    # layout by hand: u64 HZ @0, int VERSION @8, bool @12, char @13 -> 14 bytes
    assert (kconfig.value_size, kconfig.max_entries, kconfig.frozen) == (14, 1, True)
