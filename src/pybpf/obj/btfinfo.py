"""The object's BTF side: .BTF / .BTF.ext loading (via pybpf.btf), externs, and re-indexing of
func_info / line_info / CO-RE records onto linked programs.

Uses pybpf.btf for all decoding (never parses BTF itself) and never looks at the kernel's BTF.
"""
from __future__ import annotations

from typing import Any

from ..errors import BTFError, ObjectError
from .elf import ElfView
from .linker import SLOT, Function
from .spec import CORERelo, CORERelocKind, ExternSpec, FuncInfo, LineInfo


def load_btf(elf: ElfView) -> Any:
    sec = elf.section_by_name(".BTF")
    if sec is None:
        return None
    from ..btf import BTF
    try:
        return BTF.parse(sec.data, source=f"{elf.path}: .BTF")
    except BTFError as exc:
        raise ObjectError(f"{elf.path}: section '.BTF': {exc}") from None


def load_btf_ext(elf: ElfView, btf: Any) -> Any:
    sec = elf.section_by_name(".BTF.ext")
    if sec is None or btf is None:
        return None
    try:
        from ..btf.ext import BTFExt
    except ImportError:            # pragma: no cover - .BTF.ext support not built yet
        return None
    try:
        return BTFExt.parse(sec.data, btf)
    except BTFError as exc:
        raise ObjectError(f"{elf.path}: section '.BTF.ext': {exc}") from None


def datasec_id(btf: Any, name: str) -> int | None:
    if btf is None:
        return None
    from ..btf import Kind
    found = btf.find(name, Kind.DATASEC)
    return found[0].id if found else None


def essential_name(name: str) -> str:
    """libbpf's bpf_core_essential_name_len: strip a ``___flavor`` suffix."""
    pos = name.rfind("___")
    return name[:pos] if pos > 0 else name


def collect_externs(elf: ElfView, btf: Any) -> dict[str, ExternSpec]:
    """Undefined global symbols -> ExternSpec, classified by their DATASEC (.kconfig / .ksyms)."""
    names = [s for s in elf.symbols if s.is_extern]
    if not names:
        return {}
    by_name: dict[str, tuple[str, int, Any]] = {}
    from ..btf import Kind
    if btf is not None:
        from ..btf import Datasec, Func, Var
        for sec_name in (".kconfig", ".ksyms"):
            sid = datasec_id(btf, sec_name)
            if sid is None:
                continue
            ds = btf[sid]
            assert isinstance(ds, Datasec)
            for vsi in ds.vars:
                t = btf[vsi.type_id]
                if isinstance(t, (Var, Func)):
                    by_name[t.name] = (sec_name, t.id, t)
    out: list[ExternSpec] = []
    for sym in names:
        where = f"{elf.path}: extern {sym.name!r}"
        found = by_name.get(sym.name)
        weak = sym.bind == "STB_WEAK"
        if found is None:
            # no BTF to say otherwise: a kernel symbol (called -> kfunc, loaded -> ksym)
            out.append(ExternSpec(sym.name, "ksym", None, weak=weak,
                                  is_func=sym.type == "STT_FUNC"))
            continue
        sec_name, type_id, t = found
        from ..btf import Func
        if sec_name == ".kconfig":
            if isinstance(t, Func):
                raise ObjectError(f"{where}: extern functions are not allowed in .kconfig")
            try:
                size = btf.size_of(t.type_id)
                align = btf.align_of(t.type_id)
            except BTFError as exc:
                raise ObjectError(f"{where}: {exc}") from None
            out.append(ExternSpec(sym.name, "kconfig", type_id, size=size, weak=weak,
                                  offset=align))          # offset holds align until laid out
        else:
            typeless = False
            if not isinstance(t, Func):
                try:
                    typeless = btf.resolve(t.type_id).kind == Kind.UNKN
                except BTFError as exc:
                    raise ObjectError(f"{where}: {exc}") from None
            out.append(ExternSpec(sym.name, "ksym", type_id, weak=weak,
                                  is_func=isinstance(t, Func), typeless=typeless))
    # lay out kconfig externs like libbpf: descending alignment, ascending size, then name
    kcfg = sorted((e for e in out if e.kind == "kconfig"), key=lambda e: (-e.offset, e.size,
                                                                        e.name))
    off = 0
    for ext in kcfg:
        align = ext.offset
        off = (off + align - 1) // align * align
        ext.offset = off
        off += ext.size
    ksym = sorted((e for e in out if e.kind == "ksym"), key=lambda e: e.name)
    return {e.name: e for e in [*kcfg, *ksym]}


def _records(btf_ext: Any, attr: str, section: str) -> list[Any]:
    if btf_ext is None:
        return []
    table = getattr(btf_ext, attr, None) or {}
    return list(table.get(section, []))


def relocate_ext_info(btf: Any, btf_ext: Any, placements: list[tuple[Function, int]],
                      slot_to_index: dict[int, int], where: str
                      ) -> tuple[list[FuncInfo], list[LineInfo], list[CORERelo]]:
    """Move each function's .BTF.ext records to where the linker placed that function."""
    funcs: list[FuncInfo] = []
    lines: list[LineInfo] = []
    relos: list[CORERelo] = []
    for fn, base in placements:
        lo, hi = fn.start * SLOT, (fn.start + fn.count) * SLOT

        def place(rec: Any) -> tuple[int, int] | None:
            off = rec.insn_off
            if not lo <= off < hi:
                return None
            if off % SLOT:
                raise ObjectError(f"{where}: .BTF.ext record at byte {off} is not on an "
                                  f"instruction boundary")
            slot = base + (off - lo) // SLOT
            if slot not in slot_to_index:
                raise ObjectError(f"{where}: .BTF.ext record points into the middle of a "
                                  f"64-bit load (slot {slot})")
            return slot_to_index[slot], slot

        for rec in _records(btf_ext, "func_info", fn.section.name):
            placed = place(rec)
            if placed:
                name = _type_name(btf, rec.type_id)
                funcs.append(FuncInfo(placed[0], placed[1], rec.type_id, name))
        for rec in _records(btf_ext, "line_info", fn.section.name):
            placed = place(rec)
            if placed:
                lines.append(LineInfo(placed[0], placed[1], rec.file_name_off, rec.line_off,
                                      _line_number(rec), _line_column(rec),
                                      getattr(rec, "file_name", None)
                                      or _string(btf, rec.file_name_off),
                                      getattr(rec, "text", None) or _string(btf, rec.line_off)))
        for rec in _records(btf_ext, "core_relos", fn.section.name):
            placed = place(rec)
            if placed:
                access_off = getattr(rec, "access_str_off", 0)
                access = getattr(rec, "access_str", None)
                if access is None:
                    access = _string(btf, access_off)
                try:
                    kind = CORERelocKind(int(rec.kind))
                except ValueError:
                    raise ObjectError(f"{where}: unknown CO-RE relocation kind "
                                      f"{int(rec.kind)}") from None
                relos.append(CORERelo(placed[0], placed[1], rec.type_id, access, kind,
                                      access_off))
    funcs.sort(key=lambda r: r.slot)
    lines.sort(key=lambda r: r.slot)
    relos.sort(key=lambda r: r.slot)
    return funcs, lines, relos


def _line_number(rec: Any) -> int:
    if hasattr(rec, "line"):
        return int(rec.line)
    return int(rec.line_col) >> 10


def _line_column(rec: Any) -> int:
    if hasattr(rec, "column"):
        return int(rec.column)
    return int(rec.line_col) & 0x3FF


def _string(btf: Any, off: int) -> str:
    if btf is None:
        return ""
    try:
        return btf.string_at(off)
    except (BTFError, ValueError):
        return ""


def _type_name(btf: Any, type_id: int) -> str:
    if btf is None:
        return ""
    try:
        return btf[type_id].name
    except BTFError:
        return ""


def fixup_datasecs(elf: ElfView, btf: Any) -> None:
    """Fill DATASEC sizes and variable offsets from the ELF file, as libbpf's btf_fixup_datasec.

    clang leaves them zero in relocatable objects; the ELF section size and symbol values are the
    truth. Variables are then sorted by offset. .kconfig/.ksyms are laid out by collect_externs.
    """
    if btf is None:
        return
    from ..btf import Datasec, Kind
    for ds in list(btf.types(Kind.DATASEC)):
        assert isinstance(ds, Datasec)
        if ds.name in (".kconfig", ".ksyms"):
            continue
        sec = elf.section_by_name(ds.name)
        if sec is None:
            raise ObjectError(f"{elf.path}: BTF DATASEC {ds.name!r} has no ELF section")
        symbols = {s.name: s.value for s in elf.symbols
                   if s.shndx == sec.index and s.type in ("STT_OBJECT", "STT_NOTYPE")}
        for vsi in ds.vars:
            name = btf[vsi.type_id].name
            if name not in symbols:
                raise ObjectError(f"{elf.path}: DATASEC {ds.name!r}: variable {name!r} has "
                                  f"no ELF symbol")
        try:
            btf.fixup_datasec(ds.name, sec.size, symbols)
        except BTFError as exc:
            raise ObjectError(f"{elf.path}: {exc}") from None
        _hide_restricted_vars(elf, btf, ds, sec.index)


def _hide_restricted_vars(elf: ElfView, btf: Any, ds: Any, shndx: int) -> None:
    """libbpf: a global whose symbol is STV_HIDDEN/STV_INTERNAL counts as static (which decides,
    among other things, whether the section's map is BPF_F_MMAPABLE)."""
    from dataclasses import replace

    from ..btf import LINKAGE_STATIC, Var
    hidden = {s.name for s in elf.symbols if s.shndx == shndx
              and s.visibility in ("STV_HIDDEN", "STV_INTERNAL")}
    if not hidden:
        return
    for vsi in ds.vars:
        var = btf[vsi.type_id]
        if isinstance(var, Var) and var.name in hidden and var.linkage != LINKAGE_STATIC:
            btf[var.id] = replace(var, linkage=LINKAGE_STATIC)


def fixup_kconfig_datasec(btf: Any, externs: dict[str, ExternSpec]) -> None:
    """Give .kconfig DATASEC entries the offsets collect_externs assigned (libbpf does the same)."""
    sid = datasec_id(btf, ".kconfig")
    if sid is None:
        return
    from dataclasses import replace

    from ..btf import VarSecinfo
    ds = btf[sid]
    new_vars = []
    for vsi in ds.vars:
        ext = externs.get(btf[vsi.type_id].name)
        new_vars.append(VarSecinfo(vsi.type_id, ext.offset if ext else vsi.offset, vsi.size))
    size = max((e.offset + e.size for e in externs.values() if e.kind == "kconfig"), default=0)
    btf[sid] = replace(ds, size=size, vars=tuple(sorted(new_vars, key=lambda v: v.offset)))
