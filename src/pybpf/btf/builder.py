"""Convenience constructors for editable BTF: ``btf.add_int(...)``, ``add_struct(...)``, ... -> new id.

Mixed into pybpf.btf.BTF; each helper builds one type object and calls ``self.add``. Never decodes
bytes and never validates layouts (``BTF.validate`` does).
"""
from __future__ import annotations

from .types import (INT_BOOL, INT_CHAR, INT_SIGNED, Array, Const, Datasec, DeclTag, Enum, Enum64,
                    EnumValue, Float, Func, FuncProto, Fwd, Int, Kind, Member, Param, Ptr,
                    Restrict, Struct, Type, Typedef, TypeTag, Union, Var, VarSecinfo, Volatile)


class TypeBuilderMixin:
    """``add_*`` helpers; the host class provides ``add(type) -> id`` and ``find``."""

    def add(self, t: Type) -> int:  # pragma: no cover - provided by BTF
        raise NotImplementedError

    def find(self, name: str, kind: Kind | None = None) -> list[Type]:  # pragma: no cover
        raise NotImplementedError

    def add_int(self, name: str, size: int, *, signed: bool = False, char: bool = False,
                bool_: bool = False, bits: int | None = None) -> int:
        encoding = (INT_SIGNED if signed else 0) | (INT_CHAR if char else 0) | \
            (INT_BOOL if bool_ else 0)
        return self.add(Int(name, size, encoding, 0, size * 8 if bits is None else bits))

    def add_ptr(self, type_id: int) -> int:
        return self.add(Ptr("", type_id))

    def add_const(self, type_id: int) -> int:
        return self.add(Const("", type_id))

    def add_volatile(self, type_id: int) -> int:
        return self.add(Volatile("", type_id))

    def add_restrict(self, type_id: int) -> int:
        return self.add(Restrict("", type_id))

    def add_type_tag(self, value: str, type_id: int) -> int:
        return self.add(TypeTag(value, type_id))

    def add_typedef(self, name: str, type_id: int) -> int:
        return self.add(Typedef(name, type_id))

    def add_array(self, elem_type_id: int, nelems: int, index_type_id: int | None = None) -> int:
        if index_type_id is None:
            index_type_id = self._any_int()
        return self.add(Array("", elem_type_id, index_type_id, nelems))

    def _any_int(self) -> int:
        for t in self.find("int", Kind.INT):
            return t.id
        return self.add_int("int", 4, signed=True)

    def add_struct(self, name: str, size: int,
                   members: list[Member | tuple[str, int, int] | tuple[str, int, int, int]],
                   *, union: bool = False) -> int:
        """Members are Member objects or (name, type_id, bit_offset[, bitfield_size]) tuples."""
        ms = tuple(m if isinstance(m, Member) else Member(*m) for m in members)
        kflag = any(m.bitfield_size for m in ms)
        return self.add((Union if union else Struct)(name, size, ms, kflag))

    def add_union(self, name: str, size: int,
                  members: list[Member | tuple[str, int, int] | tuple[str, int, int, int]]) -> int:
        return self.add_struct(name, size, members, union=True)

    def add_enum(self, name: str, values: dict[str, int] | list[tuple[str, int]], *,
                 size: int = 4, signed: bool | None = None) -> int:
        items = list(values.items()) if isinstance(values, dict) else list(values)
        if signed is None:
            signed = any(v < 0 for _, v in items)
        vals = tuple(EnumValue(n, v) for n, v in items)
        return self.add((Enum64 if size == 8 else Enum)(name, size, vals, signed))

    def add_fwd(self, name: str, *, union: bool = False) -> int:
        return self.add(Fwd(name, union))

    def add_func_proto(self, return_type_id: int, params: list[tuple[str, int]]) -> int:
        return self.add(FuncProto("", return_type_id, tuple(Param(n, t) for n, t in params)))

    def add_func(self, name: str, proto_id: int, linkage: int = 1) -> int:
        return self.add(Func(name, proto_id, linkage))

    def add_var(self, name: str, type_id: int, linkage: int = 1) -> int:
        return self.add(Var(name, type_id, linkage))

    def add_datasec(self, name: str, size: int, vars_: list[tuple[int, int, int]]) -> int:
        return self.add(Datasec(name, size, tuple(VarSecinfo(*v) for v in vars_)))

    def add_float(self, name: str, size: int) -> int:
        return self.add(Float(name, size))

    def add_decl_tag(self, value: str, type_id: int, component_idx: int = -1) -> int:
        return self.add(DeclTag(value, type_id, component_idx))

