"""Skeleton-style access to global variables by name: ``spec.rodata["num_backends"] = 3``.

Edits the initial contents of a global-data MapSpec through its DATASEC BTF, with the same value
codecs loaded maps use (pybpf.btf.codec); never touches a loaded map (after load, use the
backend's map instead).
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import BPFError, ObjectError
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
        return self._codec(var).decode(raw)

    def raw(self, name: str) -> bytes:
        var = self.variable(name)
        return bytes(self._buffer(var)[var.offset:var.offset + var.size])

    def __setitem__(self, name: str, value: Any) -> None:
        var = self.variable(name)
        try:
            encoded = self._codec(var).encode(value)
        except BPFError as exc:
            raise ObjectError(f"global variable {name!r} in {var.map.name}: {exc}") from None
        if len(encoded) != var.size:
            raise ObjectError(f"global variable {name!r}: encoded {len(encoded)} bytes, the "
                              f"variable has {var.size}")
        data = self._buffer(var)
        data[var.offset:var.offset + var.size] = encoded
        var.map.contents[:] = [(0, bytes(data))]

    def _codec(self, var: Variable) -> Any:
        """pybpf.btf's value codec for the variable's type (the same one loaded maps use)."""
        from ..btf import codec_for
        try:
            return codec_for(self.btf, var.type_id)
        except BPFError as exc:
            raise ObjectError(f"global variable {var.name!r}: {exc}") from None

    def __delitem__(self, name: str) -> None:
        raise ObjectError(f"global variable {name!r} cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __repr__(self) -> str:
        return f"<GlobalVars .{self.kind}: {', '.join(self._vars)}>"


def decode_value(btf: Any, type_id: int, raw: bytes) -> Any:
    """Decode one variable's bytes through pybpf.btf's codec (kept for callers of the old API)."""
    from ..btf import codec_for
    return codec_for(btf, type_id).decode(raw)


def encode_value(btf: Any, type_id: int, value: Any, size: int, *, where: str = "") -> bytes:
    """Encode one variable's value through pybpf.btf's codec; ObjectError when it does not fit."""
    from ..btf import codec_for
    try:
        data = codec_for(btf, type_id).encode(value)
    except BPFError as exc:
        raise ObjectError(f"{where or 'value'}: {exc}") from None
    if len(data) != size:
        raise ObjectError(f"{where or 'value'}: encoded {len(data)} bytes, expected {size}")
    return data
