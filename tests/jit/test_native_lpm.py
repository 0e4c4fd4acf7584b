"""bpf_map_lookup_elem on LPM tries runs in native code (no Python callback) through the prefix
index the map keeps current (native_lpm), and gives exactly the interpreter's results: the longest
stored prefix no longer than the key's prefixlen, the same value address, NULL on a miss — also
after Python-side and program-side inserts and deletes; and the kernel's results on a compiled
XDP program."""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf.isa.instruction import Instruction as I
from pybpf.isa.uapi import MapType
from pybpf.vm.helpers import HELPERS
from pybpf.vm.jit import layout as L
from pybpf.vm.jit import make_machine
from pybpf.vm.machine import Machine
from pybpf.vm.maps import create_map
from vm_support import on_cpu0

MAP_FD = 5
# r1 = &key; r0 = lookup(map, key); a hit adds 1 to the u64 value through the pointer; exit r0
LOOKUP_BUMP = [I(0xBF, 2, 1), I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, L.HELPER_MAP_LOOKUP),
               I(0x15, 0, 0, 3, 0), I(0x79, 1, 0, 0), I(0x07, 1, 0, 0, 1), I(0x7B, 0, 1, 0),
               I(0x95)]
# r1 = &(key at 0, u64 value at 24, u32 flags at 32); r0 = bpf_map_update_elem(map, key, value,
# flags)
UPDATE = [I(0xBF, 6, 1), I(0xBF, 2, 6), I(0xBF, 3, 6), I(0x07, 3, 0, 0, 24), I(0x61, 4, 6, 32),
          I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, L.HELPER_MAP_UPDATE), I(0x95)]
# r1 = &key; r0 = bpf_map_delete_elem(map, key)
DELETE = [I(0xBF, 2, 1), I(0x18, 1, 1, 0, MAP_FD), I(0x85, 0, 0, 0, 3), I(0x95)]
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lpm_key(plen: int, data: bytes) -> bytes:
    return plen.to_bytes(4, "little") + data


class Rig:
    """One engine's machine with an LPM trie (u64 values) and lookup/update/delete programs."""

    def __init__(self, engine: str, data_size: int, max_entries: int,
                 helpers: dict | None = None) -> None:
        table = dict(HELPERS) if helpers is None else helpers
        self.machine = make_machine(helpers=table) if engine == "jit" else Machine(helpers=table)
        self.key_size = 4 + data_size
        self.map = create_map(memory=self.machine.mem, name="routes", type=MapType.LPM_TRIE,
                              key_size=self.key_size, value_size=8, max_entries=max_entries)
        self.machine.register_map(self.map, fd=MAP_FD)
        self.lookup_prog = self.machine.load("lookup", LOOKUP_BUMP)
        self.update_prog = self.machine.load("update", UPDATE)
        self.delete_prog = self.machine.load("delete", DELETE)
        self.arg = self.machine.mem.new("arg", 40, kind="ctx")

    @property
    def native_lookups_only(self) -> bool:
        """No bpf_map_lookup_elem went to Python (the JIT machine counts callbacks)."""
        return self.machine.python_calls.get(L.HELPER_MAP_LOOKUP, 0) == 0

    def lookup(self, key: bytes) -> tuple[int, int | None]:
        """(value address the program got, the value after its bump or None on a miss)."""
        self.arg.buf[:self.key_size] = key
        address = self.machine.run(self.lookup_prog, self.arg.base)
        if address == 0:
            return 0, None
        return address, int.from_bytes(self.machine.mem.read(address, 8), "little")

    def update(self, key: bytes, value: int, flags: int) -> int:
        self.arg.buf[:] = key.ljust(24, b"\0") + value.to_bytes(8, "little") + \
            flags.to_bytes(4, "little") + bytes(4)
        return self.machine.run(self.update_prog, self.arg.base)

    def delete(self, key: bytes) -> int:
        self.arg.buf[:self.key_size] = key
        return self.machine.run(self.delete_prog, self.arg.base)

    def contents(self) -> list[tuple[bytes, bytes | None]]:
        return sorted((k, self.map._lookup(k)) for k in self.map.raw_keys())


def bit_string(data: bytes) -> str:
    return "".join(f"{byte:08b}" for byte in data)


def reference_match(prefixes: dict[str, tuple[int, bytes]], key: bytes, max_prefix: int
                    ) -> tuple[int, bytes] | None:
    """The longest stored prefix for ``key`` over bit strings (independent of maps.py):
    ``prefixes`` maps each entry's first prefixlen bits to the entry; the key's prefixlen bounds
    the match, data compared most significant bit first."""
    plen = int.from_bytes(key[:4], "little")
    if plen > max_prefix:
        return None
    bits = bit_string(key[4:])
    return next((prefixes[bits[:n]] for n in range(plen, -1, -1) if bits[:n] in prefixes), None)


# --- operations for the differential test ------------------------------------------------------
@st.composite
def scenario(draw: st.DrawFn) -> tuple[int, list[tuple]]:
    """(data size, operations). Data is near a few random bases (a base with its bits scrambled
    from a random position on), so stored prefixes and lookup keys overlap often; inserts and
    deletes pick from a few candidate entries (or a prefixlen past the data, for programs), so
    deletes and re-inserts of a stored entry happen often."""
    size = draw(st.sampled_from([1, 3, 4, 16]))
    bits = size * 8
    bases = draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=3))
    data = st.tuples(st.sampled_from(bases), st.integers(0, (1 << bits) - 1),
                     st.integers(0, bits)).map(
        lambda t: (t[0] ^ (t[1] >> t[2])).to_bytes(size, "big"))
    plen = st.one_of(st.integers(0, bits), st.just(bits), st.sampled_from([bits + 1, 1 << 31]))
    entry = st.sampled_from(draw(st.lists(st.tuples(st.integers(0, bits), data), min_size=1,
                                          max_size=4)))
    target = st.one_of(entry, entry, entry, st.tuples(st.sampled_from([bits + 1, 1 << 31]), data))
    value = st.integers(0, 1 << 40)
    op = st.one_of(
        st.tuples(st.just("lookup"), st.one_of(st.tuples(plen, data),
                                               entry.map(lambda e: (bits, e[1])))),
        st.tuples(st.just("py_update"), entry, value),
        st.tuples(st.just("prog_update"), entry, value, st.just(0)),
        st.tuples(st.just("py_delete"), entry),
        st.tuples(st.just("prog_update"), target, value, st.sampled_from([0, 0, 1, 2, 3])),
        st.tuples(st.just("prog_delete"), target))
    return size, draw(st.lists(op, min_size=1, max_size=60))


def checked_lookup(rig: Rig, key: bytes) -> tuple[bool, int | None]:
    """A program lookup whose address must be the one the map's Python lookup gives."""
    expected = rig.map.lookup_ptr(key)                    # the interpreter's helper, this map
    address, value = rig.lookup(key)
    assert address == expected, (key, address, expected)
    return address != 0, value


def mutate(rig: Rig, kind: str, key: bytes, rest: list) -> object:
    """One insert/delete from Python or from a program: its errno or error type."""
    try:
        if kind == "py_update":
            rig.map.update(key, rest[0].to_bytes(8, "little"))
        elif kind == "py_delete":
            rig.map.delete(key)
        elif kind == "prog_update":
            return rig.update(key, rest[0], rest[1])
        else:
            return rig.delete(key)
    except Exception as exc:  # noqa: BLE001 - the error type is compared
        return type(exc).__name__
    return 0


def play(rig: Rig, ops: list[tuple]) -> list:
    """Apply ``ops`` to ``rig``: every change is followed by a full-length lookup of its data."""
    log: list = []
    bits = (rig.key_size - 4) * 8
    for kind, (plen, data), *rest in ops:
        key = lpm_key(plen, data)
        if kind == "lookup":
            log.append((kind, *checked_lookup(rig, key)))
        else:
            log.append((kind, mutate(rig, kind, key, rest)))
            log.append(("probe", *checked_lookup(rig, lpm_key(bits, data))))
    return log


@FUZZ
@given(scenario())
def test_random_prefixes_and_lookups_match_the_interpreter(case) -> None:
    size, ops = case
    rigs = {e: Rig(e, size, max_entries=6) for e in ("interp", "jit")}
    logs = {e: play(rig, ops) for e, rig in rigs.items()}
    assert logs["jit"] == logs["interp"]
    assert rigs["jit"].contents() == rigs["interp"].contents()
    assert rigs["jit"].native_lookups_only


@pytest.mark.parametrize("data_size", [4, 16])
def test_a_large_trie_gives_the_longest_prefix_without_python(data_size) -> None:
    """Hundreds of prefixes of every length around a few bases, checked against a brute-force
    longest-prefix match, then again after deleting half of them (tombstones, rebuilds)."""
    rng = random.Random(data_size)
    bits = data_size * 8
    rig = Rig("jit", data_size, max_entries=600)
    bases = [int.from_bytes(rng.randbytes(data_size), "big") for _ in range(8)]

    def near() -> int:
        return rng.choice(bases) ^ (rng.getrandbits(bits) >> rng.randrange(bits + 1))
    truth: dict[tuple[int, bytes], int] = {}          # entry -> its value (bumped by hits)
    while len(truth) < 600:
        plen = rng.randrange(bits + 1)
        data = (near() >> (bits - plen) << (bits - plen)).to_bytes(data_size, "big")
        truth[(plen, data)] = len(truth)
        rig.map.update(lpm_key(plen, data), truth[(plen, data)].to_bytes(8, "little"))
    for round_ in range(2):
        prefixes = {bit_string(data)[:plen]: (plen, data) for plen, data in truth}
        for _ in range(1500):
            key = lpm_key(rng.choice([bits, bits, rng.randrange(bits + 1)]),
                          near().to_bytes(data_size, "big"))
            entry = reference_match(prefixes, key, bits)
            _, value = rig.lookup(key)
            if entry is None:
                assert value is None, key
            else:
                truth[entry] += 1
                assert value == truth[entry], key
        if round_ == 0:
            for entry in rng.sample(sorted(truth), 300):
                rig.map.delete(lpm_key(*entry))
                del truth[entry]
    assert rig.native_lookups_only


def test_lookup_addresses_are_the_pythons_and_stores_through_them_land_in_the_map() -> None:
    rig = Rig("jit", 4, max_entries=8)
    routes = [(0, "0.0.0.0", 1), (8, "10.0.0.0", 2), (24, "10.1.2.0", 3), (32, "10.1.2.3", 4)]
    for plen, ip, value in routes:
        rig.map.update(lpm_key(plen, bytes(map(int, ip.split(".")))), value.to_bytes(8, "little"))
    # (key prefixlen, address, the matched value after this lookup's bump)
    cases = [(32, "10.1.2.3", 5), (32, "10.1.2.9", 4), (23, "10.1.2.3", 3), (32, "11.1.1.1", 2),
             (0, "10.1.2.3", 3), (33, "10.1.2.3", None)]
    for plen, ip, expected in cases:
        key = lpm_key(plen, bytes(map(int, ip.split("."))))
        before = rig.map.lookup_ptr(key)
        address, value = rig.lookup(key)
        assert address == before
        assert value == expected
        if expected is not None:                               # the bump landed in the map
            assert rig.map._lookup(key) == value.to_bytes(8, "little")
    assert rig.native_lookups_only


def test_lookup_with_an_unreadable_key_faults_like_the_interpreter() -> None:
    errors = []
    for engine in ("interp", "jit"):
        rig = Rig(engine, 4, max_entries=4)
        short = rig.machine.mem.new("short", 7, kind="ctx")             # key_size is 8
        with pytest.raises(Exception) as info:
            rig.machine.run(rig.lookup_prog, short.base)
        errors.append(type(info.value).__name__)
    assert errors == ["MemoryAccessError", "MemoryAccessError"]


def test_a_replaced_lookup_helper_is_treated_as_for_hash_maps() -> None:
    """The native lookup serves LPM tries under the same rule as hash maps (one shared
    map_lookup decides for every kind): whatever the hash lookup does with a replaced helper
    table, the LPM lookup does too."""
    def replaced(machine: Machine, *args: int) -> int:
        return 0
    helpers = {**HELPERS, L.HELPER_MAP_LOOKUP: replaced}
    rig = Rig("jit", 4, max_entries=4, helpers=dict(helpers))
    rig.map.update(lpm_key(8, b"\x0a\0\0\0"), (7).to_bytes(8, "little"))
    lpm = (rig.lookup(lpm_key(32, b"\x0a\x01\x02\x03"))[0] != 0, rig.native_lookups_only)

    machine = make_machine(helpers=dict(helpers))
    hashed = create_map(memory=machine.mem, name="h", type=MapType.HASH, key_size=8,
                        value_size=8, max_entries=4)
    machine.register_map(hashed, fd=MAP_FD)
    hashed.update(lpm_key(32, b"\x0a\x01\x02\x03"), (7).to_bytes(8, "little"))
    prog = machine.load("lookup", LOOKUP_BUMP)
    arg = machine.mem.new("arg", 8, kind="ctx")
    arg.buf[:] = lpm_key(32, b"\x0a\x01\x02\x03")
    hash_result = (machine.run(prog, arg.base) != 0,
                   machine.python_calls.get(L.HELPER_MAP_LOOKUP, 0) == 0)
    assert lpm == hash_result


# --- kernel parity ------------------------------------------------------------------------------
SOURCE = Path(__file__).resolve().parent / "progs" / "jit_lpm.c"
TRIES = {0: ("lpm4", 4), 1: ("lpm3", 3), 2: ("lpm16", 16)}


def packet(trie: int, plen: int, data: bytes, value: int = 0, flags: int = 0) -> bytes:
    return bytes([trie, flags, 0, 0]) + struct.pack("<I", plen & 0xFFFFFFFF) + \
        data.ljust(16, b"\0") + struct.pack("<I", value) + bytes(36)


def kernel_workload(seed: int) -> tuple[list[tuple[int, int, bytes, int]], list[tuple]]:
    """(prefixes Python inserts first, then program runs): lookups of nearby addresses mixed
    with program-side inserts (flags 0..3) and deletes, on all three tries."""
    rng = random.Random(seed)
    bases = {t: [rng.randbytes(size) for _ in range(3)] for t, (_, size) in TRIES.items()}

    def near(trie: int) -> bytes:
        size = TRIES[trie][1]
        base = int.from_bytes(rng.choice(bases[trie]), "big")
        noise = rng.getrandbits(size * 8) >> rng.randrange(size * 8 + 1)
        return (base ^ noise).to_bytes(size, "big")

    def any_plen(trie: int) -> int:
        bits = TRIES[trie][1] * 8
        return rng.choice([bits, bits, rng.randrange(bits + 1), bits + 1])

    prefixes = [(t, rng.randrange(TRIES[t][1] * 8 + 1), near(t), 1000 + i)
                for i, t in enumerate(rng.choices(list(TRIES), k=60))]
    runs: list[tuple] = []
    for i in range(300):
        trie = rng.choice(list(TRIES))
        op = rng.random()
        if op < 0.7:
            runs.append(("lpm_lookup", packet(trie, any_plen(trie), near(trie))))
        elif op < 0.88:
            runs.append(("lpm_update", packet(trie, rng.randrange(TRIES[trie][1] * 8 + 1),
                                              near(trie), 5000 + i, rng.choice([0, 0, 1, 2, 3]))))
        else:
            victim = rng.choice(prefixes)
            runs.append(("lpm_delete", packet(victim[0], victim[1], victim[2])))
    return prefixes, runs


def run_workload(spec, backend: str, seed: int) -> tuple[list, dict, int]:
    """(per run: retval and the results map, the tries' contents, lookups sent to Python)."""
    prefixes, runs = kernel_workload(seed)
    with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
        for trie, plen, data, value in prefixes:
            coll.maps[TRIES[trie][0]].update(lpm_key(plen, data), struct.pack("<II", value, 0))
        seen = []
        for prog, frame in runs:
            r = coll.programs[prog].test_run(frame)
            seen.append((prog, r.retval, [coll.maps["results"][k] for k in range(3)]))
        contents = {name: sorted((bytes(coll.maps[name].encode_key(k)), repr(v))
                                 for k, v in coll.maps[name].items())
                    for name, _ in TRIES.values()}
        python_lookups = (coll.machine.python_calls.get(L.HELPER_MAP_LOOKUP, 0)
                          if backend == "jit" else 0)
    return seen, contents, python_lookups


@pytest.mark.kernel
@pytest.mark.parametrize("seed", range(3))
def test_lpm_lookups_in_the_jit_match_the_kernel(compile_bpf, seed) -> None:
    spec = pybpf.load_object(compile_bpf(SOURCE))
    kernel = run_workload(spec, "kernel", seed)
    jit = run_workload(spec, "jit", seed)
    for i, (k, j) in enumerate(zip(kernel[0], jit[0])):
        assert j == k, f"run {i}"
    assert jit[1] == kernel[1]
    assert jit[2] == 0                                   # every lookup stayed native
    assert any(r[1] == 2 for r in jit[0] if r[0] == "lpm_lookup")      # hits happened (XDP_PASS)
    assert any(r[1] == 1 for r in jit[0] if r[0] == "lpm_lookup")      # and misses (XDP_DROP)


@pytest.mark.kernel
def test_update_and_delete_errnos_match_the_kernel(compile_bpf) -> None:
    spec = pybpf.load_object(compile_bpf(SOURCE))
    out = {}
    for backend in ("kernel", "jit"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            errnos = []
            for prog, frame in [("lpm_update", packet(0, 8, b"\x0a", 1, flags=4)),
                                ("lpm_delete", packet(0, 33, b"\x0a"))]:
                coll.programs[prog].test_run(frame)
                errnos.append(coll.maps["results"][2])
            out[backend] = errnos
    assert out["jit"] == out["kernel"]
