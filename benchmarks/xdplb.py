"""Benchmark of the XDP load balancer: ns per packet through BPF_PROG_TEST_RUN (new flow, established
flow, non-VIP pass) next to a minimal XDP_TX program on the same packet, and Maglev table build time.

Prints a table; never asserts anything. Run as root: python benchmarks/xdplb.py [--runs N]

Why repeat=1: BPF_PROG_TEST_RUN does not restore the packet between repetitions, so after the first
bpf_xdp_adjust_head the balancer would be timing an already-encapsulated packet. Each sample is
therefore one run, timed by the kernel (duration_ns); the floor program is timed the same way, so the
ratio is fair. The repeat=R column shows the same for programs that leave the packet unchanged.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import raw  # noqa: E402

from pybpf.apps.lb import build_table, deploy  # noqa: E402
from _bench_common import configure_sample_lb  # noqa: E402

VIP = "10.200.9.1:80/tcp"


def frame(sport: int, flags: str) -> bytes:
    return raw(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
               / IP(src="10.200.1.2", dst="10.200.9.1") / TCP(sport=sport, dport=80, flags=flags))


def per_run(program, packet: bytes, runs: int) -> tuple[float, float]:
    samples = [program.test_run(packet).duration_ns for _ in range(runs)]
    return statistics.median(samples), statistics.fmean(samples)


def vm_timings(rows_packets: list[tuple[str, bytes]], runs: int = 300) -> list[tuple[str, float]]:
    """Wall-clock microseconds per packet in the VM (test_run on a fresh packet each time)."""
    try:
        inst = deploy.load("vm")
    except Exception as exc:  # the VM is optional for this benchmark
        print(f"(VM skipped: {exc})")
        return []
    with inst:
        configure_sample_lb(inst, VIP)
        inst.program.test_run(frame(40001, "A"))
        out = []
        for label, packet in rows_packets:
            started = time.perf_counter()
            for _ in range(runs):
                inst.program.test_run(packet)
            out.append((label, (time.perf_counter() - started) / runs * 1e6))
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="single runs per packet kind")
    parser.add_argument("--repeat", type=int, default=1_000_000, help="repeat for unchanged packets")
    args = parser.parse_args()

    with deploy.load("kernel") as inst:
        configure_sample_lb(inst, VIP)
        syn, ack = frame(40000, "S"), frame(40001, "A")
        inst.program.test_run(ack)                         # establish the ACK's flow
        non_vip = raw(Ether() / IP(src="10.200.1.2", dst="10.200.8.8") / TCP(dport=80))
        floor = inst.programs["xdp_tx_floor"]
        rows = [
            ("floor: xdp_tx_floor (swap MACs, XDP_TX)", floor, syn, True),
            ("xdp_lb new flow (TCP SYN: Maglev + conntrack insert + IPIP)", inst.program, syn, False),
            ("xdp_lb established flow (conntrack hit + IPIP)", inst.program, ack, False),
            ("xdp_lb non-VIP packet (XDP_PASS)", inst.program, non_vip, True),
        ]
        results = []
        for label, prog, packet, repeatable in rows:
            median, mean = per_run(prog, packet, args.runs)
            rep = prog.test_run(packet, repeat=args.repeat).duration_ns if repeatable else None
            results.append((label, median, mean, rep))
        base = results[0][1]
        overhead = results[0][1] - results[0][3]        # timer cost of a single run, from the floor
        print(f"BPF_PROG_TEST_RUN, {len(syn)}-byte packet, {args.runs} single runs each "
              f"(kernel-timed), repeat={args.repeat} where the packet is left unchanged")
        print(f"{'program / packet':<62} {'median ns':>10} {'mean ns':>9} {'x floor':>8} "
              f"{'repeat ns':>10} {'net ns':>7}")
        for label, median, mean, rep in results:
            print(f"{label:<62} {median:>10.0f} {mean:>9.1f} {median / base:>8.2f} "
                  f"{'' if rep is None else rep:>10} {median - overhead:>7.0f}")
        print("net ns = median minus the single-run timer overhead seen on the floor program "
              f"({overhead:.0f} ns)")

        vm_rows = vm_timings(rows_packets=[(label, packet) for label, _, packet, _ in rows[1:]])
        if vm_rows:
            print()
            print(f"{'userspace VM (pybpf.vm), same object and packets':<62} {'us/packet':>10} "
                  f"{'x kernel':>9}")
            for (label, micros), (_, median, _, _) in zip(vm_rows, results[1:]):
                print(f"{label:<62} {micros:>10.1f} {micros * 1e3 / median:>9.0f}")

        # Maglev: build in Python, then write with one batch update
        names = [f"10.200.{i // 250}.{i % 250 + 1}" for i in range(100)]
        builds = []
        for _ in range(5):
            started = time.perf_counter()
            table = build_table(names, 65537)
            builds.append(time.perf_counter() - started)
        writes = []
        for _ in range(5):
            started = time.perf_counter()
            inst.lb._write_table(0, [i % 3 for i in table])
            writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        build_table(names[:3], 65537)
        three = time.perf_counter() - started
        print()
        print(f"{'Maglev (M=65537)':<62} {'median ms':>10} {'min ms':>9}")
        print(f"{'build table, 100 backends (pure Python)':<62} {statistics.median(builds) * 1e3:>10.1f} "
              f"{min(builds) * 1e3:>9.1f}")
        print(f"{'build table, 3 backends':<62} {three * 1e3:>10.1f} {'':>9}")
        print(f"{'write one VIP table to the kernel (BPF_MAP_UPDATE_BATCH)':<62} "
              f"{statistics.median(writes) * 1e3:>10.1f} {min(writes) * 1e3:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
