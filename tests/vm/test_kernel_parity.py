"""Compiled C programs give the same verdicts, packets and map contents in the VM as in the kernel.

The kernel (BPF_PROG_TEST_RUN) is the truth; any difference fails.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

import pybpf
from vm_support import on_cpu0

pytestmark = pytest.mark.kernel

UNORDERED = {"fifo", "lifo", "jump_table", "samples"}     # consumed by pops / not element maps


def prepare(coll) -> None:
    coll.maps["routes"].update(struct.pack("<II", 8, 0x0000000A), 1)      # 10.0.0.0/8
    coll.maps["routes"].update(struct.pack("<II", 24, 0x0000C80A), 2)     # 10.200.0.0/24
    coll.maps["jump_table"].update(1, coll.programs["xdp_tail_target"])


def snapshot(coll) -> dict[str, list]:
    return {name: sorted(m.items(), key=repr) for name, m in coll.maps.items() if name not in UNORDERED}




def run_all(spec, backend: str, packets: dict[str, bytes], programs: list[str]):
    results = []
    with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
        prepare(coll)
        for prog in programs:
            for label, frame in packets.items():
                r = coll.programs[prog].test_run(frame)
                results.append((prog, label, r.retval, r.data_out))
        return results, snapshot(coll)


@pytest.mark.parametrize("program", ["xdp_parse", "xdp_adjust", "xdp_helpers", "xdp_tail_caller"])
def test_xdp_program_matches_kernel_on_fixed_packets(vm_object, packets, program) -> None:
    spec = vm_object("vm_xdp")
    kernel = run_all(spec, "kernel", packets, [program])
    vm = run_all(spec, "vm", packets, [program])
    for k, v in zip(kernel[0], vm[0]):
        assert v == k, f"{k[0]} on {k[1]}"
    assert vm[1] == kernel[1]


def test_every_xdp_program_in_sequence_leaves_the_same_maps(vm_object, packets) -> None:
    spec = vm_object("vm_xdp")
    programs = ["xdp_parse", "xdp_helpers", "xdp_tail_caller", "xdp_parse"]
    kernel = run_all(spec, "kernel", packets, programs)
    vm = run_all(spec, "vm", packets, programs)
    assert vm == kernel


@pytest.mark.parametrize("program", ["tc_dnat", "sock_len"])
def test_skb_program_matches_kernel_on_fixed_packets(vm_object, packets, program) -> None:
    spec = vm_object("vm_skb")
    out = {}
    for backend in ("kernel", "vm"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            runs = []
            for label, frame in packets.items():
                r = coll.programs[program].test_run(frame)
                runs.append((label, r.retval, r.data_out))
            out[backend] = runs, snapshot(coll)
    assert out["vm"] == out["kernel"]


def test_self_tail_call_stops_at_the_same_count_as_the_kernel(vm_object, packets) -> None:
    spec = vm_object("vm_tail")
    counts = {}
    for backend in ("kernel", "vm"):
        with pybpf.Collection(spec, backend=backend) as coll:
            coll.maps["self"].update(0, coll.programs["xdp_self_tail"])
            r = coll.programs["xdp_self_tail"].test_run(packets["udp echo"])
            counts[backend] = (r.retval, coll.maps["runs"][0])
    assert counts["vm"] == counts["kernel"]
    assert counts["vm"] == (2, 34)          # XDP_PASS after 1 + MAX_TAIL_CALL_CNT (33) runs


@pytest.mark.parametrize("program,inputs", [
    ("xdp_strings", [bytes(range(3, 40)), bytes(40)]),
    ("xdp_redirects", [bytes([0]) + bytes(20), bytes([1]) + bytes(20), bytes([2]) + bytes(20)]),
])
def test_string_and_redirect_helpers_match_kernel(vm_object, program, inputs) -> None:
    spec = vm_object("vm_misc")
    out = {}
    for backend in ("kernel", "vm"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            runs = [coll.programs[program].test_run(frame) for frame in inputs]
            out[backend] = [(r.retval, r.data_out) for r in runs], snapshot(coll)
    assert out["vm"] == out["kernel"]


def test_sk_buff_fields_and_ctx_out_match_kernel(vm_object, packets) -> None:
    ctx = bytearray(192)
    struct.pack_into("<I", ctx, 8, 5)                    # mark
    struct.pack_into("<I", ctx, 32, 9)                   # priority
    struct.pack_into("<5I", ctx, 48, 1, 2, 3, 4, 5)      # cb[]
    spec = vm_object("vm_skb")
    out = {}
    for backend in ("kernel", "vm"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            runs = []
            for frame in (packets["udp echo"], packets["arp"], b"\xff" * 6 + packets["tcp"][6:]):
                for ctx_in in (None, bytes(ctx)):
                    r = coll.programs["tc_fields"].test_run(frame, ctx_in=ctx_in)
                    runs.append((r.retval, r.data_out, r.ctx_out or b"",
                                 sorted(coll.maps["fields"].items())))
            out[backend] = runs
    assert out["vm"] == out["kernel"]


def test_core_calls_raw_tracepoint_matches_kernel_with_the_real_task(compile_bpf) -> None:
    """walk_counters: for_each_map_elem, subprograms, CO-RE read of current->pid (the VM is told
    this thread's ids and lays out task_struct from vmlinux BTF), a tail call initialised from
    .maps into a program reading a map-in-map, global data."""
    import threading
    from pybpf.vm import SimEnv, SimProcess
    source = Path(__file__).resolve().parents[1] / "corpus" / "core" / "core_calls.bpf.c"
    out = {}
    for backend in ("kernel", "vm"):
        opts = {} if backend == "kernel" else {
            "btf": "vmlinux",
            "env": SimEnv(process=SimProcess(pid=threading.get_native_id(), tgid=os.getpid()))}
        with on_cpu0(), pybpf.Collection(pybpf.load_object(compile_bpf(source)), backend=backend,
                                         **opts) as coll:
            coll.maps["counters"].update(1, 5)
            coll.maps["counters"].update(3, 11)
            r = coll.programs["walk_counters"].test_run(ctx_in=struct.pack("<QQ", 0, 0))
            out[backend] = r.retval, {n: sorted(m.items(), key=repr) for n, m in coll.maps.items()
                                      if n not in ("ring", "jumps", "outer")}
    assert out["vm"] == out["kernel"]


def test_repeat_runs_again_on_the_same_packet_like_the_kernel(vm_object, packets) -> None:
    spec = vm_object("vm_xdp")
    out = {}
    for backend in ("kernel", "vm"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            r = coll.programs["xdp_adjust"].test_run(packets["tcp"], repeat=3)
            p = coll.programs["xdp_parse"].test_run(packets["udp dns"], repeat=5)
            out[backend] = (r.retval, r.data_out, p.retval, snapshot(coll))
    assert out["vm"] == out["kernel"]


@pytest.mark.parametrize("offset", [0, 9, 12, 40, 1000], ids=lambda o: f"abs{o}")
def test_legacy_ld_abs_ind_packet_loads_match_kernel(packets, offset) -> None:
    """LD_ABS/LD_IND in a socket filter: big-endian loads relative to skb->data; out of bounds
    ends the program with 0."""
    from pybpf.isa.instruction import Instruction as I
    from pybpf.isa.uapi import ProgramType
    from pybpf.obj.spec import ObjectSpec, ProgramSpec
    insns = [I(0xBF, 6, 1),                      # r6 = ctx
             I(0x30, 0, 0, 0, 9),                # r0 = ldabsb [9]  (IPv4 protocol)
             I(0xBF, 7, 0),                      # r7 = r0
             I(0x28, 0, 0, 0, offset),           # r0 = ldabsh [offset]
             I(0xBF, 8, 0),
             I(0x40, 0, 7, 0, 3),                # r0 = ldindw [r7 + 3]
             I(0x67, 8, 0, 0, 8), I(0xAF, 0, 8), I(0x0F, 0, 7),   # r0 ^= r8 << 8; r0 += r7
             I(0x95)]
    spec = ObjectSpec(path="<ld_abs>", programs={"f": ProgramSpec(
        name="f", section="socket", type=ProgramType.SOCKET_FILTER, expected_attach_type=None,
        attach_to="", instructions=insns, license="GPL")}, maps={}, license="GPL")
    results = {}
    for backend in ("kernel", "vm"):
        with pybpf.Collection(spec, backend=backend) as coll:
            results[backend] = [coll.programs["f"].test_run(frame).retval
                                for frame in (packets["udp echo"], packets["tcp"], packets["arp"])]
    assert results["vm"] == results["kernel"]


def test_hash_of_maps_lookup_then_inner_lookup_matches_kernel() -> None:
    from pybpf.isa.instruction import Instruction as I
    from pybpf.isa.uapi import MapType, ProgramType
    from pybpf.obj.spec import MapSpec, ObjectSpec, ProgramSpec
    insns = [I(0x62, 10, 0, -4, 7), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4),
             I(0x18, 1, 1, 0, 0, ref="outer"), I(0x85, 0, 0, 0, 1),      # r0 = outer[7]
             I(0x55, 0, 0, 2, 0), I(0xB7, 0, 0, 0, 1), I(0x95),           # missing: return 1
             I(0xBF, 1, 0), I(0x62, 10, 0, -8, 0), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -8),
             I(0x85, 0, 0, 0, 1),                                         # r0 = inner[0]
             I(0x55, 0, 0, 2, 0), I(0xB7, 0, 0, 0, 2), I(0x95),
             I(0x61, 0, 0, 0), I(0x95)]                                   # return *value
    template = MapSpec(name="tmpl", type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1)
    maps = {"inner": MapSpec(name="inner", type=MapType.ARRAY, key_size=4, value_size=4,
                             max_entries=1, contents=[(0, (1234).to_bytes(4, "little"))]),
            "outer": MapSpec(name="outer", type=MapType.HASH_OF_MAPS, key_size=4, value_size=4,
                             max_entries=4, inner=template, contents=[(7, "inner")])}
    spec = ObjectSpec(path="<map-in-map>", programs={"p": ProgramSpec(
        name="p", section="xdp", type=ProgramType.XDP, expected_attach_type=None, attach_to="",
        instructions=insns, license="GPL")}, maps=maps, license="GPL")
    results = {}
    for backend in ("kernel", "vm"):
        with pybpf.Collection(spec, backend=backend) as coll:
            first = coll.programs["p"].test_run(bytes(64)).retval
            coll.maps["outer"].delete(7)
            results[backend] = (first, coll.programs["p"].test_run(bytes(64)).retval)
    assert results["vm"] == results["kernel"] == (1234, 1)
