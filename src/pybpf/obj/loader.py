"""load_object: ELF bytes -> ObjectSpec (maps, externs, linked programs, BTF and .BTF.ext info).

Deterministic and offline: the same bytes always give the same spec; never looks at the running
kernel and never raises anything but pybpf.errors exceptions for bad input.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any

from ..errors import BPFError, ObjectError
from ..isa.uapi import MapType, ProgramType
from . import btfinfo
from .elf import SHT_NOBITS, SHT_PROGBITS, ElfView, Section, read_elf
from .globals import GlobalVars
from .linker import Function, Linker, MapLocation, to_instructions
from .maps import (LEGACY_MAPS_SECTION, MAPS_SECTION, btf_maps, global_data_kind,
                   global_data_maps, legacy_maps, values_member_offset)
from .structops import struct_ops_maps
from .sections import parse_section_name
from .spec import (BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, ExternSpec, MapSpec, ObjectSpec, ProgramSpec)

MAX_OBJECT_SIZE = 1 << 30


def load_object(source: str | os.PathLike[str] | bytes | bytearray | memoryview, *,
                allow_unknown_sections: bool = False) -> ObjectSpec:
    """Parse an ELF object (path or bytes) into an ObjectSpec."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, path = bytes(source), "<bytes>"
    else:
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_OBJECT_SIZE + 1)
        except OSError as exc:
            raise ObjectError(f"{path}: cannot read object: {exc.strerror}") from None
        if len(data) > MAX_OBJECT_SIZE:
            raise ObjectError(f"{path}: larger than {MAX_OBJECT_SIZE} bytes")
    elf = read_elf(data, path)
    try:
        return _build(elf, data, allow_unknown_sections)
    except BPFError:
        raise
    except (struct.error, ValueError, IndexError, KeyError, TypeError, AttributeError,
            UnicodeDecodeError, RecursionError, OverflowError, ZeroDivisionError) as exc:
        raise ObjectError(f"{path}: malformed object: {type(exc).__name__}: {exc}") from None


def _build(elf: ElfView, data: bytes, allow_unknown: bool) -> ObjectSpec:
    path = elf.path
    btf = btfinfo.load_btf(elf)
    btfinfo.fixup_datasecs(elf, btf)
    btf_ext = btfinfo.load_btf_ext(elf, btf)
    license_ = _license(elf)
    kern_version = _kern_version(elf)
    externs = btfinfo.collect_externs(elf, btf)
    btfinfo.fixup_kconfig_datasec(btf, externs)
    found = _collect_maps(elf, btf, externs)

    text = elf.section_by_name(".text")
    text_index = text.index if text is not None and text.is_code else None
    linker = Linker(elf, text_index=text_index, map_locations=found.locations,
                    data_maps=found.data_maps, externs=externs)
    entries: list[Function] = []
    for sec in elf.sections:
        if not sec.is_code or sec.size == 0:
            continue
        funcs = linker.add_section(sec)
        if sec.index != text_index:
            entries.extend(funcs)
    programs: dict[str, ProgramSpec] = {}
    for fn in entries:
        programs[fn.name] = _program(elf, linker, fn, btf, btf_ext, license_, kern_version,
                                     allow_unknown)

    if found.maps_section is not None:
        _fill_map_values(elf, found.maps_section, found.btf_maps, btf, programs, found.maps)
    for spec in struct_ops_maps(elf, btf, programs):
        _add_map(found.maps, spec, path)

    spec = ObjectSpec(path=path, programs=programs, maps=found.maps, btf=btf, btf_ext=btf_ext,
                      license=license_, kern_version=kern_version, externs=externs)
    by_kind: dict[str, list[MapSpec]] = {"rodata": [], "data": [], "bss": []}
    for m in found.maps.values():
        kind = global_data_kind(m.section, SHT_NOBITS if m.section.startswith(".bss")
                                else SHT_PROGBITS)
        if kind is not None and m.type == MapType.ARRAY:
            by_kind[kind].append(m)
    spec.rodata = GlobalVars("rodata", by_kind["rodata"], btf)
    spec.data = GlobalVars("data", by_kind["data"], btf)
    spec.bss = GlobalVars("bss", by_kind["bss"], btf)
    return spec


@dataclass
class _FoundMaps:
    maps: dict[str, MapSpec] = field(default_factory=dict)
    locations: list[MapLocation] = field(default_factory=list)   # for LDDW map relocations
    data_maps: dict[int, str] = field(default_factory=dict)      # section index -> map name
    btf_maps: list[tuple[MapSpec, int, int]] = field(default_factory=list)
    maps_section: Section | None = None


def _collect_maps(elf: ElfView, btf: Any, externs: dict[str, ExternSpec]) -> _FoundMaps:
    """Every map declared before code is looked at: .maps, legacy maps, global data, .kconfig."""
    found = _FoundMaps()
    found.maps_section = elf.section_by_name(MAPS_SECTION)
    if found.maps_section is not None:
        found.btf_maps = btf_maps(elf, found.maps_section, btf)
        for spec, offset, size in found.btf_maps:
            _add_map(found.maps, spec, elf.path)
            found.locations.append(MapLocation(spec.name, found.maps_section.index, offset,
                                               size))
    legacy_sec = elf.section_by_name(LEGACY_MAPS_SECTION)
    if legacy_sec is not None:
        for spec, offset in legacy_maps(elf, legacy_sec):
            _add_map(found.maps, spec, elf.path)
            found.locations.append(MapLocation(spec.name, legacy_sec.index, offset, 0))
    for spec in global_data_maps(elf, btf):
        _add_map(found.maps, spec, elf.path)
        sec = elf.section_by_name(spec.section)
        assert sec is not None
        found.data_maps[sec.index] = spec.name
    kconfig = [e for e in externs.values() if e.kind == "kconfig"]
    if kconfig:
        size = max(e.offset + e.size for e in kconfig)
        _add_map(found.maps, MapSpec(
            name=".kconfig", type=MapType.ARRAY, key_size=4, value_size=size, max_entries=1,
            flags=BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, contents=[(0, bytes(size))], frozen=True,
            section=".kconfig", value_type=btfinfo.datasec_id(btf, ".kconfig")), elf.path)
    return found


def _add_map(maps: dict[str, MapSpec], spec: MapSpec, path: str) -> None:
    if spec.name in maps:
        raise ObjectError(f"{path}: map {spec.name!r} is defined twice")
    maps[spec.name] = spec


def _license(elf: ElfView) -> str:
    sec = elf.section_by_name("license")
    if sec is None:
        return ""
    return sec.data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _kern_version(elf: ElfView) -> int:
    sec = elf.section_by_name("version")
    if sec is None:
        return 0
    if len(sec.data) != 4:
        raise ObjectError(f"{elf.path}: section 'version' is {len(sec.data)} bytes, expected 4")
    return struct.unpack("<I", sec.data)[0]


def _program(elf: ElfView, linker: Linker, fn: Function, btf: Any, btf_ext: Any,
             license_: str, kern_version: int, allow_unknown: bool) -> ProgramSpec:
    where = f"{elf.path}: section {fn.section.name!r}, program {fn.name!r}"
    # libbpf: SEC("?x") is SEC("x") with autoload off; the '?' is then forgotten
    autoload = not fn.section.name.startswith("?")
    section = fn.section.name[0 if autoload else 1:]
    try:
        info = parse_section_name(section)
    except ObjectError as exc:
        if not allow_unknown:
            raise ObjectError(f"{elf.path}: program {fn.name!r}: {exc}") from None
        info = None
    linked = linker.link(fn)
    insns, slots = to_instructions(linked, where)
    slot_to_index = {slot: i for i, slot in enumerate(slots)}
    func_info, line_info, core_relos = btfinfo.relocate_ext_info(
        btf, btf_ext, linked.placements, slot_to_index, where)
    subprogs = [f.name for f, _ in linked.placements[1:]]
    if info is None:
        return ProgramSpec(name=fn.name, section=section, type=ProgramType.UNSPEC,
                           expected_attach_type=None, attach_to="", instructions=insns,
                           license=license_, kern_version=kern_version, func_info=func_info,
                           line_info=line_info, core_relos=core_relos, autoattach=False,
                           subprograms=subprogs, section_known=False, btf=btf,
                           autoload=autoload)
    return ProgramSpec(name=fn.name, section=section, type=info.prog_type,
                       expected_attach_type=info.expected_attach_type, attach_to=info.attach_to,
                       instructions=insns, license=license_, kern_version=kern_version,
                       flags=info.prog_flags, func_info=func_info, line_info=line_info,
                       core_relos=core_relos, autoattach=info.autoattach,
                       attach_btf=info.attach_btf, subprograms=subprogs, btf=btf,
                       autoload=autoload)


def _fill_map_values(elf: ElfView, maps_sec: Section, entries: list[tuple[MapSpec, int, int]],
                     btf: Any, programs: dict[str, ProgramSpec], maps: dict[str, MapSpec]
                     ) -> None:
    """``.rel.maps``: initial slots of PROG_ARRAY / *_OF_MAPS maps (``.values = {...}``)."""
    rels = elf.relocations.get(maps_sec.index, [])
    for rel in rels:
        where = f"{elf.path}: section '.maps', relocation at offset {rel.offset}"
        sym = elf.symbol(rel.symbol, where=where)
        owner = None
        for spec, offset, size in entries:
            if offset <= rel.offset < offset + size:
                owner = (spec, offset)
                break
        if owner is None:
            raise ObjectError(f"{where}: not inside any map definition")
        spec, offset = owner
        values_off = values_member_offset(btf, spec)
        if values_off is None or rel.offset < offset + values_off:
            raise ObjectError(f"{where}: map {spec.name!r} relocation outside its 'values'")
        delta = rel.offset - offset - values_off
        if delta % 8:
            raise ObjectError(f"{where}: misaligned 'values' slot in map {spec.name!r}")
        index = delta // 8
        if index >= spec.max_entries:
            raise ObjectError(f"{where}: map {spec.name!r} slot {index} >= max_entries "
                              f"{spec.max_entries}")
        if spec.type == MapType.PROG_ARRAY:
            if sym.name not in programs:
                raise ObjectError(f"{where}: map {spec.name!r} slot {index} names {sym.name!r}, "
                                  f"which is not a program of this object")
        elif sym.name not in maps or sym.shndx != maps_sec.index:
            raise ObjectError(f"{where}: map {spec.name!r} slot {index} names {sym.name!r}, "
                              f"which is not a map of this object")
        spec.contents.append((index, sym.name))
    for spec, _, _ in entries:
        spec.contents.sort(key=lambda kv: kv[0])
