"""ExecsnoopOptions: validation of user input and the .rodata values it sets."""
from __future__ import annotations

import pytest

from pybpf.apps.execsnoop import ExecEvent, ExecsnoopOptions
from pybpf.errors import BPFError


def test_defaults_match_libbpf_tools():
    rodata = ExecsnoopOptions().rodata()
    assert rodata["targ_uid"] == 0xFFFFFFFF          # INVALID_UID: no uid filter
    assert rodata["failed_mode"] == 0                # successful execs only
    assert rodata["max_args"] == 20
    assert rodata["filter_cg"] == 0
    assert rodata["targ_name"] == bytes(16)


def test_failed_modes():
    assert ExecsnoopOptions(include_failed=True).rodata()["failed_mode"] == 1
    assert ExecsnoopOptions(failed_only=True).rodata()["failed_mode"] == 2


def test_name_is_nul_padded_to_comm_length():
    assert ExecsnoopOptions(name="true").rodata()["targ_name"] == b"true" + bytes(12)


@pytest.mark.parametrize("max_args", [0, 21, -1])
def test_max_args_out_of_range_is_rejected(max_args):
    with pytest.raises(BPFError, match=r"should be in \[1, 20\] range"):
        ExecsnoopOptions(max_args=max_args).validate()


def test_name_longer_than_a_comm_is_rejected():
    with pytest.raises(BPFError, match="at most 15 characters"):
        ExecsnoopOptions(name="x" * 16).validate()


def test_missing_cgroup_directory_is_rejected(tmp_path):
    with pytest.raises(BPFError, match="is not a directory"):
        ExecsnoopOptions(cgroup_path=str(tmp_path / "absent")).validate()


def test_ring_size_must_be_a_power_of_two():
    with pytest.raises(BPFError, match="power of two"):
        ExecsnoopOptions(ring_size=3 * 4096).validate()


def test_line_filter_matches_argument_substring():
    event = ExecEvent(pid=1, ppid=1, uid=0, retval=0, comm="tar", args=["/bin/tar", "xf", "a.tpkg"])
    assert ExecsnoopOptions(line="tpkg").shows(event)
    assert not ExecsnoopOptions(line="zip").shows(event)
    assert ExecsnoopOptions(line="xf a").shows(event)
