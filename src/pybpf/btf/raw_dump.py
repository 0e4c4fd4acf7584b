"""Text listing of BTF types in the line format of ``bpftool btf dump ... format raw``.

Formatting only: never modifies the BTF and never fails on dangling ids (prints what it has).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..errors import BTFError
from .btf import BTF
from .types import (Array, Composite, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncProto,
                    Fwd, Int, Kind, Type, Var)

_INT_ENCODING = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_FUNC_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def _q(name: str) -> str:
    return f"'{name or '(anon)'}'"


def format_type(btf: BTF, t: Type) -> str:
    """One type as bpftool prints it (possibly several lines, no trailing newline)."""
    head = f"[{t.id}] {t.kind.name} {_q(t.name)}"
    if isinstance(t, Int):
        enc = _INT_ENCODING.get(t.encoding, "UNKN")
        return f"{head} size={t.size} bits_offset={t.bit_offset} nr_bits={t.bits} encoding={enc}"
    if isinstance(t, Array):
        return f"{head} type_id={t.type_id} index_type_id={t.index_type_id} nr_elems={t.nelems}"
    if isinstance(t, Composite):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            line = f"\t{_q(m.name)} type_id={m.type_id} bits_offset={m.bit_offset}"
            if m.bitfield_size:
                line += f" bitfield_size={m.bitfield_size}"
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, (Enum, Enum64)):
        enc = "SIGNED" if t.signed else "UNSIGNED"
        lines = [f"{head} encoding={enc} size={t.size} vlen={len(t.values)}"]
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, Enum64) else ""
        lines += [f"\t{_q(v.name)} val={v.value}{suffix}" for v in t.values]
        return "\n".join(lines)
    if isinstance(t, Fwd):
        return f"{head} fwd_kind={'union' if t.is_union else 'struct'}"
    if isinstance(t, Func):
        return f"{head} type_id={t.type_id} linkage={_FUNC_LINKAGE.get(t.linkage, '(unknown)')}"
    if isinstance(t, FuncProto):
        lines = [f"{head} ret_type_id={t.return_type_id} vlen={len(t.params)}"]
        lines += [f"\t{_q(p.name)} type_id={p.type_id}" for p in t.params]
        return "\n".join(lines)
    if isinstance(t, Var):
        return f"{head} type_id={t.type_id}, linkage={_VAR_LINKAGE.get(t.linkage, '(unknown)')}"
    if isinstance(t, Datasec):
        lines = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for v in t.vars:
            line = f"\ttype_id={v.type_id} offset={v.offset} size={v.size}"
            if v.type_id < len(btf):
                try:
                    vt = btf[v.type_id]
                    kind = vt.kind.name if vt.kind != Kind.UNKN else "UNKNOWN"
                    line += f" ({kind} {_q(vt.name)})"
                except BTFError:
                    pass
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, Float):
        return f"{head} size={t.size}"
    if isinstance(t, DeclTag):
        return f"{head} type_id={t.type_id} component_idx={t.component_idx}"
    return f"{head} type_id={getattr(t, 'type_id', 0)}"


def iter_raw(btf: BTF, type_ids: Iterable[int] | None = None) -> Iterator[str]:
    ids = range(btf.first_id, len(btf)) if type_ids is None else type_ids
    for type_id in ids:
        yield format_type(btf, btf[type_id])


def dump_raw(btf: BTF, type_ids: Iterable[int] | None = None) -> str:
    """All own types (or just ``type_ids``), one bpftool-style entry per type."""
    return "".join(line + "\n" for line in iter_raw(btf, type_ids))
