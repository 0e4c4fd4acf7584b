"""The Python decoder's view of struct execsnoop_event matches the compiled object's BTF (bpftool)."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest

from pybpf.apps.execsnoop import EventDecodeError, decode_event, layout


@pytest.fixture(scope="module")
def event_struct_from_bpftool() -> dict[str, int]:
    if not shutil.which("bpftool"):
        pytest.skip("bpftool is not installed")
    from pybpf.apps.execsnoop import compile_object
    dump = subprocess.run(["bpftool", "btf", "dump", "file", str(compile_object())],
                          capture_output=True, text=True, check=True).stdout
    block = dump.split("STRUCT 'execsnoop_event'", 1)[1]
    size = int(re.match(r" size=(\d+)", block).group(1))
    members = {}
    for line in block.splitlines()[1:]:
        match = re.match(r"\s+'(\w+)' type_id=\d+ bits_offset=(\d+)", line)
        if not match:
            break
        members[match.group(1)] = int(match.group(2)) // 8
    return {"__size__": size, **members}


def test_field_offsets_match_btf(event_struct_from_bpftool):
    btf = dict(event_struct_from_bpftool)
    size = btf.pop("__size__")
    btf.pop("pad")
    assert btf == layout.FIELD_OFFSETS
    assert size == layout.EVENT_SIZE
    assert btf["args"] == layout.HEADER_SIZE


def _record(*, pid=10, ppid=1, uid=1000, retval=0, comm=b"ls", args=(b"/bin/ls", b"-l"),
            flags=0, ts=5) -> bytes:
    blob = b"".join(a + b"\0" for a in args)
    head = bytearray(56)
    struct.pack_into("<Q", head, 0, ts)
    struct.pack_into("<IIIi", head, 8, pid, ppid, uid, retval)
    struct.pack_into("<III", head, 24, len(args), len(blob), flags)
    head[40:40 + len(comm)] = comm
    return bytes(head) + blob


def test_decode_reads_every_field():
    event = decode_event(_record(pid=4242, ppid=77, uid=1000, retval=-2, comm=b"bash",
                                 args=(b"/nope", b"a b", b""), ts=99))
    assert (event.pid, event.ppid, event.uid, event.retval, event.comm, event.ts_ns) == \
        (4242, 77, 1000, -2, "bash", 99)
    assert event.args == ["/nope", "a b", ""]
    assert event.failed and not event.truncated and not event.execveat


def test_decode_reports_truncation_and_execveat_flags():
    event = decode_event(_record(flags=layout.FLAG_TRUNCATED | layout.FLAG_EXECVEAT))
    assert event.truncated and event.execveat


def test_decode_ignores_bytes_past_args_size():
    event = decode_event(_record(args=(b"/bin/true",)) + b"garbage\0more\0")
    assert event.args == ["/bin/true"]


def test_decode_rejects_a_short_record():
    with pytest.raises(EventDecodeError, match="shorter than its 56-byte header"):
        decode_event(b"\0" * 20)


def test_decode_rejects_an_impossible_args_size():
    record = bytearray(_record())
    struct.pack_into("<I", record, 28, layout.ARGS_BUF + 1)
    with pytest.raises(EventDecodeError, match="limits"):
        decode_event(bytes(record))
