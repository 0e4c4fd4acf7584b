"""Benchmark: load vmlinux BTF and resolve one program's CO-RE relocations in pybpf, next to
`bpftool prog load` (libbpf: BTF + CO-RE + the kernel's verifier and load) of the same object.

Prints a table and ratios measured in this run; never asserts on timings. Run as root:
    python benchmarks/btf_load.py [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from pybpf.btf import BTF                          # noqa: E402
from pybpf.build import compile_bpf                # noqa: E402
from pybpf.obj import load_object                  # noqa: E402
from pybpf.obj.core import relocate                # noqa: E402

SOURCE = REPO / "tests" / "corpus" / "core" / "core_fields.bpf.c"
PROGRAM = "read_task_fields"
VMLINUX = "/sys/kernel/btf/vmlinux"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    obj = compile_bpf(SOURCE, include_dirs=[str(SOURCE.parent)])

    def pybpf_btf_only() -> None:
        BTF.from_file(VMLINUX)

    def pybpf_btf_and_core() -> None:
        vmlinux = BTF.from_file(VMLINUX)              # fresh parse, no cache
        spec = load_object(obj)
        result = relocate(spec.programs[PROGRAM], vmlinux)
        assert not result.poisoned

    warm_btf = BTF.from_file(VMLINUX)
    warm_spec = load_object(obj)
    relocate(warm_spec.programs[PROGRAM], warm_btf)        # warm the target's name index

    def pybpf_load_object() -> None:
        load_object(obj)

    def pybpf_core_only() -> None:
        relocate(warm_spec.programs[PROGRAM], warm_btf)

    rows = [("pybpf: load_object (ELF, BTF, linking)", timed(pybpf_load_object, args.repeat)),
            ("pybpf: CO-RE only (vmlinux already parsed)", timed(pybpf_core_only, args.repeat)),
            ("pybpf: parse vmlinux BTF", timed(pybpf_btf_only, args.repeat)),
            ("pybpf: vmlinux BTF + load_object + CO-RE", timed(pybpf_btf_and_core, args.repeat))]

    if shutil.which("bpftool") and os.geteuid() == 0:
        def bpftool_load() -> None:
            pin = Path("/sys/fs/bpf") / f"pybpf_bench_{uuid.uuid4().hex[:8]}"
            try:
                subprocess.run(["bpftool", "prog", "loadall", str(obj), str(pin)], check=True,
                               capture_output=True)
            finally:
                shutil.rmtree(pin, ignore_errors=True)
        rows.append(("bpftool prog loadall (libbpf + kernel)", timed(bpftool_load, args.repeat)))
    else:
        print("(bpftool row skipped: needs bpftool and root)")

    reference = statistics.median(rows[-1][1])
    print(f"{'what':45} {'median ms':>10} {'min ms':>9} {'vs last row':>12}")
    for name, samples in rows:
        med = statistics.median(samples)
        print(f"{name:45} {med * 1e3:10.1f} {min(samples) * 1e3:9.1f} {med / reference:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
