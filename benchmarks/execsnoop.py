"""Benchmark: what execsnoop costs an exec-heavy workload, how many events/s it delivers, and the VM's
cost per simulated exec. Reference (ratio 1.00): the same burst with nothing attached, same run.

Benchmark only (prints a table); never imported by pybpf or its tests. Needs root, gcc and bpf(2).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from pybpf.apps.execsnoop import (Execsnoop, ExecsnoopOptions, ProcessTable, SimulatedExec)

TESTS = Path(__file__).resolve().parents[1] / "tests" / "apps" / "execsnoop"


def build(tmp: Path) -> tuple[Path, Path]:
    if not shutil.which("gcc"):
        raise SystemExit("gcc is required to build the exec burst helper")
    burst, tiny = tmp / "burst", tmp / "pybpf_tiny"
    subprocess.run(["gcc", "-O2", "-o", str(burst), str(TESTS / "burst.c")], check=True)
    subprocess.run(["gcc", "-O2", "-static", "-nostdlib", "-o", str(tiny), str(TESTS / "tiny.c")],
                   check=True)
    return burst, tiny


def run_burst(burst: Path, tiny: Path, workers: int, per_worker: int) -> float:
    start = time.perf_counter()
    subprocess.run([str(burst), str(workers), str(per_worker), str(tiny)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def traced_burst(burst: Path, tiny: Path, workers: int, per_worker: int, ring: int,
                 read: bool) -> tuple[float, int, int]:
    events: list = []
    stop = threading.Event()
    with Execsnoop(ExecsnoopOptions(name="pybpf_tiny", ring_size=ring)) as snoop:
        def drain() -> None:
            while not stop.is_set():
                events.extend(snoop.poll(timeout=0.05))
        reader = threading.Thread(target=drain) if read else None
        if reader:
            reader.start()
        try:
            elapsed = run_burst(burst, tiny, workers, per_worker)
        finally:
            stop.set()
            if reader:
                reader.join()
        while batch := snoop.poll(timeout=0.1):
            events.extend(batch)
        return elapsed, len(events), snoop.drops().total


def vm_cost(count: int) -> float:
    table = ProcessTable()
    execs = [SimulatedExec(pid=table.spawn(1).pid, filename="/bin/true", argv=["true", "-x"])
             for _ in range(count)]
    with Execsnoop(ExecsnoopOptions(ring_size=1 << 22), backend="vm") as snoop:
        start = time.perf_counter()
        snoop.simulate(table, execs)
        elapsed = time.perf_counter() - start
        assert len(snoop.poll(timeout=0)) == count
    return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--per-worker", type=int, default=5000)
    parser.add_argument("--vm-execs", type=int, default=500)
    args = parser.parse_args()
    total = args.workers * args.per_worker
    with tempfile.TemporaryDirectory(prefix="pybpf_bench_") as tmp:
        burst, tiny = build(Path(tmp))
        run_burst(burst, tiny, args.workers, 200)                  # warm caches
        base = run_burst(burst, tiny, args.workers, args.per_worker)
        rows = [("no tracing (reference)", base, None, None)]
        for label, ring, read in (("execsnoop, 4 MiB ring, reading", 4 << 20, True),
                                  ("execsnoop, 256 KiB ring, reading", 256 << 10, True),
                                  ("execsnoop, 4 KiB ring, not reading", 4096, False)):
            elapsed, seen, dropped = traced_burst(burst, tiny, args.workers, args.per_worker,
                                                  ring, read)
            rows.append((label, elapsed, seen, dropped))
    vm = vm_cost(args.vm_execs)
    print(f"{total} execs of a static no-op binary from {args.workers} processes (2 CPUs)\n")
    print(f"{'configuration':<38} {'time s':>7} {'execs/s':>9} {'ratio':>6} {'events':>7} "
          f"{'dropped':>8} {'seen+dropped':>12}")
    for label, elapsed, seen, dropped in rows:
        extra = ("", "", "") if seen is None else (seen, dropped, seen + dropped)
        print(f"{label:<38} {elapsed:7.2f} {total / elapsed:9.0f} {elapsed / base:6.2f} "
              f"{extra[0]!s:>7} {extra[1]!s:>8} {extra[2]!s:>12}")
    kernel_per_exec = base / total
    print(f"\nVM: {vm * 1e6:.0f} us per simulated exec (enter + exit programs interpreted); "
          f"{vm / kernel_per_exec:.1f}x the cost of one real untraced exec ({kernel_per_exec * 1e6:.0f} us)")


if __name__ == "__main__":
    main()
