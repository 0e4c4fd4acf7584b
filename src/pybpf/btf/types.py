"""The BTF type model: one small immutable dataclass per BTF kind, referring to other types by id.

Pure data: never reads bytes, never resolves ids (that is the BTF container's job), never recurses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Kind(IntEnum):
    """BTF_KIND_* values from include/uapi/linux/btf.h."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# BTF_INT_* encoding bits
INT_SIGNED = 1 << 0
INT_CHAR = 1 << 1
INT_BOOL = 1 << 2

# Function linkage (btf_func_linkage) and variable linkage (btf_var_linkage)
LINKAGE_STATIC = 0
LINKAGE_GLOBAL = 1
LINKAGE_EXTERN = 2


@dataclass(frozen=True, slots=True)
class Type:
    """Common fields: ``id`` (0 until added to a BTF), ``name`` ("" when anonymous)."""

    kind = Kind.UNKN
    name: str = ""
    id: int = field(default=0, compare=False, kw_only=True)

    @property
    def is_anonymous(self) -> bool:
        return not self.name


@dataclass(frozen=True, slots=True)
class Void(Type):
    """Type id 0: ``void``."""

    kind = Kind.UNKN


@dataclass(frozen=True, slots=True)
class Int(Type):
    """An integer (or char/bool): ``size`` bytes, ``bits`` used starting at ``bit_offset``."""

    kind = Kind.INT
    size: int = 4
    encoding: int = 0          # INT_SIGNED | INT_CHAR | INT_BOOL
    bit_offset: int = 0
    bits: int = 32

    @property
    def is_signed(self) -> bool:
        return bool(self.encoding & INT_SIGNED)

    @property
    def is_char(self) -> bool:
        return bool(self.encoding & INT_CHAR)

    @property
    def is_bool(self) -> bool:
        return bool(self.encoding & INT_BOOL)


@dataclass(frozen=True, slots=True)
class _Ref(Type):
    """A kind whose only payload is one referenced ``type_id``."""

    type_id: int = 0


@dataclass(frozen=True, slots=True)
class Ptr(_Ref):
    kind = Kind.PTR


@dataclass(frozen=True, slots=True)
class Typedef(_Ref):
    kind = Kind.TYPEDEF


@dataclass(frozen=True, slots=True)
class Volatile(_Ref):
    kind = Kind.VOLATILE


@dataclass(frozen=True, slots=True)
class Const(_Ref):
    kind = Kind.CONST


@dataclass(frozen=True, slots=True)
class Restrict(_Ref):
    kind = Kind.RESTRICT


@dataclass(frozen=True, slots=True)
class TypeTag(_Ref):
    """``btf_type_tag("x")`` on a pointee; ``kflag`` marks an ``__attribute__`` tag."""

    kind = Kind.TYPE_TAG
    kflag: bool = False


@dataclass(frozen=True, slots=True)
class Array(Type):
    kind = Kind.ARRAY
    type_id: int = 0           # element type
    index_type_id: int = 0
    nelems: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """A struct/union member. ``bitfield_size`` is 0 for ordinary members."""

    name: str
    type_id: int
    bit_offset: int = 0
    bitfield_size: int = 0

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8


@dataclass(frozen=True, slots=True)
class Composite(Type):
    """A struct or union. ``kflag`` set means members carry (bitfield_size, bit_offset) encoding."""

    kind = Kind.UNKN
    size: int = 0
    members: tuple[Member, ...] = ()
    kflag: bool = False

    def member(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        return None


@dataclass(frozen=True, slots=True)
class Struct(Composite):
    kind = Kind.STRUCT


@dataclass(frozen=True, slots=True)
class Union(Composite):
    kind = Kind.UNION


@dataclass(frozen=True, slots=True)
class EnumValue:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class EnumBase(Type):
    """An enum (32- or 64-bit) of ``size`` bytes; ``signed`` comes from the kind flag."""

    kind = Kind.UNKN
    size: int = 4
    values: tuple[EnumValue, ...] = ()
    signed: bool = False

    def value_of(self, name: str) -> int | None:
        for v in self.values:
            if v.name == name:
                return v.value
        return None

    def name_of(self, value: int) -> str | None:
        for v in self.values:
            if v.value == value:
                return v.name
        return None


@dataclass(frozen=True, slots=True)
class Enum(EnumBase):
    kind = Kind.ENUM


@dataclass(frozen=True, slots=True)
class Enum64(EnumBase):
    kind = Kind.ENUM64
    size: int = 8


@dataclass(frozen=True, slots=True)
class Fwd(Type):
    """A forward declaration of a struct (or union when ``is_union``)."""

    kind = Kind.FWD
    is_union: bool = False


@dataclass(frozen=True, slots=True)
class Func(Type):
    """A function: ``type_id`` is its FUNC_PROTO; ``linkage`` is LINKAGE_*."""

    kind = Kind.FUNC
    type_id: int = 0
    linkage: int = LINKAGE_STATIC


@dataclass(frozen=True, slots=True)
class Param:
    """A FUNC_PROTO parameter; a trailing (``""``, 0) param means ``...``."""

    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class FuncProto(Type):
    kind = Kind.FUNC_PROTO
    return_type_id: int = 0
    params: tuple[Param, ...] = ()

    @property
    def is_variadic(self) -> bool:
        return bool(self.params) and self.params[-1].type_id == 0 and not self.params[-1].name


@dataclass(frozen=True, slots=True)
class Var(Type):
    """A global/static variable (in a DATASEC); ``linkage`` is LINKAGE_*."""

    kind = Kind.VAR
    type_id: int = 0
    linkage: int = LINKAGE_STATIC


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    """One DATASEC entry: the VAR (or FUNC for externs) at ``offset`` of ``size`` bytes."""

    type_id: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Datasec(Type):
    kind = Kind.DATASEC
    size: int = 0
    vars: tuple[VarSecinfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Float(Type):
    kind = Kind.FLOAT
    size: int = 8


@dataclass(frozen=True, slots=True)
class DeclTag(Type):
    """``btf_decl_tag`` on ``type_id``; ``component_idx`` is -1 or a member/param index."""

    kind = Kind.DECL_TAG
    type_id: int = 0
    component_idx: int = -1
    kflag: bool = False


VOID = Void()

#: Kinds that only qualify another type (skipped by BTF.skip_qualifiers / resolve).
QUALIFIER_KINDS = frozenset({Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG})
#: Kinds skipped when looking for the underlying type (qualifiers and typedefs).
MODIFIER_KINDS = QUALIFIER_KINDS | {Kind.TYPEDEF}
#: Kinds whose payload is a single referenced type id.
REF_KINDS = frozenset({Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT,
                       Kind.TYPE_TAG})

CLASS_BY_KIND: dict[Kind, type[Type]] = {
    Kind.INT: Int, Kind.PTR: Ptr, Kind.ARRAY: Array, Kind.STRUCT: Struct, Kind.UNION: Union,
    Kind.ENUM: Enum, Kind.FWD: Fwd, Kind.TYPEDEF: Typedef, Kind.VOLATILE: Volatile,
    Kind.CONST: Const, Kind.RESTRICT: Restrict, Kind.FUNC: Func, Kind.FUNC_PROTO: FuncProto,
    Kind.VAR: Var, Kind.DATASEC: Datasec, Kind.FLOAT: Float, Kind.DECL_TAG: DeclTag,
    Kind.TYPE_TAG: TypeTag, Kind.ENUM64: Enum64,
}


def referenced_ids(t: Type) -> list[int]:
    """Every type id ``t`` refers to directly (members, params, element, target...)."""
    if isinstance(t, (_Ref, Func, Var, DeclTag)):
        return [t.type_id]
    if isinstance(t, Array):
        return [t.type_id, t.index_type_id]
    if isinstance(t, Composite):
        return [m.type_id for m in t.members]
    if isinstance(t, FuncProto):
        return [t.return_type_id, *(p.type_id for p in t.params)]
    if isinstance(t, Datasec):
        return [v.type_id for v in t.vars]
    return []
