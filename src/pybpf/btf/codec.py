"""Value codecs from BTF: Python values <-> the bytes of a map key/value, global section or event.

Implements pybpf.obj.mapapi's Codec protocol (``size``, ``encode``, ``decode``); never touches a
map or the kernel. Little-endian layouts (BPF on x86/arm64); bad values raise ValueCodecError.
"""
from __future__ import annotations

import struct
from enum import IntEnum
from typing import Any

from ..errors import BTFError, MapError
from .btf import BTF, MAX_RESOLVE_DEPTH, TypeRef
from .record import Record
from .types import (Array, Composite, Datasec, EnumBase, Float, Int, Kind, Ptr, Type, Union, Var,
                    MODIFIER_KINDS)


class ValueCodecError(MapError, BTFError):
    """A Python value that cannot be encoded as (or bytes that cannot be decoded from) a BTF type."""


# --- leaf codecs -------------------------------------------------------------------------------
class _Codec:
    size: int = 0
    type_name: str = ""

    def _fail(self, value: Any, why: str) -> ValueCodecError:
        return ValueCodecError(f"cannot encode {value!r} as {self.type_name}: {why}")

    def _check(self, data: bytes) -> bytes:
        if len(data) != self.size:
            raise ValueCodecError(f"{self.type_name}: expected {self.size} bytes, got {len(data)}")
        return bytes(data)

    def _raw(self, value: Any) -> bytes | None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self._check(bytes(value))
        return None

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.type_name} size={self.size}>"


class IntCodec(_Codec):
    def __init__(self, size: int, signed: bool, type_name: str) -> None:
        self.size, self.signed, self.type_name = size, signed, type_name

    def encode(self, value: Any) -> bytes:
        raw = self._raw(value)
        if raw is not None:
            return raw
        if not isinstance(value, int):
            raise self._fail(value, "not an int")
        try:
            return int(value).to_bytes(self.size, "little", signed=self.signed)
        except OverflowError:
            raise self._fail(value, f"out of range for {self.size * 8}-bit "
                             f"{'signed' if self.signed else 'unsigned'}") from None

    def decode(self, data: bytes) -> int:
        return int.from_bytes(self._check(data), "little", signed=self.signed)


class BoolCodec(IntCodec):
    def encode(self, value: Any) -> bytes:
        return super().encode(int(value) if isinstance(value, bool) else value)

    def decode(self, data: bytes) -> bool:  # type: ignore[override]
        return bool(super().decode(data))


class CharCodec(IntCodec):
    """A single ``char``: decodes to a 1-character str; encodes str of length 1 or an int."""

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            if len(value) != 1 or ord(value) > 255:
                raise self._fail(value, "need one character")
            return bytes([ord(value)])
        return super().encode(value & 0xFF if isinstance(value, int) else value)

    def decode(self, data: bytes) -> str:  # type: ignore[override]
        return chr(self._check(data)[0])


class EnumCodec(IntCodec):
    """Decodes to a member of an IntEnum built from the BTF enum (unknown values: plain int);
    encodes ints, enum members or value names."""

    def __init__(self, t: EnumBase, type_name: str) -> None:
        super().__init__(t.size, t.signed, type_name)
        members = [(v.name, v.value) for v in t.values if v.name.isidentifier()]
        self.enum: type[IntEnum] | None = None
        if members:
            try:
                self.enum = IntEnum(t.name or "anon_enum", members)  # type: ignore[misc]
            except (ValueError, TypeError):
                self.enum = None
        self._by_name = {v.name: v.value for v in t.values}

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            if value not in self._by_name:
                raise self._fail(value, "no such enumerator")
            value = self._by_name[value]
        return super().encode(int(value) if isinstance(value, IntEnum) else value)

    def decode(self, data: bytes) -> Any:
        v = super().decode(data)
        if self.enum is not None:
            try:
                return self.enum(v)
            except ValueError:
                pass
        return v


class FloatCodec(_Codec):
    def __init__(self, size: int, type_name: str) -> None:
        if size not in (4, 8):
            raise BTFError(f"{type_name}: no codec for {size}-byte floats")
        self.size, self.type_name = size, type_name
        self._fmt = "<f" if size == 4 else "<d"

    def encode(self, value: Any) -> bytes:
        raw = self._raw(value)
        if raw is not None:
            return raw
        try:
            return struct.pack(self._fmt, float(value))
        except (TypeError, ValueError, OverflowError):
            raise self._fail(value, "not a float") from None

    def decode(self, data: bytes) -> float:
        return struct.unpack(self._fmt, self._check(data))[0]


class BytesArrayCodec(_Codec):
    """``unsigned char``/``__u8`` arrays: bytes (encode pads shorter input with zeros)."""

    def __init__(self, size: int, type_name: str) -> None:
        self.size, self.type_name = size, type_name

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (list, tuple)):
            try:
                value = bytes(value)
            except (ValueError, TypeError):
                raise self._fail(value, "list items must be 0..255") from None
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise self._fail(value, "not bytes")
        data = bytes(value)
        if len(data) > self.size:
            raise self._fail(value, f"longer than {self.size} bytes")
        return data.ljust(self.size, b"\0")

    def decode(self, data: bytes) -> bytes:
        return self._check(data)


class StringCodec(BytesArrayCodec):
    """``char[N]``: decodes to str up to the first NUL (bytes when not UTF-8); encodes str/bytes."""

    def decode(self, data: bytes) -> str | bytes:  # type: ignore[override]
        raw = self._check(data).split(b"\0", 1)[0]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw


class ArrayCodec(_Codec):
    """Other arrays: lists of the element's values."""

    def __init__(self, elem: _Codec, count: int, type_name: str) -> None:
        self.elem, self.count, self.type_name = elem, count, type_name
        self.size = elem.size * count

    def encode(self, value: Any) -> bytes:
        raw = self._raw(value)
        if raw is not None:
            return raw
        try:
            items = list(value)
        except TypeError:
            raise self._fail(value, "not a sequence") from None
        if len(items) > self.count:
            raise self._fail(value, f"more than {self.count} elements")
        pad = bytes(self.elem.size * (self.count - len(items)))
        return b"".join(self.elem.encode(v) for v in items) + pad

    def decode(self, data: bytes) -> list[Any]:
        data = self._check(data)
        s = self.elem.size
        return [self.elem.decode(data[i * s:(i + 1) * s]) for i in range(self.count)]


class _Field:
    __slots__ = ("name", "codec", "offset", "bit_offset", "bits", "signed")

    def __init__(self, name: str, codec: _Codec, offset: int, bit_offset: int = 0, bits: int = 0,
                 signed: bool = False) -> None:
        self.name, self.codec, self.offset = name, codec, offset
        self.bit_offset, self.bits, self.signed = bit_offset, bits, signed


class RecordCodec(_Codec):
    """Structs, unions and data sections: decode to :class:`Record`; encode from a Record, a dict
    (missing fields are zero), or raw bytes."""

    def __init__(self, name: str, size: int, fields: list[_Field], anon: tuple[str, ...],
                 type_name: str, is_union: bool = False) -> None:
        self.name, self.size, self.fields, self.anon = name, size, fields, anon
        self.type_name, self.is_union = type_name, is_union
        self._by_name = {f.name: f for f in fields}

    def decode(self, data: bytes) -> Record:
        data = self._check(data)
        values: dict[str, Any] = {}
        for f in self.fields:
            if f.bits:
                nbytes = (f.bit_offset + f.bits + 7) // 8
                word = int.from_bytes(data[f.offset:f.offset + nbytes], "little")
                v = (word >> f.bit_offset) & ((1 << f.bits) - 1)
                if f.signed and v >> (f.bits - 1):
                    v -= 1 << f.bits
                if isinstance(f.codec, EnumCodec) and f.codec.enum is not None:
                    try:
                        v = f.codec.enum(v)
                    except ValueError:
                        pass
                elif isinstance(f.codec, BoolCodec):
                    v = bool(v)
                values[f.name] = v
            else:
                values[f.name] = f.codec.decode(data[f.offset:f.offset + f.codec.size])
        return Record(self.name, values, self.anon)

    def _items(self, value: Any) -> dict[str, Any]:
        if isinstance(value, Record):
            return dict(value._values)
        if isinstance(value, dict):
            items: dict[str, Any] = {}
            for k, v in value.items():
                if k in self._by_name:
                    items[k] = v
                    continue
                owner = self._anon_owner(k)
                if owner is None:
                    raise self._fail(value, f"no field {k!r}")
                items.setdefault(owner, {})
                if isinstance(items[owner], dict):
                    items[owner][k] = v
            return items
        raise self._fail(value, "need a Record, a dict or bytes")

    def _anon_owner(self, key: str) -> str | None:
        for a in self.anon:
            codec = self._by_name[a].codec
            if isinstance(codec, RecordCodec) and (key in codec._by_name or
                                                   codec._anon_owner(key) is not None):
                return a
        return None

    def encode(self, value: Any) -> bytes:
        raw = self._raw(value)
        if raw is not None:
            return raw
        items = self._items(value)
        buf = bytearray(self.size)
        for f in self.fields:
            if f.name not in items:
                continue
            v = items[f.name]
            if f.bits:
                if isinstance(v, str) and isinstance(f.codec, EnumCodec):
                    v = f.codec._by_name.get(v, v)
                if not isinstance(v, int):
                    raise self._fail(value, f"bitfield {f.name!r} needs an int, got {v!r}")
                lo, hi = (-(1 << (f.bits - 1)), 1 << (f.bits - 1)) if f.signed else \
                    (0, 1 << f.bits)
                if not lo <= int(v) < hi:
                    raise self._fail(value, f"{v} does not fit in {f.bits}-bit field {f.name!r}")
                nbytes = (f.bit_offset + f.bits + 7) // 8
                word = int.from_bytes(buf[f.offset:f.offset + nbytes], "little")
                mask = ((1 << f.bits) - 1) << f.bit_offset
                word = (word & ~mask) | ((int(v) << f.bit_offset) & mask)
                buf[f.offset:f.offset + nbytes] = word.to_bytes(nbytes, "little")
            else:
                try:
                    buf[f.offset:f.offset + f.codec.size] = f.codec.encode(v)
                except ValueCodecError as exc:
                    raise ValueCodecError(f"{self.type_name}.{f.name}: {exc}") from None
        return bytes(buf)


# --- construction ------------------------------------------------------------------------------
def type_name(btf: BTF, ref: TypeRef) -> str:
    """A short C-ish name for messages and reprs: ``struct foo``, ``__u32``, ``char[16]``."""
    t = btf.get(ref)
    suffix = ""
    for _ in range(MAX_RESOLVE_DEPTH):
        if t.name:
            prefix = {Kind.STRUCT: "struct ", Kind.UNION: "union ", Kind.ENUM: "enum ",
                      Kind.ENUM64: "enum "}.get(t.kind, "")
            return prefix + t.name + suffix
        if isinstance(t, Array):
            suffix = f"[{t.nelems}]" + suffix
        elif isinstance(t, Ptr):
            suffix = " *" + suffix
        elif t.kind not in MODIFIER_KINDS:
            return (f"(anon {t.kind.name.lower()})" if t.kind != Kind.UNKN else "void") + suffix
        t = btf[t.type_id]  # type: ignore[attr-defined]
    return "(deep type)"


def _is_char(t: Type) -> bool:
    return isinstance(t, Int) and t.size == 1 and (t.is_char or t.name == "char")


MAX_VALUE_SIZE = 1 << 26        # 64 MiB: far above any map value; beyond it the BTF is nonsense


def codec_for(btf: BTF, ref: TypeRef) -> _Codec:
    """A codec for the type ``ref`` (a Type or id) of ``btf``; BTFError for types without a
    value representation (void, functions, forward declarations) or absurd sizes."""
    codec = _build(btf, btf.get(ref), 0)
    if codec.size > MAX_VALUE_SIZE:
        raise BTFError(f"{type_name(btf, ref)} is {codec.size} bytes: too large for a value codec")
    return codec


def _build(btf: BTF, t: Type, depth: int) -> _Codec:
    if depth > 64:
        raise BTFError(f"type nesting too deep at {type_name(btf, t)} (a cycle?)")
    name = type_name(btf, t)
    r = btf.resolve(t)
    if isinstance(r, Int):
        if r.bits < r.size * 8 or r.bit_offset:
            return IntCodec(r.size, r.is_signed, name)   # an old-style bitfield's container
        if r.is_bool or r.name == "_Bool":
            return BoolCodec(r.size, False, name)
        if _is_char(r):
            return CharCodec(1, r.is_signed, name)
        if r.size > 16 or r.size < 1:
            raise BTFError(f"{name}: no codec for {r.size}-byte integers")
        return IntCodec(r.size, r.is_signed, name)
    if isinstance(r, EnumBase):
        return EnumCodec(r, name)
    if isinstance(r, Float):
        return FloatCodec(r.size, name)
    if isinstance(r, Ptr):
        return IntCodec(8, False, name)
    if isinstance(r, Array):
        elem = btf.resolve(r.type_id)
        if _is_char(elem):
            return StringCodec(r.nelems, name)
        if isinstance(elem, Int) and elem.size == 1 and not elem.is_bool:
            return BytesArrayCodec(r.nelems, name)
        if r.nelems > MAX_VALUE_SIZE:
            raise BTFError(f"{name}: array of {r.nelems} elements is too large for a codec")
        return ArrayCodec(_build(btf, btf[r.type_id], depth + 1), r.nelems, name)
    if isinstance(r, Composite):
        return _record_codec(btf, r, name, depth)
    if isinstance(r, Datasec):
        fields = []
        for v in r.vars:
            var = btf[v.type_id]
            if not isinstance(var, Var):
                continue
            codec = _build(btf, btf[var.type_id], depth + 1)
            fields.append(_Field(var.name, codec, v.offset))
        # object files carry size 0 (libbpf fills it in from the ELF section at load time)
        size = r.size or max((v.offset + v.size for v in r.vars), default=0)
        return RecordCodec(r.name, size, fields, (), r.name)
    if isinstance(r, Var):
        return _build(btf, btf[r.type_id], depth + 1)
    raise BTFError(f"no value codec for {name} ({r.kind.name})")


def _record_codec(btf: BTF, r: Composite, name: str, depth: int) -> RecordCodec:
    fields: list[_Field] = []
    anon: list[str] = []
    for i, m in enumerate(r.members):
        field_name = m.name or f"_anon{i}"
        member_type = btf.resolve(m.type_id)
        bits, bit_base = m.bitfield_size, m.bit_offset
        if not bits and isinstance(member_type, Int) and (
                member_type.bits < member_type.size * 8 or member_type.bit_offset):
            bits = member_type.bits                  # pre-kflag bitfield encoding
            bit_base += member_type.bit_offset
        codec = _build(btf, btf[m.type_id], depth + 1)
        if not m.name:
            anon.append(field_name)
        if bits:
            if bit_base + bits > r.size * 8 or bits > 128:
                raise BTFError(f"{name}.{field_name}: bitfield [{bit_base}, {bit_base + bits}) "
                               f"lies outside the {r.size}-byte {r.kind.name.lower()}")
            signed = bool(getattr(member_type, "is_signed", False) or
                          getattr(member_type, "signed", False))
            fields.append(_Field(field_name, codec, bit_base // 8, bit_base % 8, bits, signed))
        else:
            if bit_base % 8:
                raise BTFError(f"{name}.{field_name}: member at bit offset {bit_base} is not "
                               "byte-aligned")
            if bit_base // 8 + codec.size > r.size:
                raise BTFError(f"{name}.{field_name}: member ends past the end of the "
                               f"{r.size}-byte {r.kind.name.lower()}")
            fields.append(_Field(field_name, codec, bit_base // 8))
    return RecordCodec(r.name, r.size, fields, tuple(anon), name, isinstance(r, Union))
