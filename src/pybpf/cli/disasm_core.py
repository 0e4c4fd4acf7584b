"""CO-RE relocation lines for ``pybpf disasm -r``, spelled as llvm-objdump -r prints them from .BTF.ext.

Formats ``.BTF.ext`` CO-RE records against the object's own BTF; it never resolves them against a kernel.

    CO-RE <byte_off> [10] struct task_struct::pid (0:92)
    CO-RE <type_size> [5] struct task_struct
    CO-RE <enumval_value> [18] enum pid_type::PIDTYPE_SID = 3
"""
from __future__ import annotations

from typing import Any

KIND_NAMES = ("byte_off", "byte_sz", "field_exists", "signed", "lshift_u64", "rshift_u64",
              "local_type_id", "target_type_id", "type_exists", "type_size", "enumval_exists",
              "enumval_value", "type_matches")
_TYPE_KINDS = {6, 7, 8, 9, 12}
_ENUM_KINDS = {10, 11}


def core_relocations(data: bytes, source: str) -> dict[str, list[tuple[int, str]]]:
    """{section: [(byte offset, "CO-RE ..." text)]} for an ELF object; {} without .BTF.ext."""
    from ..btf import BTF
    from ..btf.elf import find_btf_section
    from ..btf.ext import BTFExt
    raw_btf = find_btf_section(data, source, ".BTF")
    raw_ext = find_btf_section(data, source, ".BTF.ext")
    if raw_btf is None or raw_ext is None:
        return {}
    btf = BTF.parse(raw_btf, source=source)
    ext = BTFExt.parse(raw_ext, btf)
    return {section: [(r.insn_off, describe_relocation(btf, r.type_id, int(r.kind), r.access_str))
                      for r in records]
            for section, records in ext.core_relos.items()}


def describe_relocation(btf: Any, type_id: int, kind: int, access: str) -> str:
    name = KIND_NAMES[kind] if 0 <= kind < len(KIND_NAMES) else str(kind)
    head = f"CO-RE <{name}> [{type_id}] {_type_name(btf, type_id)}"
    if kind in _TYPE_KINDS:
        return head
    indices = [int(part) for part in access.split(":") if part != ""]
    if kind in _ENUM_KINDS:
        enum = btf[type_id]
        value = enum.values[indices[0]] if indices and indices[0] < len(enum.values) else None
        return head if value is None else f"{head}::{value.name} = {value.value}"
    return f"{head}{'' if not indices or indices[0] == 0 else f'[{indices[0]}]'}::" \
           f"{_field_path(btf, type_id, indices[1:])} ({access})"


def _type_name(btf: Any, type_id: int) -> str:
    t = btf[type_id]
    kind = t.kind.name.lower()
    if kind in ("struct", "union", "enum", "typedef"):
        return f"{kind} {t.name or '<anon>'}"
    if kind == "enum64":
        return f"enum {t.name or '<anon>'}"
    return t.name or f"<{kind}>"


def _field_path(btf: Any, type_id: int, indices: list[int]) -> str:
    path = ""
    current = btf.resolve(type_id)
    for index in indices:
        kind = current.kind.name.lower()
        if kind in ("struct", "union"):
            member = current.members[index]
            path += ("." if path else "") + (member.name or f"<anon {index}>")
            current = btf.resolve(member.type_id)
        elif kind == "array":
            path += f"[{index}]"
            current = btf.resolve(current.type_id)
        else:
            break
    return path


__all__ = ["core_relocations", "describe_relocation", "KIND_NAMES"]
