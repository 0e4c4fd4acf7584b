"""``pybpf demo``: shows pybpf working end to end, in the kernel when it can, else in the userspace VM.

Says which engine it used and why. Never leaves programs attached or processes running; only runs the
few harmless commands listed in DEMO_COMMANDS.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any, TextIO

from ..errors import BPFError

# The commands the demo starts (argv); the last one fails on purpose (ENOENT).
DEMO_COMMANDS = (
    ["/bin/echo", "hello from pybpf"],
    ["/bin/ls", "-d", "/tmp"],
    ["/bin/uname", "-r"],
    ["/bin/true"] + [f"arg{i}" for i in range(25)],
    ["/nonexistent/pybpf-demo", "--fails"],
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="execsnoop and the XDP load balancer, in the kernel (or the VM)",
        description="Trace a few commands with pybpf's execsnoop: in the kernel when bpf(2) and "
                    "tracepoints work, otherwise in the userspace VM with simulated execs.")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="force an engine (default: kernel if usable, else vm)")
    parser.add_argument("--part", choices=("all", "execsnoop", "lb"), default="all",
                        help="show only execsnoop or only the XDP load balancer (default: both)")
    parser.add_argument("--lb-seconds", type=float, default=6.0,
                        help="how long the load-balancer part sends traffic (kernel engine)")
    parser.set_defaults(handler=run)


def kernel_unavailable_reason() -> str | None:
    """None when execsnoop can run in the kernel here, else a short reason why not."""
    if os.geteuid() != 0:
        return "not running as root"
    try:
        from ..apps.execsnoop import Execsnoop, ExecsnoopOptions
        with Execsnoop(ExecsnoopOptions(), backend="kernel"):
            pass
    except (BPFError, OSError) as exc:
        return str(exc).splitlines()[0]
    return None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    part = getattr(args, "part", "all")
    if part in ("all", "execsnoop"):
        run_execsnoop_part(args.engine, out)
    if part in ("all", "lb"):
        if part == "all":
            print("", file=out)
        run_lb_part(args.engine, getattr(args, "lb_seconds", 6.0), out)
    return 0


def run_execsnoop_part(engine: str, out: TextIO) -> None:
    """Trace the demo commands with execsnoop, in the kernel when it can, else in the VM."""
    reason = None
    if engine in ("auto", "kernel"):
        reason = kernel_unavailable_reason()
        if reason is not None and engine == "kernel":
            raise BPFError(f"cannot run the demo in the kernel: {reason}")
        engine = "kernel" if reason is None else "vm"
    if engine == "kernel":
        print("pybpf demo: execsnoop in the KERNEL (bpf(2) + syscall tracepoints, CO-RE against "
              "/sys/kernel/btf/vmlinux)", file=out)
        events = run_kernel_demo()
    else:
        why = f" (kernel unavailable: {reason})" if reason else ""
        print(f"pybpf demo: execsnoop in the userspace VM with simulated execs{why}", file=out)
        events = run_vm_demo()
    show(events, out)


def run_lb_part(engine: str, seconds: float, out: TextIO) -> None:
    """The XDP load balancer on a namespace testbed (kernel), or on crafted packets in the VM."""
    from ..apps.lb.demo import run_demo as lb_kernel_demo, run_vm_demo as lb_vm_demo
    from .lb import _kernel_demo_unusable

    def emit(line: str) -> None:
        print(line, file=out, flush=True)

    reason = None if engine == "vm" else _kernel_demo_unusable()
    if engine == "kernel" and reason:
        raise BPFError(f"cannot run the load-balancer demo in the kernel: {reason}")
    if reason is None and engine != "vm":
        print("pybpf demo: XDP load balancer in the KERNEL (client -> router -> xdp_lb -> 3 "
              "backends in network namespaces, Maglev + conntrack, IPIP/IP6IP6, direct return)",
              file=out)
        lb_kernel_demo(seconds=seconds, out=emit)
    else:
        why = f" (kernel unavailable: {reason})" if reason else ""
        print(f"pybpf demo: XDP load balancer in the userspace VM on crafted packets{why}", file=out)
        lb_vm_demo(out=emit)


def show(events: list[Any], out: TextIO) -> None:
    from ..apps.execsnoop import TextFormatter
    fmt = TextFormatter(print_uid=False)
    print("", file=out)
    print(fmt.header(), file=out)
    for event in events:
        print(fmt.line(event), file=out)
    print(f"\n{len(events)} exec(s) traced ({sum(e.failed for e in events)} failed).", file=out)


def _start(argv: list[str]) -> int | None:
    """Run one demo command to completion; the pid it ran as (None when it could not start)."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    proc.wait()
    return proc.pid


def run_kernel_demo(timeout: float = 5.0) -> list[Any]:
    import time

    from ..apps.execsnoop import Execsnoop, ExecsnoopOptions
    me = os.getpid()
    with Execsnoop(ExecsnoopOptions(include_failed=True, max_args=8)) as snoop:
        started = sum(1 for argv in DEMO_COMMANDS if _start(argv) is not None)
        events: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events.extend(e for e in snoop.poll(timeout=0.1) if e.ppid == me)
            if len(events) >= len(DEMO_COMMANDS):
                break
    del started
    return events


def run_vm_demo() -> list[Any]:
    from ..apps.execsnoop import ExecsnoopOptions
    from ..apps.execsnoop import run_simulated, scripted_execs
    return run_simulated(scripted_execs(DEMO_COMMANDS), ExecsnoopOptions(include_failed=True,
                                                                         max_args=8))
