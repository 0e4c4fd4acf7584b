"""CO-RE candidate search: target types whose essential name matches a local type, in libbpf's
order (vmlinux first, module BTFs only when vmlinux has none), cached per unmodified target.

Reads BTF through pybpf.btf only; never decides whether a candidate matches (core_spec does).
"""
from __future__ import annotations

import weakref
from typing import Any

from ..btf import EnumBase, Kind
from .core_types import _kind_compat, essential_name


# --- candidates and the driver ---------------------------------------------------------------
_FLAVORED: dict[int, tuple[Any, dict[str, set[str]]]] = {}


def _flavored_names(btf: Any) -> dict[str, set[str]]:
    """essential name -> the target's names with a ``___flavor`` suffix (scanned once per BTF)."""
    cached = _FLAVORED.get(id(btf))
    if cached is not None and cached[0]() is btf and not getattr(btf, "modified", True):
        return cached[1]
    from ..btf.wire import parse_header
    out: dict[str, set[str]] = {}
    layer = btf
    while layer is not None:
        data = layer.to_bytes()
        hdr = parse_header(data)
        start = hdr.hdr_len + hdr.str_off
        strings = data[start:start + hdr.str_len]
        pos = strings.find(b"___")
        while pos != -1:
            begin = strings.rfind(b"\0", 0, pos) + 1
            end = strings.find(b"\0", pos)
            end = len(strings) if end == -1 else end
            name = strings[begin:end].decode("utf-8", "surrogateescape")
            essential = essential_name(name)
            if essential != name:
                out.setdefault(essential, set()).add(name)
            pos = strings.find(b"___", end)
        layer = getattr(layer, "base", None)
    _FLAVORED[id(btf)] = (weakref.ref(btf), out)
    return out


_CANDIDATES: dict[int, tuple[Any, int, dict[tuple[str, int], list[int]]]] = {}


def _candidate_cache(target_btf: Any) -> dict[tuple[str, int], list[int]] | None:
    """Per-target cache of candidate lists; only for BTF nobody is editing (e.g. vmlinux)."""
    if getattr(target_btf, "modified", True):
        return None
    entry = _CANDIDATES.get(id(target_btf))
    if entry is None or entry[0]() is not target_btf or entry[1] != len(target_btf):
        entry = (weakref.ref(target_btf), len(target_btf), {})
        _CANDIDATES[id(target_btf)] = entry
    return entry[2]


def find_candidates(local_btf: Any, local_id: int, target_btf: Any) -> list[int]:
    """Target types of a CO-RE compatible kind whose essential name equals the local one's
    (libbpf bpf_core_add_cands: flavored target names such as ``foo___v2`` count too)."""
    lt = local_btf[local_id]
    name = essential_name(lt.name)
    kind_group = Kind.ENUM if isinstance(lt, EnumBase) else lt.kind
    cache = _candidate_cache(target_btf)
    if cache is not None and (name, kind_group) in cache:
        return list(cache[(name, kind_group)])
    out = set()
    for candidate in (name, *sorted(_flavored_names(target_btf).get(name, ()))):
        for t in target_btf.find(candidate):
            if t.name and _kind_compat(t, lt) and essential_name(t.name) == name:
                out.add(t.id)
    found = sorted(out)
    if cache is not None:
        cache[(name, kind_group)] = found
    return list(found)


def find_candidates_in(local_btf: Any, local_id: int, targets: list[Any]
                       ) -> list[tuple[Any, int]]:
    """libbpf bpf_core_find_cands: the first target (vmlinux) wins when it has candidates;
    otherwise every further target (module BTF split over vmlinux) adds its own types."""
    first, *modules = targets
    found = [(first, i) for i in find_candidates(local_btf, local_id, first)]
    if found:
        return found
    for module in modules:
        own_from = getattr(module, "first_id", 1)
        found += [(module, i) for i in find_candidates(local_btf, local_id, module)
                  if i >= own_from]
    return found
