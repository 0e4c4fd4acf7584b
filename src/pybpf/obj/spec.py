"""The parsed shape of a BPF ELF object: ObjectSpec, ProgramSpec, MapSpec and their records.

Plain dataclasses filled by ``load_object``; they never look at the running kernel or hold fds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..btf.ext import CoreReloKind
from ..isa.instruction import Instruction
from ..isa.uapi import AttachType, MapType, ProgramType

# prog_flags of BPF_PROG_LOAD that section names imply
BPF_F_SLEEPABLE = 1 << 4
BPF_F_XDP_HAS_FRAGS = 1 << 5

# map_flags the object layer sets itself
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10
BPF_F_LINK = 1 << 13


class Pinning(IntEnum):
    """``__uint(pinning, ...)`` of a BTF-defined map (enum libbpf_pin_type)."""
    NONE = 0
    BY_NAME = 1


# enum bpf_core_relo_kind: one definition, in the BTF layer that parses the records.
CORERelocKind = CoreReloKind


@dataclass(frozen=True)
class FuncInfo:
    """A bpf_func_info record in a linked program: where a function starts and its BTF FUNC id.

    ``index`` is the position in ``ProgramSpec.instructions``; ``slot`` is the same place counted
    in 8-byte slots (an LDDW counts 2), which is what the kernel's ``insn_off`` wants.
    """
    index: int
    slot: int
    type_id: int
    name: str = ""


@dataclass(frozen=True)
class LineInfo:
    """A bpf_line_info record in a linked program (``index``/``slot`` as in FuncInfo)."""
    index: int
    slot: int
    file_name_off: int
    line_off: int
    line: int
    column: int
    file_name: str = ""
    source: str = ""


@dataclass(frozen=True)
class CORERelo:
    """A bpf_core_relo record in a linked program (``index``/``slot`` as in FuncInfo).

    ``type_id`` is the root type in the object's BTF, ``access`` the access string ("0:1:2").
    """
    index: int
    slot: int
    type_id: int
    access: str
    kind: CORERelocKind
    access_str_off: int = 0


@dataclass
class MapSpec:
    """One map the object declares (BTF-defined, legacy ``maps``, global data, kconfig).

    ``contents`` holds initial entries as ``(key, value)``: for global-data arrays
    ``[(0, bytes)]``; for PROG_ARRAY slots filled by ``.maps`` relocations ``(index, "prog name")``;
    for ARRAY/HASH_OF_MAPS ``(index, "map name")``.
    """
    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    numa_node: int = 0
    pinning: Pinning = Pinning.NONE
    map_extra: int = 0
    inner: "MapSpec | None" = None
    contents: list[tuple[Any, Any]] = field(default_factory=list)
    key_type: int | None = None        # BTF type id in ObjectSpec.btf (None when unknown)
    value_type: int | None = None
    frozen: bool = False               # .rodata / .kconfig: freeze after filling contents
    section: str = ""                  # ELF section it came from
    btf_var: int | None = None         # BTF VAR/DATASEC id (BTF-defined maps / global data)
    struct_ops: dict[str, str] = field(default_factory=dict)   # STRUCT_OPS: member -> program
    autocreate: bool = True            # False for SEC("?.struct_ops") maps

    @property
    def is_global_data(self) -> bool:
        return self.section.startswith((".data", ".rodata", ".bss", ".kconfig"))


@dataclass
class ProgramSpec:
    """One program, fully linked: subprograms appended, calls fixed, map refs named."""
    name: str
    section: str
    type: ProgramType
    expected_attach_type: AttachType | None
    attach_to: str                     # what follows the section prefix ("syscalls/sys_enter_x")
    instructions: list[Instruction]
    license: str = ""
    kern_version: int = 0
    flags: int = 0                     # BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ...
    func_info: list[FuncInfo] = field(default_factory=list)
    line_info: list[LineInfo] = field(default_factory=list)
    core_relos: list[CORERelo] = field(default_factory=list)
    autoattach: bool = True
    attach_btf: bool = False           # section names a BTF attach target (fentry, lsm, tp_btf..)
    subprograms: list[str] = field(default_factory=list)   # names of the appended subprograms
    section_known: bool = True         # False when loaded with allow_unknown_sections=True
    btf: Any = field(default=None, repr=False, compare=False)   # the object's BTF (local BTF)
    autoload: bool = True              # False for SEC("?...") (libbpf: not loaded by default)

    @property
    def sleepable(self) -> bool:
        return bool(self.flags & BPF_F_SLEEPABLE)

    def source_line(self, index: int) -> LineInfo | None:
        """The line_info record covering instruction ``index`` (the last one at or before it)."""
        best = None
        for rec in self.line_info:
            if rec.index <= index and (best is None or rec.index >= best.index):
                best = rec
        return best

    @property
    def map_refs(self) -> list[str]:
        """Names of the maps this program's instructions reference, in first-use order."""
        seen: dict[str, None] = {}
        for insn in self.instructions:
            if insn.is_map_load and insn.ref:
                seen.setdefault(insn.ref, None)
        return list(seen)


@dataclass
class ExternSpec:
    """An ``extern`` the object needs resolved at load (.kconfig value or .ksyms kernel symbol)."""
    name: str
    kind: str                          # "kconfig" | "ksym"
    btf_id: int | None = None          # VAR or FUNC id in the object's BTF
    offset: int = 0                    # offset inside the .kconfig map (kconfig only)
    size: int = 0
    is_func: bool = False              # ksym: a kfunc (called) rather than a variable (LDDW)
    weak: bool = False
    typeless: bool = False             # ksym declared ``extern const void x __ksym``: an address


@dataclass
class ObjectSpec:
    """Everything one ELF object declares, parsed once and never touching the kernel.

    ``rodata``/``data``/``bss`` set initial values of global variables by name (typed through the
    DATASEC BTF); ``kconfig`` holds values for ``.kconfig`` externs, supplied by the loader.
    """
    path: str
    programs: dict[str, ProgramSpec]
    maps: dict[str, MapSpec]
    btf: Any = None                    # pybpf.btf.BTF | None
    btf_ext: Any = None                # pybpf.btf ext info | None
    license: str = ""
    kern_version: int = 0
    externs: dict[str, ExternSpec] = field(default_factory=dict)
    kconfig: dict[str, Any] = field(default_factory=dict)
    rodata: Any = None                 # pybpf.obj.globals.GlobalVars
    data: Any = None
    bss: Any = None

    @property
    def ksyms(self) -> dict[str, ExternSpec]:
        return {n: e for n, e in self.externs.items() if e.kind == "ksym"}

    @property
    def kconfig_externs(self) -> dict[str, ExternSpec]:
        return {n: e for n, e in self.externs.items() if e.kind == "kconfig"}

    def program(self, name: str) -> ProgramSpec:
        from ..errors import ObjectError
        try:
            return self.programs[name]
        except KeyError:
            raise ObjectError(f"{self.path}: no program named {name!r} "
                              f"(have: {', '.join(sorted(self.programs)) or 'none'})") from None
