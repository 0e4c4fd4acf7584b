"""Helper prototypes: argument kinds, return kind, side effects, and which program types may call them.

Data plus small lookups, modelled on the kernel's bpf_func_proto tables; never checks a state itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..isa.uapi import HELPER_IDS, MapType as M, ProgramType as P
from .context import SKB_TYPES, TRACING_TYPES

# argument kinds
ANY = "any"                 # ARG_ANYTHING: any initialised register
MAP = "map"                 # ARG_CONST_MAP_PTR
KEY = "key"                 # ARG_PTR_TO_MAP_KEY: key_size readable bytes
VALUE = "value"             # ARG_PTR_TO_MAP_VALUE: value_size readable bytes
MEM = "mem"                 # ARG_PTR_TO_MEM (read), size in the next argument
MEM_OR_NULL = "mem?"        # ARG_PTR_TO_MEM | PTR_MAYBE_NULL
UNINIT_MEM = "out"          # ARG_PTR_TO_UNINIT_MEM (helper writes), size in the next argument
SIZE = "size"               # ARG_CONST_SIZE (> 0)
SIZE0 = "size0"             # ARG_CONST_SIZE_OR_ZERO
CTX = "ctx"                 # ARG_PTR_TO_CTX
FUNC = "func"               # ARG_PTR_TO_FUNC (callback)
STACK_OR_NULL = "stack?"    # ARG_PTR_TO_STACK_OR_NULL (callback context)
ALLOC_SIZE = "alloc_size"   # ARG_CONST_ALLOC_SIZE_OR_ZERO
RINGBUF_MEM = "ringbuf_mem" # ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE
SPIN_LOCK = "spin_lock"     # ARG_PTR_TO_SPIN_LOCK
CONST_STR = "const_str"     # ARG_PTR_TO_CONST_STR (read-only map value)
OUT_LONG = "out_long"       # ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT: 8 bytes the helper writes

# return kinds
INT, VOID, MAP_VALUE_OR_NULL, RINGBUF_MEM_OR_NULL = "int", "void", "map_value_or_null", "mem_or_null"
BTF_PTR = "btf_ptr"

BASE, TRACING, NET, XDP_ONLY, SKB_ONLY = "base", "tracing", "net", "xdp", "skb"


@dataclass(frozen=True)
class Proto:
    name: str
    args: tuple[str, ...]
    ret: str = INT
    group: str = BASE
    changes_packet: bool = False
    map_types: frozenset[int] | None = None        # allowed types of its map argument
    callback_args: int = 0                         # arguments the callback receives
    pkt_access: bool = False                       # may take packet pointers as memory arguments


def _p(name: str, args: tuple[str, ...], ret: str = INT, group: str = BASE, **kw) -> tuple[int, Proto]:  # noqa: ANN003
    return HELPER_IDS[name], Proto(name, args, ret, group, **kw)


_LOOKUP_MAPS = frozenset({M.HASH, M.ARRAY, M.PERCPU_HASH, M.PERCPU_ARRAY, M.LRU_HASH,
                          M.LRU_PERCPU_HASH, M.LPM_TRIE, M.ARRAY_OF_MAPS, M.HASH_OF_MAPS,
                          M.SOCKMAP, M.SOCKHASH, M.DEVMAP, M.DEVMAP_HASH, M.CPUMAP, M.XSKMAP,
                          M.SK_STORAGE, M.INODE_STORAGE, M.TASK_STORAGE, M.CGRP_STORAGE,
                          M.CGROUP_STORAGE, M.PERCPU_CGROUP_STORAGE, M.REUSEPORT_SOCKARRAY})

PROTOS: dict[int, Proto] = dict([
    _p("map_lookup_elem", (MAP, KEY), MAP_VALUE_OR_NULL, map_types=_LOOKUP_MAPS, pkt_access=True),
    _p("map_update_elem", (MAP, KEY, VALUE, ANY), map_types=_LOOKUP_MAPS, pkt_access=True),
    _p("map_delete_elem", (MAP, KEY), map_types=_LOOKUP_MAPS, pkt_access=True),
    _p("map_push_elem", (MAP, VALUE, ANY), map_types=frozenset({M.QUEUE, M.STACK, M.BLOOM_FILTER}), pkt_access=True),
    _p("map_pop_elem", (MAP, UNINIT_MEM), map_types=frozenset({M.QUEUE, M.STACK}), pkt_access=True),
    _p("map_peek_elem", (MAP, UNINIT_MEM), map_types=frozenset({M.QUEUE, M.STACK, M.BLOOM_FILTER}), pkt_access=True),
    _p("probe_read", (UNINIT_MEM, SIZE0, ANY), group=TRACING),
    _p("probe_read_str", (UNINIT_MEM, SIZE0, ANY), group=TRACING),
    _p("probe_read_user", (UNINIT_MEM, SIZE0, ANY)),
    _p("probe_read_kernel", (UNINIT_MEM, SIZE0, ANY)),
    _p("probe_read_user_str", (UNINIT_MEM, SIZE0, ANY)),
    _p("probe_read_kernel_str", (UNINIT_MEM, SIZE0, ANY)),
    _p("ktime_get_ns", ()),
    _p("ktime_get_boot_ns", ()),
    _p("ktime_get_tai_ns", ()),
    _p("jiffies64", ()),
    _p("trace_printk", (MEM, SIZE)),
    _p("get_prandom_u32", ()),
    _p("get_smp_processor_id", ()),
    _p("get_numa_node_id", ()),
    _p("get_current_pid_tgid", ()),
    _p("get_current_uid_gid", ()),
    _p("get_current_comm", (UNINIT_MEM, SIZE)),
    _p("get_current_task", ()),
    _p("get_current_cgroup_id", ()),
    _p("get_cgroup_classid", (ANY,)),
    _p("send_signal", (ANY,)),
    _p("current_task_under_cgroup", (MAP, ANY), map_types=frozenset({M.CGROUP_ARRAY})),
    _p("get_current_task_btf", (), BTF_PTR),
    _p("get_attach_cookie", (CTX,)),
    _p("get_func_ip", (CTX,), group=TRACING),
    _p("ktime_get_coarse_ns", ()),
    _p("get_socket_cookie", (CTX,), group=SKB_ONLY),
    _p("get_stack", (CTX, UNINIT_MEM, SIZE0, ANY), group=TRACING),
    _p("probe_write_user", (ANY, MEM, SIZE), group=TRACING),
    _p("send_signal_thread", (ANY,)),
    _p("get_ns_current_pid_tgid", (ANY, ANY, UNINIT_MEM, SIZE)),
    _p("perf_event_read", (MAP, ANY), map_types=frozenset({M.PERF_EVENT_ARRAY})),
    _p("perf_event_read_value", (MAP, ANY, UNINIT_MEM, SIZE),
       map_types=frozenset({M.PERF_EVENT_ARRAY})),
    _p("override_return", (CTX, ANY), group=TRACING),
    _p("tail_call", (CTX, MAP, ANY), VOID, map_types=frozenset({M.PROG_ARRAY})),
    _p("perf_event_output", (CTX, MAP, ANY, MEM, SIZE0),
       map_types=frozenset({M.PERF_EVENT_ARRAY})),
    _p("get_stackid", (CTX, MAP, ANY), group=TRACING, map_types=frozenset({M.STACK_TRACE})),
    _p("ringbuf_output", (MAP, MEM, SIZE0, ANY), map_types=frozenset({M.RINGBUF})),
    _p("ringbuf_reserve", (MAP, ALLOC_SIZE, ANY), RINGBUF_MEM_OR_NULL,
       map_types=frozenset({M.RINGBUF})),
    _p("ringbuf_submit", (RINGBUF_MEM, ANY), VOID),
    _p("ringbuf_discard", (RINGBUF_MEM, ANY), VOID),
    _p("ringbuf_query", (MAP, ANY), map_types=frozenset({M.RINGBUF})),
    _p("spin_lock", (SPIN_LOCK,), VOID),
    _p("spin_unlock", (SPIN_LOCK,), VOID),
    _p("loop", (ANY, FUNC, STACK_OR_NULL, ANY), callback_args=2),
    _p("for_each_map_elem", (MAP, FUNC, STACK_OR_NULL, ANY), callback_args=4,
       map_types=frozenset({M.HASH, M.ARRAY, M.PERCPU_HASH, M.PERCPU_ARRAY, M.LRU_HASH,
                            M.LRU_PERCPU_HASH})),
    _p("snprintf", (MEM_OR_NULL, SIZE0, CONST_STR, MEM_OR_NULL, SIZE0)),
    _p("strncmp", (MEM, SIZE, CONST_STR)),
    _p("strtol", (MEM, SIZE, ANY, OUT_LONG)),
    _p("strtoul", (MEM, SIZE, ANY, OUT_LONG)),
    _p("csum_diff", (MEM_OR_NULL, SIZE0, MEM_OR_NULL, SIZE0, ANY), group=NET, pkt_access=True),
    _p("redirect", (ANY, ANY), group=NET),
    _p("redirect_map", (MAP, ANY, ANY), group=NET,
       map_types=frozenset({M.DEVMAP, M.DEVMAP_HASH, M.CPUMAP, M.XSKMAP})),
    _p("fib_lookup", (CTX, MEM, SIZE, ANY), group=NET),
    _p("xdp_adjust_head", (CTX, ANY), group=XDP_ONLY, changes_packet=True),
    _p("xdp_adjust_tail", (CTX, ANY), group=XDP_ONLY, changes_packet=True),
    _p("xdp_adjust_meta", (CTX, ANY), group=XDP_ONLY, changes_packet=True),
    _p("skb_store_bytes", (CTX, ANY, MEM, SIZE, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_load_bytes", (CTX, ANY, UNINIT_MEM, SIZE), group=SKB_ONLY),
    _p("l3_csum_replace", (CTX, ANY, ANY, ANY, ANY), group=SKB_ONLY, changes_packet=True),
    _p("l4_csum_replace", (CTX, ANY, ANY, ANY, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_change_head", (CTX, ANY, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_change_tail", (CTX, ANY, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_pull_data", (CTX, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_vlan_push", (CTX, ANY, ANY), group=SKB_ONLY, changes_packet=True),
    _p("skb_vlan_pop", (CTX,), group=SKB_ONLY, changes_packet=True),
    _p("get_hash_recalc", (CTX,), group=SKB_ONLY),
    _p("set_hash", (CTX, ANY), group=SKB_ONLY),
    _p("clone_redirect", (CTX, ANY, ANY), group=SKB_ONLY),
])

NET_TYPES = SKB_TYPES | {P.XDP}


def allowed(proto: Proto, prog_type: int) -> bool:
    """Whether a program of ``prog_type`` may call the helper (as root/CAP_BPF+CAP_PERFMON)."""
    g = proto.group
    if g == BASE:
        return True
    if g == TRACING:
        return prog_type in TRACING_TYPES
    if g == NET:
        return prog_type in NET_TYPES and prog_type != P.SOCKET_FILTER
    if g == XDP_ONLY:
        return prog_type == P.XDP
    if g == SKB_ONLY:
        return prog_type in SKB_TYPES and prog_type not in (P.SOCKET_FILTER, P.CGROUP_SKB) \
            or (proto.name == "skb_load_bytes" and prog_type in SKB_TYPES)
    return False
