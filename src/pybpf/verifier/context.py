"""Context (r1 at entry) layouts per program type: which offsets and sizes may be read or written.

Mirrors the kernel's *_is_valid_access rules for the types pybpf models; never tracks values.
Returns what a load yields ("scalar", "pkt", "pkt_end", "pkt_meta") or None when the access is invalid.
"""
from __future__ import annotations

from ..isa.uapi import ProgramType as P

PT_REGS_SIZE = 168          # struct pt_regs on x86_64
SK_BUFF_SIZE = 192          # struct __sk_buff
XDP_MD_SIZE = 24            # struct xdp_md

# struct __sk_buff field offsets
SKB_CB, SKB_CB_END = 48, 68
SKB_TC_CLASSID = 72
SKB_DATA, SKB_DATA_END, SKB_DATA_META = 76, 80, 140
SKB_FAMILY, SKB_LOCAL_PORT_END = 88, 140
SKB_REMOTE_IP4, SKB_LOCAL_IP6_END = 92, 132
SKB_FLOW_KEYS, SKB_TSTAMP, SKB_WIRE_LEN, SKB_SK = 144, 152, 160, 168
SKB_TSTAMP_TYPE, SKB_HWTSTAMP = 180, 184
SKB_MARK, SKB_QUEUE_MAPPING, SKB_PRIORITY, SKB_TC_INDEX = 8, 12, 32, 44

PACKET_TYPES = {P.XDP, P.SCHED_CLS, P.SCHED_ACT, P.LWT_IN, P.LWT_OUT, P.LWT_XMIT, P.SK_SKB,
                P.CGROUP_SKB, P.SK_MSG, P.FLOW_DISSECTOR, P.LWT_SEG6LOCAL}
PACKET_WRITE_TYPES = {P.XDP, P.SCHED_CLS, P.SCHED_ACT, P.LWT_XMIT, P.SK_SKB}
TRACING_TYPES = {P.KPROBE, P.TRACEPOINT, P.PERF_EVENT, P.RAW_TRACEPOINT,
                 P.RAW_TRACEPOINT_WRITABLE, P.TRACING}
SKB_TYPES = {P.SOCKET_FILTER, P.SCHED_CLS, P.SCHED_ACT, P.CGROUP_SKB, P.LWT_IN, P.LWT_OUT,
             P.LWT_XMIT, P.SK_SKB, P.LWT_SEG6LOCAL}


def _narrow_ok(off: int, size: int, field_size: int = 4) -> bool:
    return size <= field_size and off % size == 0


def _skb_common(off: int, size: int, write: bool) -> str | None:
    """bpf_skb_is_valid_access."""
    if off < 0 or off >= SK_BUFF_SIZE or off % size:
        return None
    if SKB_CB <= off < SKB_CB_END:
        return "scalar" if off + size <= SKB_CB_END else None
    if SKB_REMOTE_IP4 <= off < SKB_LOCAL_IP6_END or \
            (off & ~3) in (SKB_DATA, SKB_DATA_END, SKB_DATA_META):
        if size != 4:
            return None
        return {SKB_DATA: "pkt", SKB_DATA_END: "pkt_end", SKB_DATA_META: "pkt_meta"}.get(off,
                                                                                         "scalar")
    if SKB_FLOW_KEYS <= off < SKB_TSTAMP:
        return None
    if SKB_HWTSTAMP <= off < SK_BUFF_SIZE:
        return "scalar" if not write and size == 8 and off == SKB_HWTSTAMP else None
    if SKB_TSTAMP <= off < SKB_WIRE_LEN:
        return "scalar" if size == 8 and off == SKB_TSTAMP else None
    if SKB_SK <= off < SKB_SK + 8:
        return "sock" if not write and size == 8 and off == SKB_SK else None
    if SKB_TSTAMP_TYPE <= off < SKB_HWTSTAMP:
        return None
    if write:
        return "scalar" if size == 4 else None
    return "scalar" if _narrow_ok(off, size) else None


def _tc(off: int, size: int, write: bool) -> str | None:
    if write and not ((off & ~3) in (SKB_MARK, SKB_TC_INDEX, SKB_PRIORITY, SKB_TC_CLASSID,
                              SKB_QUEUE_MAPPING, SKB_TSTAMP) or SKB_CB <= off < SKB_CB_END):
        return None
    if SKB_FAMILY <= off < SKB_LOCAL_PORT_END:
        return None
    return _skb_common(off, size, write)


def _socket_filter(off: int, size: int, write: bool) -> str | None:
    if (off & ~3) in (SKB_TC_CLASSID, SKB_DATA, SKB_DATA_META, SKB_DATA_END, SKB_WIRE_LEN) \
            or SKB_TSTAMP <= off < SKB_TSTAMP + 8 or SKB_HWTSTAMP <= off < SKB_HWTSTAMP + 8 \
            or SKB_FAMILY <= off < SKB_LOCAL_PORT_END:
        return None
    if write and not SKB_CB <= off < SKB_CB_END:
        return None
    return _skb_common(off, size, write)


def _cgroup_skb(off: int, size: int, write: bool) -> str | None:
    if (off & ~3) in (SKB_TC_CLASSID, SKB_DATA_META, SKB_WIRE_LEN):
        return None
    if write and not ((off & ~3) in (SKB_MARK, SKB_PRIORITY, SKB_TSTAMP)
                      or SKB_CB <= off < SKB_CB_END):
        return None
    return _skb_common(off, size, write)


XDP_EGRESS_IFINDEX = 20
ATTACH_XDP_DEVMAP = 33


def _xdp(off: int, size: int, write: bool, attach: int | None = None) -> str | None:
    if write or off < 0 or off >= XDP_MD_SIZE or off % size or size != 4:
        return None
    if off == XDP_EGRESS_IFINDEX and attach != ATTACH_XDP_DEVMAP:
        return None                      # egress_ifindex exists only for devmap programs
    return {0: "pkt", 4: "pkt_end", 8: "pkt_meta"}.get(off, "scalar")


def _kprobe(off: int, size: int, write: bool) -> str | None:
    if write or off < 0 or off % size or off + size > PT_REGS_SIZE:
        return None
    return "scalar"


def _tracepoint(off: int, size: int, write: bool) -> str | None:
    if write or off < 8 or off >= 8192 or off % size:
        return None
    return "scalar"


def _raw_tp(off: int, size: int, write: bool) -> str | None:
    if write or off < 0 or off >= 8 * 12 or off % size:
        return None
    return "scalar"


def _perf_event(off: int, size: int, write: bool) -> str | None:
    if write or off < 0 or off + size > PT_REGS_SIZE + 16 or off % size:
        return None
    if off < PT_REGS_SIZE and size != 8:       # pt_regs words are read whole
        return None
    return "scalar"


def _tracing(off: int, size: int, write: bool) -> str | None:
    if write or off < 0 or off % 8 or off >= 8 * 12:
        return None
    return "scalar"


def _syscall(off: int, size: int, write: bool) -> str | None:
    if off < 0 or off >= 0xFFFF or off % size:
        return None
    return "scalar"


CONTEXTS = {
    P.XDP: _xdp, P.SCHED_CLS: _tc, P.SCHED_ACT: _tc, P.SOCKET_FILTER: _socket_filter,
    P.CGROUP_SKB: _cgroup_skb, P.KPROBE: _kprobe, P.TRACEPOINT: _tracepoint,
    P.RAW_TRACEPOINT: _raw_tp, P.RAW_TRACEPOINT_WRITABLE: _raw_tp, P.PERF_EVENT: _perf_event,
    P.TRACING: _tracing, P.LSM: _tracing, P.SYSCALL: _syscall,
}


def context_access(prog_type: int, off: int, size: int, write: bool,
                   attach: int | None = None) -> str | None:
    """What loading ``size`` bytes at ``off`` of the context yields, or None when not allowed.

    Raises KeyError for program types whose context pybpf does not model.
    """
    if prog_type == P.XDP:
        return _xdp(off, size, write, attach)
    return CONTEXTS[P(prog_type)](off, size, write)


def models_context(prog_type: int) -> bool:
    try:
        return P(prog_type) in CONTEXTS
    except ValueError:
        return False
