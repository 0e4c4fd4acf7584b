"""Every program of the ISA corpus (tests/corpus/isa/*.c, at -mcpu v2..v4) that BPF_PROG_TEST_RUN can
run gives the same return value, packet and map contents in the VM as in the kernel."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import KernelVerifierError
from pybpf.isa.uapi import MapType, ProgramType

pytestmark = pytest.mark.kernel

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "isa"
SOURCES = sorted(CORPUS.glob("*.c"))
RUNNABLE = {ProgramType.SOCKET_FILTER, ProgramType.XDP, ProgramType.SCHED_CLS}
INPUT = bytes(range(64))
VM_UNSUPPORTED = {MapType.ARENA}
# Known kernel rejections that take the verifier a minute to reach: checked once, not on every run.
TOO_LARGE_FOR_THE_VERIFIER = {
    ("branches", "v2"): "the kernel verifier gives up on branches.c 'loops' at v2 after 1M "
                        "processed instructions (BPF program is too large)",
}


def globals_pattern(size: int) -> bytes:
    return bytes((i * 37 + 11) & 0xFF for i in range(size))


def run(spec, backend: str):
    with pybpf.Collection(spec, backend=backend) as coll:
        for name, m in coll.maps.items():
            if name.startswith((".bss", ".data")) and m.value_size:
                m._update(bytes(4), globals_pattern(m.value_size))
        results = []
        for name, prog in sorted(coll.programs.items()):
            if prog.type in RUNNABLE:
                r = prog.test_run(INPUT)
                results.append((name, r.retval, r.data_out))
        maps = {n: sorted(m.items(), key=repr) for n, m in coll.maps.items()
                if m.type not in (MapType.RINGBUF, MapType.ARENA)}
        return results, maps


@pytest.mark.parametrize("mcpu", ["v2", "v3", "v4"])
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_corpus_object_runs_the_same_in_vm_and_kernel(compile_bpf, source, mcpu) -> None:
    if (source.stem, mcpu) in TOO_LARGE_FOR_THE_VERIFIER:
        pytest.skip(TOO_LARGE_FOR_THE_VERIFIER[source.stem, mcpu])
    spec = pybpf.load_object(compile_bpf(source, mcpu=mcpu))
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        kernel = run(spec, "kernel")
    except KernelVerifierError as exc:
        pytest.skip(f"the kernel verifier rejects {source.name} at {mcpu}: {str(exc).splitlines()[0]}")
    finally:
        os.sched_setaffinity(0, before)
    vm_spec = pybpf.load_object(compile_bpf(source, mcpu=mcpu))
    unsupported = sorted({m.type.name for m in vm_spec.maps.values() if m.type in VM_UNSUPPORTED})
    if unsupported:
        pytest.skip(f"the VM does not implement map type(s) {', '.join(unsupported)}")
    assert run(vm_spec, "vm") == kernel
