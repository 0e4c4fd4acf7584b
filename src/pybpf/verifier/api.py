"""verify() and verify_program(): run the static verifier and report a result or an explained rejection.

Glue between callers (VM, CLI, tests) and the analyzer: normalises maps and line info, times the run,
replays a rejected path to explain it. Never loads anything into the kernel.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..isa import Instruction, digest
from ..isa.uapi import MapType, ProgramType
from . import global_funcs
from .analyzer import Analyzer, Options
from .cfg import analyse_shape
from .disasm import format_insn
from .regs import MapInfo, RegType
from .rejections import ProgramRejected
from .state import Checkpoint, State

BPF_F_RDONLY_PROG = 0x80
PATH_TAIL = 40


@dataclass
class VerifierResult:
    """Outcome of one verification (``accepted`` False only when raise_on_reject=False)."""
    accepted: bool
    insns_processed: int
    states: int
    peak_states: int
    max_states_per_insn: int
    time: float
    log: str = ""
    error: ProgramRejected | None = None
    stack_depth: dict[int, int] = field(default_factory=dict)
    # slot -> the base pointer types (RegType values) its memory access was proven safe for, over
    # every explored state; absent for accesses no explored path reached. With ``digest`` (sha256
    # of the encoded instructions verified) it lets the JIT drop run-time checks the proof covers.
    access_types: dict[int, frozenset[str]] = field(default_factory=dict)
    digest: bytes = b""
    # helper call slot -> every (map type, key pointer type or None) its map argument had
    map_calls: dict[int, frozenset[tuple[int, str | None]]] = field(default_factory=dict)
    prog_type: int = 0                  # the program type whose context the proof assumed
    # access slots whose base register, on every explored path, itself pointed inside the region
    # accessed (not only base + offset): the base alone names the region
    base_in_region: frozenset[int] = frozenset()

    def summary(self) -> str:
        verdict = "accepted" if self.accepted else "REJECTED"
        return (f"{verdict}: processed {self.insns_processed} insns, {self.states} states "
                f"(peak {self.peak_states}, max {self.max_states_per_insn} per insn), "
                f"stack depth {'+'.join(str(d) for d in self.stack_depth.values()) or '0'}, "
                f"{self.time * 1e3:.1f} ms")


LineLookup = Callable[[int], "str | None"]


def _map_info(name: str, desc: Any) -> MapInfo:
    if isinstance(desc, MapInfo):
        return desc
    if isinstance(desc, (tuple, list)):
        map_type, key_size, value_size, max_entries = desc[:4]
        flags = desc[4] if len(desc) > 4 else 0
    else:
        map_type, key_size, value_size, max_entries = (desc.type, desc.key_size, desc.value_size,
                                                       desc.max_entries)
        flags = getattr(desc, "flags", 0)
    readonly = bool(flags & BPF_F_RDONLY_PROG) or ".rodata" in name or name == ".kconfig"
    data = None
    if readonly and getattr(desc, "frozen", False) and name != ".kconfig":
        contents = getattr(desc, "contents", None) or []
        for key, value in contents:
            if key in (0, b"\0\0\0\0") and isinstance(value, (bytes, bytearray)) \
                    and len(value) == int(value_size):
                data = bytes(value)
    inner = getattr(desc, "inner", None)
    inner_info = _map_info(f"{name}.inner", inner) if inner is not None else None
    return MapInfo(str(name), int(map_type), int(key_size), int(value_size), int(max_entries),
                   readonly, data, inner_info)


def _line_lookup(line_info: Any) -> LineLookup | None:
    if line_info is None:
        return None
    if callable(line_info):
        return line_info
    if isinstance(line_info, Mapping):
        table = {int(k): str(v) for k, v in line_info.items()}
    else:
        table = {}
        for rec in line_info:
            text = (getattr(rec, "source", "") or "").strip()
            fname = getattr(rec, "file_name", "") or ""
            where = f"{fname.rsplit('/', 1)[-1]}:{getattr(rec, 'line', '?')}" if fname else ""
            table[int(getattr(rec, "slot", getattr(rec, "index", 0)))] = \
                f"{text}  ({where})" if where else text
    slots = sorted(table)
    if not slots:
        return None

    def lookup(pc: int) -> str | None:
        import bisect
        i = bisect.bisect_right(slots, pc) - 1
        return table[slots[i]] if i >= 0 else None

    return lookup


def _regs_text(st: State) -> str:
    parts = []
    for r, reg in enumerate(st.regs):
        if reg.type is not RegType.NOT_INIT:
            parts.append(f"R{r}={reg.describe()}")
    if len(st.frames) > 1:
        parts.insert(0, f"[frame {len(st.frames) - 1}]")
    return " ".join(parts)


def explain_path(analyzer_args: tuple, pcs: list[int], lines: LineLookup | None,
                 entry: int = 0, resume: Checkpoint | None = None) -> list[str]:
    """Replay the rejected path and describe each instruction with the state before it
    (``entry``: the global function whose verification on its own it belongs to, or 0).

    Only the last PATH_TAIL lines are kept, and the replay starts from the deepest checkpoint on
    the path (``resume`` and its parents: states the analysis stored on it) that still leaves
    them all to replay: from the entry, a path the kernel's 1M-insn limit stops costs as much
    again as the analysis. Lines before the replay are counted, not formatted.
    """
    an = Analyzer(*analyzer_args)
    an.entry = entry
    start, st = _replay_start(an, pcs, resume)
    earlier, last_line = _count_lines(pcs[:start], lines)
    tail: deque[tuple[int, State | None, str | None]] = deque(maxlen=PATH_TAIL)
    total = earlier
    for i in range(start, len(pcs)):
        pc = pcs[i]
        if st.pc != pc:
            break
        src = lines(pc) if lines else None
        if src and src != last_line:
            tail.append((pc, None, src))
            total += 1
            last_line = src
        is_last = i == len(pcs) - 1
        tail.append((pc, st if is_last else st.fork(), None))
        total += 1
        if is_last:
            break
        try:
            succ = an.step(st)
        except ProgramRejected:
            break
        nxt = [s for s in succ if s.pc == pcs[i + 1]]
        if not nxt:
            break
        st = nxt[0]
    out = [f"; {src}" if state is None else
           f"{pc}: {format_insn(an.shape.insns[pc], pc):<40} ; {_regs_text(state)}"
           for pc, state, src in tail]
    if total > PATH_TAIL:
        out.insert(0, f"... ({total - PATH_TAIL} earlier lines)")
    return out


def _replay_start(an: Analyzer, pcs: list[int], resume: Checkpoint | None) -> tuple[int, State]:
    """Where the replay of ``pcs`` begins: the deepest checkpoint on the path that leaves at least
    PATH_TAIL instructions to replay (a copy of its stored state), else the entry state."""
    cp = resume
    while cp is not None:
        if cp.depth <= len(pcs) - PATH_TAIL and pcs[cp.depth] == cp.pc:
            st = cp.state.fork()
            st.next_id = list(st.next_id)      # ids the replay makes stay out of the analysis
            return cp.depth, st
        cp = cp.parent
    return 0, an.initial_state()


def _count_lines(pcs: list[int], lines: LineLookup | None) -> tuple[int, str | None]:
    """How many lines describing ``pcs`` would take (one per instruction plus a source line
    whenever it changes), and the last source line shown."""
    if not lines:
        return len(pcs), None
    count, last_line = len(pcs), None
    cache: dict[int, str | None] = {}
    for pc in pcs:
        src = cache[pc] if pc in cache else cache.setdefault(pc, lines(pc))
        if src and src != last_line:
            count += 1
            last_line = src
    return count, last_line


def verify(instructions: Sequence[Instruction], *, prog_type: int | ProgramType,
           maps: Mapping[Any, Any] | None = None, line_info: Any = None, log_level: int = 1,
           privileged: bool = True, insn_limit: int = 1_000_000, state_limit: int = 64 * 1024,
           expected_attach_type: int | None = None, program: str | None = None,
           btf_ctx: tuple[int, ...] | None = None, target_btf: Any = None,
           func_info: Any = None, prog_btf: Any = None,
           raise_on_reject: bool = True) -> VerifierResult:
    """Statically verify ``instructions`` as a program of ``prog_type``. See the package docstring.

    log_level: 0 = reason and source line only; 1 (default) = also the replayed path with register
    states; 2 = also every instruction processed during the whole exploration in ``result.log``.

    ``func_info`` (one (slot, FUNC type id) per subprogram, or pybpf.obj FuncInfo records) with
    ``prog_btf`` (the program's own BTF) is what the kernel gets as prog_btf_fd/func_info: then
    subprograms with global linkage are verified once on their own with arguments typed from their
    prototypes, and calls to them only check the arguments; without it all are static.
    """
    start = time.perf_counter()
    instructions = list(instructions)
    infos = {k: _map_info(str(k), v) for k, v in (maps or {}).items()}
    opts = Options(privileged=privileged, insn_limit=insn_limit, state_limit=state_limit,
                   expected_attach_type=expected_attach_type, btf_ctx=btf_ctx, btf=target_btf)
    lines = _line_lookup(line_info)
    an: Analyzer | None = None
    try:
        shape = analyse_shape(instructions)
        if func_info and prog_btf is not None:
            opts.global_funcs = global_funcs.prepare(shape, prog_btf, func_info, int(prog_type))
        an = Analyzer(shape, int(prog_type), infos, opts)
        if log_level >= 2:
            an.trace = []
        an.run()
        an.check_stack_depths()
    except ProgramRejected as exc:
        pcs = getattr(exc, "path_pcs", None)
        path = explain_path((an.shape, int(prog_type), infos, opts), pcs, lines, an.entry,
                            getattr(exc, "path_checkpoint", None)) \
            if (an is not None and pcs and log_level >= 1) else []
        exc.path_checkpoint = None     # the states stored along the path: only explaining needs them
        src = lines(exc.pc) if (lines and exc.pc is not None) else None
        exc.attach(path=path, source_line=src, program=program)
        elapsed = time.perf_counter() - start
        log = exc.explain()
        if an is not None and an.trace:
            log = "\n".join(an.trace) + "\n" + log
        result = VerifierResult(False, an.processed if an else 0, an.total_states if an else 0,
                                an.peak_states if an else 0,
                                an.max_states_per_insn if an else 0, elapsed, log, exc,
                                dict(an.stack_depth) if an else {})
        if raise_on_reject:
            raise
        return result
    elapsed = time.perf_counter() - start
    result = VerifierResult(True, an.processed, an.total_states, an.peak_states,
                            an.max_states_per_insn, elapsed, "", None, dict(an.stack_depth),
                            {pc: frozenset(t.value for t in types)
                             for pc, types in an.access_types.items()},
                            digest(instructions),
                            {pc: frozenset((int(t), k.value if k is not None else None)
                                           for t, k in calls)
                             for pc, calls in an.map_calls.items()},
                            int(prog_type),
                            frozenset(pc for pc, ok in an.base_in_region.items() if ok))
    result.log = ("\n".join(an.trace) + "\n" if an.trace else "") + result.summary()
    return result


def verify_program(program: Any, obj: Any = None, *, target_btf: Any = None,
                   **kwargs: Any) -> VerifierResult:
    """Verify a pybpf.obj ProgramSpec, using its ObjectSpec's maps and the program's line_info.

    ``target_btf`` (e.g. ``pybpf.btf.load_vmlinux()``) lets BTF-typed tracing programs (tp_btf,
    fentry, fexit, lsm) read their pointer arguments as typed pointers, as the kernel does. The
    program's func_info and the object's BTF make global functions global, as when loading.
    """
    instructions = program.instructions
    if target_btf is not None:
        kwargs["target_btf"] = target_btf
        if getattr(program, "attach_btf", False):
            from .btf_ctx import pointer_args
            kwargs.setdefault("btf_ctx", pointer_args(target_btf, program.section,
                                                      program.attach_to))
        if getattr(program, "core_relos", None) and obj is not None:
            from ..obj import core     # CO-RE offsets as the kernel will see them
            instructions = core.relocate(program, target_btf, obj.btf).instructions
    maps = kwargs.pop("maps", None)
    if maps is None and obj is not None:
        maps = obj.maps
    kwargs.setdefault("line_info", getattr(program, "line_info", None) or None)
    if getattr(program, "func_info", None):
        kwargs.setdefault("func_info", program.func_info)
        kwargs.setdefault("prog_btf", getattr(program, "btf", None) or getattr(obj, "btf", None))
    kwargs.setdefault("program", getattr(program, "name", None))
    eat = getattr(program, "expected_attach_type", None)
    if eat is not None:
        kwargs.setdefault("expected_attach_type", int(eat))
    return verify(instructions, prog_type=program.type, maps=maps, **kwargs)


__all__ = ["verify", "verify_program", "VerifierResult", "MapType", "ProgramType"]
