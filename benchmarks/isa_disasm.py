"""Benchmark of the instruction-set layer: decode, disassemble and assemble throughput, and the
``pybpf disasm`` / ``assemble`` wall time against llvm-objdump-19 / llvm-mc-19 on the same input.

Benchmark only: prints a table with ratios measured in the same run; never asserts anything.
Usage: python benchmarks/isa_disasm.py [OBJECT.o]   (default: bpf/xdplb.bpf.c compiled at v3)
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybpf.build import BPF_SOURCE_DIR, compile_bpf
from pybpf.cli.disasm import read_code_sections
from pybpf.isa import decode, encode
from pybpf.isa.asm import assemble
from pybpf.isa.disasm import disassemble


def best_of(func, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    obj = Path(sys.argv[1]) if len(sys.argv) > 1 else compile_bpf(BPF_SOURCE_DIR / "xdplb.bpf.c", mcpu="v3")
    sections = read_code_sections(obj)
    code = b"".join(s.data for s in sections)
    insns = [i for s in sections for i in decode(s.data)]
    text = "\n".join(line for s in sections for line in disassemble(decode(s.data)))
    llvm_text = "\n".join(line for s in sections
                          for line in disassemble(decode(s.data), llvm_exact=True)
                          if not line.startswith("call pc"))
    n = len(insns)
    print(f"object: {obj.name}  ({len(sections)} code sections, {n} instructions, {len(code)} bytes)\n")

    rows = []
    t = best_of(lambda: [decode(s.data) for s in sections])
    rows.append(("decode", t, n / t))
    t = best_of(lambda: encode(insns))
    rows.append(("encode", t, n / t))
    t = best_of(lambda: [disassemble(decode(s.data)) for s in sections])
    rows.append(("decode + disassemble", t, n / t))
    t = best_of(lambda: assemble(text))
    rows.append(("assemble (llvm syntax)", t, n / t))
    print(f"{'in-process':26} {'best time':>12} {'insns/s':>12}")
    for name, secs, rate in rows:
        print(f"{name:26} {secs * 1e3:10.2f}ms {rate:12,.0f}")

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "prog.s"
        src.write_text(".text\n" + llvm_text + "\n")
        out = Path(tmp) / "prog.o"
        ours_cli = best_of(lambda: subprocess.run([sys.executable, "-m", "pybpf", "disasm", str(obj)],
                                                  capture_output=True, check=True), 3)
        llvm_cli = best_of(lambda: subprocess.run(["llvm-objdump-19", "-d", "--no-show-raw-insn", str(obj)],
                                                  capture_output=True, check=True), 3)
        ours_asm = best_of(lambda: assemble(llvm_text), 3)
        llvm_asm = best_of(lambda: subprocess.run(["llvm-mc-19", "-triple", "bpfel", "-mcpu=v4",
                                                   "-filetype=obj", str(src), "-o", str(out)],
                                                  capture_output=True, check=True), 3)
    print(f"\n{'versus LLVM (same input)':34} {'pybpf':>10} {'llvm':>10} {'pybpf/llvm':>11}")
    print(f"{'disasm CLI (process wall time)':34} {ours_cli * 1e3:8.1f}ms {llvm_cli * 1e3:8.1f}ms "
          f"{ours_cli / llvm_cli:10.1f}x")
    print(f"{'assemble (in-proc vs llvm-mc proc)':34} {ours_asm * 1e3:8.1f}ms {llvm_asm * 1e3:8.1f}ms "
          f"{ours_asm / llvm_asm:10.1f}x")


if __name__ == "__main__":
    main()
