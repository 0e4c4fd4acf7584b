"""Benchmark: lazy vmlinux BTF in pybpf vs bpftool (cold process each run; prints a table + ratios).

Measures, each in a fresh Python process so nothing is cached: import + load + find("task_struct")
+ resolving its members (the lazy path a CO-RE loader takes), decoding every type, the raw and C
dumps; and bpftool's raw and C dumps of the same file as the reference. Never asserts timings.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VMLINUX = "/sys/kernel/btf/vmlinux"

LAZY = """
import time
t0 = time.perf_counter()
from pybpf.btf import BTF, Kind
t1 = time.perf_counter()
btf = BTF.from_file({path!r})
t2 = time.perf_counter()
task = btf.find_one("task_struct", Kind.STRUCT)
t3 = time.perf_counter()
for m in task.members:
    btf.resolve(m.type_id)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(btf._cache), len(btf) - 1)
"""

FULL = """
import time
from pybpf.btf import BTF
btf = BTF.from_file({path!r})
t0 = time.perf_counter()
for t in btf:
    pass
print(time.perf_counter() - t0)
"""


def run_python(code: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [float(x) for x in out.stdout.split()]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default=VMLINUX)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = args.path

    lazy = [run_python(LAZY.format(path=path)) for _ in range(args.repeat)]
    imp, load, find, members = (statistics.median(col) for col in list(zip(*lazy))[:4])
    decoded, total = int(lazy[-1][4]), int(lazy[-1][5])
    full = statistics.median(run_python(FULL.format(path=path))[0] for _ in range(args.repeat))
    reps = max(1, args.repeat // 2)
    bt_raw = statistics.median(timed(["bpftool", "btf", "dump", "file", path, "format", "raw"])
                               for _ in range(args.repeat))
    bt_c = statistics.median(timed(["bpftool", "btf", "dump", "file", path, "format", "c"])
                             for _ in range(args.repeat))
    py_raw = statistics.median(timed([sys.executable, "-m", "pybpf", "btf", "dump", path,
                                      "--format", "raw"]) for _ in range(reps))
    py_c = statistics.median(timed([sys.executable, "-m", "pybpf", "btf", "dump", path,
                                    "--format", "c"]) for _ in range(reps))
    lazy_total = load + find + members

    print(f"BTF of {path}: {total} types; lazy path decoded {decoded} of them")
    print(f"{'measurement':58} {'seconds':>9} {'vs bpftool raw':>15}")
    rows = [
        ("pybpf import pybpf.btf", imp),
        ("pybpf load (one indexing pass, no decoding)", load),
        ("pybpf find('task_struct') (builds name index)", find),
        ("pybpf resolve task_struct's members", members),
        ("pybpf load + find + members (lazy path, excl. import)", lazy_total),
        ("pybpf decode every type", full),
        ("bpftool btf dump format raw > /dev/null", bt_raw),
        ("pybpf btf dump --format raw > /dev/null (process)", py_raw),
        ("bpftool btf dump format c > /dev/null", bt_c),
        ("pybpf btf dump --format c > /dev/null (process)", py_c),
    ]
    for name, seconds in rows:
        print(f"{name:58} {seconds:9.4f} {seconds / bt_raw:14.2f}x")


if __name__ == "__main__":
    main()
