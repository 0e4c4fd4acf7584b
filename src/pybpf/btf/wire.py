"""The BTF binary format: header, a fast offsets-only index pass, and per-type decode/encode.

Byte-level only: never keeps state, never follows type ids; every malformed input raises BTFError.
"""
from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BTFError
from .types import (Array, Composite, Datasec, DeclTag, EnumBase, EnumValue, Float, Func,
                    FuncProto, Fwd, Int, Kind, Member, Param, Type, TypeTag, Var, VarSecinfo,
                    CLASS_BY_KIND, REF_KINDS)

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
HEADER_SIZE = 24
MAX_VLEN = 0xFFFF

# bytes following the 12-byte btf_type: fixed part, and per-vlen-entry part, indexed by kind
_FIXED = [0] * 32
_PER_VLEN = [0] * 32
_FIXED[Kind.INT] = 4
_FIXED[Kind.ARRAY] = 12
_PER_VLEN[Kind.STRUCT] = _PER_VLEN[Kind.UNION] = 12
_PER_VLEN[Kind.ENUM] = 8
_PER_VLEN[Kind.ENUM64] = 12
_PER_VLEN[Kind.FUNC_PROTO] = 8
_FIXED[Kind.VAR] = 4
_PER_VLEN[Kind.DATASEC] = 12
_FIXED[Kind.DECL_TAG] = 4
_VALID_KIND = [False] * 32
_KIND_BY_VALUE: list[Kind] = [Kind.UNKN] * 32
for _k in Kind:
    if _k != Kind.UNKN:
        _VALID_KIND[_k] = True
        _KIND_BY_VALUE[_k] = _k


@dataclass(frozen=True)
class Header:
    """struct btf_header; offsets are relative to the end of the header (``hdr_len``)."""

    endian: str          # "<" or ">"
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


def parse_header(data: bytes | memoryview) -> Header:
    if len(data) < HEADER_SIZE:
        raise BTFError(f"BTF too short for its header: {len(data)} bytes, need {HEADER_SIZE}")
    if data[0] == 0x9F and data[1] == 0xEB:
        endian = "<"
    elif data[0] == 0xEB and data[1] == 0x9F:
        endian = ">"
    else:
        raise BTFError(f"bad BTF magic 0x{data[0]:02x}{data[1]:02x} at byte 0 (expected 0xeb9f)")
    version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        endian + "BBIIIII", data, 2)
    if version != BTF_VERSION:
        raise BTFError(f"unsupported BTF version {version} (only version 1 exists)")
    if hdr_len < HEADER_SIZE or hdr_len > len(data):
        raise BTFError(f"bad BTF header length {hdr_len} (data is {len(data)} bytes)")
    if any(data[HEADER_SIZE:hdr_len]):
        raise BTFError(f"BTF header has {hdr_len - HEADER_SIZE} unknown non-zero trailing bytes")
    body = len(data) - hdr_len
    for what, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
        if off + length > body:
            raise BTFError(f"BTF {what} section [{off}, {off + length}) runs past the end of the "
                           f"data ({body} bytes after the header)")
    if type_off % 4:
        raise BTFError(f"BTF type section offset {type_off} is not 4-byte aligned")
    if type_off < str_off < type_off + type_len or str_off < type_off < str_off + str_len:
        raise BTFError("BTF type and string sections overlap")
    return Header(endian, flags, hdr_len, type_off, type_len, str_off, str_len)


class TypeIndex:
    """Offsets, name offsets and info words of every type record, found in one pass."""

    __slots__ = ("offsets", "name_offs", "infos")

    def __init__(self, types: bytes | memoryview, endian: str) -> None:
        offsets, name_offs, infos = array("I"), array("I"), array("I")
        unpack = struct.Struct(endian + "II").unpack_from
        fixed, per, valid = _FIXED, _PER_VLEN, _VALID_KIND
        add_off, add_name, add_info = offsets.append, name_offs.append, infos.append
        pos, end = 0, len(types)
        last = end - 12
        while pos < end:
            if pos > last:
                raise BTFError(f"truncated BTF type record at type section offset {pos} "
                               f"(type id {len(offsets) + 1} of this blob)")
            name_off, info = unpack(types, pos)
            kind = (info >> 24) & 0x1F
            if not valid[kind]:
                raise BTFError(f"unknown BTF kind {kind} at type section offset {pos} "
                               f"(type id {len(offsets) + 1} of this blob)")
            add_off(pos)
            add_name(name_off)
            add_info(info)
            pos += 12 + fixed[kind] + (info & 0xFFFF) * per[kind]
        if pos != end:
            raise BTFError(f"last BTF type record (type id {len(offsets)} of this blob) runs "
                           f"{pos - end} bytes past the end of the type section")
        self.offsets, self.name_offs, self.infos = offsets, name_offs, infos

    def __len__(self) -> int:
        return len(self.offsets)


_HEAD = {e: struct.Struct(e + "III") for e in "<>"}


def decode_type(types: bytes | memoryview, pos: int, endian: str, type_id: int,
                string_at: Callable[[int], str]) -> Type:
    """Decode the record at ``pos`` into a Type with the given id."""
    name_off, info, size_or_type = _HEAD[endian].unpack_from(types, pos)
    kind = _KIND_BY_VALUE[(info >> 24) & 0x1F]
    vlen = info & 0xFFFF
    kflag = bool(info >> 31)
    name = string_at(name_off)
    p = pos + 12
    if kind == Kind.INT:
        (word,) = struct.unpack_from(endian + "I", types, p)
        return Int(name, size_or_type, (word >> 24) & 0x0F, (word >> 16) & 0xFF, word & 0xFF,
                   id=type_id)
    if kind in REF_KINDS:
        if kind == Kind.TYPE_TAG:
            return TypeTag(name, size_or_type, kflag, id=type_id)
        return CLASS_BY_KIND[kind](name, size_or_type, id=type_id)  # type: ignore[call-arg]
    if kind == Kind.ARRAY:
        elem, index, nelems = struct.unpack_from(endian + "III", types, p)
        return Array(name, elem, index, nelems, id=type_id)
    if kind in (Kind.STRUCT, Kind.UNION):
        triples = _HEAD[endian].iter_unpack(types[p:p + 12 * vlen])
        if kflag:
            members = [Member(string_at(n), t, off & 0xFFFFFF, off >> 24) for n, t, off in triples]
        else:
            members = [Member(string_at(n), t, off, 0) for n, t, off in triples]
        return CLASS_BY_KIND[kind](name, size_or_type, tuple(members), kflag,  # type: ignore
                                   id=type_id)
    if kind == Kind.ENUM:
        fmt = endian + ("Ii" if kflag else "II")
        values = tuple(EnumValue(string_at(n), v)
                       for n, v in struct.iter_unpack(fmt, types[p:p + 8 * vlen]))
        return CLASS_BY_KIND[kind](name, size_or_type, values, kflag, id=type_id)  # type: ignore
    if kind == Kind.ENUM64:
        values_list = []
        for n, lo, hi in struct.iter_unpack(endian + "III", types[p:p + 12 * vlen]):
            v = (hi << 32) | lo
            if kflag and v >= 1 << 63:
                v -= 1 << 64
            values_list.append(EnumValue(string_at(n), v))
        return CLASS_BY_KIND[kind](name, size_or_type, tuple(values_list), kflag,  # type: ignore
                                   id=type_id)
    if kind == Kind.FWD:
        return Fwd(name, kflag, id=type_id)
    if kind == Kind.FUNC:
        return Func(name, size_or_type, vlen, id=type_id)
    if kind == Kind.FUNC_PROTO:
        params = tuple(Param(string_at(n), t)
                       for n, t in struct.iter_unpack(endian + "II", types[p:p + 8 * vlen]))
        return FuncProto(name, size_or_type, params, id=type_id)
    if kind == Kind.VAR:
        (linkage,) = struct.unpack_from(endian + "I", types, p)
        return Var(name, size_or_type, linkage, id=type_id)
    if kind == Kind.DATASEC:
        vars_ = tuple(VarSecinfo(*v)
                      for v in struct.iter_unpack(endian + "III", types[p:p + 12 * vlen]))
        return Datasec(name, size_or_type, vars_, id=type_id)
    if kind == Kind.FLOAT:
        return Float(name, size_or_type, id=type_id)
    if kind == Kind.DECL_TAG:
        (component_idx,) = struct.unpack_from(endian + "i", types, p)
        return DeclTag(name, size_or_type, component_idx, kflag, id=type_id)
    raise BTFError(f"type id {type_id}: unknown BTF kind {int(kind)}")


def _info(kind: int, vlen: int, kflag: bool) -> int:
    if vlen > MAX_VLEN:
        raise BTFError(f"BTF kind {Kind(kind).name} cannot hold {vlen} entries (max {MAX_VLEN})")
    return (int(kflag) << 31) | (kind << 24) | vlen


def _u32(value: int, what: str, t: Type) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise BTFError(f"type {t.name or '(anon)'} ({t.kind.name}): {what} {value} does not fit "
                       "in 32 bits")
    return value


def encode_type(t: Type, endian: str, string_offset: Callable[[str], int]) -> bytes:
    """Encode ``t`` as a BTF record; ``string_offset`` maps a name to its string-table offset."""
    name_off = string_offset(t.name)
    head = struct.Struct(endian + "III").pack
    kind = t.kind
    if isinstance(t, Int):
        word = (t.encoding << 24) | (t.bit_offset << 16) | t.bits
        return head(name_off, _info(kind, 0, False), _u32(t.size, "size", t)) + \
            struct.pack(endian + "I", word)
    if kind in REF_KINDS:
        kflag = bool(getattr(t, "kflag", False))
        return head(name_off, _info(kind, 0, kflag), _u32(t.type_id, "type id", t))  # type: ignore
    if isinstance(t, Array):
        return head(name_off, _info(kind, 0, False), 0) + struct.pack(
            endian + "III", t.type_id, t.index_type_id, _u32(t.nelems, "nelems", t))
    if isinstance(t, Composite):
        kflag = t.kflag or any(m.bitfield_size for m in t.members)
        out = [head(name_off, _info(kind, len(t.members), kflag), _u32(t.size, "size", t))]
        for m in t.members:
            if kflag:
                if m.bitfield_size > 0xFF or m.bit_offset > 0xFFFFFF:
                    raise BTFError(f"struct {t.name or '(anon)'} member {m.name!r}: bitfield "
                                   "size/offset out of range")
                off = (m.bitfield_size << 24) | m.bit_offset
            else:
                off = m.bit_offset
            out.append(struct.pack(endian + "III", string_offset(m.name), m.type_id,
                                   _u32(off, "member offset", t)))
        return b"".join(out)
    if isinstance(t, EnumBase):
        out = [head(name_off, _info(kind, len(t.values), t.signed), t.size)]
        for v in t.values:
            if kind == Kind.ENUM:
                lo, hi = (-(1 << 31), 1 << 31) if t.signed else (0, 1 << 32)
                if not lo <= v.value < hi:
                    raise BTFError(f"enum {t.name or '(anon)'}: value {v.name}={v.value} does "
                                   "not fit in 32 bits")
                out.append(struct.pack(endian + ("Ii" if t.signed else "II"),
                                       string_offset(v.name), v.value))
            else:
                if not -(1 << 63) <= v.value < 1 << 64:
                    raise BTFError(f"enum64 {t.name or '(anon)'}: value {v.name} out of range")
                u = v.value & 0xFFFFFFFFFFFFFFFF
                out.append(struct.pack(endian + "III", string_offset(v.name), u & 0xFFFFFFFF,
                                       u >> 32))
        return b"".join(out)
    if isinstance(t, Fwd):
        return head(name_off, _info(kind, 0, t.is_union), 0)
    if isinstance(t, Func):
        return head(name_off, _info(kind, t.linkage, False), t.type_id)
    if isinstance(t, FuncProto):
        out = [head(name_off, _info(kind, len(t.params), False), t.return_type_id)]
        out += [struct.pack(endian + "II", string_offset(p.name), p.type_id) for p in t.params]
        return b"".join(out)
    if isinstance(t, Var):
        return head(name_off, _info(kind, 0, False), t.type_id) + \
            struct.pack(endian + "I", t.linkage)
    if isinstance(t, Datasec):
        out = [head(name_off, _info(kind, len(t.vars), False), t.size)]
        out += [struct.pack(endian + "III", v.type_id, v.offset, v.size) for v in t.vars]
        return b"".join(out)
    if isinstance(t, Float):
        return head(name_off, _info(kind, 0, False), t.size)
    if isinstance(t, DeclTag):
        return head(name_off, _info(kind, 0, t.kflag), t.type_id) + \
            struct.pack(endian + "i", t.component_idx)
    raise BTFError(f"cannot encode BTF type {t!r}")


def encode_header(endian: str, flags: int, type_len: int, str_len: int) -> bytes:
    return struct.pack(endian + "HBBIIIII", BTF_MAGIC, BTF_VERSION, flags, HEADER_SIZE, 0,
                       type_len, type_len, str_len)
