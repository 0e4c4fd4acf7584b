"""CO-RE: rewrite a linked program's relocated instructions for a target BTF, as libbpf's relo_core.

Pure functions of (instructions, records, local BTF, target BTF); never reads the running kernel
unless the caller passes its BTF. Unresolvable relocations are poisoned exactly like libbpf
(``call 0xbad2310``) and explained in the report; malformed ones raise CORERelocationError.
Type relations live in core_types, access specs and values in core_spec, candidates in
core_candidates; this module patches instructions and drives them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BTFError, CORERelocationError
from ..isa.instruction import Instruction
from ..isa.opcodes import BYTES_SIZE, CALL, LDDW, Class
from .core_candidates import find_candidates, find_candidates_in
from .core_spec import (ENUMVAL_KINDS, FIELD_KINDS, TYPE_KINDS, Spec, _Res, calc, match_spec,
                        parse_spec)
from .core_types import essential_name, essential_name_len, types_are_compat, types_match
from .spec import CORERelo, CORERelocKind as K, ObjectSpec, ProgramSpec

POISON_IMM = 0xBAD2310          # 195896080: "bad relo"

__all__ = ["relocate", "relocate_program", "CORERelocationResult", "RelocationOutcome",
           "POISON_IMM", "essential_name", "essential_name_len", "find_candidates",
           "find_candidates_in", "types_are_compat", "types_match", "parse_spec", "match_spec",
           "calc", "FIELD_KINDS", "TYPE_KINDS", "ENUMVAL_KINDS", "Spec"]


@dataclass
class RelocationOutcome:
    """What happened to one CO-RE record: its instruction, the values, or why it was poisoned."""
    index: int                  # instruction index in the program
    slot: int
    kind: K
    local: str                  # "[5] struct task_struct.pid (0:1 @ offset 4)"
    target: str = ""            # the matching target spec, "" when none
    orig_value: int = 0
    new_value: int = 0
    poisoned: bool = False
    reason: str = ""
    source: str = ""            # "file.bpf.c:42: the C line", when the object has line info

    def __str__(self) -> str:
        head = f"insn #{self.index} <{self.kind.name.lower()}> {self.local}"
        where = f"\n      at {self.source}" if self.source else ""
        if self.poisoned:
            return f"{head}: POISONED ({self.reason}){where}"
        return f"{head} -> {self.target or '-'}: {self.orig_value} -> {self.new_value}{where}"


@dataclass
class CORERelocationResult:
    """New instructions of one program plus a per-record report.

    Slots never move; but a poisoned 64-bit load becomes two ``call 0xbad2310`` instructions (as
    in libbpf), so list indices after it shift by one. ``RelocationOutcome.index`` is the index in
    ``instructions``; use ``slot`` (or ``pybpf.isa.codec.slot_offsets``) to line things up.
    """
    program: str
    instructions: list[Instruction]
    outcomes: list[RelocationOutcome] = field(default_factory=list)

    @property
    def poisoned(self) -> list[RelocationOutcome]:
        return [o for o in self.outcomes if o.poisoned]

    def report(self) -> str:
        lines = [f"prog '{self.program}': {len(self.outcomes)} CO-RE relocation(s), "
                 f"{len(self.poisoned)} poisoned"]
        lines += [f"  #{i}: {o}" for i, o in enumerate(self.outcomes)]
        return "\n".join(lines)


def _poison_insn() -> Instruction:
    return Instruction(CALL, 0, 0, 0, POISON_IMM)


def _poison(insns: list[Instruction], index: int) -> None:
    """Replace insns[index] by ``call 0xbad2310``; a 2-slot LDDW becomes two such calls."""
    poisoned = _poison_insn().with_(meta={"core_poisoned": True})
    if insns[index].is_wide:
        insns[index:index + 1] = [poisoned, poisoned]
    else:
        insns[index] = poisoned


def _patch(insns: list[Instruction], index: int, res: _Res, where: str) -> None:
    insn = insns[index]
    if res.poison:
        _poison(insns, index)
        return
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        if insn.source != 0:
            raise CORERelocationError(f"{where}: ALU instruction with a register operand")
        if res.validate and (insn.imm & 0xFFFFFFFF) != (res.orig & 0xFFFFFFFF):
            raise CORERelocationError(f"{where}: unexpected ALU immediate {insn.imm}, expected "
                                      f"{res.orig}")
        new = res.new & 0xFFFFFFFF
        insns[index] = insn.with_(imm=new - (1 << 32) if new & 0x80000000 else new)
    elif cls in (Class.LDX, Class.ST, Class.STX):
        if res.validate and insn.off != res.orig:
            raise CORERelocationError(f"{where}: unexpected memory offset {insn.off}, expected "
                                      f"{res.orig}")
        if res.new > 0x7FFF:
            raise CORERelocationError(f"{where}: new offset {res.new} does not fit in 16 bits")
        if res.fail_memsz_adjust:
            _poison(insns, index)
            res.poison = True
            return
        new = insn.with_(off=res.new)
        if res.new_sz != res.orig_sz:
            if insn.size_bytes != res.orig_sz:
                raise CORERelocationError(f"{where}: access size {insn.size_bytes} differs from "
                                          f"field size {res.orig_sz}")
            if res.new_sz not in BYTES_SIZE:
                raise CORERelocationError(f"{where}: invalid new access size {res.new_sz}")
            new = new.with_(opcode=(insn.opcode & ~0x18) | BYTES_SIZE[res.new_sz])
        insns[index] = new
    elif insn.opcode == LDDW:
        if insn.src != 0 or insn.off != 0:
            raise CORERelocationError(f"{where}: 64-bit load has an unexpected form")
        if res.validate and insn.imm64 != (res.orig & 0xFFFFFFFFFFFFFFFF):
            raise CORERelocationError(f"{where}: unexpected 64-bit immediate {insn.imm64}, "
                                      f"expected {res.orig}")
        insns[index] = insn.with_(imm=res.new & 0xFFFFFFFFFFFFFFFF)
    else:
        raise CORERelocationError(f"{where}: cannot relocate instruction with opcode "
                                  f"{insn.opcode:#04x}")


def relocate_program(program: ProgramSpec, target_btf: Any, local_btf: Any = None
                     ) -> CORERelocationResult:
    """Apply every CO-RE record of ``program`` against ``target_btf``; returns new instructions.

    ``target_btf`` is one BTF, or a sequence ``[vmlinux, module_btf, ...]`` (module BTFs split
    over vmlinux): like libbpf, modules are searched only for types vmlinux does not have.
    """
    targets = list(target_btf) if isinstance(target_btf, (list, tuple)) else [target_btf]
    if not targets:
        raise CORERelocationError(f"prog {program.name!r}: no target BTF given")
    local_btf = local_btf if local_btf is not None else getattr(program, "btf", None)
    insns = list(program.instructions)
    result = CORERelocationResult(program.name, insns)
    if not program.core_relos:
        return result
    if local_btf is None:
        raise CORERelocationError(f"prog {program.name!r}: has CO-RE relocations but no local "
                                  f"BTF was given")
    cand_cache: dict[int, list[tuple[Any, int]]] = {}
    inserted = 0          # poisoned LDDWs become two instructions: later indices shift
    for n, relo in enumerate(sorted(program.core_relos, key=lambda r: r.slot)):
        source = _source(program, relo.index)
        where = (f"prog {program.name!r} (section {program.section!r}): CO-RE relocation #{n} "
                 f"<{relo.kind.name.lower()}> at insn #{relo.index}"
                 + (f" ({source})" if source else ""))
        index = relo.index + inserted
        if not 0 <= index < len(insns):
            raise CORERelocationError(f"{where}: instruction index out of range")
        before = len(insns)
        try:
            outcome = _relocate_one(relo, index, insns, local_btf, targets, cand_cache,
                                    where)
        except RecursionError:
            raise CORERelocationError(f"{where}: type graph too deep (a cycle in the BTF?)") \
                from None
        except (ValueError, BTFError, IndexError, AttributeError, KeyError, TypeError) as exc:
            raise CORERelocationError(f"{where}: {type(exc).__name__}: {exc}") from None
        inserted += len(insns) - before
        outcome.source = source
        result.outcomes.append(outcome)
    return result


def _source(program: ProgramSpec, index: int) -> str:
    line = program.source_line(index) if program.line_info else None
    if line is None:
        return ""
    return f"{line.file_name.rsplit('/', 1)[-1]}:{line.line}: {line.source.strip()}"


def _relocate_one(relo: CORERelo, index: int, insns: list[Instruction], lb: Any,
                  targets: list[Any], cand_cache: dict[int, list[tuple[Any, int]]], where: str
                  ) -> RelocationOutcome:
    root = lb[relo.type_id]
    try:
        local = parse_spec(lb, relo)
    except ValueError as exc:
        raise CORERelocationError(f"{where}: parsing [{relo.type_id}] {root.kind.name} "
                                  f"{root.name or '<anon>'} + {relo.access} failed: {exc}") from None
    out = RelocationOutcome(index, relo.slot, relo.kind, local.describe())
    if relo.kind == K.TYPE_ID_LOCAL:
        res = _Res(orig=relo.type_id, new=relo.type_id, validate=False)
        _patch(insns, index, res, where)
        out.orig_value = out.new_value = relo.type_id
        return out
    if not root.name:
        raise CORERelocationError(f"{where}: relocations against anonymous types are not "
                                  f"supported (libbpf refuses them too)")
    if relo.type_id not in cand_cache:
        cand_cache[relo.type_id] = find_candidates_in(lb, relo.type_id, targets)
    chosen: _Res | None = None
    chosen_spec: Spec | None = None
    for tb, cid in cand_cache[relo.type_id]:
        targ = match_spec(local, tb, cid)
        if targ is None:
            continue
        res = calc(relo.kind, local, targ)
        if chosen is None:
            chosen, chosen_spec = res, targ
        elif targ.bit_offset != chosen_spec.bit_offset:       # type: ignore[union-attr]
            raise CORERelocationError(f"{where}: field offset ambiguity: {targ.bit_offset} != "
                                      f"{chosen_spec.bit_offset}")  # type: ignore[union-attr]
        elif res.poison != chosen.poison or res.new != chosen.new:
            raise CORERelocationError(f"{where}: relocation decision ambiguity between "
                                      f"candidates: {res.new} != {chosen.new}")
    if chosen is None:
        chosen = calc(relo.kind, local, None)
        if chosen.poison:
            cands = cand_cache[relo.type_id]
            wanted = f"{root.kind.name.lower()} {essential_name(root.name)!r}"
            if not cands:
                out.reason = f"the target BTF has no {wanted}"
            else:
                names = ", ".join(f"[{c}] {b[c].name}" for b, c in cands[:4])
                out.reason = (f"no candidate for {wanted} ({names}) has what "
                              f"{local.describe()} accesses")
    else:
        out.target = chosen_spec.describe()                    # type: ignore[union-attr]
    _patch(insns, index, chosen, where)
    out.orig_value, out.new_value = chosen.orig, chosen.new
    out.poisoned = chosen.poison
    if chosen.poison and not out.reason:
        out.reason = (f"target field {out.target} has an incompatible size for this "
                      f"load/store" if chosen.fail_memsz_adjust else "unresolvable")
    return out


def relocate(spec_or_program: ObjectSpec | ProgramSpec, target_btf: Any, local_btf: Any = None
             ) -> CORERelocationResult | dict[str, CORERelocationResult]:
    """CO-RE for one ProgramSpec (-> result) or every program of an ObjectSpec (-> dict by name)."""
    if isinstance(spec_or_program, ObjectSpec):
        lb = local_btf if local_btf is not None else spec_or_program.btf
        return {name: relocate_program(p, target_btf, lb)
                for name, p in spec_or_program.programs.items()}
    return relocate_program(spec_or_program, target_btf, local_btf)
