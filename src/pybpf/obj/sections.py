"""ELF section name -> (program type, expected attach type, attach target, load flags), as libbpf.

Mirrors libbpf's ``section_defs`` table and its ``sec_def_matches`` rules; pure data and string
work that never looks at the kernel (whether it supports a type is the loader's question).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ObjectError
from ..isa.uapi import AttachType as A
from ..isa.uapi import ProgramType as P
from .spec import BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS

# libbpf's enum sec_def_flags
SEC_NONE = 0
SEC_EXP_ATTACH_OPT = 1
SEC_ATTACHABLE = 2
SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT
SEC_ATTACH_BTF = 4
SEC_SLEEPABLE = 8
SEC_XDP_FRAGS = 16
SEC_USDT = 32


@dataclass(frozen=True)
class SectionDef:
    """One row of the table: ``prefix`` ends in '+' when "prefix" or "prefix/anything" match."""
    prefix: str
    prog_type: P
    attach_type: A | None
    flags: int = SEC_NONE
    autoattach: bool = False


@dataclass(frozen=True)
class SectionInfo:
    """What a section name means for loading a program."""
    prog_type: P
    expected_attach_type: A | None
    attach_to: str
    prog_flags: int
    attach_btf: bool
    autoattach: bool
    definition: SectionDef


def _d(prefix: str, ptype: P, atype: A | None, flags: int = SEC_NONE, auto: bool = False
       ) -> SectionDef:
    return SectionDef(prefix, ptype, atype, flags, auto)


# Order matters exactly as in libbpf: the first match wins.
SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", P.SOCKET_FILTER, None),
    _d("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, SEC_ATTACHABLE),
    _d("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, SEC_ATTACHABLE),
    _d("kprobe+", P.KPROBE, None, auto=True),
    _d("uprobe+", P.KPROBE, None, auto=True),
    _d("uprobe.s+", P.KPROBE, None, SEC_SLEEPABLE, auto=True),
    _d("kretprobe+", P.KPROBE, None, auto=True),
    _d("uretprobe+", P.KPROBE, None, auto=True),
    _d("uretprobe.s+", P.KPROBE, None, SEC_SLEEPABLE, auto=True),
    _d("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, auto=True),
    _d("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, auto=True),
    _d("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION, auto=True),
    _d("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, auto=True),
    _d("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, auto=True),
    _d("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION, auto=True),
    _d("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE, auto=True),
    _d("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE, auto=True),
    _d("uprobe.session.s+", P.KPROBE, A.TRACE_UPROBE_SESSION, SEC_SLEEPABLE, auto=True),
    _d("ksyscall+", P.KPROBE, None, auto=True),
    _d("kretsyscall+", P.KPROBE, None, auto=True),
    _d("usdt+", P.KPROBE, None, SEC_USDT, auto=True),
    _d("usdt.s+", P.KPROBE, None, SEC_USDT | SEC_SLEEPABLE, auto=True),
    _d("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tc", P.SCHED_CLS, None),
    _d("classifier", P.SCHED_CLS, None),
    _d("action", P.SCHED_ACT, None),
    _d("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _d("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    _d("tracepoint+", P.TRACEPOINT, None, auto=True),
    _d("tp+", P.TRACEPOINT, None, auto=True),
    _d("tracepoint.s+", P.TRACEPOINT, None, SEC_SLEEPABLE, auto=True),
    _d("tp.s+", P.TRACEPOINT, None, SEC_SLEEPABLE, auto=True),
    _d("raw_tracepoint+", P.RAW_TRACEPOINT, None, auto=True),
    _d("raw_tp+", P.RAW_TRACEPOINT, None, auto=True),
    _d("raw_tracepoint.s+", P.RAW_TRACEPOINT, None, SEC_SLEEPABLE, auto=True),
    _d("raw_tp.s+", P.RAW_TRACEPOINT, None, SEC_SLEEPABLE, auto=True),
    _d("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, None, auto=True),
    _d("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, None, auto=True),
    _d("tp_btf+", P.TRACING, A.TRACE_RAW_TP, SEC_ATTACH_BTF, auto=True),
    _d("tp_btf.s+", P.TRACING, A.TRACE_RAW_TP, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("fentry+", P.TRACING, A.TRACE_FENTRY, SEC_ATTACH_BTF, auto=True),
    _d("fmod_ret+", P.TRACING, A.MODIFY_RETURN, SEC_ATTACH_BTF, auto=True),
    _d("fexit+", P.TRACING, A.TRACE_FEXIT, SEC_ATTACH_BTF, auto=True),
    _d("fentry.s+", P.TRACING, A.TRACE_FENTRY, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("fexit.s+", P.TRACING, A.TRACE_FEXIT, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("freplace+", P.EXT, None, SEC_ATTACH_BTF, auto=True),
    _d("lsm+", P.LSM, A.LSM_MAC, SEC_ATTACH_BTF, auto=True),
    _d("lsm.s+", P.LSM, A.LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("lsm_cgroup+", P.LSM, A.LSM_CGROUP, SEC_ATTACH_BTF),
    _d("iter+", P.TRACING, A.TRACE_ITER, SEC_ATTACH_BTF, auto=True),
    _d("iter.s+", P.TRACING, A.TRACE_ITER, SEC_ATTACH_BTF | SEC_SLEEPABLE, auto=True),
    _d("syscall", P.SYSCALL, None, SEC_SLEEPABLE),
    _d("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, SEC_XDP_FRAGS),
    _d("xdp/devmap", P.XDP, A.XDP_DEVMAP, SEC_ATTACHABLE),
    _d("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, SEC_XDP_FRAGS),
    _d("xdp/cpumap", P.XDP, A.XDP_CPUMAP, SEC_ATTACHABLE),
    _d("xdp.frags", P.XDP, A.XDP, SEC_XDP_FRAGS),
    _d("xdp", P.XDP, A.XDP, SEC_ATTACHABLE_OPT),
    _d("perf_event", P.PERF_EVENT, None),
    _d("lwt_in", P.LWT_IN, None),
    _d("lwt_out", P.LWT_OUT, None),
    _d("lwt_xmit", P.LWT_XMIT, None),
    _d("lwt_seg6local", P.LWT_SEG6LOCAL, None),
    _d("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, SEC_ATTACHABLE_OPT),
    _d("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, SEC_ATTACHABLE_OPT),
    _d("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, SEC_ATTACHABLE_OPT),
    _d("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, SEC_ATTACHABLE_OPT),
    _d("sk_skb", P.SK_SKB, None),
    _d("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, SEC_ATTACHABLE_OPT),
    _d("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, SEC_ATTACHABLE_OPT),
    _d("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, SEC_ATTACHABLE_OPT),
    _d("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, SEC_ATTACHABLE_OPT),
    _d("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, SEC_ATTACHABLE_OPT),
    _d("cgroup/skb", P.CGROUP_SKB, None),
    _d("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE),
    _d("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, SEC_ATTACHABLE),
    _d("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE_OPT),
    _d("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, SEC_ATTACHABLE),
    _d("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, SEC_ATTACHABLE),
    _d("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, SEC_ATTACHABLE),
    _d("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, SEC_ATTACHABLE),
    _d("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, SEC_ATTACHABLE),
    _d("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, SEC_ATTACHABLE),
    _d("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, SEC_ATTACHABLE),
    _d("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, SEC_ATTACHABLE),
    _d("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, SEC_ATTACHABLE),
    _d("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, SEC_ATTACHABLE),
    _d("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, SEC_ATTACHABLE),
    _d("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, SEC_ATTACHABLE),
    _d("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, SEC_ATTACHABLE),
    _d("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, SEC_ATTACHABLE),
    _d("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, SEC_ATTACHABLE),
    _d("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, SEC_ATTACHABLE),
    _d("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, SEC_ATTACHABLE),
    _d("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, SEC_ATTACHABLE),
    _d("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME,
       SEC_ATTACHABLE),
    _d("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, SEC_ATTACHABLE),
    _d("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, SEC_ATTACHABLE),
    _d("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, SEC_ATTACHABLE),
    _d("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, SEC_ATTACHABLE_OPT),
    _d("struct_ops+", P.STRUCT_OPS, None),
    _d("struct_ops.s+", P.STRUCT_OPS, None, SEC_SLEEPABLE),
    _d("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, SEC_ATTACHABLE),
    _d("netfilter", P.NETFILTER, A.NETFILTER),
)


def section_matches(definition: SectionDef, section: str) -> bool:
    """libbpf's sec_def_matches: "x/" prefix, "x+" exact-or-"x/...", otherwise exact."""
    prefix = definition.prefix
    if prefix.endswith("/"):
        return section.startswith(prefix)
    if prefix.endswith("+"):
        stem = prefix[:-1]
        return section == stem or section.startswith(stem + "/")
    return section == prefix


def find_section_def(section: str) -> SectionDef | None:
    for definition in SECTION_DEFS:
        if section_matches(definition, section):
            return definition
    return None


def parse_section_name(section: str) -> SectionInfo:
    """What SEC("...") means; raises ObjectError naming the section when libbpf knows no such type."""
    definition = find_section_def(section)
    if definition is None:
        raise ObjectError(f"section {section!r}: unknown program type (libbpf has no SEC() "
                          f"definition matching it; see pybpf.obj.sections.SECTION_DEFS)")
    stem = definition.prefix.rstrip("+/")
    attach_to = section[len(stem) + 1:] if len(section) > len(stem) else ""
    flags = 0
    if definition.flags & SEC_SLEEPABLE:
        flags |= BPF_F_SLEEPABLE
    if definition.prog_type == P.XDP and definition.flags & SEC_XDP_FRAGS:
        flags |= BPF_F_XDP_HAS_FRAGS
    return SectionInfo(
        prog_type=definition.prog_type,
        expected_attach_type=definition.attach_type,
        attach_to=attach_to,
        prog_flags=flags,
        attach_btf=bool(definition.flags & SEC_ATTACH_BTF),
        autoattach=definition.autoattach,
        definition=definition,
    )
