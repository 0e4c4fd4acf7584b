"""Maglev consistent hashing (Eisenbud et al., NSDI'16, section 3.4): build a VIP's lookup table.

Pure computation on backend names and weights: never touches maps, the kernel or the network.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ...errors import BPFError

DEFAULT_TABLE_SIZE = 65537          # a prime, as the paper requires (M >> N)
EMPTY = 0xFFFFFFFF                  # table value meaning "no backend" (a VIP without backends)


class MaglevError(BPFError):
    """Bad Maglev input: table size not prime, bad weight, duplicate backend."""


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def _name_hash(name: str, salt: bytes) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=salt).digest()
    return int.from_bytes(digest, "little")


def permutation_params(name: str, table_size: int) -> tuple[int, int]:
    """The paper's (offset, skip) for one backend: two independent hashes of its name."""
    offset = _name_hash(name, b"maglev-offset") % table_size
    skip = _name_hash(name, b"maglev-skip") % (table_size - 1) + 1
    return offset, skip


def build_table(backends: Mapping[str, int] | Sequence[str], table_size: int = DEFAULT_TABLE_SIZE
                ) -> list[int]:
    """Return the lookup table: entry i is the index (in iteration order) of the backend for slot i.

    ``backends`` maps a backend name to its weight (a sequence means weight 1 each). Each round
    every backend earns its weight in credit and claims one slot per ``max_weight`` of credit, each
    claim being its next preferred slot still empty (the paper's round-robin fill, weighted the way
    Katran does it). Backends of weight 0 are kept out of the table. An empty set gives a table of
    EMPTY. The result depends only on the set of (name, weight) pairs, not on their order.
    """
    if not is_prime(table_size):
        raise MaglevError(f"Maglev table size {table_size} is not prime")
    weights = dict.fromkeys(backends, 1) if not isinstance(backends, Mapping) else dict(backends)
    if not isinstance(backends, Mapping) and len(weights) != len(backends):
        raise MaglevError("duplicate backend name in Maglev input")
    for name, weight in weights.items():
        if not isinstance(weight, int) or weight < 0:
            raise MaglevError(f"backend {name!r}: weight must be a non-negative integer, got {weight!r}")
    names = list(weights)
    # Fill in name order, so the table depends only on the set of (name, weight), not input order.
    active = sorted((i for i, n in enumerate(names) if weights[n] > 0), key=lambda i: names[i])
    table = [EMPTY] * table_size
    if not active:
        return table
    max_weight = max(weights[names[i]] for i in active)
    position: dict[int, int] = {}
    skips: dict[int, int] = {}
    credit = dict.fromkeys(active, 0)
    for i in active:
        position[i], skips[i] = permutation_params(names[i], table_size)
    filled = 0
    while True:
        for i in active:
            credit[i] += weights[names[i]]
            while credit[i] >= max_weight:
                credit[i] -= max_weight
                slot, skip = position[i], skips[i]
                while table[slot] != EMPTY:
                    slot += skip
                    if slot >= table_size:
                        slot -= table_size
                table[slot] = i
                nxt = slot + skip
                position[i] = nxt - table_size if nxt >= table_size else nxt
                filled += 1
                if filled == table_size:
                    return table
