"""Benchmark: pybpf's static verification time per program next to the kernel's load time (one run).

Compiles every program of tests/corpus/**/*.c and bpf/*.c, verifies it with pybpf.verifier and
loads it with pybpf.kernel (BPF_PROG_LOAD, which runs the Linux verifier), then prints a table with
both times, the ratio, and the instructions each verifier processed. Run as root:

    python benchmarks/verifier.py [--no-kernel]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "verifier"))


def kernel_load(spec, name: str) -> tuple[str, float, int | None]:  # noqa: ANN001
    """(verdict, seconds, insns processed by the kernel) for one program of a spec."""
    from pybpf.errors import BPFError, KernelVerifierError
    from pybpf.kernel import Collection
    start = time.perf_counter()
    try:
        with Collection(spec, programs=[name], log_level=1) as coll:
            elapsed = time.perf_counter() - start
            log = getattr(coll.programs[name], "verifier_log", "") or ""
            verdict = "ok"
    except KernelVerifierError as exc:
        elapsed = time.perf_counter() - start
        log, verdict = exc.log, "rejected"
    except BPFError as exc:
        return f"error: {str(exc).splitlines()[0][:40]}", time.perf_counter() - start, None
    match = re.search(r"processed (\d+) insns", log or "")
    return verdict, elapsed, int(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-kernel", action="store_true", help="only time pybpf")
    args = parser.parse_args()

    from corpus_oracle import _relocated, corpus_sources
    from pybpf.build import BuildError, compile_bpf
    from pybpf.obj import load_object
    from pybpf.verifier import verify

    rows = []
    for source in corpus_sources():
        try:
            spec = load_object(compile_bpf(source))
        except BuildError:
            continue
        for name, prog in spec.programs.items():
            insns = _relocated(spec, prog)
            extra = {}
            if prog.attach_btf:
                from pybpf.btf import load_vmlinux
                from pybpf.verifier.btf_ctx import pointer_args
                target = load_vmlinux()
                extra = {"target_btf": target,
                         "btf_ctx": pointer_args(target, prog.section, prog.attach_to)}
            result = verify(insns, prog_type=prog.type, maps=spec.maps, raise_on_reject=False,
                            **extra)
            if args.no_kernel:
                kverdict, ktime, kinsns = "-", float("nan"), None
            else:
                kverdict, ktime, kinsns = kernel_load(spec, name)
            rows.append((f"{source.name}:{name}", len(insns), "ok" if result.accepted else "rejected",
                         result.time, result.insns_processed, kverdict, ktime, kinsns))

    header = (f"{'program':<46} {'insns':>6} {'pybpf':>8} {'pybpf ms':>9} {'processed':>9} "
              f"{'kernel':>8} {'kernel ms':>9} {'processed':>9} {'ratio':>7}")
    print(header)
    print("-" * len(header))
    total_p = total_k = 0.0
    slowest = 0.0
    for name, n, pv, pt, pi, kv, kt, ki in rows:
        ratio = pt / kt if kt and kt == kt else float("nan")
        total_p += pt
        total_k += kt if kt == kt else 0.0
        slowest = max(slowest, pt)
        print(f"{name[:46]:<46} {n:>6} {pv:>8} {pt * 1e3:>9.1f} {pi:>9} {kv[:8]:>8} "
              f"{kt * 1e3:>9.1f} {ki if ki is not None else '-':>9} {ratio:>6.1f}x")
    print("-" * len(header))
    ratio = total_p / total_k if total_k else float("nan")
    print(f"{len(rows)} programs: pybpf {total_p:.2f} s total (slowest {slowest:.2f} s), kernel "
          f"{total_k:.2f} s total; pybpf/kernel = {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
