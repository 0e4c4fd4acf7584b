"""Map values decoded through BTF codecs: a program stores known values (kernel and VM backends)."""
from __future__ import annotations

import pytest

import pybpf

EXPECTED = {
    "pid": 4242, "delta": -77, "comm": "bpftest",
    "f": {"a": 6, "b": 21, "c": -33, "wide": 0xABCDEF0123},
    "color": -3, "seen": True, "mac": bytes([0x02, 0, 0, 0, 0, 0xEE]), "ports": [8080, 53],
}

ZERO = {
    "pid": 0, "delta": 0, "comm": "", "f": {"a": 0, "b": 0, "c": 0, "wide": 0}, "color": 0,
    "seen": False, "mac": bytes(6), "ports": [0, 0],
}


@pytest.mark.parametrize("backend", [pytest.param("kernel", marks=pytest.mark.kernel), "vm"])
def test_map_values_written_by_a_program_decode_to_records(corpus_objects, backend):
    spec = pybpf.load_object(str(corpus_objects["codec_maps"]))
    with pybpf.Collection(spec, backend=backend) as coll:
        result = coll.programs["fill"].test_run(bytes(64))
        assert result.retval == pybpf.XDP_PASS
        events = coll.maps["events"]
        event = events[1]
        assert event == EXPECTED
        assert event.color.name == "BLUE" and event.f.c == -33
        assert "comm='bpftest'" in repr(event)
        assert events[0] == ZERO
        event.pid = 1
        events[0] = event                              # encode from a Record
        assert events[0].pid == 1 and events[0].f.wide == 0xABCDEF0123
