"""Helpers shared by the kernel benchmarks: build the C reference programs, scratch bpffs dirs, tables.

Benchmark support only (never imported by pybpf or its tests).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

C_DIR = Path(__file__).resolve().parent / "c"


def configure_sample_lb(inst, vip: str, backends: int = 3) -> None:
    """The benchmarks' balancer set-up on a deployed xdp_lb (any backend): next hop
    02:00:00:00:00:aa, encapsulation sources 10.200.2.1 / fd00:200::2:1, one VIP with
    ``backends`` equal-weight backends 10.200.3.11, .12, ..."""
    lb = inst.lb
    lb.set_config(nexthop_mac=bytes.fromhex("0200000000aa"), src_v4="10.200.2.1",
                  src_v6="fd00:200::2:1")
    lb.add_vip(vip)
    for i in range(backends):
        lb.add_backend(vip, f"10.200.3.{11 + i}")


def build_c(name: str, out_dir: Path) -> Path:
    """gcc -O2 benchmarks/c/NAME.c -lbpf; raises SystemExit with the reason when it cannot."""
    if not shutil.which("gcc"):
        raise SystemExit("gcc is required to build the libbpf reference consumer")
    out = out_dir / name
    proc = subprocess.run(["gcc", "-O2", "-o", str(out), str(C_DIR / f"{name}.c"), "-lbpf"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"building {name}.c failed (is libbpf-dev installed?):\n{proc.stderr}")
    return out


@contextmanager
def scratch() -> Iterator[tuple[Path, Path]]:
    """(temp dir for binaries, bpffs dir for pins); both removed afterwards."""
    from pybpf.kernel.pin import ensure_bpffs
    ensure_bpffs()
    pins = Path("/sys/fs/bpf") / f"pybpf_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    pins.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="pybpf_bench_"))
    try:
        yield tmp, pins
    finally:
        for child in pins.iterdir():
            child.unlink()
        pins.rmdir()
        shutil.rmtree(tmp, ignore_errors=True)


def table(title: str, rows: list[tuple[str, float, float]], reference: str) -> None:
    """rows: (name, items, seconds). Prints items/s and the ratio to the ``reference`` row."""
    ref_rate = next(items / secs for name, items, secs in rows if name == reference)
    print(f"\n{title}")
    print(f"{'path':<38} {'items':>10} {'seconds':>10} {'items/s':>14} {'vs ' + reference:>16}")
    for name, items, secs in rows:
        rate = items / secs if secs else float("inf")
        print(f"{name:<38} {items:>10.0f} {secs:>10.4f} {rate:>14,.0f} {rate / ref_rate:>15.3g}x")
