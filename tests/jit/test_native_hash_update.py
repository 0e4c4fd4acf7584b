"""bpf_map_update_elem on hash, per-CPU hash and LRU hash maps runs in native code (no Python
callback) and leaves exactly the interpreter's results: errnos, values, key order, evictions —
also when programs, Python-side updates/deletes and iteration interleave."""
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
# r1 = &(u64 key, u32 flags, u32 pad, u64 value); r0 = bpf_map_update_elem(map, key, value, flags)
UPDATE = [I(0xBF, 6, 1), I(0xBF, 2, 6), I(0xBF, 3, 6), I(0x07, 3, 0, 0, 16),
          I(0x61, 4, 6, 8), I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, 2), I(0x95)]
# r1 = &key; r0 = *lookup(map, key) or -1
LOOKUP = [I(0xBF, 2, 1), I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, 1),
          I(0x15, 0, 0, 2, 0), I(0x79, 0, 0, 0), I(0x95), I(0xB7, 0, 0, 0, -1), I(0x95)]
HASH_KINDS = [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]


class Rig:
    """One engine's machine with a hash map, an update program and a lookup program."""

    def __init__(self, engine: str, map_type: MapType, max_entries: int) -> None:
        self.machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
                        else Machine(helpers=dict(HELPERS)))
        self.map = create_map(memory=self.machine.mem, name="m", type=map_type, key_size=8,
                              value_size=8, max_entries=max_entries, cpus=2)
        self.machine.register_map(self.map, fd=MAP_FD)
        self.update_prog = self.machine.load("update", UPDATE)
        self.lookup_prog = self.machine.load("lookup", LOOKUP)
        self.arg = self.machine.mem.new("arg", 24, kind="ctx")

    @property
    def callbacks(self) -> int:
        """Helper calls that went to Python (the JIT machine counts them)."""
        return self.machine.python_helper_calls

    def update(self, key: int, value: int, flags: int, cpu: int = 0) -> int:
        self.arg.buf[:] = key.to_bytes(8, "little") + flags.to_bytes(4, "little") + bytes(4) + \
            value.to_bytes(8, "little")
        self.machine.cpu = cpu
        return self.machine.run(self.update_prog, self.arg.base)

    def lookup(self, key: int, cpu: int = 0) -> int:
        self.arg.buf[:8] = key.to_bytes(8, "little")
        self.machine.cpu = cpu
        return self.machine.run(self.lookup_prog, self.arg.base)

    def state(self) -> tuple:
        m = self.map
        return (list(m.raw_keys()), [m._lookup(k) for k in m.raw_keys()], len(m), m.evictions)


@pytest.mark.parametrize("map_type", HASH_KINDS)
def test_updates_of_a_map_with_room_never_call_python(map_type) -> None:
    rig = Rig("jit", map_type, 64)
    results = [rig.update(k, 100 + k, flags) for k in range(40) for flags in (0, 1, 2)]
    # ANY inserts or overwrites; NOEXIST on a now-present key: EEXIST; EXIST overwrites
    assert results == [0, (-17) % (1 << 64), 0] * 40
    assert [rig.lookup(k) for k in (0, 39, 40)] == [100, 139, (1 << 64) - 1]
    assert rig.callbacks == 0                          # updates and lookups stayed native
    assert len(rig.map) == 40                          # len() replays the native inserts


@pytest.mark.parametrize("map_type", HASH_KINDS)
def test_exist_flag_on_an_absent_key_is_enoent_natively(map_type) -> None:
    rig = Rig("jit", map_type, 8)
    assert rig.update(7, 1, 2) == (-2) % (1 << 64)
    assert rig.callbacks == 0 and len(rig.map) == 0


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.LRU_HASH])
def test_a_full_map_goes_to_python_for_e2big_or_eviction(map_type) -> None:
    rig = Rig("jit", map_type, 4)
    for k in range(4):
        assert rig.update(k, k, 0) == 0
    assert rig.callbacks == 0
    expected = 0 if map_type == MapType.LRU_HASH else (-7) % (1 << 64)
    assert rig.update(9, 9, 0) == expected
    assert rig.callbacks == 1


@pytest.mark.parametrize("map_type", HASH_KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_random_interleavings_match_the_interpreter(map_type, seed) -> None:
    rigs = {e: Rig(e, map_type, 12) for e in ("interp", "jit")}
    logs: dict[str, list] = {e: [] for e in rigs}
    for engine, rig in rigs.items():
        rng = random.Random(seed)
        log = logs[engine]
        for step in range(500):
            key = rng.randrange(20)
            op = rng.random()
            cpu = rng.randrange(2)
            if op < 0.55:
                log.append(("u", rig.update(key, rng.randrange(1 << 40), rng.choice((0, 0, 1, 2, 3, 4)),
                                            cpu)))
            elif op < 0.7:
                log.append(("l", rig.lookup(key, cpu)))
            elif op < 0.8:
                raw = key.to_bytes(8, "little")
                try:
                    rig.map.delete(raw)
                    log.append(("d", True))
                except Exception as exc:  # noqa: BLE001 - the error type is compared
                    log.append(("d", type(exc).__name__))
            elif op < 0.9:
                value = rng.randrange(1 << 40).to_bytes(8, "little")
                raw = key.to_bytes(8, "little")
                try:
                    rig.map.update(raw, [value, value] if rig.map.is_percpu else value)
                    log.append(("pu", True))
                except Exception as exc:  # noqa: BLE001
                    log.append(("pu", type(exc).__name__))
            else:
                log.append(("s", rig.state()))
        log.append(("end", rig.state()))
    assert logs["jit"] == logs["interp"]
    assert any(entry[0] == "u" and entry[1] == 0 for entry in logs["jit"])


def test_op_log_overflow_defers_to_python_and_stays_exact() -> None:
    from pybpf.vm.jit.hashindex import OP_LOG_CAPACITY
    states = {}
    for engine in ("interp", "jit"):
        rig = Rig(engine, MapType.LRU_HASH, 2 * OP_LOG_CAPACITY)
        for k in range(OP_LOG_CAPACITY + 40):                 # more inserts than the log holds
            assert rig.update(k, k, 0) == 0
        for k in range(0, OP_LOG_CAPACITY + 40, 3):           # and LRU hits on top
            assert rig.update(k, k + 1, 2) == 0
        for k in range(1000, 1000 + OP_LOG_CAPACITY):        # then evictions
            assert rig.update(k, k, 0) == 0
        states[engine] = rig.state()
    assert states["jit"] == states["interp"]
    assert states["jit"][3] > 0                                # evictions happened
