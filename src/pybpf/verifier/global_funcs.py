"""Global subprograms: argument types from their BTF prototypes, as the kernel derives them.

A subprogram whose BTF FUNC (named by the program's func_info) has BTF_FUNC_GLOBAL linkage is not
followed at each call like a static one: the kernel verifies it once, on its own, with arguments
typed from its prototype (btf_prepare_func_args), and a call only checks the caller's registers
against that prototype (btf_check_subprog_call). This module reads the prototypes and the static
facts the analyzer needs about them; it checks no state itself. Without func_info every
subprogram is static, as in the kernel.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..btf import Kind
from ..btf.types import LINKAGE_GLOBAL, DeclTag, Ptr
from ..errors import BTFError
from ..isa.uapi import HELPER_IDS, ProgramType as P
from .cfg import ProgramShape
from .rejections import ProgramStructureError

SCALAR, CTX, MEM = "scalar", "ctx", "mem"
MAX_ARGS = 5

# The context struct each program type's BTF prototypes must name for an argument to be its
# context (the kernel's bpf_types.h / btf_is_prog_ctx_type); other types only take `arg:ctx`.
CTX_STRUCTS: dict[int, str] = {
    P.SOCKET_FILTER: "__sk_buff", P.SCHED_CLS: "__sk_buff", P.SCHED_ACT: "__sk_buff",
    P.CGROUP_SKB: "__sk_buff", P.LWT_IN: "__sk_buff", P.LWT_OUT: "__sk_buff",
    P.LWT_XMIT: "__sk_buff", P.LWT_SEG6LOCAL: "__sk_buff", P.SK_SKB: "__sk_buff",
    P.FLOW_DISSECTOR: "__sk_buff", P.XDP: "xdp_md", P.CGROUP_SOCK: "bpf_sock",
    P.CGROUP_SOCK_ADDR: "bpf_sock_addr", P.SOCK_OPS: "bpf_sock_ops",
    P.CGROUP_DEVICE: "bpf_cgroup_dev_ctx", P.SK_MSG: "sk_msg_md", P.KPROBE: "pt_regs",
    P.PERF_EVENT: "bpf_perf_event_data", P.RAW_TRACEPOINT: "bpf_raw_tracepoint_args",
    P.RAW_TRACEPOINT_WRITABLE: "bpf_raw_tracepoint_args", P.CGROUP_SYSCTL: "bpf_sysctl",
    P.CGROUP_SOCKOPT: "bpf_sockopt", P.SK_REUSEPORT: "sk_reuseport_md",
    P.SK_LOOKUP: "bpf_sk_lookup", P.NETFILTER: "bpf_nf_ctx",
}
# the kernel-internal struct a uapi context struct projects (btf_is_projection_of)
_PROJECTIONS = {"__sk_buff": "sk_buff", "xdp_md": "xdp_buff"}
_KPROBE_TYPEDEF = "bpf_user_pt_regs_t"
_SUPPORTED_TAGS = ("ctx", "nonnull")
_KNOWN_TAGS = ("ctx", "nonnull", "nullable", "trusted", "untrusted", "arena")

# Helpers after which the kernel forgets packet pointers when a subprogram calls them, directly
# or through its callees (bpf_helper_changes_pkt_data; a tail call may run a program that does).
PACKET_CHANGING_HELPERS = frozenset(HELPER_IDS[n] for n in (
    "skb_store_bytes", "skb_change_head", "skb_change_tail", "skb_pull_data", "skb_change_proto",
    "skb_vlan_push", "skb_vlan_pop", "skb_adjust_room", "xdp_adjust_head", "xdp_adjust_meta",
    "xdp_adjust_tail", "l3_csum_replace", "l4_csum_replace", "clone_redirect", "msg_pull_data",
    "msg_push_data", "msg_pop_data", "lwt_push_encap", "lwt_seg6_store_bytes",
    "lwt_seg6_adjust_srh", "lwt_seg6_action", "store_hdr_opt", "tail_call"))


@dataclass(frozen=True)
class GlobalArg:
    """One argument as the function body sees it: an unknown scalar, the program's context, or
    ``size`` bytes of memory it may read and write (NULL too unless tagged ``arg:nonnull``)."""
    kind: str
    name: str = ""
    size: int = 0
    nullable: bool = True

    def describe(self) -> str:
        if self.kind == SCALAR:
            return f"{self.name}: any scalar"
        if self.kind == CTX:
            return f"{self.name}: the context"
        null = " or NULL" if self.nullable else ", never NULL"
        return f"{self.name}: {self.size} bytes of memory{null}"


@dataclass(frozen=True)
class GlobalFunc:
    """A global subprogram: where it starts, its kernel index (func#N), its typed arguments, and
    ``problem``: why the kernel refuses its prototype, reported at its first call (``unsupported``
    when it is rather something pybpf does not model)."""
    start: int
    index: int
    name: str
    args: tuple[GlobalArg, ...] = ()
    problem: str = ""
    unsupported: bool = False
    changes_packet: bool = False

    def describe(self) -> str:
        return f"{self.name}({', '.join(a.describe() for a in self.args)})"


def func_info_records(func_info: Any) -> list[tuple[int, int]]:
    """(slot, FUNC type id) pairs from pybpf.obj FuncInfo records, (slot, type_id) tuples or a
    {slot: type_id} mapping."""
    if isinstance(func_info, Mapping):
        return sorted((int(k), int(v)) for k, v in func_info.items())
    out = []
    for rec in func_info:
        if isinstance(rec, tuple):
            out.append((int(rec[0]), int(rec[1])))
        else:
            out.append((int(rec.slot), int(rec.type_id)))
    return out


def prepare(shape: ProgramShape, btf: Any, func_info: Any, prog_type: int) -> dict[int, GlobalFunc]:
    """The program's global subprograms by first slot. Raises ProgramStructureError, as the kernel
    does at load time, when func_info does not describe exactly the program's subprograms."""
    records = func_info_records(func_info)
    _check_layout(shape, records)
    changers = _packet_changers(shape)
    return {slot: GlobalFunc(fn.start, fn.index, fn.name, fn.args, fn.problem, fn.unsupported,
                             slot in changers)
            for slot, fn in prototypes(btf, records, prog_type).items()}


def prototypes(btf: Any, func_info: Any, prog_type: int) -> dict[int, GlobalFunc]:
    """The global subprograms func_info names, typed from ``btf`` (without the facts that depend
    on the instructions). Also what a cache of verifier results must key on besides them."""
    out: dict[int, GlobalFunc] = {}
    for index, (slot, type_id) in enumerate(func_info_records(func_info)):
        func = _func(btf, type_id, slot)
        if func.linkage == LINKAGE_GLOBAL and slot != 0:
            out[slot] = _typed(btf, func, prog_type, slot, index)
    return out


def _check_layout(shape: ProgramShape, records: list[tuple[int, int]]) -> None:
    if len(records) != len(shape.subprog_starts):
        raise ProgramStructureError(
            f"number of funcs in func_info ({len(records)}) doesn't match number of subprogs "
            f"({len(shape.subprog_starts)})",
            hint="func_info needs one record per subprogram, as .BTF.ext gives them")
    for (slot, _), start in zip(records, shape.subprog_starts):
        if slot != start:
            raise ProgramStructureError(
                "func_info BTF section doesn't match subprog layout in BPF program",
                hint=f"a func_info record names insn {slot} where a subprogram starts at insn "
                     f"{start}", pc=start)


def _func(btf: Any, type_id: int, slot: int) -> Any:
    try:
        func = btf[type_id]
    except (BTFError, IndexError, KeyError, TypeError):
        func = None
    if func is None or func.kind != Kind.FUNC:
        raise ProgramStructureError(f"type_id {type_id} is not a FUNC",
                                    hint=f"the func_info record of insn {slot} must name a BTF "
                                         "FUNC of the program's BTF", pc=slot)
    return func


def _typed(btf: Any, func: Any, prog_type: int, slot: int, index: int) -> GlobalFunc:
    """btf_prepare_func_args for a global function: its arguments, or why the kernel refuses it."""
    base = GlobalFunc(slot, index, func.name)
    proto = btf[func.type_id]
    if proto.kind != Kind.FUNC_PROTO:
        return _problem(base, f"Invalid type of function {func.name}()")
    if len(proto.params) > MAX_ARGS:
        return _problem(base, f"Global function {func.name}() with {len(proto.params)} > "
                              f"{MAX_ARGS} args. Buggy compiler.")
    ret = btf.resolve(proto.return_type_id)
    if ret.kind not in (Kind.INT, Kind.ENUM, Kind.ENUM64):
        return _problem(base, f"Global function {func.name}() doesn't return scalar. Only those "
                              "are supported.")
    tags = _arg_tags(btf, func.id)
    args = []
    for i, param in enumerate(proto.params):
        arg = _arg(btf, func.name, i, param, tags.get(i, ()), prog_type)
        if isinstance(arg, GlobalFunc):
            return GlobalFunc(slot, index, func.name, (), arg.problem, arg.unsupported)
        args.append(arg)
    return GlobalFunc(slot, index, func.name, tuple(args))


def _problem(fn: GlobalFunc, text: str, unsupported: bool = False) -> GlobalFunc:
    return GlobalFunc(fn.start, fn.index, fn.name, (), text, unsupported)


def _arg_tags(btf: Any, func_id: int) -> dict[int, tuple[str, ...]]:
    """Parameter index -> its ``arg:...`` decl tags (without the prefix)."""
    out: dict[int, tuple[str, ...]] = {}
    for t in btf.types(Kind.DECL_TAG):
        if isinstance(t, DeclTag) and t.type_id == func_id and t.component_idx >= 0 \
                and t.name.startswith("arg:"):
            out[t.component_idx] = out.get(t.component_idx, ()) + (t.name[4:],)
    return out


def _arg(btf: Any, fname: str, i: int, param: Any, tags: tuple[str, ...],
         prog_type: int) -> GlobalArg | GlobalFunc:
    """One argument's type, or a GlobalFunc carrying the problem with it."""
    name = param.name or f"arg#{i}"
    fail = GlobalFunc(0, 0, fname)
    unknown = [t for t in tags if t not in _KNOWN_TAGS]
    if unknown:
        return _problem(fail, f"arg#{i} has unsupported set of tags")
    t = btf.resolve(param.type_id)
    if not isinstance(t, Ptr):
        if tags:
            return _problem(fail, f"arg#{i} has pointer tag, but is not a pointer type")
        if t.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64):
            return GlobalArg(SCALAR, name)
        return _problem(fail, f"Arg#{i} type {_kind_name(t)} in {fname}() is not supported yet.")
    if "ctx" in tags or is_ctx_pointer(btf, t, prog_type):
        if set(tags) - {"ctx"}:
            return _problem(fail, f"arg#{i} has invalid combination of tags")
        if "ctx" in tags and not _tagged_ctx_ok(btf, t, prog_type):
            return _problem(fail, f"pybpf does not model arg:ctx on a `{_pointee_text(btf, t)} *` "
                                  "argument (only `void *` or the program's context struct)",
                            unsupported=True)
        return GlobalArg(CTX, name)
    if set(tags) - set(_SUPPORTED_TAGS):
        return _problem(fail, f"pybpf does not model the arg:{'/'.join(sorted(set(tags)))} tag of "
                              f"{fname}() argument {name}", unsupported=True)
    pointee = btf.resolve(t.type_id)
    if pointee.kind == Kind.STRUCT and pointee.name == "bpf_dynptr":
        return _problem(fail, f"pybpf does not model dynptr arguments ({fname}() {name})",
                        unsupported=True)
    try:
        size = int(btf.size_of(pointee))
    except BTFError:
        return _problem(fail, f"arg#{i} reference type('{_kind_name(pointee)} {pointee.name}') "
                              "size cannot be determined: -22")
    return GlobalArg(MEM, name, size, "nonnull" not in tags)


def is_ctx_pointer(btf: Any, ptr: Ptr, prog_type: int) -> bool:
    """btf_is_prog_ctx_type: ``ptr`` points to the program type's context struct (by name)."""
    t = btf[ptr.type_id]
    if prog_type == P.KPROBE:
        while t.kind in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
            t = btf[t.type_id]
        if t.kind == Kind.TYPEDEF and t.name == _KPROBE_TYPEDEF:
            return True
    t = btf.resolve(t)
    want = CTX_STRUCTS.get(prog_type)
    if t.kind not in (Kind.STRUCT, Kind.UNION) or not t.name or want is None:
        return False
    return t.name in (want, _PROJECTIONS.get(want))


def _tagged_ctx_ok(btf: Any, ptr: Ptr, prog_type: int) -> bool:
    """An ``arg:ctx`` argument pybpf can type like the kernel: ``void *`` or the context struct."""
    return btf.resolve(ptr.type_id).kind == Kind.UNKN or is_ctx_pointer(btf, ptr, prog_type)


def _kind_name(t: Any) -> str:
    return "UNKNOWN" if t.kind == Kind.UNKN else t.kind.name


def _pointee_text(btf: Any, ptr: Ptr) -> str:
    t = btf.resolve(ptr.type_id)
    return f"{_kind_name(t).lower()} {t.name}".strip()


def _packet_changers(shape: ProgramShape) -> set[int]:
    """Subprograms (first slots) that may change packet data, directly or through the
    subprograms they call or pass as callbacks (the kernel's changes_pkt_data)."""
    direct: set[int] = set()
    callees: dict[int, set[int]] = {s: set() for s in shape.subprog_starts}
    for pc, insn in shape.insns.items():
        sub = shape.subprog_of[pc]
        if insn.is_pseudo_call or insn.is_pseudo_func:
            callees[sub].add(pc + 1 + insn.imm)
        elif insn.is_helper_call and insn.imm in PACKET_CHANGING_HELPERS:
            direct.add(sub)
    return _closure(direct, callees)


def _closure(marked: Iterable[int], callees: Mapping[int, set[int]]) -> set[int]:
    out = set(marked)
    changed = True
    while changed:
        changed = False
        for sub, targets in callees.items():
            if sub not in out and targets & out:
                out.add(sub)
                changed = True
    return out


__all__ = ["GlobalArg", "GlobalFunc", "prepare", "prototypes", "func_info_records",
           "is_ctx_pointer", "SCALAR", "CTX", "MEM", "CTX_STRUCTS"]
