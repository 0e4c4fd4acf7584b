"""Formats execsnoop events as libbpf-tools' execsnoop prints them, or as one JSON object per line.

Only builds strings; never writes to a stream or reads a map.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .event import ExecEvent

_ESCAPES = {'"': '\\"', "\t": "\\t", "\n": "\\n"}


def quote_arg(arg: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in arg) + '"'


def format_args(event: ExecEvent, *, quote: bool = False) -> str:
    text = " ".join(quote_arg(a) for a in event.args) if quote else " ".join(event.args)
    return text + (" ..." if event.truncated else "")


@dataclass
class TextFormatter:
    """Columns ``[TIME] [TIME(s)] [UID] PCOMM PID PPID RET ARGS`` like libbpf-tools execsnoop."""

    time: bool = False             # -T: wall clock HH:MM:SS
    timestamp: bool = False        # -t: seconds since the tracer started
    print_uid: bool = False        # -U
    quote: bool = False            # -q
    start_ns: int = 0              # CLOCK_MONOTONIC when tracing started (for -t)
    realtime_offset_ns: int | None = None   # CLOCK_REALTIME - CLOCK_MONOTONIC (for -T), else now

    def header(self) -> str:
        head = ""
        if self.time:
            head += f"{'TIME':<9}"
        if self.timestamp:
            head += f"{'TIME(s)':<8} "
        if self.print_uid:
            head += f"{'UID':<6} "
        return head + f"{'PCOMM':<16} {'PID':<6} {'PPID':<6} {'RET':>3} ARGS"

    def line(self, event: ExecEvent, *, wall_time: float | None = None) -> str:
        row = ""
        if self.time:
            if wall_time is None and self.realtime_offset_ns is not None and event.ts_ns:
                wall_time = (event.ts_ns + self.realtime_offset_ns) / 1e9
            row += time.strftime("%H:%M:%S", time.localtime(wall_time)) + " "
        if self.timestamp:
            row += f"{max(event.ts_ns - self.start_ns, 0) / 1e9:<8.3f} "
        if self.print_uid:
            row += f"{event.uid:<6} "
        row += f"{event.comm:<16} {event.pid:<6} {event.ppid:<6} {event.retval:>3} "
        return row + format_args(event, quote=self.quote)


def json_line(event: ExecEvent) -> str:
    """One event as a single-line JSON object (the ``--json`` output)."""
    return json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)
