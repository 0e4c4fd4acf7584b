"""Feature probes against bpftool's own probe of the same kernel, and helper availability hand-checked."""
from __future__ import annotations

import pytest

from pybpf.isa.uapi import AttachType, MapType, ProgramType
from pybpf.kernel import features

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def bpftool_probe(bpftool):
    return bpftool("feature", "probe", "kernel")


def test_program_types_match_bpftool(bpftool_probe):
    ours = {f"have_{t.name.lower()}_prog_type": features.prog_type_supported(t)
            for t in ProgramType if t != ProgramType.UNSPEC}
    theirs = bpftool_probe["program_types"]
    assert {k: ours[k] for k in theirs} == theirs


def test_map_types_match_bpftool(bpftool_probe):
    ours = {f"have_{t.name.lower()}_map_type": features.map_type_supported(t)
            for t in MapType if t != MapType.UNSPEC}
    theirs = bpftool_probe["map_types"]
    assert {k: ours[k] for k in theirs} == theirs


@pytest.mark.parametrize("ptype,helper,available", [
    (ProgramType.XDP, "xdp_adjust_head", True),
    (ProgramType.SOCKET_FILTER, "xdp_adjust_head", False),
    (ProgramType.XDP, "skb_store_bytes", False),
    (ProgramType.SCHED_CLS, "skb_store_bytes", True),
    (ProgramType.TRACEPOINT, "ringbuf_output", True),
    (ProgramType.XDP, "override_return", False),
    (ProgramType.SOCKET_FILTER, "skb_store_bytes", False),
    (ProgramType.KPROBE, "get_current_pid_tgid", True),
])
def test_helper_availability_follows_the_kernels_per_type_tables(ptype, helper, available):
    assert features.helper_supported(ptype, helper) is available


def test_attach_types_include_what_the_link_tests_use():
    for attach in (AttachType.XDP, AttachType.TCX_INGRESS, AttachType.CGROUP_INET_EGRESS,
                   AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_UDP4_RECVMSG):
        assert features.attach_type_supported(attach), attach.name


def test_probe_all_has_bpftool_shape():
    result = features.probe_all(helpers=False)
    assert result["syscall_config"]["have_bpf_syscall"] is True
    assert result["program_types"]["have_xdp_prog_type"] is True
    assert result["map_types"]["have_ringbuf_map_type"] is True
