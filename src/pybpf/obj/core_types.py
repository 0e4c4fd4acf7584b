"""CO-RE type relations, as libbpf's relo_core.c: essential names, compatibility, matching.

Pure functions over two BTFs (local and target); never patches instructions or reads the kernel.
"""
from __future__ import annotations

import re
from typing import Any

from ..btf import Array, Composite, EnumBase, Float, FuncProto, Fwd, Int, Kind, Ptr
from ..errors import BTFError

MAX_DEPTH = 32


# --- names -----------------------------------------------------------------------------------
_FLAVOR_SEP = re.compile(r"(?=[^_]___[^_])")


def essential_name_len(name: str) -> int:
    """libbpf bpf_core_essential_name_len: length before the last ``X___Y`` flavor separator."""
    if "___" not in name:
        return len(name)
    last = None
    for m in _FLAVOR_SEP.finditer(name):
        last = m.start()
    return len(name) if last is None else last + 1


def essential_name(name: str) -> str:
    return name[:essential_name_len(name)]


def _names_match(local: str, targ: str) -> bool:
    if not targ:
        return not local
    return essential_name(local) == essential_name(targ)


# --- type helpers ----------------------------------------------------------------------------
def _skip(btf: Any, type_id: int) -> tuple[Any, int]:
    t = btf[type_id]
    for _ in range(MAX_DEPTH):
        if t.kind not in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
            return t, type_id
        type_id = t.type_id
        t = btf[type_id]
    raise BTFError(f"type chain from id {type_id} is too deep")


def _size(btf: Any, type_id: int) -> int:
    return btf.size_of(type_id)


def _kind_compat(a: Any, b: Any) -> bool:
    return a.kind == b.kind or (isinstance(a, EnumBase) and isinstance(b, EnumBase))


def _is_composite(t: Any) -> bool:
    return isinstance(t, Composite)


def _int_offset(t: Any) -> int:
    return t.bit_offset


def _enum_value(t: Any, idx: int) -> int:
    value = t.values[idx].value
    if t.kind == Kind.ENUM:                      # btf_enum.val is __s32, widened to u64
        value &= 0xFFFFFFFF
        if value & 0x80000000:
            value -= 1 << 32
    return value & 0xFFFFFFFFFFFFFFFF


def types_are_compat(lb: Any, lid: int, tb: Any, tid: int, level: int = MAX_DEPTH) -> bool:
    """libbpf __bpf_core_types_are_compat (TYPE_EXISTS / TYPE_SIZE / TYPE_ID_TARGET)."""
    lt, tt = lb[lid], tb[tid]
    if not _kind_compat(lt, tt):
        return False
    for _ in range(MAX_DEPTH):
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if not _kind_compat(lt, tt):
            return False
        if lt.kind in (Kind.UNKN, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.FWD, Kind.ENUM64):
            return True
        if isinstance(lt, Int):
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if isinstance(lt, Ptr):
            lid, tid = lt.type_id, tt.type_id
            continue
        if isinstance(lt, Array):
            lid, tid = lt.type_id, tt.type_id
            continue
        if isinstance(lt, FuncProto):
            if len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params):
                if level <= 0:
                    raise BTFError("function prototype nesting too deep")
                _, plid = _skip(lb, lp.type_id)
                _, ptid = _skip(tb, tp.type_id)
                if not types_are_compat(lb, plid, tb, ptid, level - 1):
                    return False
            _, lid = _skip(lb, lt.return_type_id)
            _, tid = _skip(tb, tt.return_type_id)
            continue
        return False
    raise BTFError("type compatibility check too deep")


def _fields_are_compat(lb: Any, lid: int, tb: Any, tid: int) -> bool:
    for _ in range(MAX_DEPTH):
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if _is_composite(lt) and _is_composite(tt):
            return True
        if not _kind_compat(lt, tt):
            return False
        if isinstance(lt, (Ptr, Float)):
            return True
        if isinstance(lt, (Fwd, EnumBase)):
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            return not ln or not tn or ln == tn
        if isinstance(lt, Int):
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if isinstance(lt, Array):
            lid, tid = lt.type_id, tt.type_id
            continue
        return False
    raise BTFError("field compatibility check too deep")


def types_match(lb: Any, lid: int, tb: Any, tid: int, behind_ptr: bool = False,
                level: int = MAX_DEPTH) -> bool:
    """libbpf __bpf_core_types_match (TYPE_MATCHES)."""
    if level <= 0:
        raise BTFError("type match recursion too deep")
    for _ in range(MAX_DEPTH):
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if not _names_match(lt.name, tt.name):
            return False
        lk, tk = lt.kind, tt.kind
        if lk == Kind.UNKN:
            return lk == tk
        if lk == Kind.FWD:
            if behind_ptr:
                if lk == tk:
                    return lt.is_union == tt.is_union
                return (tk == Kind.STRUCT and not lt.is_union) or (
                    tk == Kind.UNION and lt.is_union)
            return lk == tk and lt.is_union == tt.is_union
        if lk in (Kind.ENUM, Kind.ENUM64):
            if not isinstance(tt, EnumBase) or lt.size != tt.size:
                return False
            if len(lt.values) > len(tt.values):
                return False
            return all(any(_names_match(lv.name, tv.name) for tv in tt.values)
                       for lv in lt.values)
        if lk in (Kind.STRUCT, Kind.UNION):
            if behind_ptr:
                if lk == tk:
                    return True
                if tk != Kind.FWD:
                    return False
                return (lk == Kind.UNION) == tt.is_union
            if lk != tk or len(lt.members) > len(tt.members):
                return False
            for lm in lt.members:
                if not any(_names_match(lm.name, tm.name)
                           and types_match(lb, lm.type_id, tb, tm.type_id, behind_ptr,
                                           level - 1)
                           for tm in tt.members):
                    return False
            return True
        if lk == Kind.INT:
            return (lk == tk and lt.size == tt.size and lt.is_signed == tt.is_signed)
        if lk == Kind.PTR:
            if lk != tk:
                return False
            behind_ptr = True
            lid, tid = lt.type_id, tt.type_id
            continue
        if lk == Kind.ARRAY:
            if lk != tk or lt.nelems != tt.nelems:
                return False
            lid, tid = lt.type_id, tt.type_id
            continue
        if lk == Kind.FUNC_PROTO:
            if lk != tk or len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params):
                if not types_match(lb, lp.type_id, tb, tp.type_id, behind_ptr, level - 1):
                    return False
            lid, tid = lt.return_type_id, tt.return_type_id
            continue
        return False
    raise BTFError("type match recursion too deep")
