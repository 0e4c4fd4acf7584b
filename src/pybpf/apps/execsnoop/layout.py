"""The byte layout of one execsnoop record (mirrors bpf/execsnoop.h) and its decoder.

Only turns bytes into an ExecEvent; never touches a backend. tests/apps/execsnoop checks these offsets
against the compiled object's BTF.
"""
from __future__ import annotations

import struct

from ...errors import BPFError
from .event import ExecEvent

TASK_COMM_LEN = 16
ARGSIZE = 128
TOTAL_MAX_ARGS = 20
DEFAULT_MAX_ARGS = 20
ARGS_BUF = TOTAL_MAX_ARGS * ARGSIZE
INVALID_UID = 0xFFFFFFFF

FLAG_TRUNCATED = 1
FLAG_EXECVEAT = 2

STAT_RINGBUF_DROPS = 0
STAT_INFLIGHT_DROPS = 1

SUCCESS_ONLY, ALL, FAILED_ONLY = 0, 1, 2     # values of the .rodata constant failed_mode

# ts_ns, pid, ppid, uid, retval, args_count, args_size, flags, pad, comm
HEADER = struct.Struct("<QIIIiIIII16s")
HEADER_SIZE = HEADER.size
EVENT_SIZE = HEADER_SIZE + ARGS_BUF
FIELD_OFFSETS = {"ts_ns": 0, "pid": 8, "ppid": 12, "uid": 16, "retval": 20, "args_count": 24,
                 "args_size": 28, "flags": 32, "comm": 40, "args": 56}


class EventDecodeError(BPFError):
    """A ring-buffer record that is not a well-formed execsnoop event."""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def decode_event(data: bytes | bytearray | memoryview) -> ExecEvent:
    """Decode one ring-buffer record (header + the used part of args) into an ExecEvent."""
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise EventDecodeError(f"execsnoop record of {len(data)} bytes is shorter than its "
                               f"{HEADER_SIZE}-byte header")
    (ts_ns, pid, ppid, uid, retval, args_count, args_size, flags, _pad,
     comm) = HEADER.unpack_from(data)
    if args_size > ARGS_BUF or args_count > TOTAL_MAX_ARGS:
        raise EventDecodeError(f"execsnoop record claims {args_count} args in {args_size} bytes "
                               f"(limits {TOTAL_MAX_ARGS} and {ARGS_BUF})")
    blob = data[HEADER_SIZE:HEADER_SIZE + args_size]
    strings = blob.split(b"\0")
    if blob.endswith(b"\0"):
        strings.pop()
    args = [_text(s) for s in strings[:args_count]]
    return ExecEvent(pid=pid, ppid=ppid, uid=uid, retval=retval, comm=_text(comm.split(b"\0")[0]),
                     args=args, truncated=bool(flags & FLAG_TRUNCATED),
                     execveat=bool(flags & FLAG_EXECVEAT), ts_ns=ts_ns)
