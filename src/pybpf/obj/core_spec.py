"""CO-RE access specs ("0:1:2" -> accessors and bit offsets), their matching against a target
type, and the values each relocation kind computes (libbpf bpf_core_parse_spec/spec_match/calc).

Pure functions over BTF; never patches instructions (pybpf.obj.core does that).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..btf import Array, EnumBase, Int, Ptr
from .core_types import (_enum_value, _fields_are_compat, _is_composite, _size, _skip,
                         essential_name, types_are_compat, types_match)
from .spec import CORERelo, CORERelocKind as K

MAX_SPEC_LEN = 64
FIELD_KINDS = frozenset({K.FIELD_BYTE_OFFSET, K.FIELD_BYTE_SIZE, K.FIELD_EXISTS, K.FIELD_SIGNED,
                         K.FIELD_LSHIFT_U64, K.FIELD_RSHIFT_U64})
TYPE_KINDS = frozenset({K.TYPE_ID_LOCAL, K.TYPE_ID_TARGET, K.TYPE_EXISTS, K.TYPE_SIZE,
                        K.TYPE_MATCHES})
ENUMVAL_KINDS = frozenset({K.ENUMVAL_EXISTS, K.ENUMVAL_VALUE})


# --- access specs ----------------------------------------------------------------------------
@dataclass
class Accessor:
    type_id: int
    idx: int
    name: str | None = None


@dataclass
class Spec:
    btf: Any
    root_type_id: int
    kind: K
    raw: list[int] = field(default_factory=list)
    acc: list[Accessor] = field(default_factory=list)
    bit_offset: int = 0

    def describe(self) -> str:
        t = self.btf[self.root_type_id]
        kind = t.kind.name.lower()
        text = f"[{self.root_type_id}] {kind} {t.name or '<anon>'}"
        if self.kind in TYPE_KINDS:
            return text
        if self.kind in ENUMVAL_KINDS:
            et, _ = _skip(self.btf, self.acc[0].type_id)
            return f"{text}::{self.acc[0].name} = {_enum_value(et, self.acc[0].idx)}"
        path = "".join(f".{a.name}" if a.name else (f"[{a.idx}]" if i else "")
                       for i, a in enumerate(self.acc))
        raw = ":".join(str(r) for r in self.raw)
        return f"{text}{path} ({raw} @ offset {self.bit_offset // 8}" + (
            f".{self.bit_offset % 8})" if self.bit_offset % 8 else ")")


def _is_flex(btf: Any, parent: Accessor | None, arr: Array) -> bool:
    if parent is None or not parent.name or arr.nelems > 0:
        return False
    t = btf[parent.type_id]
    return parent.idx == len(t.members) - 1


def parse_spec(btf: Any, relo: CORERelo) -> Spec:
    """libbpf bpf_core_parse_spec: turn "0:1:2" into accessors and a bit offset."""
    spec = Spec(btf, relo.type_id, relo.kind)
    text = relo.access
    if not text or text.startswith(":"):
        raise ValueError(f"empty or malformed access string {text!r}")
    if relo.kind in TYPE_KINDS:
        if text != "0":
            raise ValueError(f"type relocation with access string {text!r} (expected '0')")
        return spec
    for part in text.split(":"):
        if not part.isdigit():
            raise ValueError(f"malformed access string {text!r}")
        if len(spec.raw) == MAX_SPEC_LEN:
            raise ValueError(f"access string {text!r} is too long")
        spec.raw.append(int(part))
    t, tid = _skip(btf, relo.type_id)
    idx = spec.raw[0]
    spec.acc.append(Accessor(tid, idx))
    if relo.kind in ENUMVAL_KINDS:
        if not isinstance(t, EnumBase) or len(spec.raw) > 1 or idx >= len(t.values):
            raise ValueError(f"enum relocation {text!r} does not name a value of "
                             f"{t.kind.name} {t.name!r}")
        spec.acc[0].name = t.values[idx].name
        return spec
    if relo.kind not in FIELD_KINDS:
        raise ValueError(f"unknown relocation kind {relo.kind}")
    spec.bit_offset = idx * _size(btf, tid) * 8
    for i in range(1, len(spec.raw)):
        t, tid = _skip(btf, tid)
        idx = spec.raw[i]
        if _is_composite(t):
            if idx >= len(t.members):
                raise ValueError(f"member #{idx} of {t.name or 'anon'} does not exist")
            m = t.members[idx]
            spec.bit_offset += m.bit_offset
            if m.name:
                spec.acc.append(Accessor(tid, idx, m.name))
            tid = m.type_id
        elif isinstance(t, Array):
            parent = spec.acc[-1] if spec.acc else None
            et, eid = _skip(btf, t.type_id)
            if not _is_flex(btf, parent, t) and idx >= t.nelems:
                raise ValueError(f"array index {idx} out of bounds ({t.nelems} elements)")
            spec.acc.append(Accessor(eid, idx))
            spec.bit_offset += idx * _size(btf, eid) * 8
            tid = eid
        else:
            raise ValueError(f"access #{i} of {text!r} steps into {t.kind.name}, which has no "
                             f"members")
    return spec


def _match_member(lb: Any, lacc: Accessor, tb: Any, tid: int, spec: Spec) -> tuple[bool, int]:
    """libbpf bpf_core_match_member: find the local member by name, through anonymous members."""
    tt, tid = _skip(tb, tid)
    if not _is_composite(tt):
        return False, tid
    lt = lb[lacc.type_id]
    lm = lt.members[lacc.idx]
    for i, m in enumerate(tt.members):
        if len(spec.raw) == MAX_SPEC_LEN:
            raise ValueError("target access path is too long")
        spec.bit_offset += m.bit_offset
        spec.raw.append(i)
        if not m.name:
            found, next_id = _match_member(lb, lacc, tb, m.type_id, spec)
            if found:
                return True, next_id
        elif m.name == lm.name:
            spec.acc.append(Accessor(tid, i, m.name))
            if _fields_are_compat(lb, lm.type_id, tb, m.type_id):
                return True, m.type_id
            spec.acc.pop()
            return False, tid
        spec.bit_offset -= m.bit_offset
        spec.raw.pop()
    return False, tid


def match_spec(local: Spec, tb: Any, tid: int) -> Spec | None:
    """libbpf bpf_core_spec_match: the target spec for candidate ``tid``, or None."""
    targ = Spec(tb, tid, local.kind)
    if local.kind in TYPE_KINDS:
        if local.kind == K.TYPE_MATCHES:
            ok = types_match(local.btf, local.root_type_id, tb, tid)
        else:
            ok = types_are_compat(local.btf, local.root_type_id, tb, tid)
        return targ if ok else None
    lacc0 = local.acc[0]
    if local.kind in ENUMVAL_KINDS:
        tt, tid = _skip(tb, tid)
        if not isinstance(tt, EnumBase):
            return None
        want = essential_name(lacc0.name or "")
        for i, v in enumerate(tt.values):
            if essential_name(v.name) == want:
                targ.acc.append(Accessor(tid, i, v.name))
                targ.raw.append(i)
                return targ
        return None
    for i, lacc in enumerate(local.acc):
        tt, tid = _skip(tb, tid)
        if lacc.name:
            found, tid = _match_member(local.btf, lacc, tb, tid, targ)
            if not found:
                return None
        else:
            if i > 0:
                if not isinstance(tt, Array):
                    return None
                parent = targ.acc[-1] if targ.acc else None
                if not _is_flex(tb, parent, tt) and lacc.idx >= tt.nelems:
                    return None
                _, tid = _skip(tb, tt.type_id)
            if len(targ.raw) == MAX_SPEC_LEN:
                raise ValueError("target access path is too long")
            targ.acc.append(Accessor(tid, lacc.idx))
            targ.raw.append(lacc.idx)
            targ.bit_offset += lacc.idx * _size(tb, tid) * 8
    return targ


# --- values ----------------------------------------------------------------------------------
@dataclass
class _Res:
    orig: int = 0
    new: int = 0
    poison: bool = False
    validate: bool = True
    orig_sz: int = 0
    new_sz: int = 0
    orig_type: int = 0
    new_type: int = 0
    fail_memsz_adjust: bool = False


class _Poison(Exception):
    pass


def _field_value(kind: K, spec: Spec | None) -> tuple[int, int, int, bool]:
    """(value, field size, field type id, validate) -- libbpf bpf_core_calc_field_relo."""
    if kind == K.FIELD_EXISTS:
        return (1 if spec else 0), 0, 0, True
    if spec is None:
        raise _Poison()
    btf = spec.btf
    acc = spec.acc[-1]
    t = btf[acc.type_id]
    if not acc.name:
        if kind == K.FIELD_BYTE_OFFSET:
            et, eid = _skip(btf, acc.type_id)
            while isinstance(et, Array):
                et, eid = _skip(btf, et.type_id)
            return spec.bit_offset // 8, _size(btf, eid), acc.type_id, True
        if kind == K.FIELD_BYTE_SIZE:
            return _size(btf, acc.type_id), 0, 0, True
        raise ValueError(f"relocation {kind.name} cannot be applied to an array element")
    m = t.members[acc.idx]
    mt, ftid = _skip(btf, m.type_id)
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise ValueError("bitfield does not fit in 8 bytes")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(btf, ftid)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    validate = not bitfield
    field_sz = type_id = 0
    if kind == K.FIELD_BYTE_OFFSET:
        val = byte_off
        if not bitfield:
            et, eid = _skip(btf, ftid)
            while isinstance(et, Array):
                et, eid = _skip(btf, et.type_id)
            field_sz, type_id = _size(btf, eid), ftid
    elif kind == K.FIELD_BYTE_SIZE:
        val = byte_sz
    elif kind == K.FIELD_SIGNED:
        val = int((isinstance(mt, EnumBase) and mt.signed)
                  or (isinstance(mt, Int) and mt.is_signed))
        validate = True
    elif kind == K.FIELD_LSHIFT_U64:
        val = 64 - (bit_off + bit_sz - byte_off * 8)
    elif kind == K.FIELD_RSHIFT_U64:
        val = 64 - bit_sz
        validate = True
    else:
        raise ValueError(f"unsupported field relocation {kind}")
    return val, field_sz, type_id, validate


def _type_value(kind: K, spec: Spec | None) -> tuple[int, bool]:
    validate = True
    if spec is None:
        return 0, validate
    if kind == K.TYPE_ID_TARGET:
        return spec.root_type_id, False
    if kind in (K.TYPE_EXISTS, K.TYPE_MATCHES):
        return 1, validate
    if kind == K.TYPE_SIZE:
        return _size(spec.btf, spec.root_type_id), validate
    raise ValueError(f"unsupported type relocation {kind}")


def _enum_val(kind: K, spec: Spec | None) -> int:
    if kind == K.ENUMVAL_EXISTS:
        return 1 if spec else 0
    if spec is None:
        raise _Poison()
    et = spec.btf[spec.acc[0].type_id]
    return _enum_value(et, spec.acc[0].idx)


def calc(kind: K, local: Spec, targ: Spec | None) -> _Res:
    """libbpf bpf_core_calc_relo."""
    res = _Res()
    try:
        if kind in FIELD_KINDS:
            res.orig, res.orig_sz, res.orig_type, res.validate = _field_value(kind, local)
            res.new, res.new_sz, res.new_type, _ = _field_value(kind, targ)
            if res.orig_sz != res.new_sz and targ is not None:
                ot, nt = local.btf[res.orig_type], targ.btf[res.new_type]
                if not ((isinstance(ot, Ptr) and isinstance(nt, Ptr)) or (
                        isinstance(ot, Int) and isinstance(nt, Int)
                        and ot.encoding != 1 and nt.encoding != 1)):
                    res.fail_memsz_adjust = True
        elif kind in TYPE_KINDS:
            res.orig, res.validate = _type_value(kind, local)
            res.new, _ = _type_value(kind, targ)
        else:
            res.orig = _enum_val(kind, local)
            res.new = _enum_val(kind, targ)
    except _Poison:
        res.poison = True
    return res
