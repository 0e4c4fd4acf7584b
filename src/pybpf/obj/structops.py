"""``.struct_ops`` / ``.struct_ops.link`` sections -> STRUCT_OPS MapSpecs, as libbpf does.

Records each variable's bytes and which program each function-pointer member names; never
resolves the kernel's struct (the loader does that against its kernel BTF).
"""
from __future__ import annotations

from typing import Any

from ..errors import BTFError, ObjectError
from ..isa.uapi import MapType
from .elf import ElfView
from .spec import BPF_F_LINK, MapSpec, ProgramSpec

SECTIONS = (".struct_ops", ".struct_ops.link", "?.struct_ops", "?.struct_ops.link")


def struct_ops_maps(elf: ElfView, btf: Any, programs: dict[str, ProgramSpec]) -> list[MapSpec]:
    out: list[MapSpec] = []
    for sec in elf.sections:
        if sec.name not in SECTIONS:
            continue
        where = f"{elf.path}: section {sec.name!r}"
        if btf is None:
            raise ObjectError(f"{where}: struct_ops maps need the object's BTF")
        from ..btf import Datasec, Kind, Struct, Var
        found = btf.find(sec.name, Kind.DATASEC)
        if not found:
            raise ObjectError(f"{where}: no DATASEC {sec.name!r} in the object's BTF")
        datasec = found[0]
        assert isinstance(datasec, Datasec)
        plain = sec.name.lstrip("?")
        rels = elf.relocations.get(sec.index, [])
        for vsi in datasec.vars:
            var = btf[vsi.type_id]
            if not isinstance(var, Var):
                raise ObjectError(f"{where}: DATASEC entry {vsi.type_id} is not a variable")
            try:
                st = btf.resolve(var.type_id)
            except BTFError as exc:
                raise ObjectError(f"{where}, map {var.name!r}: {exc}") from None
            if not isinstance(st, Struct) or not st.name:
                raise ObjectError(f"{where}, map {var.name!r}: struct_ops variables must be of a "
                                  f"named struct type")
            offset = vsi.offset
            if offset + st.size > sec.size:
                raise ObjectError(f"{where}, map {var.name!r}: extends past the section end")
            progs: dict[str, str] = {}
            for rel in rels:
                if not offset <= rel.offset < offset + st.size:
                    continue
                sym = elf.symbol(rel.symbol, where=f"{where} relocation at {rel.offset}")
                member = next((m for m in st.members
                               if m.bit_offset // 8 == rel.offset - offset), None)
                if member is None:
                    raise ObjectError(f"{where}, map {var.name!r}: relocation at offset "
                                      f"{rel.offset - offset} is not at a member")
                if sym.name not in programs:
                    raise ObjectError(f"{where}, map {var.name!r}: member {member.name!r} "
                                      f"points to {sym.name!r}, which is not a program")
                progs[member.name] = sym.name
            data = bytes(sec.data[offset:offset + st.size]) if sec.data else bytes(st.size)
            out.append(MapSpec(
                name=var.name, type=MapType.STRUCT_OPS, key_size=4, value_size=st.size,
                max_entries=1, flags=BPF_F_LINK if plain == ".struct_ops.link" else 0,
                contents=[(0, data)], value_type=st.id, section=plain, btf_var=var.id,
                struct_ops=progs, autocreate=not sec.name.startswith("?")))
    return out
