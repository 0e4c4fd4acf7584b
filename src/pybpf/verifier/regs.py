"""Abstract register values: a type (scalar or a kind of pointer), a fixed and a variable offset.

Immutable values with kernel-style names (``scalar``, ``map_value_or_null``, ``pkt``...); never mutated.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

from . import bounds as B
from .bounds import Bounds


class RegType(str, Enum):
    NOT_INIT = "?"
    SCALAR = "scalar"
    PTR_TO_CTX = "ctx"
    CONST_PTR_TO_MAP = "map_ptr"
    CONST_PTR_TO_MAP_OR_NULL = "map_ptr_or_null"
    PTR_TO_MAP_VALUE = "map_value"
    PTR_TO_MAP_VALUE_OR_NULL = "map_value_or_null"
    PTR_TO_MAP_KEY = "map_key"
    PTR_TO_STACK = "fp"
    PTR_TO_PACKET = "pkt"
    PTR_TO_PACKET_META = "pkt_meta"
    PTR_TO_PACKET_END = "pkt_end"
    PTR_TO_MEM = "mem"
    PTR_TO_MEM_OR_NULL = "mem_or_null"
    PTR_TO_BTF_ID = "ptr_"
    PTR_TO_FUNC = "func"
    PTR_TO_ARENA = "arena"


# bound once: on Python 3.11 each ``RegType.X`` lookup goes through EnumType.__getattr__'s slow
# hook, and is_pointer / is_scalar are asked at nearly every instruction the verifier processes
_NOT_POINTERS = (RegType.SCALAR, RegType.NOT_INIT)
_T_SCALAR = RegType.SCALAR

OR_NULL = {RegType.PTR_TO_MAP_VALUE_OR_NULL: RegType.PTR_TO_MAP_VALUE,
           RegType.PTR_TO_MEM_OR_NULL: RegType.PTR_TO_MEM,
           RegType.CONST_PTR_TO_MAP_OR_NULL: RegType.CONST_PTR_TO_MAP}
PACKET_TYPES = (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META)


@dataclass(frozen=True, slots=True)
class MapInfo:
    """What the verifier knows of a map a program references."""
    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    readonly: bool = False
    frozen_data: bytes | None = None    # value of a frozen read-only map (.rodata): loads are known
    inner: "MapInfo | None" = None      # map-in-map: the template of the maps it holds


class Reg(NamedTuple):
    """One register's abstract value.

    ``var`` holds a scalar's value or a pointer's variable offset; ``off`` a pointer's fixed offset.
    ``id`` links copies (null checks, packet ranges, scalar bounds); ``ref`` is an acquired reference
    (ring buffer record); ``range`` is the proven packet bytes or a PTR_TO_MEM's size.
    """
    type: RegType
    var: Bounds = B.UNKNOWN
    off: int = 0
    id: int = 0
    ref: int = 0
    range: int = 0
    map: MapInfo | None = None
    frame: int = 0           # PTR_TO_STACK: which call frame's stack
    target: int = 0          # PTR_TO_FUNC: the subprogram's first instruction
    readonly: bool = False

    @property
    def is_pointer(self) -> bool:
        return self.type not in _NOT_POINTERS

    @property
    def is_scalar(self) -> bool:
        return self.type is _T_SCALAR

    def with_(self, **kw) -> "Reg":  # noqa: ANN003
        return self._replace(**kw)

    def describe(self) -> str:
        t = self.type
        if t is RegType.NOT_INIT:
            return "?"
        if t is RegType.SCALAR:
            text = self.var.describe()
            if not text:
                text = "scalar()"
            elif text.startswith("("):
                text = "scalar" + text
            return text
        parts = []
        if self.id:
            parts.append(f"id={self.id}")
        if self.ref:
            parts.append(f"ref_obj_id={self.ref}")
        if self.off:
            parts.append(f"off={self.off}")
        if self.map is not None:
            parts.append(f"ks={self.map.key_size},vs={self.map.value_size}")
        if t in PACKET_TYPES:
            parts.append(f"r={self.range}")
        if t in (RegType.PTR_TO_MEM, RegType.PTR_TO_MEM_OR_NULL):
            parts.append(f"sz={self.range}")
        if not self.var.is_const or self.var.const:
            parts.append(f"var={self.var.describe() or 'unknown'}")
        if t is RegType.PTR_TO_STACK and self.var.is_const:
            prefix = f"fp{self.off}" if self.frame == 0 else f"fp[{self.frame}]{self.off}"
            parts = [p for p in parts if not p.startswith(("off=", "var="))]
            return prefix + (f"({','.join(parts)})" if parts else "")
        return f"{t.value}({','.join(parts)})"


NOT_INIT = Reg(RegType.NOT_INIT)
UNKNOWN_SCALAR = Reg(RegType.SCALAR)


def scalar(value: Bounds) -> Reg:
    return Reg(_T_SCALAR, value)


@lru_cache(maxsize=1 << 12)
def const_scalar(value: int) -> Reg:
    """A known constant (cached: Regs are immutable, and every immediate operand makes one)."""
    return Reg(_T_SCALAR, B.const(value))
