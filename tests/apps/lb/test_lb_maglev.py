"""Maglev table properties (NSDI'16 section 3.4): permutations, balance, disruption, weights, errors.

The truths are the paper's: each backend's preference list is a permutation of the M slots, the
round-robin fill gives equal-weight backends floor(M/N) or ceil(M/N) entries (max/min ~ 1), removing one of N
backends moves close to the ideal 1/N of the table, and weights set the share of entries.
"""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from pybpf.apps.lb.maglev import EMPTY, MaglevError, build_table, is_prime, permutation_params

SMALL_PRIME = 4093


def names(n: int) -> list[str]:
    return [f"10.200.3.{i}" for i in range(n)]


def as_names(table: list[int], backends: list[str]) -> list[str | None]:
    return [None if e == EMPTY else backends[e] for e in table]


@given(st.text(min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_each_backend_preference_list_is_a_permutation_of_all_slots(name):
    offset, skip = permutation_params(name, SMALL_PRIME)
    assert 0 <= offset < SMALL_PRIME and 1 <= skip < SMALL_PRIME
    assert len({(offset + j * skip) % SMALL_PRIME for j in range(SMALL_PRIME)}) == SMALL_PRIME


def test_default_table_is_full_and_balanced_across_100_backends():
    backends = names(100)
    table = build_table(backends)
    assert len(table) == 65537 and EMPTY not in table
    counts = Counter(table)
    assert len(counts) == 100
    assert max(counts.values()) - min(counts.values()) <= 1       # round robin: 655 or 656 each
    assert max(counts.values()) / min(counts.values()) < 1.002


@pytest.mark.parametrize("n", [5, 10, 20])
def test_removing_one_backend_moves_close_to_the_ideal_share(n):
    backends = names(n)
    before = as_names(build_table(backends, 65537), backends)
    survivors = backends[1:]
    after = as_names(build_table(survivors, 65537), survivors)
    moved = sum(1 for a, b in zip(before, after) if a != b) / len(before)
    assert all(b != backends[0] for b in after)
    assert 1 / n <= moved <= 1.15 / n


def test_adding_a_removed_backend_back_restores_the_table_exactly():
    backends = names(8)
    original = as_names(build_table(backends, SMALL_PRIME), backends)
    shuffled = backends[3:] + backends[:3]                         # also: order does not matter
    assert as_names(build_table(shuffled, SMALL_PRIME), shuffled) == original


def test_weights_set_each_backends_share_of_entries():
    table = build_table({"a": 1, "b": 2, "c": 4}, 65537)
    counts = Counter(table)
    total = sum(counts.values())
    for index, weight in enumerate([1, 2, 4]):
        assert counts[index] / total == pytest.approx(weight / 7, rel=0.01)


def test_zero_weight_backend_gets_no_entries():
    table = build_table({"a": 1, "b": 0, "c": 1}, SMALL_PRIME)
    assert 1 not in table and EMPTY not in table


def test_no_backends_gives_an_all_empty_table():
    assert build_table([], SMALL_PRIME) == [EMPTY] * SMALL_PRIME


@pytest.mark.parametrize("size", [1, 4096, 65536])
def test_table_size_must_be_prime(size):
    assert not is_prime(size)
    with pytest.raises(MaglevError, match="not prime"):
        build_table(["a"], size)


@pytest.mark.parametrize("weight", [-1, 1.5, "2"])
def test_bad_weight_is_rejected(weight):
    with pytest.raises(MaglevError, match="weight"):
        build_table({"a": weight}, SMALL_PRIME)


@given(st.dictionaries(st.from_regex(r"10\.200\.3\.[0-9]{1,3}", fullmatch=True),
                       st.integers(1, 8), min_size=1, max_size=24))
@settings(max_examples=40, deadline=None)
def test_every_backend_gets_its_weighted_share_within_the_fill_bound(weights):
    # After R rounds of credit-based filling, backend i has claimed R*w_i/w_max entries, give or
    # take one (credit residue, partial last round). Summing over n backends moves the table size
    # by up to n, so the ideal share M*w_i/T moves by up to n*w_i/T: |count - ideal| <= 1 + n*w_i/T.
    table = build_table(weights, SMALL_PRIME)
    counts = Counter(table)
    total = sum(weights.values())
    n = len(weights)
    assert EMPTY not in counts
    for index, weight in enumerate(weights.values()):
        assert abs(counts[index] - SMALL_PRIME * weight / total) <= 1 + n * weight / total
