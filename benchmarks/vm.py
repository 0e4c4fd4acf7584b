"""Benchmark of the userspace VM interpreter: instructions/s and ns per run on real programs, next to
the kernel's BPF_PROG_TEST_RUN time for the same program and input (one run of each, printed as a table).

Never asserts anything. Run: python benchmarks/vm.py [--runs N]   (kernel columns need root + bpf(2))
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pybpf  # noqa: E402
from pybpf.build import compile_bpf  # noqa: E402
from pybpf.vm.conformance import CONFORMANCE_HELPERS  # noqa: E402
from pybpf.vm.machine import Machine  # noqa: E402

CONFORMANCE = ROOT.parent / "shared" / "bpf_conformance" / "tests"


def frame(payload) -> bytes:
    from scapy.all import Ether
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload)


def time_vm_machine(machine: Machine, prog, args: tuple[int, ...], runs: int) -> tuple[float, int]:
    """(seconds per run, instructions per run) for a bare Machine program."""
    machine.run(prog, *args)
    start = time.perf_counter()
    for _ in range(runs):
        machine.run(prog, *args)
    return (time.perf_counter() - start) / runs, machine.last_executed


def conformance_rows(runs: int) -> list[tuple[str, float, int, float | None, float | None]]:
    from pybpf.isa.conformance import parse_case
    rows = []
    for name in ("prime", "subnet", "stack", "call_local"):
        path = CONFORMANCE / f"{name}.data"
        if not path.exists():
            continue
        case = parse_case(path)
        machine = Machine(helpers=CONFORMANCE_HELPERS, budget=10_000_000)
        prog = machine.load(name, case.instructions())
        r1 = machine.mem.new("mem", case.mem, kind="ctx").base if case.mem else 0
        secs, insns = time_vm_machine(machine, prog, (r1, len(case.mem)), runs)
        rows.append((f"conformance {name}", secs, insns, None, None))
    return rows


def program_rows(runs: int, kernel: bool) -> list[tuple[str, float, int, float | None, float | None]]:
    from scapy.all import IP, TCP, UDP
    spec_path = compile_bpf(ROOT / "tests" / "vm" / "progs" / "vm_xdp.c")
    cases = [
        ("xdp_parse (C packet parser, UDP)", "xdp_parse",
         frame(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=1, dport=53) / b"q")),
        ("xdp_helpers (bpf_loop, for_each, LPM...)", "xdp_helpers", bytes(range(64))),
    ]
    rows = []
    for label, name, packet in cases:
        rows.append(_measure(spec_path, name, label, packet, runs, kernel))
    lb = ROOT / "bpf" / "xdplb.bpf.c"
    if lb.exists():
        packet = frame(IP(src="10.200.1.2", dst="10.200.9.1") / TCP(sport=40000, dport=80, flags="S"))
        try:
            rows.append(_measure(compile_bpf(lb), "xdp_lb", "xdp_lb (unconfigured: parse + misses)",
                                 packet, runs, kernel))
        except Exception as exc:  # noqa: BLE001 - the balancer is another area's work in progress
            print(f"(skipping xdp_lb: {exc})", file=sys.stderr)
    return rows


def _measure(obj_path, name, label, packet, runs, kernel):
    spec = pybpf.load_object(obj_path)
    with pybpf.Collection(spec, backend="vm") as coll:
        prog = coll.programs[name]
        prog.test_run(packet)
        start = time.perf_counter()
        for _ in range(runs):
            result = prog.test_run(packet)
        secs = (time.perf_counter() - start) / runs
        insns = result.extra["instructions"]
    jit_ns = None
    try:
        with pybpf.Collection(pybpf.load_object(obj_path), backend="jit") as jcoll:
            jprog = jcoll.programs[name]
            jprog.test_run(packet)                           # compiles
            jit_ns = jprog.test_run(packet, repeat=max(runs, 1000)).duration_ns
    except Exception as exc:  # noqa: BLE001 - the JIT is another area's work; report and go on
        print(f"(jit run of {name} failed: {exc})", file=sys.stderr)
    kernel_ns = None
    if kernel:
        try:
            with pybpf.Collection(pybpf.load_object(obj_path), backend="kernel") as kcoll:
                kernel_ns = kcoll.programs[name].test_run(packet, repeat=max(runs, 1000)).duration_ns
        except Exception as exc:  # noqa: BLE001 - report and keep going without the kernel column
            print(f"(kernel run of {name} failed: {exc})", file=sys.stderr)
    return (label, secs, insns, kernel_ns, jit_ns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="VM runs per program")
    parser.add_argument("--no-kernel", action="store_true", help="skip the kernel column")
    args = parser.parse_args()

    rows = conformance_rows(args.runs) + program_rows(args.runs, not args.no_kernel)
    print(f"\n{'program':<44} {'insns/run':>9} {'VM ns/run':>12} {'VM insns/s':>12} "
          f"{'kernel ns/run':>14} {'VM/kernel':>10} {'JIT ns/run':>11} {'VM/JIT':>7} "
          f"{'JIT/kernel':>10}")
    for label, secs, insns, kernel_ns, jit_ns in rows:
        ns = secs * 1e9
        rate = insns / secs if secs else 0.0
        kernel_text = f"{kernel_ns:>14,}" if kernel_ns else f"{'n/a':>14}"
        ratio = f"{ns / kernel_ns:>9,.0f}x" if kernel_ns else f"{'n/a':>10}"
        jit_text = f"{jit_ns:>11,.0f}" if jit_ns else f"{'n/a':>11}"
        jit_ratio = f"{ns / jit_ns:>6,.1f}x" if jit_ns else f"{'n/a':>7}"
        jk = f"{jit_ns / kernel_ns:>9,.2f}x" if jit_ns and kernel_ns else f"{'n/a':>10}"
        print(f"{label:<44} {insns:>9} {ns:>12,.0f} {rate:>12,.0f} {kernel_text} {ratio} "
              f"{jit_text} {jit_ratio} {jk}")
    print("\nVM ns/run is wall time of test_run in a Python loop (context set-up included); kernel "
          "ns/run is BPF_PROG_TEST_RUN's average duration (kernel-JIT-compiled program); JIT "
          "ns/run is the llvmlite engine's (backend='jit') own duration of test_run(repeat=N), "
          "timed around its native loop as the kernel times its loop. benchmarks/jit.py has more.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
