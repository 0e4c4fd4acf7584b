"""Context layout of BTF-typed tracing programs (tp_btf, fentry/fexit/fmod_ret, lsm) from target BTF.

Looks up the attach target's prototype in a given BTF (normally vmlinux) and says which u64 context
slots hold pointers to structs and how big those structs are. Never reads files or the kernel itself.
"""
from __future__ import annotations

from typing import Any

from ..errors import BTFError

BTF_TRACE_PREFIX = "btf_trace_"


def _params(btf: Any, section: str, target: str) -> list[Any] | None:
    from ..btf import Kind
    from ..btf.types import FuncProto, Ptr
    kind = section.split("/", 1)[0].split(".", 1)[0]
    if kind == "tp_btf":
        typedef = btf.find_one(BTF_TRACE_PREFIX + target, Kind.TYPEDEF)
        ptr = btf.resolve(typedef.type_id)
        if not isinstance(ptr, Ptr):
            return None
        proto = btf.resolve(ptr.type_id)
        return list(proto.params[1:]) if isinstance(proto, FuncProto) else None
    if kind in ("fentry", "fexit", "fmod_ret", "lsm"):
        name = f"bpf_lsm_{target}" if kind == "lsm" else target
        func = btf.find_one(name, Kind.FUNC)
        proto = btf[func.type_id]
        if not isinstance(proto, FuncProto):
            return None
        params = list(proto.params)
        if kind in ("fexit", "fmod_ret"):
            params.append(type("Ret", (), {"type_id": proto.return_type_id})())
        return params
    return None


def field_pointee(btf: Any, type_id: int, off: int, size: int) -> int | None:
    """If bytes [off, off+size) of struct ``type_id`` are exactly a pointer-to-struct member, the
    pointee's type id; otherwise None (the load yields a scalar)."""
    from ..btf.types import Array, Composite, Ptr
    try:
        t = btf.resolve(type_id)
        while True:
            if isinstance(t, Composite):
                for m in t.members:
                    if m.bitfield_size:
                        continue
                    start = m.bit_offset // 8
                    msize = btf.size_of(m.type_id)
                    if start <= off and off + size <= start + msize:
                        off -= start
                        t = btf.resolve(m.type_id)
                        break
                else:
                    return None
            elif isinstance(t, Array):
                esize = btf.size_of(t.type_id)
                if not esize:
                    return None
                off %= esize
                t = btf.resolve(t.type_id)
            elif isinstance(t, Ptr):
                if off == 0 and size == 8:
                    pointee = btf.resolve(t.type_id)
                    return pointee.id if isinstance(pointee, Composite) else None
                return None
            else:
                return None
    except (BTFError, KeyError, IndexError, AttributeError, TypeError):
        return None


def struct_size(btf: Any, type_id: int) -> int:
    try:
        return int(btf.size_of(type_id))
    except (BTFError, KeyError, IndexError, AttributeError, TypeError):
        return 0


def pointer_args(btf: Any, section: str, target: str) -> tuple[int, ...] | None:
    """Per context slot: the BTF id of the struct it points to, or 0 for a scalar; None if unknown."""
    from ..btf.types import Composite, Ptr
    try:
        params = _params(btf, section, target)
    except (BTFError, KeyError, IndexError, AttributeError):
        return None
    if params is None:
        return None
    out = []
    for p in params:
        t = btf.resolve(p.type_id)
        if isinstance(t, Ptr):
            pointee = btf.resolve(t.type_id)
            out.append(pointee.id if isinstance(pointee, Composite) else 0)
        else:
            out.append(0)
    return tuple(out)
