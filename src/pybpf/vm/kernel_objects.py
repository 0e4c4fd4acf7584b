"""Lays out simulated kernel objects (task_struct and friends) in VM memory from BTF and field values.

A user says ``{"tgid": 70, "comm": "bash", "real_parent": {"tgid": 1}}``; this module places those
values at the offsets the given BTF defines (nested dicts for embedded structs, or for pointers: a
new object is laid out and its address stored). It never invents offsets without BTF.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BTFError, BPFError
from .memory import Region

if TYPE_CHECKING:
    from .machine import Machine

MAX_DEPTH = 8


def layout_object(machine: "Machine", btf: Any, type_name: str, values: dict[str, Any],
                  *, name: str | None = None) -> Region:
    """A read-only kernel-memory region holding ``struct type_name`` filled with ``values``."""
    from ..btf import Struct, Union
    try:
        candidates = [t for t in btf.find(type_name) if isinstance(t, (Struct, Union))]
    except BTFError:
        candidates = []
    complete = [t for t in candidates if t.size]
    if not complete:
        raise BPFError(f"BTF has no complete struct {type_name!r} to lay out a simulated object")
    struct_type = max(complete, key=lambda t: t.size)
    buf = bytearray(struct_type.size)
    _fill(machine, btf, struct_type, buf, 0, values, 0, type_name)
    return machine.mem.new(name or f"{type_name} (simulated)", buf, kind="kernel", writable=False)


def _fill(machine: "Machine", btf: Any, t: Any, buf: bytearray, base: int, values: dict[str, Any],
          depth: int, path: str) -> None:
    from ..btf import Composite
    if depth > MAX_DEPTH:
        raise BPFError(f"{path}: simulated objects nest deeper than {MAX_DEPTH}")
    resolved = btf.resolve(t)
    if not isinstance(resolved, Composite):
        raise BPFError(f"{path} is not a struct or union")
    for field_name, value in values.items():
        member = _find_member(btf, resolved, field_name)
        if member is None:
            raise BPFError(f"{path} has no field {field_name!r}")
        offset, mtype = member
        _store(machine, btf, mtype, buf, base + offset, value, depth, f"{path}.{field_name}")


def _find_member(btf: Any, t: Any, name: str) -> tuple[int, Any] | None:
    """Byte offset and type of member ``name``, looking into anonymous members too."""
    from ..btf import Composite
    for m in t.members:
        if m.name == name:
            return m.bit_offset // 8, btf[m.type_id]
        if not m.name:
            inner = btf.resolve(m.type_id)
            if isinstance(inner, Composite):
                found = _find_member(btf, inner, name)
                if found is not None:
                    return m.bit_offset // 8 + found[0], found[1]
    return None


def _store(machine: "Machine", btf: Any, t: Any, buf: bytearray, off: int, value: Any, depth: int,
           path: str) -> None:
    from ..btf import Array, Composite, Ptr
    resolved = btf.resolve(t)
    size = btf.size_of(resolved) if not isinstance(resolved, Ptr) else 8
    if isinstance(resolved, Composite):
        if not isinstance(value, dict):
            raise BPFError(f"{path}: give a dict of field values for a struct")
        _fill(machine, btf, resolved, buf, off, value, depth + 1, path)
        return
    if isinstance(resolved, Array):
        elem = btf[resolved.type_id]
        elem_size = btf.size_of(elem)
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value[:max(size - 1, 0)])
            buf[off:off + size] = data + bytes(size - len(data))
            return
        for i, item in enumerate(list(value)[:resolved.nelems]):
            _store(machine, btf, elem, buf, off + i * elem_size, item, depth, f"{path}[{i}]")
        return
    if isinstance(resolved, Ptr) and isinstance(value, dict):
        target = btf.resolve(resolved.type_id)
        region = layout_object(machine, btf, target.name, value, name=f"{path} (simulated)") \
            if getattr(target, "name", "") else None
        if region is None:
            raise BPFError(f"{path}: cannot lay out an anonymous pointee")
        value = region.base
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise BPFError(f"{path}: expected an integer, got {type(value).__name__}")
    buf[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def task_values(machine: "Machine") -> dict[str, Any]:
    """Field values of the simulated current task: pid/tgid/comm from SimProcess, then overrides."""
    p = machine.env.process
    comm = p.comm.encode() if isinstance(p.comm, str) else bytes(p.comm)
    values: dict[str, Any] = {"pid": p.pid, "tgid": p.tgid, "comm": comm}
    values.update(p.task)
    return values


__all__ = ["layout_object", "task_values"]
