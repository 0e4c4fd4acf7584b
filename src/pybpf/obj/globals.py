"""Skeleton-style access to global variables by name: ``spec.rodata["num_backends"] = 3``.

Edits the initial contents of a global-data MapSpec through its DATASEC BTF; never touches a
loaded map (after load, use the backend's map instead).
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import ObjectError
from .spec import MapSpec


@dataclass(frozen=True)
class Variable:
    name: str
    map: MapSpec
    offset: int
    size: int
    type_id: int


class GlobalVars(MutableMapping[str, Any]):
    """Variables of all ``.rodata*`` (or ``.data*``, ``.bss*``) maps of one object, by name."""

    def __init__(self, kind: str, maps: list[MapSpec], btf: Any) -> None:
        self.kind = kind
        self.btf = btf
        self._vars: dict[str, Variable] = {}
        if btf is None:
            return
        from ..btf import Datasec, Var
        for spec in maps:
            if spec.value_type is None:
                continue
            datasec = btf[spec.value_type]
            if not isinstance(datasec, Datasec):
                continue
            for vsi in datasec.vars:
                var = btf[vsi.type_id]
                if isinstance(var, Var):
                    self._vars.setdefault(var.name, Variable(var.name, spec, vsi.offset,
                                                             vsi.size, var.type_id))

    def variable(self, name: str) -> Variable:
        try:
            return self._vars[name]
        except KeyError:
            raise ObjectError(f"no global variable {name!r} in .{self.kind} (have: "
                              f"{', '.join(sorted(self._vars)) or 'none'})") from None

    def _buffer(self, var: Variable) -> bytearray:
        spec = var.map
        data = bytearray(spec.contents[0][1]) if spec.contents else bytearray(spec.value_size)
        return data

    def __getitem__(self, name: str) -> Any:
        var = self.variable(name)
        raw = bytes(self._buffer(var)[var.offset:var.offset + var.size])
        return decode_value(self.btf, var.type_id, raw)

    def raw(self, name: str) -> bytes:
        var = self.variable(name)
        return bytes(self._buffer(var)[var.offset:var.offset + var.size])

    def __setitem__(self, name: str, value: Any) -> None:
        var = self.variable(name)
        encoded = encode_value(self.btf, var.type_id, value, var.size, where=f"{name!r}")
        data = self._buffer(var)
        data[var.offset:var.offset + var.size] = encoded
        var.map.contents[:] = [(0, bytes(data))]

    def __delitem__(self, name: str) -> None:
        raise ObjectError(f"global variable {name!r} cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __repr__(self) -> str:
        return f"<GlobalVars .{self.kind}: {', '.join(self._vars)}>"


def encode_value(btf: Any, type_id: int, value: Any, size: int, *, where: str) -> bytes:
    """Typed encoding: ints/enums/bools, char arrays from str/bytes, int arrays from lists."""
    from ..btf import Array, EnumBase, Int, Ptr
    t = btf.resolve(type_id)
    if isinstance(value, (bytes, bytearray, memoryview)) and not (
            isinstance(t, Array) and len(value) < size):
        data = bytes(value)
        if len(data) != size:
            raise ObjectError(f"{where}: expected {size} bytes, got {len(data)}")
        return data
    if isinstance(t, (Int, EnumBase, Ptr)):
        if not isinstance(value, int):
            raise ObjectError(f"{where}: expected an integer, got {type(value).__name__}")
        signed = bool(getattr(t, "is_signed", False) or getattr(t, "signed", False))
        try:
            return int(value).to_bytes(size, "little", signed=signed and value < 0)
        except OverflowError:
            raise ObjectError(f"{where}: {value} does not fit in {size} bytes") from None
    if isinstance(t, Array):
        elem = btf.resolve(t.type_id)
        elem_size = btf.size_of(t.type_id) if t.nelems else 0
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (bytes, bytearray)):
            if len(value) > size:
                raise ObjectError(f"{where}: {len(value)} bytes do not fit in {size}")
            return bytes(value) + bytes(size - len(value))
        if isinstance(value, (list, tuple)):
            if len(value) > t.nelems:
                raise ObjectError(f"{where}: {len(value)} elements do not fit in {t.nelems}")
            parts = [encode_value(btf, t.type_id, v, elem_size, where=f"{where}[{i}]")
                     for i, v in enumerate(value)]
            data = b"".join(parts)
            return data + bytes(size - len(data))
        raise ObjectError(f"{where}: cannot store {type(value).__name__} in a "
                          f"{getattr(elem, 'name', '')} array")
    if hasattr(value, "to_bytes") and not isinstance(value, int):
        return encode_value(btf, type_id, value.to_bytes(), size, where=where)
    raise ObjectError(f"{where}: cannot encode {type(value).__name__} as {t.kind.name}; "
                      f"pass {size} raw bytes")


def decode_value(btf: Any, type_id: int, raw: bytes) -> Any:
    from ..btf import Array, EnumBase, Int
    t = btf.resolve(type_id)
    if isinstance(t, Int):
        return int.from_bytes(raw, "little", signed=t.is_signed)
    if isinstance(t, EnumBase):
        return int.from_bytes(raw, "little", signed=t.signed)
    if isinstance(t, Array) and t.nelems:
        elem = btf.resolve(t.type_id)
        if isinstance(elem, Int) and elem.size == 1 and (elem.is_char or "char" in elem.name):
            return raw
        if isinstance(elem, (Int, EnumBase)):
            step = len(raw) // t.nelems
            return [decode_value(btf, t.type_id, raw[i:i + step])
                    for i in range(0, len(raw), step)]
    return raw
