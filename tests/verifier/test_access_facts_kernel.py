"""pybpf's per-instruction access facts (``VerifierResult.access_types``) against the kernel verifier.

The JIT drops the run-time bounds checks of a memory instruction when pybpf's verifier says its base
pointer was, on every explored path, a stack / map value / map key / packet / memory-region pointer
(``pybpf.vm.jit.proof.IN_REGION``). A wrong fact there means unchecked native memory accesses, so this
test compares the facts with the Linux verifier's own view of the same compiled programs.

Each program is loaded with ``log_level=2``; the kernel then prints every instruction it processes,
with the registers it read or wrote after it (``12: (61) r3 = *(u32 *)(r6 +12)   ; R3=... R6=pkt(r=14)``)
and register states at path starts, after calls and after interruptions (``from 17 to 31: R0=...``,
``11: R0=map_value(...)``, ``callee:`` / ``to caller at 12:`` blocks). ``kernel_access_types`` replays
that log, tracking the registers of every frame along each path, and records for each memory
instruction (LDX, ST, STX, atomics) the type of its base register in every state the kernel visited:
taken from the register print after the instruction when the instruction does not overwrite the base
register, else from the tracked state before it (a visit where neither is known is skipped).

Checked per program:

* facts the JIT trusts: at every pc where pybpf reports only in-region types, every base type the
  kernel saw is in pybpf's set (the kernel never saw e.g. ctx or scalar where pybpf claims pkt);
* inclusion: at every pc both report, pybpf's set contains the kernel's types; likewise the key
  pointer types of map_lookup/update/delete calls (``VerifierResult.map_calls``);
* the log was understood: at least one (pc, type) pair, a base type for most of pybpf's memory pcs,
  the kernel verified the same opcodes, and the post-instruction prints agree with the tracked
  pre-instruction state (type, and offset bounds of region pointers) wherever both are known;
* ``VerifierResult.base_in_region``, the pcs where the base register itself pointed into its region
  on every path (the JIT then takes the region from ``base >> 32`` instead of ``(base + off) >> 32``):
  at each such pc with only in-region types, every kernel visit's base offset bounds, read from the
  print (``off=``, ``imm=``, smin/smax/umin/umax, ``var_off``; ``fp-8``), lie in [0, 2**31) from the
  region start, the frame bottom fp-512 for the stack. Most claimed pcs must have a checked visit;
  pcs pybpf leaves out although the kernel shows them inside are counted (pybpf may be coarser).
  The BASE_EDGES programs put bases just before their regions (map_value(off=-4), pkt(off=-2),
  fp-516, fp(off=-512) plus [-8, 7]) next to ones at or after the start: pybpf must tell them apart.

One abstraction differs on purpose: the kernel verifies a global (non-static) subprogram once, typing a
pointer argument from BTF as generic ``mem``, while pybpf follows each call with the caller's actual
pointer. Such a kernel ``mem`` (GLOBAL_MEM below) is matched by any in-region type of pybpf.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]
IN_REGION = frozenset({"fp", "map_value", "map_key", "pkt", "pkt_meta", "mem"})
GLOBAL_MEM = "mem(global subprogram argument)"
MIXED = "<mixed pointers>"          # the inline source below

# (source relative to the repository, program): programs both verifiers accept on this kernel
# (no kfuncs, no fentry trampolines), covering XDP, tc, socket filters, (raw) tracepoints, kprobes,
# tp_btf, syscall (arena), callbacks, bpf-to-bpf and global subprograms, atomics and ring buffers.
PROGRAMS = [
    ("bpf/xdplb.bpf.c", "xdp_lb"),
    ("bpf/xdplb.bpf.c", "xdp_decap"),
    ("bpf/xdplb.bpf.c", "xdp_tx_floor"),
    ("bpf/execsnoop.bpf.c", "execsnoop_enter_execve"),
    ("bpf/execsnoop.bpf.c", "execsnoop_exit_execve"),
    ("tests/vm/progs/vm_xdp.c", "xdp_parse"),
    ("tests/vm/progs/vm_xdp.c", "xdp_adjust"),
    ("tests/vm/progs/vm_xdp.c", "xdp_helpers"),
    ("tests/vm/progs/vm_skb.c", "tc_dnat"),
    ("tests/vm/progs/vm_skb.c", "tc_fields"),
    ("tests/vm/progs/vm_skb.c", "sock_len"),
    ("tests/vm/progs/vm_misc.c", "xdp_strings"),
    ("tests/vm/progs/vm_misc.c", "xdp_env"),
    ("tests/vm/progs/vm_misc.c", "xdp_fib"),
    ("tests/vm/progs/vm_trace.c", "trace_execve"),
    ("tests/vm/progs/vm_trace.c", "probe_strlen"),
    ("tests/jit/progs/jit_native.c", "ring_mixed"),
    ("tests/jit/progs/jit_native.c", "ring_output16"),
    ("tests/jit/progs/jit_native_b.c", "fe_native"),
    ("tests/jit/progs/jit_native_b.c", "fe_hash"),
    ("tests/jit/progs/jit_native_b.c", "csum"),
    ("tests/jit/progs/jit_native_b.c", "csum_errors"),
    ("tests/jit/progs/jit_native_b.c", "locks"),
    ("tests/jit/progs/jit_native_b.c", "queues"),
    ("tests/verifier/progs/map_key_callback.c", "reads_key"),
    ("tests/verifier/progs/strtol_calls.c", "parses_into_stack"),
    ("tests/verifier/progs/tp_btf_fields.c", "inside"),
    ("tests/corpus/core/core_calls.bpf.c", "walk_counters"),
    ("tests/corpus/core/core_calls.bpf.c", "count_calls"),
    ("tests/corpus/core/core_externs.bpf.c", "on_switch"),
    ("tests/corpus/core/core_fields.bpf.c", "read_task_fields"),
    ("tests/corpus/core/core_types.bpf.c", "read_type_info"),
    ("tests/corpus/isa/arena.c", "arena_update"),
    ("tests/corpus/isa/arith.c", "arith64"),
    ("tests/corpus/isa/atomics.c", "atomic_plain"),
    ("tests/corpus/isa/atomics.c", "atomic_fetch"),
    ("tests/corpus/isa/atomics.c", "atomic_exchange"),
    ("tests/corpus/isa/branches.c", "loops"),
    ("tests/corpus/isa/signext_bswap.c", "sign_extend"),
    ("tests/corpus/isa/subprogs.c", "calls"),
    ("tests/corpus/isa/subprogs.c", "loop_callback"),
    ("tests/corpus/isa/maps_helpers.c", "count_calls"),
    ("tests/kernel/progs/xdp_swap.bpf.c", "xdp_swap"),
    ("tests/kernel/progs/tp_getpid.bpf.c", "on_getpid"),
    ("tests/verifier/progs/mixed_pointers.c", "pkt_value_or_stack"),
    (MIXED, "mix_meta_pkt"),
    (MIXED, "spill_fill_mix"),
    (MIXED, "subprog_three_kinds"),
    (MIXED, "callback_two_pointers"),
    (MIXED, "global_two_kinds"),
    (MIXED, "base_below_value"),
    (MIXED, "base_var_below_value"),
    (MIXED, "base_below_pkt"),
    (MIXED, "base_stack_edges"),
    (MIXED, "base_signed_stack"),
]
# Programs of the inline source whose memory instructions use base registers on both sides of their
# region's start (fp-512 for the stack) although every access stays inside: the kernel accepts them,
# and its log is the truth on which side each base lies. pybpf must leave every pc whose base the
# kernel shows outside out of base_in_region, and (plain cases) put every pc shown inside into it.
BASE_EDGES = {"base_below_value", "base_var_below_value", "base_below_pkt", "base_stack_edges",
              "base_signed_stack"}
MIN_COVERAGE = 0.8     # share of pybpf's memory pcs the kernel log must show a base type for

# The repository's programs rarely reach one memory instruction with several base types, which is
# where a missing type would matter most: these do (each path keeps its own pointer, so the kernel
# sees every type at the shared load).
MIXED_SOURCE = r"""
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define opaque(v) asm volatile("" : "+r"(v))

struct val { __u32 a; __u32 b; __u64 c[4]; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct val);
} vals SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
int mix_meta_pkt(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    void *meta = (void *)(long)ctx->data_meta;
    __u32 *p;
    if (data + 8 > end)
        return 1;
    if (meta + 4 > data)
        return 2;
    if (*(__u8 *)data & 1)
        p = data;
    else
        p = meta;
    opaque(p);
    return *p;
}

SEC("xdp")
int spill_fill_mix(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 1;
    volatile __u64 slot;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    if (data + 16 > end)
        return 1;
    if (*(__u8 *)data == 3)
        slot = (__u64)(long)data;
    else
        slot = (__u64)(long)v;
    __u32 *p = (__u32 *)(long)slot;
    return p[2];
}

static __attribute__((noinline)) __u64 sum2(__u64 *p)
{
    opaque(p);
    return p[0] + p[1];
}

SEC("xdp")
int subprog_three_kinds(struct xdp_md *ctx)
{
    __u32 k = 3;
    __u64 local[2] = {1, 2}, r;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    r = sum2(local);
    if (v)
        r += sum2(&v->c[0]);
    __u64 *rec = bpf_ringbuf_reserve(&rb, 16, 0);
    if (rec) {
        rec[0] = r;
        rec[1] = 0;
        r += sum2(rec);
        bpf_ringbuf_submit(rec, 0);
    }
    return r;
}

struct cbctx { __u32 *p; __u64 n; };
static long add_through(__u64 i, void *c)
{
    struct cbctx *x = c;
    x->n += *x->p;
    return 0;
}

SEC("xdp")
int callback_two_pointers(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v || data + 8 > end)
        return 1;
    struct cbctx c = { .p = data, .n = 0 };
    bpf_loop(2, add_through, &c, 0);
    c.p = &v->b;
    bpf_loop(2, add_through, &c, 0);
    return c.n;
}

struct pair { __u32 x, y; };
__attribute__((noinline)) int global_sum(struct pair *p)
{
    if (!p)
        return 0;
    return p->x + p->y;
}

SEC("xdp")
int global_two_kinds(struct xdp_md *ctx)
{
    __u32 k = 0;
    struct pair local = {1, 2};
    int r = global_sum(&local);
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (v)
        r += global_sum((struct pair *)&v->a);
    return r;
}

/* base_in_region edge cases: the base register lies before its region, the access inside it */
SEC("xdp")
int base_below_value(struct xdp_md *ctx)
{
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    char *r = (char *)v - 4;
    opaque(r);
    return *(__u32 *)(r + 8);            /* base map_value(off=-4), value bytes 4..7 */
}

SEC("xdp")
int base_var_below_value(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v || data + 1 > end)
        return 0;
    long i = (long)(*(__u8 *)data & 0xc) - 4;
    char *r = (char *)v + i;
    opaque(r);
    return *(__u32 *)(r + 4);            /* base map_value(off=-4, var 0..12): offsets -4..8 */
}

SEC("xdp")
int base_below_pkt(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 24 > end)
        return 1;
    __u8 *p = (__u8 *)data + 20;
    opaque(p);
    __u8 *q = p - 22;
    opaque(q);
    return q[4] + p[-6];                 /* bases pkt(off=-2) (outside), pkt(off=20) (inside) */
}

SEC("xdp")
int base_stack_edges(struct xdp_md *ctx)
{
    __u64 a, b;
    /* base fp-512 (the frame bottom: inside), then fp-516 (below it); both access fp-504 */
    asm volatile("r1 = r10; r1 += -512; r2 = 7; *(u64 *)(r1 + 8) = r2; %0 = *(u64 *)(r1 + 8)"
                 : "=r"(a) :: "r1", "r2");
    asm volatile("r1 = r10; r1 += -516; r2 = 9; *(u64 *)(r1 + 12) = r2; %0 = *(u64 *)(r1 + 12)"
                 : "=r"(b) :: "r1", "r2");
    return a + b;
}

SEC("xdp")
int base_signed_stack(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u64 a = 0, b = 0;
    if (data + 1 > end)
        return 0;
    __u64 x = *(__u8 *)data;
    /* i = (s8)x >> 4 in [-8, 7]: bases fp(off=-16)+i (inside), fp(off=-512)+i (partly below) */
    asm volatile("r1 = %2; r1 <<= 56; r1 s>>= 60;"
                 "r2 = r10; r2 += -16; r2 += r1; r3 = 1; *(u8 *)(r2 + 0) = r3;"
                 "r2 = r10; r2 += -512; r2 += r1; r3 = 2; *(u8 *)(r2 + 8) = r3;"
                 "%0 = r1; %1 = r2"
                 : "=r"(a), "=r"(b) : "r"(x) : "r1", "r2", "r3");
    return a;
}

char LICENSE[] SEC("license") = "GPL";
"""


# --- reading the kernel's log_level=2 log -----------------------------------------------------------
_INSN = re.compile(r"^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$")
_STATE = re.compile(r"^(\d+):(?! \()\s*(.*)$")
_FROM = re.compile(r"^from (\d+) to (\d+)( \(speculative execution\))?:\s*(.*)$")
# a register print; the value may hold one level of nested parentheses with spaces in them
# (``pkt(id=2,off=0,r=0,smin=...,var_off=(0x0; 0x3c))``)
_REG = re.compile(r"(?:^|\s)R(\d+)(?:_[A-Za-z]+)?=((?:[^\s()]|\((?:[^()]|\([^()]*\))*\))+)")
_FRAME = re.compile(r"(?:^|\s)frame(\d+):")
_EXACT = {"ctx", "fp", "pkt", "pkt_meta", "pkt_end", "map_value", "map_key", "map_ptr", "arena",
          "func", "scalar"}
_KEY_HELPERS = {1, 2, 3, 195}      # map_{lookup,update,delete}_elem, map_lookup_percpu_elem: R2 = key


def kernel_type(value: str) -> str:
    """pybpf's RegType value for a kernel register print (``pkt(r=14)``, ``fp-8``, ``P0``, ...)."""
    if value[:1] == "P" and (value[1:2].isdigit() or value[1:2] == "-"
                             or value[1:].startswith("scalar")):
        value = value[1:]                                  # precise scalar marker
    if re.match(r"-?\d", value):
        return "scalar"                                    # known constant
    m = re.match(r"[a-z_]+", value)
    name = m.group(0) if m else value
    if name in _EXACT or name.endswith("_or_null"):
        return name
    if "ptr_" in name and name not in ("map_ptr", "dynptr_ptr"):
        return "ptr_"                                      # (trusted_|rcu_|untrusted_)ptr_<struct>
    if "mem" in name:
        return "mem"                                       # mem, rdonly_mem, ringbuf_mem, ...
    return name                                            # sock, buf, flow_keys, ...: no pybpf name


S64_MIN, S64_MAX, U64 = -(1 << 63), (1 << 63) - 1, 1 << 64
MAX_STACK = 512
_FP_CONST = re.compile(r"^fp(?:\[\d+\])?(-?\d+|0x[0-9a-f]+)$")
_PTR_FIELDS = re.compile(r"^[a-z_]+(?:\[\d+\])?\((.*)\)$")
_TNUM = re.compile(r"^\((0x[0-9a-f]+); (0x[0-9a-f]+)\)$")


def _knum(text: str, signed: bool) -> int:
    """A number as the kernel prints it (decimal, or ``%#llx`` of the 64-bit value)."""
    v = int(text, 0)
    if v < 0:
        v += U64
    return v - U64 if signed and v > S64_MAX else v


def kernel_offset(raw: str) -> tuple[int, int] | None:
    """Bounds (lo, hi) of a pointer print's offset from the start of its object, fixed ``off=`` plus
    the variable part: ``fp-8`` -> (-8, -8), ``pkt(off=14,r=14)`` -> (14, 14),
    ``pkt(id=2,off=4,r=4,smin=smin32=0,smax=umax=smax32=umax32=60,var_off=(0x0; 0x3c))`` -> (4, 64).
    The variable part is the intersection of every range the kernel prints for it: [smin, smax],
    [umin, umax] and [value, value|mask] of var_off (the unsigned ones where they do not straddle
    the sign bit); the kernel omits a bound at its type's extreme. None: not a pointer print."""
    m = _FP_CONST.match(raw)
    if m:
        off = _knum(m.group(1), signed=True)
        return off, off
    m = _PTR_FIELDS.match(raw)
    if m is None:
        return None
    f: dict[str, str] = {}
    for item in m.group(1).split(","):         # var_off=(0x0; 0x3c) holds no comma
        *names, value = item.split("=")
        for name in names:
            f[name] = value
    fixed = _knum(f["off"], signed=True) if "off" in f else 0
    if not ({"smin", "smax", "umin", "umax", "var_off"} & set(f)):   # constant variable part
        imm = _knum(f["imm"], signed=True) if "imm" in f else 0
        return fixed + imm, fixed + imm
    ranges = [(_knum(f.get("smin", str(S64_MIN)), True), _knum(f.get("smax", str(S64_MAX)), True))]
    unsigned = [(_knum(f.get("umin", "0"), False), _knum(f.get("umax", str(U64 - 1)), False))]
    if "var_off" in f:
        t = _TNUM.match(f["var_off"])
        assert t, f"unreadable var_off in {raw!r}"
        value, mask = int(t.group(1), 16), int(t.group(2), 16)
        unsigned.append((value, value | mask))
    for ulo, uhi in unsigned:
        if uhi <= S64_MAX:
            ranges.append((ulo, uhi))
        elif ulo > S64_MAX:
            ranges.append((ulo - U64, uhi - U64))
    lo, hi = max(r[0] for r in ranges), min(r[1] for r in ranges)
    assert lo <= hi, f"empty offset range {lo}..{hi} read from {raw!r}"
    return fixed + lo, fixed + hi


def in_region(kernel_t: str, bounds: tuple[int, int]) -> bool:
    """pybpf's base_in_region condition on the kernel's offset bounds: the base itself lies within
    [0, 2**31) of its region's start (the frame bottom, fp-512, for stack pointers)."""
    start = -MAX_STACK if kernel_t == "fp" else 0
    lo, hi = bounds
    return lo >= start and hi - start < (1 << 31)


def _parse_state(text: str) -> tuple[int, dict[int, str]]:
    m = _FRAME.search(text)
    return (int(m.group(1)) if m else 0), {int(r): v for r, v in _REG.findall(text)}


def _access_regs(insn) -> tuple[int, frozenset[int]] | None:  # noqa: ANN001
    """(base register, registers the instruction writes) of a memory instruction, else None."""
    cls, mode = insn.opcode & 0x07, insn.opcode & 0xE0
    if cls == 1 and mode in (0x60, 0x80):                  # LDX MEM / MEMSX
        return insn.src, frozenset({insn.dst})
    if cls in (2, 3) and mode == 0x60:                     # ST / STX MEM
        return insn.dst, frozenset()
    if cls == 3 and mode == 0xC0:                          # atomics
        imm = insn.imm & 0xFFFFFFFF
        if imm == 0x100:                                   # load-acquire: dst = *(src + off)
            return insn.src, frozenset({insn.dst})
        if imm == 0xF1:                                    # cmpxchg writes r0
            return insn.dst, frozenset({0})
        return insn.dst, frozenset({insn.src}) if imm & 0x01 else frozenset()
    return None


@dataclass
class KernelView:
    """Base types per memory-instruction pc over the kernel's visits, and how the log was read."""
    types: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    keys: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    text: dict[int, str] = field(default_factory=dict)
    visits: int = 0                  # memory-instruction visits with a known base type
    unknown: int = 0                 # visits where the log did not show the base register
    cross_checked: int = 0           # visits where both the tracked state and the print knew it
    inconsistent: list[str] = field(default_factory=list)
    opcode_mismatch: list[str] = field(default_factory=list)
    # base register print per visit of a memory pc: (kernel type, raw print)
    bases: dict[int, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    offsets_cross_checked: int = 0   # visits where tracked and printed base offsets were compared


def kernel_access_types(log: str, insn_at: dict) -> KernelView:  # noqa: ANN001, C901
    """Replay a log_level=2 verifier log; ``insn_at`` maps slot -> pybpf Instruction."""
    view = KernelView()
    frames: dict[int, dict[int, str]] = {}       # frame -> register -> raw kernel value
    cur = 0
    dead = False                                 # True: path pruned or speculative
    in_global = False                            # inside "Validating <global subprogram>"
    pending: str | None = None                   # which state block the next indented line is

    def apply(text: str, full: bool) -> None:
        nonlocal cur
        frame, regs = _parse_state(text)
        if full:
            frames[frame] = regs
        else:
            frames.setdefault(frame, {}).update(regs)
        cur = frame

    def typed(raw: str) -> str:
        t = kernel_type(raw)
        return GLOBAL_MEM if t == "mem" and in_global else t

    for line in log.splitlines():
        if pending is not None and line.startswith(" "):
            kind, pending = pending, None
            if dead:
                continue
            if kind == "to_caller":
                frame, _ = _parse_state(line)
                for f in [f for f in frames if f > frame]:
                    del frames[f]
            if kind != "returning":
                apply(line, full=True)
            continue
        pending = None
        if line in ("caller:", "callee:", "returning from callee:") or line.startswith("to caller at"):
            pending = {"caller:": "caller", "callee:": "callee",
                       "returning from callee:": "returning"}.get(line, "to_caller")
            continue
        if line.startswith("Validating "):       # a global subprogram, verified on its own
            frames, dead, in_global = {}, False, True
            continue
        m = _FROM.match(line)
        if m:
            frames = {}
            dead = bool(m.group(3)) or m.group(4).strip() == "safe"
            if not dead:
                apply(m.group(4), full=True)
            continue
        m = _INSN.match(line)
        if m:
            if dead:
                continue
            pc, opcode, text, post = int(m.group(1)), int(m.group(2), 16), m.group(3), m.group(4)
            insn = insn_at.get(pc)
            if insn is None or insn.opcode != opcode:
                view.opcode_mismatch.append(f"pc {pc}: kernel ({opcode:02x}) {text}, pybpf {insn}")
                continue
            post_frame, post_regs = _parse_state(post) if post else (cur, {})
            before = frames.get(post_frame, {})
            regs = _access_regs(insn)
            if regs is not None:
                base, written = regs
                pre = before.get(base)
                after = post_regs.get(base) if base not in written else None
                if pre is not None and after is not None:
                    view.cross_checked += 1
                    if kernel_type(pre) != kernel_type(after):
                        view.inconsistent.append(f"pc {pc} {text}: tracked R{base}={pre}, "
                                                 f"printed R{base}={after}")
                    elif kernel_type(pre) in IN_REGION:
                        view.offsets_cross_checked += 1
                        if kernel_offset(pre) != kernel_offset(after):
                            view.inconsistent.append(f"pc {pc} {text}: tracked R{base}={pre}, "
                                                     f"printed R{base}={after} (offsets differ)")
                raw = after if after is not None else pre
                if raw is None:
                    view.unknown += 1
                else:
                    view.visits += 1
                    view.types[pc].add(typed(raw))
                    view.bases[pc].append((typed(raw), raw))
                    view.text[pc] = text
            elif (opcode == 0x85 and insn.src == 0 and insn.imm in _KEY_HELPERS
                  and kernel_type(before.get(1, "")) == "map_ptr" and 2 in before):
                view.keys[pc].add(typed(before[2]))
                view.text[pc] = text
            if post:
                apply(post, full=False)
            continue
        m = _STATE.match(line)
        if m and not dead:
            if m.group(2).strip() == "safe":
                dead = True                      # pruned: this path ends here
            else:
                apply(m.group(2), full=False)
    return view


@dataclass
class BaseOffsets:
    """The kernel's base-register offsets at memory pcs with an in-region base type."""
    visits: dict[int, list[tuple[str, str, tuple[int, int]]]] = field(
        default_factory=lambda: defaultdict(list))     # pc -> (type, raw print, (lo, hi))
    inside: set[int] = field(default_factory=set)      # every visit inside (none skipped)
    outside: set[int] = field(default_factory=set)     # some visit outside
    skipped_global: int = 0
    global_only: set[int] = field(default_factory=set)  # pcs with only global-subprogram visits


def kernel_base_offsets(view: KernelView) -> BaseOffsets:
    """Offsets per visit; visits of a global subprogram are skipped: the kernel types its pointer
    argument as ``mem`` at offset 0 of the argument, not of the caller's region (pybpf knows the
    caller's pointer), so its offsets say nothing about the region start."""
    out = BaseOffsets()
    for pc, visits in view.bases.items():
        skipped = False
        for t, raw in visits:
            if t not in IN_REGION:
                skipped = True
                if t == GLOBAL_MEM:
                    out.skipped_global += 1
                continue
            bounds = kernel_offset(raw)
            assert bounds is not None, f"pc {pc}: unreadable {t} pointer {raw!r}"
            out.visits[pc].append((t, raw, bounds))
        if not out.visits[pc] and all(t == GLOBAL_MEM for t, _ in visits):
            out.global_only.add(pc)
        if out.visits[pc]:
            ok = all(in_region(t, b) for t, _, b in out.visits[pc])
            if not ok:
                out.outside.add(pc)
            elif not skipped:
                out.inside.add(pc)
    return out


BASE_TOTALS: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _base_totals():
    yield
    print(f"\nbase_in_region over {BASE_TOTALS['programs']} programs: {BASE_TOTALS['pairs']} "
          f"(pc, kernel visit) pairs checked over {BASE_TOTALS['pcs']} of {BASE_TOTALS['claimed']} "
          f"claimed pcs; {BASE_TOTALS['conservative']} pcs left out though the kernel shows them "
          f"inside; {BASE_TOTALS['outside']} pcs the kernel shows outside; "
          f"{BASE_TOTALS['skipped_global']} global-subprogram visits skipped; "
          f"{BASE_TOTALS['cross_checked']} tracked/printed base offsets cross-checked")


def covers(ours: frozenset[str], kernel: set[str]) -> bool:
    """pybpf's types at a pc account for every type the kernel saw there."""
    plain = kernel - {GLOBAL_MEM}
    return plain <= ours and (GLOBAL_MEM not in kernel or bool(ours & IN_REGION))


# --- the test -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def target_btf():
    from pybpf.btf import load_vmlinux
    return load_vmlinux()


@pytest.fixture(scope="session")
def source_path(tmp_path_factory):
    mixed = tmp_path_factory.mktemp("access_facts") / "access_facts_mixed.c"
    mixed.write_text(MIXED_SOURCE)
    return lambda source: mixed if source == MIXED else REPO / source


def _slots(instructions) -> dict:  # noqa: ANN001
    out, pc = {}, 0
    for insn in instructions:
        out[pc] = insn
        pc += insn.slots
    return out


@pytest.mark.parametrize("source,program", PROGRAMS,
                         ids=[f"{Path(s).name.split('.')[0].strip('<>').replace(' ', '_')}:{p}"
                              for s, p in PROGRAMS])
def test_access_types_agree_with_the_kernel_verifier(compile_bpf, target_btf, source_path,
                                                     source, program):
    from pybpf.errors import KernelVerifierError
    from pybpf.kernel import Collection
    from pybpf.obj import core, load_object
    from pybpf.verifier import verify_program

    spec = load_object(compile_bpf(source_path(source)))
    pspec = spec.programs[program]
    try:
        with Collection(spec, programs=[program], log_level=2) as coll:
            log = coll.programs[program].verifier_log
    except KernelVerifierError as exc:
        pytest.skip(f"the kernel refuses {program}: {str(exc).splitlines()[0]}")
    assert "processed " in log, f"{program}: verifier log incomplete ({len(log)} bytes)"

    result = verify_program(pspec, spec, target_btf=target_btf, raise_on_reject=False)
    assert result.accepted, f"pybpf rejects {program}, which the kernel accepts: {result.error}"
    insns = pspec.instructions
    if getattr(pspec, "core_relos", None):
        insns = core.relocate(pspec, target_btf, spec.btf).instructions
    view = kernel_access_types(log, _slots(insns))
    ours = result.access_types
    where = f"{source}:{program}"

    assert not view.opcode_mismatch, (f"{where}: the kernel verified other instructions than pybpf:\n"
                                      + "\n".join(view.opcode_mismatch[:5]))
    assert not view.inconsistent, (f"{where}: log replay out of step with the kernel's prints:\n"
                                   + "\n".join(view.inconsistent[:5]))
    pairs = {(pc, t) for pc, ts in view.types.items() for t in ts}
    key_pairs = {(pc, t) for pc, ts in view.keys.items() for t in ts}
    print(f"\n{where}: {len(pairs)} kernel (pc, base type) pairs over {len(view.types)} pcs, "
          f"{view.visits} visits ({view.unknown} without a known base, {view.cross_checked} "
          f"cross-checked); pybpf reports {len(ours)} pcs; {len(key_pairs)} (pc, map key type) "
          f"pairs")
    assert pairs, f"{where}: no memory access with a known base type in the kernel log"

    def describe(pc: int, facts=ours, kernel=view.types) -> str:  # noqa: ANN001
        return (f"{where} pc {pc}: {view.text[pc]}: pybpf {sorted(facts.get(pc, ()))}, "
                f"kernel {sorted(kernel[pc])}")

    trusted = [pc for pc in sorted(view.types) if ours.get(pc) and ours[pc] <= IN_REGION
               and not covers(ours[pc], view.types[pc])]
    assert not trusted, ("pybpf reports only in-region base types (the JIT drops the bounds checks) "
                         "where the kernel saw other types:\n" + "\n".join(map(describe, trusted)))
    missing = [pc for pc in sorted(view.types) if pc in ours and not covers(ours[pc], view.types[pc])]
    assert not missing, ("pybpf's base types miss types the kernel saw:\n"
                         + "\n".join(map(describe, missing)))
    unreached = [pc for pc in sorted(view.types) if pc not in ours]
    if unreached:
        print("  kernel-only pcs (pybpf keeps their run-time checks): "
              + "; ".join(map(describe, unreached)))
    coverage = len(set(ours) & set(view.types)) / len(ours) if ours else 1.0
    assert coverage >= MIN_COVERAGE, (
        f"{where}: the kernel log showed base types for only {coverage:.0%} of pybpf's "
        f"{len(ours)} memory pcs (missing {sorted(set(ours) - set(view.types))[:20]})")

    key_facts = {pc: frozenset(k for _, k in calls if k is not None)
                 for pc, calls in result.map_calls.items()}
    bad_keys = [pc for pc in sorted(view.keys) if pc in key_facts
                and not covers(key_facts[pc], view.keys[pc])]
    assert not bad_keys, ("pybpf's map-call key pointer types miss types the kernel saw:\n"
                          + "\n".join(describe(pc, key_facts, view.keys) for pc in bad_keys))

    # base_in_region: the JIT takes the region from the base register alone at these pcs
    base = kernel_base_offsets(view)
    claimed = sorted(pc for pc in result.base_in_region if ours.get(pc) and ours[pc] <= IN_REGION)
    checked = [(pc, t, raw, b) for pc in claimed for t, raw, b in base.visits.get(pc, ())]
    wrong = [(pc, t, raw, b) for pc, t, raw, b in checked if not in_region(t, b)]
    assert not wrong, ("pybpf says the base register itself points into its region (base_in_region; "
                       "the JIT takes the region from it) where the kernel shows it outside:\n"
                       + "\n".join(f"{where} pc {pc}: {view.text[pc]}: kernel R={raw} (offset "
                                    f"{lo}..{hi} of its {t} region), pybpf types "
                                    f"{sorted(ours[pc])}" for pc, t, raw, (lo, hi) in wrong))
    seen = {pc for pc, *_ in checked}
    conservative = sorted(pc for pc in base.inside if ours.get(pc) and ours[pc] <= IN_REGION
                          and pc not in result.base_in_region)
    print(f"  base_in_region: {len(claimed)} in-region pcs claimed, {len(checked)} (pc, visit) pairs "
          f"checked over {len(seen)} pcs ({base.skipped_global} global-subprogram visits skipped, "
          f"{view.offsets_cross_checked} offsets cross-checked); {len(conservative)} pcs left out "
          f"although every kernel visit was inside: {conservative}; kernel shows bases outside at "
          f"{sorted(base.outside)}")
    BASE_TOTALS.update(programs=1, claimed=len(claimed), pairs=len(checked), pcs=len(seen),
                       cross_checked=view.offsets_cross_checked,
                       conservative=len(conservative), outside=len(base.outside),
                       skipped_global=base.skipped_global)
    checkable = [pc for pc in claimed if pc not in base.global_only]
    if checkable:
        assert checked, f"{where}: no kernel visit shows the base of any base_in_region pc {claimed}"
        share = len(seen) / len(checkable)
        assert share >= MIN_COVERAGE, (
            f"{where}: the kernel log showed the base offset at only {share:.0%} of the "
            f"{len(checkable)} base_in_region pcs (missing {sorted(set(checkable) - seen)[:20]})")
    if program in BASE_EDGES:
        assert base.outside, f"{where}: the kernel shows no base outside its region"
        assert base.inside, f"{where}: the kernel shows no base inside its region"
        leaked = sorted(base.outside & result.base_in_region)
        assert not leaked, f"{where}: pcs {leaked} whose base the kernel shows outside are claimed"
        assert not conservative, (f"{where}: pybpf leaves out pcs {conservative} whose base the "
                                  "kernel shows inside on every visit")


@pytest.mark.parametrize("raw,bounds", [
    ("fp-8", (-8, -8)),
    ("fp0", (0, 0)),
    ("fp[1]-16", (-16, -16)),
    ("pkt(r=14)", (0, 0)),
    ("pkt(off=14,r=14)", (14, 14)),
    ("pkt(off=-2,r=24)", (-2, -2)),
    ("pkt(id=2,off=4,r=4,smin=smin32=0,smax=umax=smax32=umax32=60,var_off=(0x0; 0x3c))", (4, 64)),
    ("map_value(map=vals,ks=4,vs=40,off=-4,smin=smin32=0,smax=umax=smax32=umax32=12,"
     "var_off=(0x0; 0xc))", (-4, 8)),
    ("map_value(map=execs,ks=4,vs=8,off=8,imm=4)", (12, 12)),
    ("map_value(map=vals,ks=4,vs=40,var_off=(0x4; 0x8))", (4, 12)),        # tnum alone
    ("map_value(map=vals,ks=4,vs=40,umax=0x3c)", (0, 60)),                  # unsigned alone
    ("map_value(map=vals,ks=4,vs=40,smax=0x7ffffffffffffff0)", (-(1 << 63), (1 << 63) - 16)),
    ("fp(off=-512,smin=smin32=-8,smax=smax32=7)", (-520, -505)),
    ("fp[1](off=-16,smin=0xfffffffffffffff8,smax=7)", (-24, -9)),           # hex negative smin
    ("mem(sz=16)", (0, 0)),
    ("ringbuf_mem(ref_obj_id=3,sz=16)", (0, 0)),
    ("scalar()", (0, 0)),
    ("ctx()", (0, 0)),
    ("7", None),
    ("arena", None),
])
def test_kernel_offset_reads_pointer_prints(raw, bounds):
    assert kernel_offset(raw) == bounds
    line = f"10: (61) r0 = *(u32 *)(r1 +0)          ; R1={raw} R2=fp-8"
    assert _REG.findall(line) == [("1", raw), ("2", "fp-8")]
