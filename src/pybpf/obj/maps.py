"""Map definitions of an ELF object -> MapSpec: BTF-defined ``.maps``, legacy ``maps``, global data.

Reads the ELF view and the object's BTF only; never creates a map and never touches the kernel.
"""
from __future__ import annotations

import struct
from typing import Any

from ..errors import BTFError, ObjectError
from ..isa.uapi import MapType
from .elf import SHT_NOBITS, ElfView, Section
from .spec import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MapSpec, Pinning

MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
_INT_ATTRS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size",
              "pinning", "map_extra")
_OBJ_NAME_LEN = 16
MAX_GLOBAL_DATA_SIZE = 16 << 20     # far above the kernel's array value_size limit (KMALLOC_MAX)


def global_data_kind(name: str, sec_type: int) -> str | None:
    """'data' / 'rodata' / 'bss' for sections libbpf turns into internal maps, else None."""
    if sec_type == SHT_NOBITS:
        return "bss" if name == ".bss" or name.startswith(".bss.") else None
    if name == ".data" or name.startswith(".data."):
        return "data"
    if name == ".rodata" or name.startswith(".rodata."):
        return "rodata"
    return None


def kernel_map_name(object_name: str, map_name: str, *, internal: bool) -> str:
    """The (<= 15 character) name libbpf gives a map in the kernel (internal_map_name rules)."""
    if not internal:
        return map_name[:_OBJ_NAME_LEN - 1]
    sfx_len = min(max(7, len(map_name)), _OBJ_NAME_LEN - 1)
    pfx_len = 0 if "." in map_name[1:] else min(_OBJ_NAME_LEN - sfx_len - 1, len(object_name))
    name = object_name[:pfx_len] + map_name[:sfx_len]
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)


def global_data_maps(elf: ElfView, btf: Any) -> list[MapSpec]:
    """One single-entry ARRAY per non-empty .data*/.rodata*/.bss* section, contents included."""
    out = []
    for sec in elf.sections:
        kind = global_data_kind(sec.name, sec.type)
        if kind is None or sec.size == 0 or sec.is_code:
            continue
        if sec.size > MAX_GLOBAL_DATA_SIZE:
            raise ObjectError(f"{elf.path}: global data section {sec.name!r} is {sec.size} bytes, "
                              f"more than any kernel array map value can hold")
        datasec_id = _find_datasec(btf, sec.name)
        flags = BPF_F_RDONLY_PROG if kind == "rodata" else 0
        if datasec_id is not None and _has_global_var(btf, datasec_id):
            flags |= BPF_F_MMAPABLE
        contents = bytes(sec.size) if kind == "bss" else bytes(sec.data)
        out.append(MapSpec(name=sec.name, type=MapType.ARRAY, key_size=4, value_size=sec.size,
                           max_entries=1, flags=flags, contents=[(0, contents)],
                           key_type=None, value_type=datasec_id, frozen=kind == "rodata",
                           section=sec.name, btf_var=datasec_id))
    return out


def _find_datasec(btf: Any, name: str) -> int | None:
    if btf is None:
        return None
    from ..btf import Kind
    try:
        found = btf.find(name, Kind.DATASEC)
    except BTFError:
        return None
    return found[0].id if found else None


def _has_global_var(btf: Any, datasec_id: int) -> bool:
    from ..btf import LINKAGE_STATIC, Var
    for vsi in btf[datasec_id].vars:
        t = btf[vsi.type_id]
        if isinstance(t, Var) and t.linkage != LINKAGE_STATIC:
            return True
    return False


# --- legacy "maps" section ---------------------------------------------------------------------
def legacy_maps(elf: ElfView, sec: Section) -> list[tuple[MapSpec, int]]:
    """struct bpf_map_def entries, named by the symbols in the section; (spec, offset) pairs."""
    syms = sorted((s for s in elf.symbols if s.shndx == sec.index and s.name
                   and s.type in ("STT_OBJECT", "STT_NOTYPE")), key=lambda s: s.value)
    if not syms:
        return []
    def_size = sec.size // len(syms)
    if def_size < 20 or def_size % 4:
        raise ObjectError(f"{elf.path}: section 'maps': {len(syms)} maps in {sec.size} bytes "
                          f"do not form struct bpf_map_def entries")
    out = []
    for sym in syms:
        if sym.value + 20 > len(sec.data) or sym.value % 4:
            raise ObjectError(f"{elf.path}: section 'maps': map {sym.name!r} at offset "
                              f"{sym.value} is outside the section or misaligned")
        fields = struct.unpack_from("<5I", sec.data, sym.value)
        extra = sec.data[sym.value + 20:sym.value + def_size]
        numa = struct.unpack_from("<I", extra, 4)[0] if len(extra) >= 8 else 0
        try:
            map_type = MapType(fields[0])
        except ValueError:
            raise ObjectError(f"{elf.path}: section 'maps': map {sym.name!r} has unknown type "
                              f"{fields[0]}") from None
        out.append((MapSpec(name=sym.name, type=map_type, key_size=fields[1],
                            value_size=fields[2], max_entries=fields[3], flags=fields[4],
                            numa_node=numa, section=LEGACY_MAPS_SECTION), sym.value))
    return out


# --- BTF-defined ".maps" -----------------------------------------------------------------------
def btf_maps(elf: ElfView, sec: Section, btf: Any) -> list[tuple[MapSpec, int, int]]:
    """Maps declared in ``.maps``; returns (spec, offset, size) so relocations can find them."""
    where = f"{elf.path}: section '.maps'"
    if btf is None:
        raise ObjectError(f"{where}: BTF-defined maps need the object's .BTF section, which is "
                          f"missing")
    from ..btf import Datasec, Kind, Var
    found = btf.find(MAPS_SECTION, Kind.DATASEC)
    if not found:
        raise ObjectError(f"{where}: no DATASEC '.maps' in the object's BTF")
    datasec = found[0]
    assert isinstance(datasec, Datasec)
    out = []
    for vsi in datasec.vars:
        var = btf[vsi.type_id]
        if not isinstance(var, Var):
            raise ObjectError(f"{where}: DATASEC entry {vsi.type_id} is not a VAR")
        spec = parse_map_def(btf, var.name, var.type_id, where=f"{where}, map {var.name!r}")
        spec.section = MAPS_SECTION
        spec.btf_var = var.id
        # clang leaves DATASEC offsets for libbpf to fill in: the ELF symbol is the truth
        sym = next((s for s in elf.symbols if s.shndx == sec.index and s.name == var.name),
                   None)
        if sym is None:
            raise ObjectError(f"{where}: map {var.name!r} has no ELF symbol")
        size = sym.size or btf.size_of(var.type_id)
        if sym.value + size > sec.size:
            raise ObjectError(f"{where}: map {var.name!r} extends past the section end")
        out.append((spec, sym.value, size))
    return out


def parse_map_def(btf: Any, name: str, type_id: int, *, where: str,
                  is_inner: bool = False) -> MapSpec:
    """Decode one map-definition struct (``__uint``/``__type``/``__array`` members)."""
    from ..btf import Array, Composite, FuncProto, Ptr
    try:
        struct_t = btf.resolve(type_id)
    except BTFError as exc:
        raise ObjectError(f"{where}: {exc}") from None
    if not isinstance(struct_t, Composite) or struct_t.kind.name != "STRUCT":
        raise ObjectError(f"{where}: map definition is not a struct")
    ints: dict[str, int] = {}
    key_type = value_type = None
    inner: MapSpec | None = None
    values_is_prog = False
    for member in struct_t.members:
        mname = member.name
        mtype = btf.resolve(member.type_id)
        if mname in _INT_ATTRS:
            if not isinstance(mtype, Ptr):
                raise ObjectError(f"{where}: attribute {mname!r} must be __uint() (a pointer to "
                                  f"an array), got {mtype.kind.name}")
            arr = btf.resolve(mtype.type_id)
            if not isinstance(arr, Array):
                raise ObjectError(f"{where}: attribute {mname!r} must be __uint()")
            ints[mname] = arr.nelems
        elif mname in ("key", "value"):
            if not isinstance(mtype, Ptr):
                raise ObjectError(f"{where}: {mname!r} must be __type(), got {mtype.kind.name}")
            try:
                size = btf.size_of(mtype.type_id)
            except BTFError as exc:
                raise ObjectError(f"{where}: {mname} type has no size: {exc}") from None
            prev = ints.get(f"{mname}_size")
            if prev is not None and prev != size:
                raise ObjectError(f"{where}: {mname}_size {prev} conflicts with __type({mname}) "
                                  f"of size {size}")
            ints[f"{mname}_size"] = size
            if mname == "key":
                key_type = mtype.type_id
            else:
                value_type = mtype.type_id
        elif mname == "values":
            if is_inner:
                raise ObjectError(f"{where}: an inner map cannot itself have __array(values)")
            arr = btf.resolve(member.type_id)
            if not isinstance(arr, Array) or arr.nelems != 0:
                raise ObjectError(f"{where}: 'values' must be __array(values, ...)")
            ptr = btf.resolve(arr.type_id)
            if not isinstance(ptr, Ptr):
                raise ObjectError(f"{where}: 'values' elements must be pointers")
            target = btf.resolve(ptr.type_id)
            if isinstance(target, FuncProto):
                values_is_prog = True
            else:
                inner = parse_map_def(btf, f"{name}.inner", ptr.type_id,
                                      where=f"{where} (inner map)", is_inner=True)
        else:
            raise ObjectError(f"{where}: unknown map attribute {mname!r}")
    if "type" not in ints:
        raise ObjectError(f"{where}: map type is not set (__uint(type, ...))")
    try:
        map_type = MapType(ints["type"])
    except ValueError:
        raise ObjectError(f"{where}: unknown map type {ints['type']}") from None
    if values_is_prog and map_type != MapType.PROG_ARRAY:
        raise ObjectError(f"{where}: __array(values) of programs needs a PROG_ARRAY map")
    if inner is not None and map_type not in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        raise ObjectError(f"{where}: __array(values) of maps needs an ARRAY/HASH_OF_MAPS map")
    value_size = ints.get("value_size", 0)
    if inner is not None and "value_size" not in ints:
        value_size = 4
    if map_type == MapType.PROG_ARRAY and "value_size" not in ints and values_is_prog:
        value_size = 4
    try:
        pinning = Pinning(ints.get("pinning", 0))
    except ValueError:
        raise ObjectError(f"{where}: unsupported pinning {ints['pinning']}") from None
    return MapSpec(name=name, type=map_type, key_size=ints.get("key_size", 0),
                   value_size=value_size, max_entries=ints.get("max_entries", 0),
                   flags=ints.get("map_flags", 0), numa_node=ints.get("numa_node", 0),
                   pinning=pinning, map_extra=ints.get("map_extra", 0), inner=inner,
                   key_type=key_type, value_type=value_type)


def values_member_offset(btf: Any, spec: MapSpec) -> int | None:
    """Byte offset of the ``values`` member in a BTF-defined map struct (for .rel.maps)."""
    from ..btf import Composite
    if spec.btf_var is None:
        return None
    struct_t = btf.resolve(btf[spec.btf_var].type_id)
    if not isinstance(struct_t, Composite):
        return None
    m = struct_t.member("values")
    return None if m is None else m.bit_offset // 8
