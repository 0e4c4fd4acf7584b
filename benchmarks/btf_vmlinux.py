"""Benchmark: lazy vmlinux BTF in pybpf vs bpftool (cold process each run; prints a table + ratios).

Measures, each in a fresh process so nothing is cached: import + load + find("task_struct") +
resolving its members (the lazy path a CO-RE loader takes), decoding every type, and the raw and C
dumps; bpftool's raw and C dumps of the same file are the reference. Reports wall time and CPU time
(user+sys, robust when other jobs share the machine). Never asserts on timings.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

VMLINUX = "/sys/kernel/btf/vmlinux"

PHASES = """
import time
def now():
    return time.perf_counter(), time.process_time()
marks = [now()]
from pybpf.btf import BTF, Kind
marks.append(now())
btf = BTF.from_file({path!r})
marks.append(now())
task = btf.find_one("task_struct", Kind.STRUCT)
marks.append(now())
for m in task.members:
    btf.resolve(m.type_id)
marks.append(now())
decoded = len(btf._cache)
for t in btf:
    pass
marks.append(now())
out = []
for (w0, c0), (w1, c1) in zip(marks, marks[1:]):
    out += [w1 - w0, c1 - c0]
print(*out, decoded, len(btf) - 1)
"""
PHASE_NAMES = ["import pybpf.btf", "load: one indexing pass, nothing decoded",
               "find('task_struct')", "resolve task_struct's members", "decode every type"]


def run_phases(path: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", PHASES.format(path=path)], check=True,
                         capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one child process; its output goes to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_pair(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default=VMLINUX)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path, n = args.path, args.repeat

    runs = [run_phases(path) for _ in range(n)]
    cols = list(zip(*runs))
    phases = [(statistics.median(cols[2 * i]), statistics.median(cols[2 * i + 1]))
              for i in range(len(PHASE_NAMES))]
    decoded, total = int(runs[-1][-2]), int(runs[-1][-1])
    bt_raw = median_pair([timed(["bpftool", "btf", "dump", "file", path, "format", "raw"])
                          for _ in range(n)])
    bt_c = median_pair([timed(["bpftool", "btf", "dump", "file", path, "format", "c"])
                        for _ in range(n)])
    k = max(1, n // 2)
    py_raw = median_pair([timed([sys.executable, "-m", "pybpf", "btf", "dump", path, "--format",
                                 "raw"]) for _ in range(k)])
    py_c = median_pair([timed([sys.executable, "-m", "pybpf", "btf", "dump", path, "--format",
                               "c"]) for _ in range(k)])
    lazy = tuple(sum(p[j] for p in phases[1:4]) for j in (0, 1))

    print(f"BTF of {path}: {total} types; the lazy path decoded {decoded} of them")
    print(f"{'measurement':56} {'wall s':>8} {'cpu s':>8} {'cpu vs bpftool raw':>19}")
    rows = [(f"pybpf {name}", p) for name, p in zip(PHASE_NAMES, phases)]
    rows.insert(4, ("pybpf load + find + members (lazy path, excl. import)", lazy))
    rows += [("bpftool btf dump format raw > /dev/null", bt_raw),
             ("pybpf btf dump --format raw > /dev/null (whole process)", py_raw),
             ("bpftool btf dump format c > /dev/null", bt_c),
             ("pybpf btf dump --format c > /dev/null (whole process)", py_c)]
    for name, (wall, cpu) in rows:
        print(f"{name:56} {wall:8.3f} {cpu:8.3f} {cpu / bt_raw[1]:18.2f}x")


if __name__ == "__main__":
    main()
