"""Benchmark of the native JIT (pybpf.vm.jit): ns per run next to the interpreter and the kernel's
BPF_PROG_TEST_RUN for the same program and packet, all measured in this one run.

Never asserts anything. Run: python benchmarks/jit.py [--runs N] [--no-kernel]
Every engine runs test_run(packet, repeat=N) and reports its own average duration: the kernel's
in-kernel loop, the JIT's native repeat loop, the interpreter's Python loop (fewer runs).
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
from _bench_common import configure_sample_lb  # noqa: E402


def frame(payload) -> bytes:
    from scapy.all import Ether
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload)


def cases() -> list[tuple[str, Path, str, bytes]]:
    from scapy.all import ICMP, IP, TCP, UDP
    vm_xdp = compile_bpf(ROOT / "tests" / "vm" / "progs" / "vm_xdp.c")
    out = [("xdp_parse (UDP echo -> XDP_TX)", vm_xdp, "xdp_parse",
            frame(IP(src="10.200.0.1", dst="10.200.0.2") / UDP(sport=1234, dport=7) / b"hello")),
           ("xdp_parse (ICMP -> drop, counted)", vm_xdp, "xdp_parse",
            frame(IP(src="10.200.0.3", dst="10.200.0.2") / ICMP())),
           ("xdp_helpers (bpf_loop, for_each, LPM)", vm_xdp, "xdp_helpers", bytes(range(64)))]
    ring = compile_bpf(ROOT / "tests" / "jit" / "progs" / "jit_native.c")
    out.append(("ringbuf_output (16-byte record per packet)", ring, "bench_output16", bytes(64)))
    out.append(("ktime + prandom + smp_processor_id", ring, "bench_env", bytes(64)))
    lb = ROOT / "bpf" / "xdplb.bpf.c"
    if lb.exists():
        out.append(("xdp_lb (unconfigured: parse + map misses)", compile_bpf(lb), "xdp_lb",
                    frame(IP(src="10.200.1.2", dst="10.200.9.1") / TCP(sport=40000, dport=80,
                                                                         flags="S"))))
    return out


def per_run_ns(backend: str, obj: Path, prog: str, packet: bytes, runs: int, *,
               all_checks: bool = False) -> tuple[float, int]:
    """(average ns per run as the backend reports it, retval). ``all_checks``: the JIT keeps
    every run-time check, even those the verifier proved (PYBPF_JIT_CHECKS=all)."""
    import os
    before = os.environ.get("PYBPF_JIT_CHECKS")
    if all_checks:
        os.environ["PYBPF_JIT_CHECKS"] = "all"
    try:
        with pybpf.Collection(pybpf.load_object(obj), backend=backend) as coll:
            p = coll.programs[prog]
            p.test_run(packet)                               # warm-up (and JIT compile)
            result = p.test_run(packet, repeat=runs)
            return float(result.duration_ns), result.retval
    finally:
        if before is None:
            os.environ.pop("PYBPF_JIT_CHECKS", None)
        else:
            os.environ["PYBPF_JIT_CHECKS"] = before


def configured_lb_rows(samples: int, kernel: bool, block: int = 100
                       ) -> list[tuple[str, dict[str, float]]]:
    """Median ns of single runs of the configured balancer (1 VIP, 3 backends): new flows (a SYN
    with a fresh source port each sample: Maglev pick + conntrack insert) and an established one,
    both encapsulated with bpf_xdp_adjust_head, so every sample is one run on a fresh packet
    (repeat would re-encapsulate). Each backend reports its own duration.

    The backends are loaded side by side on one pinned CPU and sampled twice:
    - in blocks: ``block`` samples of one backend, then the next, in turn; each backend runs a
      stream of packets, as it would in use. "blocks" = median over rounds of the per-round
      JIT/kernel ratio of medians (adjacent blocks share the machine's noise);
    - interleaved: one sample of each backend in turn; "interleaved" = median of per-sample
      JIT/kernel ratios. Here each engine's run follows the other's syscall or Python work,
      which evicts part of its working set (both engines run slower this way).
    The JIT and kernel medians reported are the blocked ones."""
    import contextlib
    import os
    import statistics

    from scapy.all import IP, TCP
    try:
        from pybpf.apps.lb import deploy
    except ImportError:
        return []
    vip = "10.200.9.1:80/tcp"
    established = frame(IP(src="10.200.1.2", dst="10.200.9.1") /
                        TCP(sport=40002, dport=80, flags="A"))
    new_flows = [frame(IP(src="10.200.1.2", dst="10.200.9.1") /
                       TCP(sport=20000 + i, dport=80, flags="S")) for i in range(2 * samples)]
    labels = ("xdp_lb configured, new flow (SYN, encap)",
              "xdp_lb configured, established flow (encap)")
    blocked: dict[str, dict[str, list[list[int]]]] = {label: {} for label in labels}
    interleaved: dict[str, dict[str, list[int]]] = {label: {} for label in labels}
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})     # the kernel's test run runs on the calling CPU
    try:
        with contextlib.ExitStack() as stack:
            programs = {}
            for backend in ("vm", "jit") + (("kernel",) if kernel else ()):
                try:
                    inst = stack.enter_context(deploy.load(backend))
                except Exception as exc:  # noqa: BLE001 - report and go on without this column
                    print(f"(configured xdp_lb on {backend} skipped: {exc})", file=sys.stderr)
                    continue
                configure_sample_lb(inst, vip)
                inst.program.test_run(established)               # creates the flow entry
                programs[backend] = inst.program

            def sample(backend: str, i: int, out: dict[str, dict[str, list]], new: bytes) -> None:
                if backend == "vm" and i % 20:                    # the interpreter: every 20th
                    return
                for label, packet in zip(labels, (new, established)):
                    out[label].setdefault(backend, []).append(
                        programs[backend].test_run(packet).duration_ns)

            for start in range(0, samples, block):
                for backend in programs:
                    rounds: dict[str, dict[str, list[int]]] = {label: {} for label in labels}
                    for i in range(start, min(start + block, samples)):
                        sample(backend, i, rounds, new_flows[i])
                    for label in labels:
                        if backend in rounds[label]:
                            blocked[label].setdefault(backend, []).append(rounds[label][backend])
            for i in range(samples):
                for backend in programs:
                    sample(backend, i, interleaved, new_flows[samples + i])
    finally:
        os.sched_setaffinity(0, affinity)
    out = []
    for label in labels:
        row = {b: statistics.median(v for chunk in chunks for v in chunk)
               for b, chunks in blocked[label].items()}
        by = interleaved[label]
        if "jit" in by and "kernel" in by:
            row["blocks"] = statistics.median(
                statistics.median(j) / statistics.median(k)
                for j, k in zip(blocked[label]["jit"], blocked[label]["kernel"]))
            row["interleaved"] = statistics.median(j / k for j, k in zip(by["jit"], by["kernel"])
                                                   if k)
            row["jit interleaved"] = statistics.median(by["jit"])
            row["kernel interleaved"] = statistics.median(by["kernel"])
        out.append((label, row))
    return out


def compile_ms(obj: Path, *, disk_cache: bool) -> float:
    """ms to load the object and get native code for every program: a cold compile (no process
    or disk cache), or with the on-disk object cache warm (what a second process pays)."""
    import os

    from pybpf.vm.jit import engine
    engine._cache.clear()
    before = os.environ.get("PYBPF_JIT_CACHE")
    os.environ["PYBPF_JIT_CACHE"] = "1" if disk_cache else "0"
    try:
        start = time.perf_counter()
        with pybpf.Collection(pybpf.load_object(obj), backend="jit") as coll:
            for prog in coll.programs.values():              # compiled on first run
                try:
                    prog.test_run(bytes(64))
                except pybpf.errors.BPFError:
                    pass
        return (time.perf_counter() - start) * 1e3
    finally:
        if before is None:
            os.environ.pop("PYBPF_JIT_CACHE", None)
        else:
            os.environ["PYBPF_JIT_CACHE"] = before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs per engine (kernel, JIT)")
    parser.add_argument("--interp-runs", type=int, default=300)
    parser.add_argument("--samples", type=int, default=2000, help="single runs of the configured LB")
    parser.add_argument("--no-kernel", action="store_true")
    args = parser.parse_args()
    rows = []
    for label, obj, prog, packet in cases():
        jit_ns, jit_ret = per_run_ns("jit", obj, prog, packet, args.runs)
        checked_ns, _ = per_run_ns("jit", obj, prog, packet, args.runs, all_checks=True)
        interp_ns, interp_ret = per_run_ns("vm", obj, prog, packet, args.interp_runs)
        kernel_ns = None
        if not args.no_kernel:
            try:
                kernel_ns, kernel_ret = per_run_ns("kernel", obj, prog, packet, args.runs)
            except Exception as exc:  # noqa: BLE001 - report, keep the other columns
                print(f"(kernel run of {prog} failed: {exc})", file=sys.stderr)
        compile_ms(obj, disk_cache=True)                     # make sure the disk cache holds it
        rows.append((label, interp_ns, jit_ns, checked_ns, kernel_ns,
                     compile_ms(obj, disk_cache=False), compile_ms(obj, disk_cache=True),
                     jit_ret == interp_ret))
    print(f"\n{'program':<44} {'interp ns':>11} {'JIT ns':>8} {'checked':>8} {'kernel ns':>10} "
          f"{'interp/JIT':>11} {'JIT/kernel':>11} {'cold ms':>8} {'cached ms':>10} {'same ret':>9}")
    for label, interp_ns, jit_ns, checked_ns, kernel_ns, cms, warm, same in rows:
        k = f"{kernel_ns:>10,.0f}" if kernel_ns else f"{'n/a':>10}"
        kr = f"{jit_ns / kernel_ns:>10.2f}x" if kernel_ns else f"{'n/a':>11}"
        print(f"{label:<44} {interp_ns:>11,.0f} {jit_ns:>8,.0f} {checked_ns:>8,.0f} {k} "
              f"{interp_ns / jit_ns:>10,.0f}x {kr} {cms:>8.0f} {warm:>10.0f} {str(same):>9}")
    print("\nns per run = each engine's test_run(repeat=N) average; the kernel column is "
          "BPF_PROG_TEST_RUN with the kernel's JIT. JIT = native code with the checks pybpf's "
          "verifier proved unnecessary left out; checked = the same program with every run-time "
          "check (PYBPF_JIT_CHECKS=all). cold ms = object load + verify + LLVM compile of "
          "every program in the object with no cache; cached ms = the same with the on-disk "
          "object cache warm (a second process).")
    lb_rows = configured_lb_rows(args.samples, not args.no_kernel)
    if lb_rows:
        print(f"\n{'single runs (median)':<44} {'interp ns':>11} {'JIT ns':>8} {'kernel ns':>10} "
              f"{'interp/JIT':>11} {'JIT/kernel':>11} {'blocks':>7} {'interleaved (ns)':>26}")
        for label, by in lb_rows:
            i, j, k = by.get("vm"), by.get("jit"), by.get("kernel")
            fmt = lambda v, w: f"{v:>{w},.0f}" if v else f"{'n/a':>{w}}"   # noqa: E731
            ratio = lambda a, b: f"{a / b:>10,.2f}x" if a and b else f"{'n/a':>11}"   # noqa: E731
            blocks = f"{by['blocks']:>6.2f}x" if "blocks" in by else f"{'n/a':>7}"
            inter = (f"{by['interleaved']:>6.2f}x ({by['jit interleaved']:,.0f} / "
                     f"{by['kernel interleaved']:,.0f})" if "interleaved" in by else "n/a")
            print(f"{label:<44} {fmt(i, 11)} {fmt(j, 8)} {fmt(k, 10)} {ratio(i, j)} {ratio(j, k)} "
                  f"{blocks} {inter:>26}")
        print("single runs: the kernel's duration is measured inside BPF_PROG_TEST_RUN, the JIT's "
              "inside its native entry (helpers that call back into Python included), the "
              "interpreter's around its Python loop; none includes packet set-up or copy-out. "
              "Sampled on one pinned CPU in blocks of 100 runs per engine in turn (JIT, kernel "
              "columns; blocks = median per-round JIT/kernel ratio), then interleaved one run "
              "each (every run follows the other engine's work, which evicts part of its cache).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
