"""VM maps: the same operation sequences give the same results as kernel maps; VM-only semantics
(LRU eviction, LPM longest match, queue/stack order, program-visible value memory) hand-checked."""
from __future__ import annotations

import errno
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import KeyNotFoundError, MapError
from pybpf.isa.uapi import MapType
from pybpf.obj.mapapi import BPF_ANY, BPF_EXIST, BPF_NOEXIST
from pybpf.vm.maps import create_map
from pybpf.vm.memory import Memory

CPUS = None


def vm_map(type_: MapType, key_size: int, value_size: int, max_entries: int, flags: int = 0):
    return create_map(memory=Memory(), name="m", type=type_, key_size=key_size,
                      value_size=value_size, max_entries=max_entries, flags=flags)


def outcome(fn):
    try:
        return ("ok", fn())
    except KeyNotFoundError:
        return ("missing",)
    except MapError as exc:
        code = getattr(exc, "errno", None)
        return ("error", errno.errorcode.get(code, code))


def apply(m, ops) -> list:
    out = []
    for op in ops:
        kind = op[0]
        if kind == "update":
            out.append(outcome(lambda: m.update(op[1], op[2], op[3])))
        elif kind == "delete":
            out.append(outcome(lambda: m.delete(op[1])))
        elif kind == "lookup":
            out.append(outcome(lambda: m[op[1]]))
        elif kind == "push":
            out.append(outcome(lambda: m.push(op[1], op[2])))
        elif kind == "pop":
            out.append(outcome(lambda: m.pop()))
        elif kind == "peek":
            out.append(outcome(lambda: m.peek()))
    return out


keys = st.integers(0, 9)
flags = st.sampled_from([BPF_ANY, BPF_NOEXIST, BPF_EXIST])
values = st.integers(0, 2**64 - 1)
keyed_ops = st.lists(st.one_of(
    st.tuples(st.just("update"), keys, values, flags),
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("lookup"), keys)), max_size=40)
queue_ops = st.lists(st.one_of(
    st.tuples(st.just("push"), values, st.sampled_from([BPF_ANY, BPF_EXIST])),
    st.tuples(st.just("pop")), st.tuples(st.just("peek"))), max_size=30)

KEYED = [(MapType.HASH, 0), (MapType.ARRAY, 0), (MapType.PERCPU_HASH, 0),
         (MapType.PERCPU_ARRAY, 0), (MapType.LRU_HASH, 0)]


@pytest.mark.kernel
@pytest.mark.parametrize("map_type,flags_", KEYED, ids=[t.name for t, _ in KEYED])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=keyed_ops)
def test_keyed_map_operations_match_the_kernel(map_type, flags_, ops) -> None:
    from pybpf.kernel import KernelMap
    max_entries = 16 if map_type == MapType.LRU_HASH else 6     # LRU never evicts here
    if map_type in (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY):
        ops = [(o[0], o[1], [o[2], o[2] ^ 1] * 1, o[3]) if o[0] == "update" else o for o in ops]
    with KernelMap.create(map_type, 4, 8, max_entries, flags=flags_) as km:
        if km.is_percpu:
            ops = [(o[0], o[1], (o[2] * km.num_cpus)[:km.num_cpus], o[3]) if o[0] == "update" else o
                   for o in ops]
        kernel = apply(km, ops)
        kernel_items = sorted(km.items())
    vm = vm_map(map_type, 4, 8, max_entries, flags_)
    assert apply(vm, ops) == kernel
    assert sorted(vm.items()) == kernel_items


@pytest.mark.kernel
@pytest.mark.parametrize("map_type", [MapType.QUEUE, MapType.STACK])
@settings(max_examples=30, deadline=None)
@given(ops=queue_ops)
def test_queue_and_stack_operations_match_the_kernel(map_type, ops) -> None:
    from pybpf.kernel import KernelMap
    with KernelMap.create(map_type, 0, 8, 4) as km:
        kernel = apply(km, ops)
    assert apply(vm_map(map_type, 0, 8, 4), ops) == kernel


@pytest.mark.kernel
@settings(max_examples=30, deadline=None)
@given(prefixes=st.lists(st.tuples(st.integers(0, 32), st.integers(0, 2**32 - 1), st.integers(0, 99)),
                         max_size=10),
       probes=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=10))
def test_lpm_trie_longest_match_matches_the_kernel(prefixes, probes) -> None:
    from pybpf.kernel import KernelMap
    vm = vm_map(MapType.LPM_TRIE, 8, 4, 16, 1)
    with KernelMap.create(MapType.LPM_TRIE, 8, 4, 16, flags=1) as km:
        for plen, addr, value in prefixes:
            key = struct.pack("<I", plen) + addr.to_bytes(4, "big")
            km.update(key, value)
            vm.update(key, value)
        for addr in probes:
            key = struct.pack("<I", 32) + addr.to_bytes(4, "big")
            assert vm.lookup(key) == km.lookup(key)
        assert sorted(vm.keys()) == sorted(km.keys())


def test_lru_hash_evicts_the_least_recently_used_key() -> None:
    m = vm_map(MapType.LRU_HASH, 4, 8, 3)
    for k in (1, 2, 3):
        m[k] = k
    m.lookup_ptr((1).to_bytes(4, "little"))          # a program touches key 1
    m[4] = 4
    assert sorted(int.from_bytes(k, "little") for k in m.keys()) == [1, 3, 4]
    assert m.evictions == 1


def test_hash_map_full_update_fails_with_e2big() -> None:
    m = vm_map(MapType.HASH, 4, 8, 2)
    m[1] = 1
    m[2] = 2
    with pytest.raises(MapError) as info:
        m[3] = 3
    assert info.value.errno == errno.E2BIG


def test_program_writes_through_lookup_pointer_are_visible_in_the_map() -> None:
    mem = Memory()
    m = create_map(memory=mem, name="h", type=MapType.HASH, key_size=4, value_size=8, max_entries=4)
    m[7] = 1
    addr = m.lookup_ptr((7).to_bytes(4, "little"))
    mem.store(addr, 8, 0xDEADBEEF)
    assert m[7] == (0xDEADBEEF).to_bytes(8, "little")


def test_percpu_lookup_pointer_addresses_the_given_cpus_copy() -> None:
    mem = Memory()
    m = create_map(memory=mem, name="p", type=MapType.PERCPU_ARRAY, key_size=4, value_size=4,
                   max_entries=2, cpus=2)
    mem.store(m.lookup_ptr((1).to_bytes(4, "little"), 1), 4, 9)
    assert [int.from_bytes(v, "little") for v in m[1]] == [0, 9]


def test_array_index_out_of_range_has_no_value_pointer() -> None:
    m = vm_map(MapType.ARRAY, 4, 8, 2)
    assert m.lookup_ptr((2).to_bytes(4, "little")) == 0
    assert m.lookup(2) is None


def test_iterating_a_large_hash_map_returns_every_entry() -> None:
    m = vm_map(MapType.HASH, 4, 8, 20000)
    for i in range(20000):
        m[i] = i
    items = dict(m.items())
    assert len(items) == 20000
    assert items[(19999).to_bytes(4, "little")] == (19999).to_bytes(8, "little")
