"""SEC() names map to program type, attach type, target and flags exactly as libbpf's table."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.errors import ObjectError
from pybpf.isa.uapi import AttachType as A
from pybpf.isa.uapi import ProgramType as P
from pybpf.obj import BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, parse_section_name

# (section, prog type, expected attach type, attach target, prog flags), from libbpf.c's
# section_defs and libbpf_prepare_prog_load (checked by hand against libbpf sources).
CASES = [
    ("tracepoint/syscalls/sys_enter_execve", P.TRACEPOINT, None, "syscalls/sys_enter_execve", 0),
    ("tp/sched/sched_switch", P.TRACEPOINT, None, "sched/sched_switch", 0),
    ("raw_tp/sys_enter", P.RAW_TRACEPOINT, None, "sys_enter", 0),
    ("raw_tracepoint/sys_exit", P.RAW_TRACEPOINT, None, "sys_exit", 0),
    ("raw_tp.w/foo", P.RAW_TRACEPOINT_WRITABLE, None, "foo", 0),
    ("tp_btf/sched_switch", P.TRACING, A.TRACE_RAW_TP, "sched_switch", 0),
    ("fentry/do_unlinkat", P.TRACING, A.TRACE_FENTRY, "do_unlinkat", 0),
    ("fexit/do_unlinkat", P.TRACING, A.TRACE_FEXIT, "do_unlinkat", 0),
    ("fmod_ret/security_x", P.TRACING, A.MODIFY_RETURN, "security_x", 0),
    ("fentry.s/do_x", P.TRACING, A.TRACE_FENTRY, "do_x", BPF_F_SLEEPABLE),
    ("lsm/file_open", P.LSM, A.LSM_MAC, "file_open", 0),
    ("lsm.s/bprm_check", P.LSM, A.LSM_MAC, "bprm_check", BPF_F_SLEEPABLE),
    ("kprobe/do_sys_open", P.KPROBE, None, "do_sys_open", 0),
    ("kretprobe/do_sys_open", P.KPROBE, None, "do_sys_open", 0),
    ("kprobe.multi/do_*", P.KPROBE, A.TRACE_KPROBE_MULTI, "do_*", 0),
    ("ksyscall/execve", P.KPROBE, None, "execve", 0),
    ("kretsyscall/execve", P.KPROBE, None, "execve", 0),
    ("uprobe//bin/bash:readline", P.KPROBE, None, "/bin/bash:readline", 0),
    ("uretprobe/libc.so.6:malloc", P.KPROBE, None, "libc.so.6:malloc", 0),
    ("uprobe.s/libc.so.6:malloc", P.KPROBE, None, "libc.so.6:malloc", BPF_F_SLEEPABLE),
    ("usdt/libc.so.6:libc:setjmp", P.KPROBE, None, "libc.so.6:libc:setjmp", 0),
    ("perf_event", P.PERF_EVENT, None, "", 0),
    ("xdp", P.XDP, A.XDP, "", 0),
    ("xdp.frags", P.XDP, A.XDP, "", BPF_F_XDP_HAS_FRAGS),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP, "", 0),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, "", 0),
    ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, "", BPF_F_XDP_HAS_FRAGS),
    ("tc", P.SCHED_CLS, None, "", 0),
    ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, "", 0),
    ("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, "", 0),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, "", 0),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, "", 0),
    ("classifier", P.SCHED_CLS, None, "", 0),
    ("action", P.SCHED_ACT, None, "", 0),
    ("socket", P.SOCKET_FILTER, None, "", 0),
    ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, "", 0),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, "", 0),
    ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, "", 0),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, "", 0),
    ("cgroup/skb", P.CGROUP_SKB, None, "", 0),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "", 0),
    ("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "", 0),
    ("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, "", 0),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, "", 0),
    ("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, "", 0),
    ("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, "", 0),
    ("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, "", 0),
    ("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, "", 0),
    ("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, "", 0),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, "", 0),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, "", 0),
    ("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, "", 0),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, "", 0),
    ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, "", 0),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, "", 0),
    ("iter/task", P.TRACING, A.TRACE_ITER, "task", 0),
    ("iter.s/task_file", P.TRACING, A.TRACE_ITER, "task_file", BPF_F_SLEEPABLE),
    ("syscall", P.SYSCALL, None, "", BPF_F_SLEEPABLE),
    ("struct_ops/tcp_init", P.STRUCT_OPS, None, "tcp_init", 0),
    ("struct_ops", P.STRUCT_OPS, None, "", 0),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, "", 0),
    ("lwt_in", P.LWT_IN, None, "", 0),
    ("lwt_xmit", P.LWT_XMIT, None, "", 0),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, None, "", 0),
    ("netfilter", P.NETFILTER, A.NETFILTER, "", 0),
    ("freplace/handler", P.EXT, None, "handler", 0),
]


@pytest.mark.parametrize("section,ptype,atype,target,flags", CASES, ids=[c[0] for c in CASES])
def test_section_name_maps_like_libbpf(section, ptype, atype, target, flags):
    info = parse_section_name(section)
    assert (info.prog_type, info.expected_attach_type, info.attach_to, info.prog_flags) == (
        ptype, atype, target, flags)


@pytest.mark.parametrize("section", ["kprobex/foo", "xdp_foo", "tracepointx", "socket/extra",
                                     "", "my_custom_section"])
def test_unknown_section_raises_object_error_naming_it(section):
    with pytest.raises(ObjectError, match="unknown program type") as exc:
        parse_section_name(section)
    assert repr(section) in str(exc.value)


def test_plus_prefix_accepts_bare_name_without_target():
    info = parse_section_name("kprobe")
    assert info.prog_type == P.KPROBE and info.attach_to == ""


def test_btf_attach_sections_are_flagged_as_needing_a_btf_target():
    assert parse_section_name("fentry/x").attach_btf
    assert parse_section_name("tp_btf/x").attach_btf
    assert not parse_section_name("tp/a/b").attach_btf


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_section_name_parses_or_raises_object_error(name):
    try:
        info = parse_section_name(name)
    except ObjectError as exc:
        assert repr(name) in str(exc)
    else:
        assert name.startswith(info.definition.prefix.rstrip("+"))


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from(["kprobe", "uprobe", "tracepoint", "tp", "raw_tp", "tp_btf",
                               "fentry", "fexit", "lsm", "iter", "struct_ops", "usdt",
                               "ksyscall"]),
       target=st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1,
                      max_size=30))
def test_plus_sections_hand_everything_after_the_slash_to_attach_to(prefix, target):
    assert parse_section_name(f"{prefix}/{target}").attach_to == target
