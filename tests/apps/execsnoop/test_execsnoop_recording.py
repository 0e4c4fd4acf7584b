"""The JSON-lines recording format: round trip and precise errors for bad files."""
from __future__ import annotations

import pytest

from pybpf.apps.execsnoop import ExecEvent, RecordingError, RecordingWriter, read_recording

EVENTS = [ExecEvent(pid=10, ppid=1, uid=0, retval=0, comm="true", args=["/bin/true"], ts_ns=1),
          ExecEvent(pid=11, ppid=1, uid=1000, retval=-2, comm="sh", args=["/nope", "x y"],
                    truncated=True, execveat=True, ts_ns=2)]


def test_recording_round_trips_events(tmp_path):
    path = tmp_path / "run.jsonl"
    with RecordingWriter(path) as writer:
        for event in EVENTS:
            writer.write(event)
    assert list(read_recording(path)) == EVENTS
    assert path.read_text().splitlines()[0] == '{"format": "pybpf-execsnoop", "version": 1}'


def test_file_without_header_is_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"pid": 1}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:1: not a pybpf-execsnoop recording"):
        list(read_recording(path))


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 1}\n{not json\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:2: not JSON"):
        list(read_recording(path))


def test_missing_field_names_line_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 1}\n'
                    '{"pid": 1, "ppid": 2, "uid": 0, "comm": "x"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:2: missing field 'retval'"):
        list(read_recording(path))


def test_wrong_field_type_is_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 1}\n'
                    '{"pid": "1", "ppid": 2, "uid": 0, "retval": 0, "comm": "x"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:2: expected an integer"):
        list(read_recording(path))


def test_unsupported_version_is_rejected(tmp_path):
    path = tmp_path / "v9.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 9}\n')
    with pytest.raises(RecordingError, match="unsupported recording version 9"):
        list(read_recording(path))


def test_missing_file_is_a_recording_error(tmp_path):
    with pytest.raises(RecordingError, match="cannot read recording"):
        list(read_recording(tmp_path / "absent.jsonl"))


def test_empty_file_is_not_a_recording(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(RecordingError, match="empty file"):
        list(read_recording(path))


def test_binary_garbage_is_a_recording_error(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(RecordingError, match="garbage.jsonl:1: not UTF-8 text"):
        list(read_recording(path))
