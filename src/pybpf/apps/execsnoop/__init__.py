"""pybpf.apps.execsnoop: trace execve/execveat (libbpf-tools' execsnoop) with one CO-RE object.

Library API re-exported here; the ``pybpf execsnoop`` command lives in pybpf.cli.execsnoop. Importing
this package never touches the kernel.

    from pybpf.apps.execsnoop import Execsnoop, ExecsnoopOptions
    with Execsnoop(ExecsnoopOptions(include_failed=True), backend="kernel") as snoop:
        for event in snoop.poll(timeout=1.0):
            print(event.comm, event.pid, event.ppid, event.retval, event.args)
        print(snoop.drops().total)
"""
from __future__ import annotations

from .event import ExecEvent
from .layout import EventDecodeError, decode_event
from .options import ExecsnoopOptions
from .output import TextFormatter, format_args, json_line
from .recording import (RecordingError, RecordingWriter, read_recording,
                        recording_realtime_offset)
from .simulate import ProcessTable, SimTask, SimulatedExec, scripted_execs
from .build import compile_object
from .tracer import DropCounts, Execsnoop, run_simulated

__all__ = ["Execsnoop", "ExecsnoopOptions", "ExecEvent", "DropCounts", "decode_event",
           "EventDecodeError", "TextFormatter", "format_args", "json_line", "RecordingWriter",
           "read_recording", "recording_realtime_offset", "RecordingError", "compile_object", "run_simulated", "ProcessTable",
           "SimTask", "SimulatedExec", "scripted_execs"]
