"""Map lookups done inside native code (arrays, hash maps through the mirrored key index) return
exactly what the map holds after any mix of inserts and deletes from Python and from programs."""
from __future__ import annotations

import random

import pytest

from pybpf.isa.instruction import Instruction as I
from pybpf.isa.uapi import MapType
from pybpf.vm.helpers import HELPERS
from pybpf.vm.jit import make_machine
from pybpf.vm.machine import Machine
from pybpf.vm.maps import create_map

MAP_FD = 5
LOOKUP = [I(0xBF, 2, 1), I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, 1),   # r0 = lookup(map, r1)
          I(0x15, 0, 0, 2, 0), I(0x79, 0, 0, 0), I(0x95),                   # hit: r0 = *value
          I(0xB7, 0, 0, 0, -1), I(0x95)]                                    # miss: r0 = -1
MISS = (1 << 64) - 1


def lookup_machine(engine: str, map_type: MapType, key_size: int = 8, max_entries: int = 64):
    machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
               else Machine(helpers=dict(HELPERS)))
    vm_map = create_map(memory=machine.mem, name="m", type=map_type, key_size=key_size,
                        value_size=8, max_entries=max_entries, cpus=2)
    machine.register_map(vm_map, fd=MAP_FD)
    prog = machine.load("lookup", LOOKUP)
    key_region = machine.mem.new("key", key_size, kind="ctx")

    def lookup(key: bytes) -> int:
        key_region.buf[:] = key
        return machine.run(prog, key_region.base)
    return vm_map, lookup


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.LRU_HASH])
def test_hash_lookups_follow_python_inserts_and_deletes(map_type) -> None:
    rng = random.Random(1)
    vm_map, lookup = lookup_machine("jit", map_type)
    truth: dict[bytes, int] = {}
    for step in range(400):
        key = rng.randrange(100).to_bytes(8, "little")
        if rng.random() < 0.4 and truth:
            victim = rng.choice(sorted(truth))
            vm_map.delete(victim)
            del truth[victim]
        elif len(truth) < 64 or key in truth:
            value = rng.randrange(1 << 62)
            vm_map.update(key, value.to_bytes(8, "little"))
            truth[key] = value
        if step % 20 == 0:
            for k in range(100):
                raw = k.to_bytes(8, "little")
                assert lookup(raw) == truth.get(raw, MISS), (step, k)


def test_array_lookup_past_the_end_is_null_like_the_interpreter() -> None:
    results = {}
    for engine in ("interp", "jit"):
        vm_map, lookup = lookup_machine(engine, MapType.ARRAY, key_size=4, max_entries=8)
        for i in range(8):
            vm_map.update(i.to_bytes(4, "little"), (i * 1000 + 7).to_bytes(8, "little"))
        results[engine] = [lookup(i.to_bytes(4, "little")) for i in (0, 3, 7, 8, 9, 1 << 31)]
    assert results["jit"] == results["interp"] == [7, 3007, 7007, MISS, MISS, MISS]


def test_per_cpu_array_lookup_sees_the_running_cpu() -> None:
    vm_map, lookup = lookup_machine("jit", MapType.PERCPU_ARRAY, key_size=4, max_entries=4)
    vm_map.update((2).to_bytes(4, "little"), [(11).to_bytes(8, "little"), (22).to_bytes(8, "little")])
    assert lookup((2).to_bytes(4, "little")) == 11           # cpu 0 (machine.cpu default)


def test_lookup_with_an_unreadable_key_pointer_faults_like_the_interpreter() -> None:
    errors = []
    for engine in ("interp", "jit"):
        machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
                   else Machine(helpers=dict(HELPERS)))
        vm_map = create_map(memory=machine.mem, name="m", type=MapType.HASH, key_size=8,
                            value_size=8, max_entries=4)
        machine.register_map(vm_map, fd=MAP_FD)
        prog = machine.load("lookup", LOOKUP)
        with pytest.raises(Exception) as info:
            machine.run(prog, 16)
        errors.append(type(info.value).__name__)
    assert errors == ["MemoryAccessError", "MemoryAccessError"]


UPDATE = [I(0xBF, 6, 1),                                        # r6 = &(u32 key, u32 flags, u64 value)
          I(0xBF, 2, 6), I(0xBF, 3, 6), I(0x07, 3, 0, 0, 8),    # r2 = key ptr, r3 = value ptr
          I(0x61, 4, 6, 4), I(0x18, 1, 1, 0, MAP_FD),           # r4 = flags, r1 = map
          I(0x85, 0, 0, 0, 2), I(0x95)]                         # r0 = bpf_map_update_elem(...)


@pytest.mark.parametrize("map_type", [MapType.ARRAY, MapType.PERCPU_ARRAY])
def test_array_updates_give_the_interpreters_errnos_and_contents(map_type) -> None:
    cases = [(k, f) for k in (0, 3, 7, 8, 1 << 31) for f in (0, 1, 2, 3, 4, 8)]
    seen = {}
    for engine in ("interp", "jit"):
        machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
                   else Machine(helpers=dict(HELPERS)))
        vm_map = create_map(memory=machine.mem, name="m", type=map_type, key_size=4,
                            value_size=8, max_entries=8, cpus=2)
        machine.register_map(vm_map, fd=MAP_FD)
        prog = machine.load("update", UPDATE)
        arg = machine.mem.new("arg", 16, kind="ctx")
        results = []
        for n, (key, flags) in enumerate(cases):
            arg.buf[:] = key.to_bytes(4, "little") + flags.to_bytes(4, "little") + \
                (1000 + n).to_bytes(8, "little")
            results.append(machine.run(prog, arg.base))
        seen[engine] = results, [vm_map._lookup(k) for k in vm_map.raw_keys()]
    assert seen["jit"] == seen["interp"]
    assert set(seen["jit"][0]) == {0, (-7) % (1 << 64), (-17) % (1 << 64), (-22) % (1 << 64)}


def _lru_survivors(engine: str, map_type: MapType, lookups: list[int]) -> list[bytes]:
    """Fill a 4-entry LRU map with keys 0..3, look ``lookups`` up from a program, insert 4 and 5
    from Python (two evictions) and return the keys left, in the map's recency order."""
    vm_map, lookup = lookup_machine(engine, map_type, max_entries=4)
    for k in range(4):
        vm_map.update(k.to_bytes(8, "little"), [(k + 100).to_bytes(8, "little")] * 2
                      if vm_map.is_percpu else (k + 100).to_bytes(8, "little"))
    for k in lookups:
        assert lookup(k.to_bytes(8, "little")) == k + 100
    for k in (4, 5):
        vm_map.update(k.to_bytes(8, "little"), [bytes(8)] * 2 if vm_map.is_percpu else bytes(8))
    return list(vm_map.raw_keys())


@pytest.mark.parametrize("map_type", [MapType.LRU_HASH, MapType.LRU_PERCPU_HASH])
def test_native_lru_hits_refresh_recency_like_the_interpreter(map_type) -> None:
    jit = _lru_survivors("jit", map_type, [0, 2])
    assert jit == _lru_survivors("interp", map_type, [0, 2])
    assert jit == [k.to_bytes(8, "little") for k in (0, 2, 4, 5)]     # 1 and 3 were least recent


def test_lru_recency_survives_more_hits_than_the_native_op_log_holds() -> None:
    from pybpf.vm.jit.hashindex import OP_LOG_CAPACITY
    hits = [0, 2, 1] * (OP_LOG_CAPACITY // 3 + 5) + [3, 0]          # overflows the log
    jit = _lru_survivors("jit", MapType.LRU_HASH, hits)
    assert jit == _lru_survivors("interp", MapType.LRU_HASH, hits)
    assert jit == [k.to_bytes(8, "little") for k in (3, 0, 4, 5)]     # 2 then 1 evicted
