"""``pybpf execsnoop``: trace exec() calls like libbpf-tools' execsnoop (kernel, or VM replay).

Parses options and prints; the tracing itself is pybpf.apps.execsnoop. Never leaves programs attached:
Ctrl-C, --duration and --count all detach before returning.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from ..errors import BPFError

EXAMPLES = """examples:
  pybpf execsnoop                 # trace all successful exec() syscalls
  pybpf execsnoop -x              # include failed exec()s
  pybpf execsnoop --failed-only   # only failed exec()s
  pybpf execsnoop -T -t -U        # time, timestamp and UID columns
  pybpf execsnoop -u 1000         # only UID 1000
  pybpf execsnoop -n main         # only commands whose name contains "main"
  pybpf execsnoop -l tpkg         # only commands whose arguments contain "tpkg"
  pybpf execsnoop -c /sys/fs/cgroup/unified/app    # only processes in this cgroup v2
  pybpf execsnoop --json --duration 5 --record run.jsonl
  pybpf execsnoop --engine vm --replay run.jsonl   # replay a recording through the VM
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "execsnoop", help="trace exec() syscalls (like libbpf-tools execsnoop)",
        description="Trace exec() syscalls through a ring buffer, in the kernel or the VM.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-T", "--time", action="store_true",
                        help="include time column on output (HH:MM:SS)")
    parser.add_argument("-t", "--timestamp", action="store_true",
                        help="include timestamp (seconds since start) on output")
    parser.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    parser.add_argument("--failed-only", action="store_true", help="only failed exec()s")
    parser.add_argument("-u", "--uid", type=_uid, metavar="UID", help="trace this UID only")
    parser.add_argument("-q", "--quote", action="store_true",
                        help='add quotemarks (") around arguments')
    parser.add_argument("-n", "--name", metavar="NAME",
                        help="only commands whose name contains NAME (filtered in BPF)")
    parser.add_argument("-l", "--line", metavar="LINE",
                        help="only commands whose arguments contain LINE")
    parser.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    parser.add_argument("--max-args", type=int, default=20, metavar="MAX_ARGS",
                        help="maximum number of arguments parsed and displayed (1-20, default 20)")
    parser.add_argument("-c", "--cgroup", metavar="CGROUP_PATH",
                        help="trace processes in this cgroup (v2 directory) only")
    parser.add_argument("--json", action="store_true", help="print one JSON object per event")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after SECONDS")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
    parser.add_argument("--engine", choices=("kernel", "vm"), default="kernel",
                        help="where the BPF program runs (vm needs --replay)")
    parser.add_argument("--replay", metavar="FILE",
                        help="with --engine vm: feed the execs recorded in FILE to the VM")
    parser.add_argument("--record", metavar="FILE",
                        help="also write every event shown to FILE (JSON lines)")
    parser.add_argument("--ring-size", type=int, metavar="BYTES",
                        help="ring buffer size in bytes (power of two, default 1048576)")


def _uid(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid UID {text!r}") from None
    if not 0 <= value < 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"invalid UID {text!r}")
    return value


def options_from_args(args: argparse.Namespace) -> Any:
    from ..apps.execsnoop import ExecsnoopOptions
    return ExecsnoopOptions(uid=args.uid, cgroup_path=args.cgroup, name=args.name, line=args.line,
                            include_failed=args.fails, failed_only=args.failed_only,
                            max_args=args.max_args, ring_size=args.ring_size)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from ..apps.execsnoop import Execsnoop, RecordingWriter, TextFormatter, json_line
    from ..apps.execsnoop import read_recording, recording_realtime_offset
    out = out or sys.stdout
    err = err or sys.stderr
    if args.engine == "vm" and not args.replay:
        raise BPFError("--engine vm needs --replay FILE (the VM has no real processes to trace)")
    if args.replay and args.engine != "vm":
        raise BPFError("--replay needs --engine vm")
    if args.count is not None and args.count < 1:
        raise BPFError(f"invalid --count {args.count}: must be at least 1")
    replayed = list(read_recording(args.replay)) if args.replay else None
    options = options_from_args(args)
    recorder = None
    shown = 0
    try:
        with Execsnoop(options, backend=args.engine) as snoop:
            fmt = TextFormatter(time=args.time, timestamp=args.timestamp,
                                print_uid=args.print_uid, quote=args.quote,
                                start_ns=snoop.start_ns,
                                realtime_offset_ns=snoop.realtime_offset_ns)
            if replayed is not None:
                fmt.realtime_offset_ns = recording_realtime_offset(args.replay)
            if replayed:
                fmt.start_ns = min(e.ts_ns for e in replayed)
            if args.record:
                recorder = RecordingWriter(args.record, realtime_offset_ns=None if replayed
                                           is not None else snoop.realtime_offset_ns)
            if not args.json:
                print(fmt.header(), file=out, flush=True)
            with _StopOnSigint() as stop:
                for events in _batches(snoop, replayed, args.duration):
                    for event in events:
                        print(json_line(event) if args.json else fmt.line(event), file=out)
                        if recorder:
                            recorder.write(event)
                        shown += 1
                        if args.count is not None and shown >= args.count:
                            break
                    out.flush()
                    if stop.requested or (args.count is not None and shown >= args.count):
                        break           # Ctrl-C: detach below and report drops
            drops = snoop.drops()
    finally:
        if recorder:
            recorder.close()
    if drops.total:
        print(f"Lost {drops.total} events ({drops.ringbuf} ring buffer full, "
              f"{drops.inflight} in-flight table full)", file=err)
    return 0


class _StopOnSigint:
    """While active, Ctrl-C sets ``requested`` (checked between batches, like libbpf-tools'
    ``exiting`` flag) instead of raising KeyboardInterrupt in the middle of printing an event."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __enter__(self) -> "_StopOnSigint":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


REPLAY_CHUNK = 64       # execs simulated between two reads of the VM's ring buffer


def _batches(snoop: Any, replayed: list[Any] | None, duration: float | None) -> Iterator[list[Any]]:
    """Successive lists of events: from the VM while replaying, else from the kernel until the
    duration (if any) has passed."""
    if replayed is not None:
        for start in range(0, len(replayed), REPLAY_CHUNK):
            snoop.replay(replayed[start:start + REPLAY_CHUNK])
            yield snoop.poll(timeout=0)
        return
    deadline = None if duration is None else time.monotonic() + duration
    while deadline is None or time.monotonic() < deadline:
        timeout = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
        yield snoop.poll(timeout=timeout)
