"""Relocation and bpf-to-bpf linking of code sections into fully linked programs, as libbpf does.

Works on 8-byte instruction slots (what ELF offsets and call immediates count); it never resolves
map fds or kernel addresses -- relocated instructions only get a symbolic ``ref``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import InstructionError, ObjectError
from ..isa.codec import decode
from ..isa.instruction import Instruction
from ..isa.opcodes import CALL, LDDW, CallSrc, PseudoSrc
from .elf import SHN_LORESERVE, SHN_UNDEF, ElfView, Section, Symbol

SLOT = 8
_SLOT = struct.Struct("<BBhi")


@dataclass
class Function:
    """A function symbol inside a code section: an entry program or a subprogram."""
    name: str
    section: Section
    start: int              # first slot within the section
    count: int              # number of slots
    is_subprog: bool        # lives in .text (libbpf: only .text functions can be called)
    bind: str = "STB_GLOBAL"


@dataclass
class Fixup:
    """What a relocation turns one slot into."""
    kind: str               # "map", "data", "call", "func_addr", "kfunc", "ksym", "kconfig"
    ref: str = ""           # map / extern / function name
    addend: int = 0         # data: byte offset into the map value; kconfig: offset in .kconfig
    target_slot: int = 0    # call/func_addr: target slot within ``target_section``
    target_section: int = 0


@dataclass
class MapLocation:
    """Where a map symbol lives, to resolve LDDW relocations against a maps section."""
    name: str
    section: int
    offset: int
    size: int


@dataclass
class LinkedCode:
    """A program's linked slots, with per-slot fixups and where each function landed."""
    slots: list[list[int]]                               # [opcode, regs, off, imm]
    refs: dict[int, Fixup] = field(default_factory=dict)  # slot -> fixup
    placements: list[tuple[Function, int]] = field(default_factory=list)  # (function, slot)


def read_slots(elf_path: str, sec: Section) -> list[list[int]]:
    if sec.size % SLOT:
        raise ObjectError(f"{elf_path}: code section {sec.name!r} is {sec.size} bytes, not a "
                          f"multiple of 8")
    return [list(s) for s in _SLOT.iter_unpack(sec.data)]


def functions_of(elf: ElfView, sec: Section, text_index: int | None) -> list[Function]:
    """FUNC symbols of a code section sorted by offset (a .text without symbols is one function)."""
    funcs = []
    for sym in elf.symbols:
        if sym.shndx != sec.index or sym.type != "STT_FUNC":
            continue
        where = f"{elf.path}: section {sec.name!r}, function {sym.name!r}"
        if sym.value % SLOT or sym.size % SLOT or sym.value + sym.size > sec.size:
            raise ObjectError(f"{where}: bad offset/size {sym.value}/{sym.size}")
        is_sub = sec.index == text_index
        if not is_sub and sym.bind == "STB_LOCAL":
            raise ObjectError(f"{where}: static programs outside .text are not supported "
                              f"(libbpf refuses them too)")
        funcs.append(Function(sym.name, sec, sym.value // SLOT, sym.size // SLOT, is_sub,
                              sym.bind))
    funcs.sort(key=lambda f: f.start)
    for a, b in zip(funcs, funcs[1:]):
        if a.start + a.count > b.start:
            raise ObjectError(f"{elf.path}: section {sec.name!r}: functions {a.name!r} and "
                              f"{b.name!r} overlap")
    return funcs


class Linker:
    """Resolves relocations of every code section, then links each entry program."""

    def __init__(self, elf: ElfView, *, text_index: int | None,
                 map_locations: list[MapLocation], data_maps: dict[int, str],
                 externs: dict[str, "object"]) -> None:
        self.elf = elf
        self.text_index = text_index
        self.map_locations = map_locations
        self.data_maps = data_maps          # section index -> map name
        self.externs = externs              # name -> ExternSpec
        self.code: dict[int, list[list[int]]] = {}
        self.fixups: dict[int, dict[int, Fixup]] = {}
        self.functions: dict[int, list[Function]] = {}

    # --- per-section relocation --------------------------------------------------------------
    def add_section(self, sec: Section) -> list[Function]:
        self.code[sec.index] = read_slots(self.elf.path, sec)
        self.functions[sec.index] = functions_of(self.elf, sec, self.text_index)
        self.fixups[sec.index] = {}
        for rel in self.elf.relocations.get(sec.index, []):
            self._record(sec, rel.offset, self.elf.symbol(
                rel.symbol, where=f"section {sec.name!r} relocation at {rel.offset}"))
        return self.functions[sec.index]

    def _record(self, sec: Section, offset: int, sym: Symbol) -> None:
        slots = self.code[sec.index]
        where = f"{self.elf.path}: section {sec.name!r}, instruction {offset // SLOT}"
        if offset % SLOT or offset // SLOT >= len(slots):
            raise ObjectError(f"{where}: relocation offset {offset} is not an instruction")
        idx = offset // SLOT
        op, _regs, _off, imm = slots[idx]
        if op not in (CALL, LDDW):
            raise ObjectError(f"{where}: relocation against {sym.name!r} on opcode {op:#04x} "
                              f"(only calls and 64-bit loads can be relocated)")
        if op == LDDW and idx + 1 >= len(slots):
            raise ObjectError(f"{where}: truncated 64-bit load")
        fixups = self.fixups[sec.index]
        if sym.is_extern:
            ext = self.externs.get(sym.name)
            if op == CALL:
                fixups[idx] = Fixup("kfunc", sym.name)
            elif ext is not None and getattr(ext, "kind", "") == "kconfig":
                fixups[idx] = Fixup("kconfig", sym.name, addend=getattr(ext, "offset", 0))
            elif ext is not None and getattr(ext, "typeless", False):
                fixups[idx] = Fixup("ksym_addr", sym.name)
            else:
                fixups[idx] = Fixup("ksym", sym.name)
            return
        if op == CALL:
            if (_regs >> 4) != CallSrc.PSEUDO_CALL:
                raise ObjectError(f"{where}: relocation against {sym.name!r} on a helper call")
            target = self.elf.section(sym.shndx)
            if target is None or not target.is_code or sym.value % SLOT:
                raise ObjectError(f"{where}: call relocation against {sym.name!r} does not point "
                                  f"into a code section")
            fixups[idx] = Fixup("call", sym.name, target_slot=sym.value // SLOT + imm + 1,
                                target_section=sym.shndx)
            return
        if sym.shndx == SHN_UNDEF or sym.shndx >= SHN_LORESERVE:
            raise ObjectError(f"{where}: relocation against {sym.name or '?'!r} in special "
                              f"section {sym.shndx:#x} (uninitialised global variable?)")
        target = self.elf.section(sym.shndx)
        if target is None:
            raise ObjectError(f"{where}: relocation against symbol {sym.name!r} in missing "
                              f"section #{sym.shndx}")
        if target.is_code:
            if sym.value % SLOT or imm % SLOT:
                raise ObjectError(f"{where}: misaligned function address {sym.value}+{imm}")
            fixups[idx] = Fixup("func_addr", sym.name,
                                target_slot=(sym.value + imm) // SLOT, target_section=sym.shndx)
            slots[idx][1] = (_regs & 0x0F) | (PseudoSrc.FUNC << 4)   # as libbpf marks it
            return
        if sym.shndx in self.data_maps:
            addend = imm + sym.value
            fixups[idx] = Fixup("data", self.data_maps[sym.shndx], addend=addend)
            return
        for loc in self.map_locations:
            if loc.section == sym.shndx and loc.offset == sym.value:
                fixups[idx] = Fixup("map", loc.name)
                return
        raise ObjectError(f"{where}: relocation against {sym.name or target.name!r} in section "
                          f"{target.name!r}, which holds neither maps nor global data")

    # --- linking -----------------------------------------------------------------------------
    def function_at(self, section: int, slot: int, where: str) -> Function:
        for fn in self.functions.get(section, []):
            if fn.start <= slot < fn.start + fn.count:
                return fn
        sec = self.elf.section(section)
        raise ObjectError(f"{where}: call target slot {slot} of section "
                          f"{sec.name if sec else section!r} is not inside any function")

    def link(self, entry: Function) -> LinkedCode:
        """Copy ``entry`` and, depth-first in call order, every subprogram it reaches."""
        linked = LinkedCode(slots=[])
        placed: dict[int, int] = {}        # id(function) -> slot in linked program
        self._append(linked, entry, placed)
        self._reloc_calls(linked, entry, placed, depth=0)
        return linked

    def _append(self, linked: LinkedCode, fn: Function, placed: dict[int, int]) -> None:
        base = len(linked.slots)
        placed[id(fn)] = base
        linked.placements.append((fn, base))
        code = self.code[fn.section.index]
        fixups = self.fixups[fn.section.index]
        for i in range(fn.count):
            linked.slots.append(list(code[fn.start + i]))
            fix = fixups.get(fn.start + i)
            if fix is not None:
                linked.refs[base + i] = fix

    def _reloc_calls(self, linked: LinkedCode, fn: Function, placed: dict[int, int],
                     depth: int) -> None:
        if depth > 1000:
            raise ObjectError(f"{self.elf.path}: subprogram nesting deeper than 1000")
        base = placed[id(fn)]
        for i in range(fn.count):
            pos = base + i
            op, regs, _off, imm = linked.slots[pos]
            src = regs >> 4
            is_call = op == CALL and src == CallSrc.PSEUDO_CALL
            is_func_addr = op == LDDW and src == PseudoSrc.FUNC
            if not (is_call or is_func_addr):
                continue
            where = (f"{self.elf.path}: section {fn.section.name!r}, function {fn.name!r}, "
                     f"instruction {i}")
            fix = linked.refs.get(pos)
            if fix is not None and fix.kind == "kfunc":
                continue
            if fix is not None and fix.kind in ("call", "func_addr"):
                target_section, target_slot = fix.target_section, fix.target_slot
            elif fix is not None:
                raise ObjectError(f"{where}: unexpected {fix.kind} relocation on a call")
            elif is_func_addr:
                raise ObjectError(f"{where}: function address load without a relocation")
            else:
                target_section = fn.section.index
                target_slot = fn.start + i + imm + 1
            target = self.function_at(target_section, target_slot, where)
            if id(target) not in placed:
                self._append(linked, target, placed)
                self._reloc_calls(linked, target, placed, depth + 1)
            new_imm = placed[id(target)] + (target_slot - target.start) - pos - 1
            linked.slots[pos][3] = new_imm
            linked.refs[pos] = Fixup("call" if is_call else "func_addr", target.name,
                                     target_slot=target_slot, target_section=target_section)


def to_instructions(linked: LinkedCode, where: str) -> tuple[list[Instruction], list[int]]:
    """Decode linked slots into Instructions with symbolic refs; also returns each one's slot."""
    raw = b"".join(_SLOT.pack(op, regs, off, imm) for op, regs, off, imm in linked.slots)
    try:
        insns = decode(raw)
    except InstructionError as exc:
        raise ObjectError(f"{where}: {exc}") from None
    out: list[Instruction] = []
    slots: list[int] = []
    pos = 0
    for insn in insns:
        fix = linked.refs.get(pos)
        if fix is not None:
            insn = _apply(insn, fix)
        out.append(insn)
        slots.append(pos)
        pos += insn.slots
    return out, slots


def _apply(insn: Instruction, fix: Fixup) -> Instruction:
    if fix.kind == "map":
        return insn.with_(src=PseudoSrc.MAP_FD, imm=0, ref=fix.ref)
    if fix.kind in ("data", "kconfig"):
        ref = fix.ref if fix.kind == "data" else ".kconfig"
        return insn.with_(src=PseudoSrc.MAP_VALUE, imm=(fix.addend & 0xFFFFFFFF) << 32, ref=ref,
                          meta={"extern": fix.ref} if fix.kind == "kconfig" else None)
    if fix.kind == "ksym":
        return insn.with_(src=PseudoSrc.BTF_ID, imm=0, ref=fix.ref)
    if fix.kind == "ksym_addr":           # typeless ksym: the loader puts the address in imm
        return insn.with_(src=PseudoSrc.IMM64, imm=0, ref=fix.ref, meta={"ksym": "typeless"})
    if fix.kind == "kfunc":
        return insn.with_(src=CallSrc.KFUNC, imm=0, ref=fix.ref)
    return insn.with_(ref=fix.ref)          # call / func_addr: imm already final
