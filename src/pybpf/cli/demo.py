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
        "demo", help="run execsnoop in the kernel (or the VM) while starting a few commands",
        description="Trace a few commands with pybpf's execsnoop: in the kernel when bpf(2) and "
                    "tracepoints work, otherwise in the userspace VM with simulated execs.")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="force an engine (default: kernel if usable, else vm)")
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
    engine = args.engine
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
    return 0


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
