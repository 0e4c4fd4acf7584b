"""The execsnoop recording format: JSON lines, a header object then one ExecEvent object per line.

``--record FILE`` writes it in kernel mode; ``--engine vm --replay FILE`` reads it. Reads and writes
files only; never touches a backend.

    {"format": "pybpf-execsnoop", "version": 1, "realtime_offset_ns": 1764100000000000000}
    {"pid": 4242, "ppid": 1, "uid": 0, "retval": 0, "comm": "ls", "args": ["/bin/ls", "-l"],
     "truncated": false, "execveat": false, "ts_ns": 123456789}
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import IO

from ...errors import BPFError
from .event import ExecEvent
from .output import json_line

FORMAT_NAME = "pybpf-execsnoop"
FORMAT_VERSION = 1


class RecordingError(BPFError):
    """A recording file that cannot be read (names the file and line)."""


class RecordingWriter:
    """Appends events to a recording file; a context manager that closes it."""

    def __init__(self, path: str | os.PathLike[str], *,
                 realtime_offset_ns: int | None = None) -> None:
        self.path = os.fspath(path)
        try:
            self._file: IO[str] = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot write recording: {exc.strerror}") from None
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
        if realtime_offset_ns is not None:
            header["realtime_offset_ns"] = realtime_offset_ns
        self._file.write(json.dumps(header) + "\n")
        self.count = 0

    def write(self, event: ExecEvent) -> None:
        self._file.write(json_line(event) + "\n")
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recording_realtime_offset(path: str | os.PathLike[str]) -> int | None:
    """CLOCK_REALTIME - CLOCK_MONOTONIC when the recording was made (None if not recorded)."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            header = json.loads(handle.readline().decode("utf-8"))
    except (OSError, ValueError):
        raise RecordingError(f"{name}: cannot read the recording header") from None
    offset = header.get("realtime_offset_ns") if isinstance(header, dict) else None
    return offset if isinstance(offset, int) and not isinstance(offset, bool) else None


def read_recording(path: str | os.PathLike[str]) -> Iterator[ExecEvent]:
    """Yield the events of a recording, in order; RecordingError on any malformed line."""
    name = os.fspath(path)
    try:
        handle = open(name, "rb")
    except OSError as exc:
        raise RecordingError(f"{name}: cannot read recording: {exc.strerror}") from None
    with handle:
        header_seen = False
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordingError(f"{name}:{number}: not UTF-8 text") from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RecordingError(f"{name}:{number}: not JSON ({exc.msg})") from None
            if number == 1:
                if not (isinstance(obj, dict) and obj.get("format") == FORMAT_NAME):
                    raise RecordingError(f"{name}:1: not a {FORMAT_NAME} recording (missing "
                                         f'header {{"format": "{FORMAT_NAME}", ...}})')
                if obj.get("version") != FORMAT_VERSION:
                    raise RecordingError(f"{name}:1: unsupported recording version "
                                         f"{obj.get('version')!r} (this pybpf reads "
                                         f"{FORMAT_VERSION})")
                header_seen = True
                continue
            try:
                yield ExecEvent.from_json(obj, where=f"{name}:{number}")
            except RecordingError:
                raise
            except BPFError as exc:
                raise RecordingError(str(exc)) from None
        if not header_seen:
            raise RecordingError(f"{name}: empty file, not a {FORMAT_NAME} recording")
