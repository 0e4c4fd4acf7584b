"""Malformed input never escapes as anything but a pybpf error (hypothesis)."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.apps.execsnoop import (EventDecodeError, ExecEvent, RecordingError, decode_event,
                                  read_recording)
from pybpf.apps.execsnoop import layout

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=layout.HEADER_SIZE + 300))
def test_random_records_decode_or_raise_event_decode_error(data):
    try:
        event = decode_event(data)
    except EventDecodeError:
        return
    assert isinstance(event, ExecEvent)
    assert len(event.args) <= layout.TOTAL_MAX_ARGS


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=40).map(
    lambda b: b.decode("latin-1")), st.builds(json.dumps, st.dictionaries(
        st.sampled_from(["pid", "ppid", "uid", "retval", "comm", "args", "ts_ns"]),
        st.one_of(st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3)))))),
    max_size=5))
def test_random_recordings_parse_or_raise_recording_error(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 1}\n' + "\n".join(lines) + "\n")
    try:
        events = list(read_recording(path))
    except RecordingError:
        return
    assert all(isinstance(e, ExecEvent) for e in events)
