"""Skeleton-style access to a loaded collection's global variables: ``coll.bss["counter"]``.

Reads and writes go through an mmap of the global-data map when it is BPF_F_MMAPABLE (live, while
programs run), else through map lookups/updates; typed through the object's DATASEC BTF. Never
creates maps or touches variables of other sections.
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ..errors import KernelError
from .maps import BPF_F_MMAPABLE, KernelMap


class KernelGlobals(MutableMapping[str, Any]):
    """Variables of one kind (``rodata``/``data``/``bss``) of a loaded Collection, by name."""

    def __init__(self, kind: str, spec_vars: Any, maps: dict[str, KernelMap]) -> None:
        self.kind = kind
        self._spec_vars = spec_vars
        self._maps = maps
        self._mmaps: dict[str, Any] = {}

    def _var(self, name: str) -> Any:
        if self._spec_vars is None:
            raise KernelError(f"object has no .{self.kind} variables")
        return self._spec_vars.variable(name)

    def _memory(self, map_name: str) -> Any:
        if map_name in self._mmaps:
            return self._mmaps[map_name]
        m = self._maps[map_name]
        mem = None
        if m.flags & BPF_F_MMAPABLE:
            try:
                mem = m.mmap(writable=self.kind != "rodata")
            except KernelError:
                mem = None
        self._mmaps[map_name] = mem
        return mem

    def raw(self, name: str) -> bytes:
        var = self._var(name)
        mem = self._memory(var.map.name)
        if mem is not None:
            return bytes(mem[var.offset:var.offset + var.size])
        value = self._maps[var.map.name]._lookup(bytes(4))
        return (value or b"")[var.offset:var.offset + var.size]

    def _codec(self, name: str) -> Any:
        """pybpf.btf's codec for the variable's type (what spec.rodata and loaded maps use)."""
        from ..btf.codec import codec_for
        var = self._var(name)
        return var, codec_for(self._spec_vars.btf, var.type_id)

    def __getitem__(self, name: str) -> Any:
        """The variable's value decoded through its BTF type (ints, strings, Records...)."""
        _, codec = self._codec(name)
        return codec.decode(self.raw(name))

    def __setitem__(self, name: str, value: Any) -> None:
        var, codec = self._codec(name)
        data = codec.encode(value)
        if len(data) != var.size:
            raise KernelError(f"global variable {name!r}: encoded {len(data)} bytes, the "
                              f"variable has {var.size}")
        mem = self._memory(var.map.name)
        if mem is not None and self.kind != "rodata":
            mem[var.offset:var.offset + var.size] = data
            return
        m = self._maps[var.map.name]
        current = bytearray(m._lookup(bytes(4)) or bytes(m.value_size))
        current[var.offset:var.offset + var.size] = data
        m._update(bytes(4), bytes(current))          # frozen .rodata raises EPERM here

    def __delitem__(self, name: str) -> None:
        raise KernelError(f"global variable {name!r} cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec_vars or ())

    def __len__(self) -> int:
        return len(self._spec_vars or ())

    def __repr__(self) -> str:
        return f"<KernelGlobals .{self.kind}: {', '.join(self)}>"
