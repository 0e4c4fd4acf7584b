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
  pre-instruction state wherever both are known.

One abstraction differs on purpose: the kernel verifies a global (non-static) subprogram once, typing a
pointer argument from BTF as generic ``mem``, while pybpf follows each call with the caller's actual
pointer. Such a kernel ``mem`` (GLOBAL_MEM below) is matched by any in-region type of pybpf.
"""
from __future__ import annotations

import re
from collections import defaultdict
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
    (MIXED, "mix_pkt_value_stack"),
    (MIXED, "mix_meta_pkt"),
    (MIXED, "spill_fill_mix"),
    (MIXED, "subprog_three_kinds"),
    (MIXED, "callback_two_pointers"),
    (MIXED, "global_two_kinds"),
]
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
int mix_pkt_value_stack(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0, local[2] = {7, 8}, *p;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    if (data + 8 > end)
        return 1;
    __u8 sel = *(__u8 *)data;
    if (sel == 1)
        p = data;
    else if (sel == 2)
        p = &v->a;
    else
        p = local;
    opaque(p);
    return p[1];
}

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

char LICENSE[] SEC("license") = "GPL";
"""


# --- reading the kernel's log_level=2 log -----------------------------------------------------------
_INSN = re.compile(r"^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$")
_STATE = re.compile(r"^(\d+):(?! \()\s*(.*)$")
_FROM = re.compile(r"^from (\d+) to (\d+)( \(speculative execution\))?:\s*(.*)$")
_REG = re.compile(r"(?:^|\s)R(\d+)(?:_[A-Za-z]+)?=(\S+)")
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
                raw = after if after is not None else pre
                if raw is None:
                    view.unknown += 1
                else:
                    view.visits += 1
                    view.types[pc].add(typed(raw))
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
