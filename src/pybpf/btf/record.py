"""Record: what a decoded struct/union/DATASEC value looks like to Python users.

Attribute access (also to anonymous members' fields, like C), ``==`` with Records or dicts,
hash by value, readable repr, ``_asdict()``/``_replace()``. Plain data: never encodes or decodes.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any


class Record:
    """A decoded struct/union: attribute access, ``==``, readable repr, ``_asdict()``.

    Fields of anonymous struct/union members are reachable directly (``rec.x``) like in C.
    """

    __slots__ = ("_name", "_fields", "_values", "_anon")

    def __init__(self, name: str, values: dict[str, Any], anon: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_fields", tuple(values))
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_anon", anon)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        for anon in object.__getattribute__(self, "_anon"):
            inner = values[anon]
            if isinstance(inner, Record):
                try:
                    return getattr(inner, name)
                except AttributeError:
                    pass
        raise AttributeError(f"{self._name or 'record'} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._values:
            self._values[name] = value
            return
        for anon in self._anon:
            inner = self._values[anon]
            if isinstance(inner, Record) and inner._has(name):
                setattr(inner, name, value)
                return
        raise AttributeError(f"{self._name or 'record'} has no field {name!r}")

    def _has(self, name: str) -> bool:
        return name in self._values or any(
            isinstance(self._values[a], Record) and self._values[a]._has(name) for a in self._anon)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def _replace(self, **changes: Any) -> "Record":
        """A copy with some fields changed (like namedtuple._replace)."""
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"{self._name or 'record'} has no field(s) {sorted(unknown)}")
        return Record(self._name, {**self._values, **changes}, self._anon)

    def _asdict(self) -> dict[str, Any]:
        """Fields as a dict (nested records converted too)."""
        def plain(v: Any) -> Any:
            if isinstance(v, Record):
                return v._asdict()
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v
        return {k: plain(v) for k, v in self._values.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._values == other._values
        if isinstance(other, dict):
            return self._asdict() == other
        return NotImplemented

    def __hash__(self) -> int:
        """Hash by value, so decoded map keys work as dict keys (do not mutate such a key)."""
        def frozen(v: Any) -> Any:
            return tuple(frozen(x) for x in v) if isinstance(v, list) else v
        return hash((self._name, tuple((k, frozen(v)) for k, v in self._values.items())))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values.items())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self._values.items())
        return f"{self._name or '(anon)'}({inner})"


def _show(value: Any) -> str:
    """repr, except enum members print as their enumerator name (like bpftool's map dump)."""
    if isinstance(value, IntEnum):
        return value.name or str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)
