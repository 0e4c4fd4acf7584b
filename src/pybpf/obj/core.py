"""CO-RE: rewrite a linked program's relocated instructions for a target BTF, as libbpf's relo_core.

Pure functions of (instructions, records, local BTF, target BTF); never reads the running kernel
unless the caller passes its BTF. Unresolvable relocations are poisoned exactly like libbpf
(``call 0xbad2310``) and explained in the report; malformed ones raise CORERelocationError.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..btf import Array, Composite, EnumBase, Float, FuncProto, Fwd, Int, Kind, Ptr
from ..errors import BTFError, CORERelocationError
from ..isa.instruction import Instruction
from ..isa.opcodes import BYTES_SIZE, CALL, LDDW, Class
from .spec import CORERelo, CORERelocKind as K, ObjectSpec, ProgramSpec

POISON_IMM = 0xBAD2310          # 195896080: "bad relo"
MAX_SPEC_LEN = 64
MAX_DEPTH = 32

FIELD_KINDS = frozenset({K.FIELD_BYTE_OFFSET, K.FIELD_BYTE_SIZE, K.FIELD_EXISTS, K.FIELD_SIGNED,
                         K.FIELD_LSHIFT_U64, K.FIELD_RSHIFT_U64})
TYPE_KINDS = frozenset({K.TYPE_ID_LOCAL, K.TYPE_ID_TARGET, K.TYPE_EXISTS, K.TYPE_SIZE,
                        K.TYPE_MATCHES})
ENUMVAL_KINDS = frozenset({K.ENUMVAL_EXISTS, K.ENUMVAL_VALUE})


@dataclass
class RelocationOutcome:
    """What happened to one CO-RE record: its instruction, the values, or why it was poisoned."""
    index: int                  # instruction index in the program
    slot: int
    kind: K
    local: str                  # "[5] struct task_struct.pid (0:1 @ offset 4)"
    target: str = ""            # the matching target spec, "" when none
    orig_value: int = 0
    new_value: int = 0
    poisoned: bool = False
    reason: str = ""
    source: str = ""            # "file.bpf.c:42: the C line", when the object has line info

    def __str__(self) -> str:
        head = f"insn #{self.index} <{self.kind.name.lower()}> {self.local}"
        where = f"\n      at {self.source}" if self.source else ""
        if self.poisoned:
            return f"{head}: POISONED ({self.reason}){where}"
        return f"{head} -> {self.target or '-'}: {self.orig_value} -> {self.new_value}{where}"


@dataclass
class CORERelocationResult:
    """New instructions of one program plus a per-record report.

    Slots never move; but a poisoned 64-bit load becomes two ``call 0xbad2310`` instructions (as
    in libbpf), so list indices after it shift by one. ``RelocationOutcome.index`` is the index in
    ``instructions``; use ``slot`` (or ``pybpf.isa.codec.slot_offsets``) to line things up.
    """
    program: str
    instructions: list[Instruction]
    outcomes: list[RelocationOutcome] = field(default_factory=list)

    @property
    def poisoned(self) -> list[RelocationOutcome]:
        return [o for o in self.outcomes if o.poisoned]

    def report(self) -> str:
        lines = [f"prog '{self.program}': {len(self.outcomes)} CO-RE relocation(s), "
                 f"{len(self.poisoned)} poisoned"]
        lines += [f"  #{i}: {o}" for i, o in enumerate(self.outcomes)]
        return "\n".join(lines)


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


# --- candidates and the driver ---------------------------------------------------------------
_FLAVORED: dict[int, tuple[Any, dict[str, set[str]]]] = {}


def _flavored_names(btf: Any) -> dict[str, set[str]]:
    """essential name -> the target's names with a ``___flavor`` suffix (scanned once per BTF)."""
    cached = _FLAVORED.get(id(btf))
    if cached is not None and cached[0]() is btf and not getattr(btf, "modified", True):
        return cached[1]
    from ..btf.wire import parse_header
    out: dict[str, set[str]] = {}
    layer = btf
    while layer is not None:
        data = layer.to_bytes()
        hdr = parse_header(data)
        start = hdr.hdr_len + hdr.str_off
        strings = data[start:start + hdr.str_len]
        pos = strings.find(b"___")
        while pos != -1:
            begin = strings.rfind(b"\0", 0, pos) + 1
            end = strings.find(b"\0", pos)
            end = len(strings) if end == -1 else end
            name = strings[begin:end].decode("utf-8", "surrogateescape")
            essential = essential_name(name)
            if essential != name:
                out.setdefault(essential, set()).add(name)
            pos = strings.find(b"___", end)
        layer = getattr(layer, "base", None)
    _FLAVORED[id(btf)] = (weakref.ref(btf), out)
    return out


_CANDIDATES: dict[int, tuple[Any, int, dict[tuple[str, int], list[int]]]] = {}


def _candidate_cache(target_btf: Any) -> dict[tuple[str, int], list[int]] | None:
    """Per-target cache of candidate lists; only for BTF nobody is editing (e.g. vmlinux)."""
    if getattr(target_btf, "modified", True):
        return None
    entry = _CANDIDATES.get(id(target_btf))
    if entry is None or entry[0]() is not target_btf or entry[1] != len(target_btf):
        entry = (weakref.ref(target_btf), len(target_btf), {})
        _CANDIDATES[id(target_btf)] = entry
    return entry[2]


def find_candidates(local_btf: Any, local_id: int, target_btf: Any) -> list[int]:
    """Target types of a CO-RE compatible kind whose essential name equals the local one's
    (libbpf bpf_core_add_cands: flavored target names such as ``foo___v2`` count too)."""
    lt = local_btf[local_id]
    name = essential_name(lt.name)
    kind_group = Kind.ENUM if isinstance(lt, EnumBase) else lt.kind
    cache = _candidate_cache(target_btf)
    if cache is not None and (name, kind_group) in cache:
        return list(cache[(name, kind_group)])
    out = set()
    for candidate in (name, *sorted(_flavored_names(target_btf).get(name, ()))):
        for t in target_btf.find(candidate):
            if t.name and _kind_compat(t, lt) and essential_name(t.name) == name:
                out.add(t.id)
    found = sorted(out)
    if cache is not None:
        cache[(name, kind_group)] = found
    return list(found)


def find_candidates_in(local_btf: Any, local_id: int, targets: list[Any]
                       ) -> list[tuple[Any, int]]:
    """libbpf bpf_core_find_cands: the first target (vmlinux) wins when it has candidates;
    otherwise every further target (module BTF split over vmlinux) adds its own types."""
    first, *modules = targets
    found = [(first, i) for i in find_candidates(local_btf, local_id, first)]
    if found:
        return found
    for module in modules:
        own_from = getattr(module, "first_id", 1)
        found += [(module, i) for i in find_candidates(local_btf, local_id, module)
                  if i >= own_from]
    return found


def _poison_insn() -> Instruction:
    return Instruction(CALL, 0, 0, 0, POISON_IMM)


def _poison(insns: list[Instruction], index: int) -> None:
    """Replace insns[index] by ``call 0xbad2310``; a 2-slot LDDW becomes two such calls."""
    poisoned = _poison_insn().with_(meta={"core_poisoned": True})
    if insns[index].is_wide:
        insns[index:index + 1] = [poisoned, poisoned]
    else:
        insns[index] = poisoned


def _patch(insns: list[Instruction], index: int, res: _Res, where: str) -> None:
    insn = insns[index]
    if res.poison:
        _poison(insns, index)
        return
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        if insn.source != 0:
            raise CORERelocationError(f"{where}: ALU instruction with a register operand")
        if res.validate and (insn.imm & 0xFFFFFFFF) != (res.orig & 0xFFFFFFFF):
            raise CORERelocationError(f"{where}: unexpected ALU immediate {insn.imm}, expected "
                                      f"{res.orig}")
        new = res.new & 0xFFFFFFFF
        insns[index] = insn.with_(imm=new - (1 << 32) if new & 0x80000000 else new)
    elif cls in (Class.LDX, Class.ST, Class.STX):
        if res.validate and insn.off != res.orig:
            raise CORERelocationError(f"{where}: unexpected memory offset {insn.off}, expected "
                                      f"{res.orig}")
        if res.new > 0x7FFF:
            raise CORERelocationError(f"{where}: new offset {res.new} does not fit in 16 bits")
        if res.fail_memsz_adjust:
            _poison(insns, index)
            res.poison = True
            return
        new = insn.with_(off=res.new)
        if res.new_sz != res.orig_sz:
            if insn.size_bytes != res.orig_sz:
                raise CORERelocationError(f"{where}: access size {insn.size_bytes} differs from "
                                          f"field size {res.orig_sz}")
            if res.new_sz not in BYTES_SIZE:
                raise CORERelocationError(f"{where}: invalid new access size {res.new_sz}")
            new = new.with_(opcode=(insn.opcode & ~0x18) | BYTES_SIZE[res.new_sz])
        insns[index] = new
    elif insn.opcode == LDDW:
        if insn.src != 0 or insn.off != 0:
            raise CORERelocationError(f"{where}: 64-bit load has an unexpected form")
        if res.validate and insn.imm64 != (res.orig & 0xFFFFFFFFFFFFFFFF):
            raise CORERelocationError(f"{where}: unexpected 64-bit immediate {insn.imm64}, "
                                      f"expected {res.orig}")
        insns[index] = insn.with_(imm=res.new & 0xFFFFFFFFFFFFFFFF)
    else:
        raise CORERelocationError(f"{where}: cannot relocate instruction with opcode "
                                  f"{insn.opcode:#04x}")


def relocate_program(program: ProgramSpec, target_btf: Any, local_btf: Any = None
                     ) -> CORERelocationResult:
    """Apply every CO-RE record of ``program`` against ``target_btf``; returns new instructions.

    ``target_btf`` is one BTF, or a sequence ``[vmlinux, module_btf, ...]`` (module BTFs split
    over vmlinux): like libbpf, modules are searched only for types vmlinux does not have.
    """
    targets = list(target_btf) if isinstance(target_btf, (list, tuple)) else [target_btf]
    if not targets:
        raise CORERelocationError(f"prog {program.name!r}: no target BTF given")
    local_btf = local_btf if local_btf is not None else getattr(program, "btf", None)
    insns = list(program.instructions)
    result = CORERelocationResult(program.name, insns)
    if not program.core_relos:
        return result
    if local_btf is None:
        raise CORERelocationError(f"prog {program.name!r}: has CO-RE relocations but no local "
                                  f"BTF was given")
    cand_cache: dict[int, list[tuple[Any, int]]] = {}
    inserted = 0          # poisoned LDDWs become two instructions: later indices shift
    for n, relo in enumerate(sorted(program.core_relos, key=lambda r: r.slot)):
        source = _source(program, relo.index)
        where = (f"prog {program.name!r} (section {program.section!r}): CO-RE relocation #{n} "
                 f"<{relo.kind.name.lower()}> at insn #{relo.index}"
                 + (f" ({source})" if source else ""))
        index = relo.index + inserted
        if not 0 <= index < len(insns):
            raise CORERelocationError(f"{where}: instruction index out of range")
        before = len(insns)
        try:
            outcome = _relocate_one(relo, index, insns, local_btf, targets, cand_cache,
                                    where)
        except RecursionError:
            raise CORERelocationError(f"{where}: type graph too deep (a cycle in the BTF?)") \
                from None
        except (ValueError, BTFError, IndexError, AttributeError, KeyError, TypeError) as exc:
            raise CORERelocationError(f"{where}: {type(exc).__name__}: {exc}") from None
        inserted += len(insns) - before
        outcome.source = source
        result.outcomes.append(outcome)
    return result


def _source(program: ProgramSpec, index: int) -> str:
    line = program.source_line(index) if program.line_info else None
    if line is None:
        return ""
    return f"{line.file_name.rsplit('/', 1)[-1]}:{line.line}: {line.source.strip()}"


def _relocate_one(relo: CORERelo, index: int, insns: list[Instruction], lb: Any,
                  targets: list[Any], cand_cache: dict[int, list[tuple[Any, int]]], where: str
                  ) -> RelocationOutcome:
    root = lb[relo.type_id]
    try:
        local = parse_spec(lb, relo)
    except ValueError as exc:
        raise CORERelocationError(f"{where}: parsing [{relo.type_id}] {root.kind.name} "
                                  f"{root.name or '<anon>'} + {relo.access} failed: {exc}") from None
    out = RelocationOutcome(index, relo.slot, relo.kind, local.describe())
    if relo.kind == K.TYPE_ID_LOCAL:
        res = _Res(orig=relo.type_id, new=relo.type_id, validate=False)
        _patch(insns, index, res, where)
        out.orig_value = out.new_value = relo.type_id
        return out
    if not root.name:
        raise CORERelocationError(f"{where}: relocations against anonymous types are not "
                                  f"supported (libbpf refuses them too)")
    if relo.type_id not in cand_cache:
        cand_cache[relo.type_id] = find_candidates_in(lb, relo.type_id, targets)
    chosen: _Res | None = None
    chosen_spec: Spec | None = None
    for tb, cid in cand_cache[relo.type_id]:
        targ = match_spec(local, tb, cid)
        if targ is None:
            continue
        res = calc(relo.kind, local, targ)
        if chosen is None:
            chosen, chosen_spec = res, targ
        elif targ.bit_offset != chosen_spec.bit_offset:       # type: ignore[union-attr]
            raise CORERelocationError(f"{where}: field offset ambiguity: {targ.bit_offset} != "
                                      f"{chosen_spec.bit_offset}")  # type: ignore[union-attr]
        elif res.poison != chosen.poison or res.new != chosen.new:
            raise CORERelocationError(f"{where}: relocation decision ambiguity between "
                                      f"candidates: {res.new} != {chosen.new}")
    if chosen is None:
        chosen = calc(relo.kind, local, None)
        if chosen.poison:
            cands = cand_cache[relo.type_id]
            wanted = f"{root.kind.name.lower()} {essential_name(root.name)!r}"
            if not cands:
                out.reason = f"the target BTF has no {wanted}"
            else:
                names = ", ".join(f"[{c}] {b[c].name}" for b, c in cands[:4])
                out.reason = (f"no candidate for {wanted} ({names}) has what "
                              f"{local.describe()} accesses")
    else:
        out.target = chosen_spec.describe()                    # type: ignore[union-attr]
    _patch(insns, index, chosen, where)
    out.orig_value, out.new_value = chosen.orig, chosen.new
    out.poisoned = chosen.poison
    if chosen.poison and not out.reason:
        out.reason = (f"target field {out.target} has an incompatible size for this "
                      f"load/store" if chosen.fail_memsz_adjust else "unresolvable")
    return out


def relocate(spec_or_program: ObjectSpec | ProgramSpec, target_btf: Any, local_btf: Any = None
             ) -> CORERelocationResult | dict[str, CORERelocationResult]:
    """CO-RE for one ProgramSpec (-> result) or every program of an ObjectSpec (-> dict by name)."""
    if isinstance(spec_or_program, ObjectSpec):
        lb = local_btf if local_btf is not None else spec_or_program.btf
        return {name: relocate_program(p, target_btf, lb)
                for name, p in spec_or_program.programs.items()}
    return relocate_program(spec_or_program, target_btf, local_btf)
