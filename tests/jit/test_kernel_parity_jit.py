"""Compiled C programs give the kernel's verdicts, packets and map contents in the JIT too
(BPF_PROG_TEST_RUN is the truth); reuses the VM parity tests' set-up by import."""
from __future__ import annotations

import pybpf
import pytest
from test_kernel_parity import on_cpu0, run_all, snapshot

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("program", ["xdp_parse", "xdp_adjust", "xdp_helpers", "xdp_tail_caller"])
def test_xdp_program_in_jit_matches_kernel_on_fixed_packets(vm_prog_path, frames, program) -> None:
    spec = pybpf.load_object(vm_prog_path("vm_xdp"))
    kernel = run_all(spec, "kernel", frames, [program])
    jit = run_all(spec, "jit", frames, [program])
    for k, j in zip(kernel[0], jit[0]):
        assert j == k, f"{k[0]} on {k[1]}"
    assert jit[1] == kernel[1]


@pytest.mark.parametrize("program", ["tc_dnat", "sock_len"])
def test_skb_program_in_jit_matches_kernel(vm_prog_path, frames, program) -> None:
    spec = pybpf.load_object(vm_prog_path("vm_skb"))
    out = {}
    for backend in ("kernel", "jit"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            runs = [(label, *(lambda r: (r.retval, r.data_out))(coll.programs[program].test_run(f)))
                    for label, f in frames.items()]
            out[backend] = runs, snapshot(coll)
    assert out["jit"] == out["kernel"]


def test_self_tail_call_in_jit_stops_at_the_kernels_count(vm_prog_path, frames) -> None:
    spec = pybpf.load_object(vm_prog_path("vm_tail"))
    counts = {}
    for backend in ("kernel", "jit"):
        with pybpf.Collection(spec, backend=backend) as coll:
            coll.maps["self"].update(0, coll.programs["xdp_self_tail"])
            r = coll.programs["xdp_self_tail"].test_run(frames["udp echo"])
            counts[backend] = (r.retval, coll.maps["runs"][0])
    assert counts["jit"] == counts["kernel"]


def test_native_repeat_loop_matches_the_kernels_repeat(vm_prog_path, frames) -> None:
    """Packet changes accumulate over repeats in both; maps count every run."""
    spec = pybpf.load_object(vm_prog_path("vm_xdp"))
    out = {}
    for backend in ("kernel", "jit"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            r = coll.programs["xdp_adjust"].test_run(frames["tcp"], repeat=3)
            p = coll.programs["xdp_parse"].test_run(frames["udp dns"], repeat=500)
            out[backend] = (r.retval, r.data_out, p.retval, snapshot(coll))
    assert out["jit"] == out["kernel"]
