"""What pybpf's verifier proved about a program, in the form the code generator uses to drop checks.

The JIT keeps a run-time check on every memory access unless the verifier proved that access safe
on every path it explored (defence in depth: unverified programs, ``unsafe=True`` and accesses the
verifier never reached keep all their checks). A proof is used only for exactly the instructions it
was computed for (``VerifierResult.digest``). Pure data: no IR, no memory, no verifier import.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...isa.codec import digest
from ...isa.uapi import MapType, ProgramType
from . import layout as L

# Base pointer types (verifier RegType values) whose proven accesses stay inside one VM region:
# the stack, map values and keys, the packet and ring-buffer records. Their bounds checks are
# dropped; the host address still comes from the region row. Context (rewritten fields), BTF,
# arena and map-struct accesses keep every check.
IN_REGION = frozenset({"fp", "map_value", "map_key", "pkt", "pkt_meta", "mem"})
# ...and whose regions are always writable when the verifier allows a write (the stack; values of
# maps without BPF_F_RDONLY_PROG, the only maps the verifier lets a program write): no
# writability check either. Packet and ring-record writes keep theirs.
ALWAYS_WRITABLE = frozenset({"fp", "map_value"})
_ARRAY_KINDS = {int(MapType.ARRAY): L.MAP_KIND_ARRAY,
                int(MapType.PERCPU_ARRAY): L.MAP_KIND_PERCPU_ARRAY}
_HASH_KINDS = {int(MapType.HASH): L.MAP_KIND_HASH, int(MapType.PERCPU_HASH): L.MAP_KIND_PERCPU_HASH,
               int(MapType.LRU_HASH): L.MAP_KIND_LRU_HASH,
               int(MapType.LRU_PERCPU_HASH): L.MAP_KIND_LRU_PERCPU_HASH}
# xdp_md fields the VM rewrites, by (offset, size): the XDP state word that holds their offset
_XDP_FIELDS = {(0, 4): L.XDP_DATA, (4, 4): L.XDP_END, (8, 4): L.XDP_META}


@dataclass(frozen=True)
class Proof:
    """``accesses``: slot -> base pointer types that memory access was proven safe for;
    ``map_calls``: helper slot -> every (map type, key pointer type) its map argument had;
    ``prog_type``: the program type whose context layout the verifier applied;
    ``base_in_region``: access slots whose base register itself always pointed into the region
    (so ``base >> 32`` names it, and accesses through one register value share that lookup)."""

    accesses: Mapping[int, frozenset[str]] = field(default_factory=dict)
    map_calls: Mapping[int, frozenset[tuple[int, str | None]]] = field(default_factory=dict)
    prog_type: int = -1
    base_in_region: frozenset[int] = frozenset()

    def in_region(self, pc: int) -> frozenset[str] | None:
        """The access's base types when every one stays inside its region, else None."""
        kinds = self.accesses.get(pc)
        return kinds if kinds and kinds <= IN_REGION else None

    def array_lookup(self, pc: int) -> int | None:
        """layout.MAP_KIND_(PERCPU_)ARRAY when the lookup at ``pc`` always has one kind of array
        map and a key inside a region (the kernel inlines these lookups too), else None."""
        return self._one_kind(pc, _ARRAY_KINDS)

    def hash_lookup(self, pc: int) -> int | None:
        """layout.MAP_KIND_*HASH when the lookup at ``pc`` always has one kind of (LRU, per-CPU)
        hash map and a key inside a region, else None."""
        return self._one_kind(pc, _HASH_KINDS)

    def _one_kind(self, pc: int, kinds_by_type: Mapping[int, int]) -> int | None:
        calls = self.map_calls.get(pc)
        if not calls:
            return None
        kinds = {kinds_by_type.get(map_type) for map_type, _ in calls}
        if len(kinds) != 1 or None in kinds:
            return None
        if not all(key in IN_REGION for _, key in calls):
            return None
        return kinds.pop()

    def xdp_field(self, pc: int, off: int, size: int) -> int | None:
        """The XDP state word (layout.XDP_DATA/_END/_META) a load at ``pc`` of the rewritten
        xdp_md field at ``off`` reads, when the verifier proved it a load from an XDP program's
        unmodified context pointer; else None."""
        if self.prog_type != ProgramType.XDP or self.accesses.get(pc) != {"ctx"}:
            return None
        return _XDP_FIELDS.get((off, size))

    def key(self) -> bytes:
        """Canonical bytes of the proof (part of the compiled-code cache key)."""
        return repr((self.prog_type, sorted((pc, sorted(k)) for pc, k in self.accesses.items()),
                     sorted((pc, sorted(c, key=repr)) for pc, c in self.map_calls.items()),
                     sorted(self.base_in_region))).encode()


NO_PROOF = Proof()


def proof_of(prog: Any) -> Proof:
    """The proof of the VerifierResult that accepted ``prog`` (a CompiledProgram), when it was
    computed for exactly these instructions; NO_PROOF (every check kept) for programs loaded
    unsafe, or when ``PYBPF_JIT_CHECKS=all`` asks for every run-time check."""
    result = getattr(prog, "verified", None)
    if (result is None or not getattr(result, "accepted", False)
            or os.environ.get("PYBPF_JIT_CHECKS") == "all"
            or getattr(result, "digest", b"") != digest(prog.instructions)):
        return NO_PROOF
    return Proof(dict(result.access_types), dict(getattr(result, "map_calls", {})),
                 int(getattr(result, "prog_type", -1)),
                 frozenset(getattr(result, "base_in_region", ())))


__all__ = ["Proof", "NO_PROOF", "proof_of", "IN_REGION", "ALWAYS_WRITABLE"]
