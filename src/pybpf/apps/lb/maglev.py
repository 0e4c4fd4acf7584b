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
    return _fill(active, [weights[names[i]] for i in active],
                 [permutation_params(names[i], table_size) for i in active], table_size)


def _fill(order: list[int], weights: list[int], params: list[tuple[int, int]], size: int) -> list[int]:
    """The round-robin fill; ``order[j]`` is written for the j-th backend's claims."""
    table = [EMPTY] * size
    taken = bytearray(size)
    max_weight = max(weights)
    position = [offset for offset, _ in params]
    skips = [skip for _, skip in params]
    credit = [0] * len(order)
    filled = 0
    while True:
        for j, index in enumerate(order):
            c = credit[j] + weights[j]
            if c < max_weight:
                credit[j] = c
                continue
            slot, skip = position[j], skips[j]
            while c >= max_weight:
                c -= max_weight
                while taken[slot]:
                    slot += skip
                    if slot >= size:
                        slot -= size
                taken[slot] = 1
                table[slot] = index
                filled += 1
                if filled == size:
                    return table
                slot += skip
                if slot >= size:
                    slot -= size
            position[j], credit[j] = slot, c
