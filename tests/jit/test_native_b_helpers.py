"""Native bpf_for_each_map_elem, bpf_csum_diff, bpf_spin_lock/unlock and queue/stack push/pop/peek
in the JIT give the interpreter's results (r0, maps, errors) and, where the kernel agrees with the
interpreter, the kernel's (BPF_PROG_TEST_RUN); the fast paths make no Python helper call."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import HelperError, MemoryAccessError, VMError
from pybpf.isa.instruction import Instruction as I
from pybpf.isa.uapi import MapType
from pybpf.vm.helpers import HELPERS
from pybpf.vm.jit import make_machine
from pybpf.vm.jit import layout as L
from pybpf.vm.jit.native_lock import NativeLockSet
from pybpf.vm.machine import Machine
from pybpf.vm.maps import create_map

M64 = (1 << 64) - 1
SOURCE = Path(__file__).resolve().parent / "progs" / "jit_native_b.c"
PACKETS = [bytes(range(64)), bytes((i * 37 + 5) & 0xFF for i in range(64)),
           bytes([2, 1, 1, 0]) + bytes(60), bytes([0xFF] * 64), bytes([15, 3, 0, 9]) * 16]
NATIVE_PROGRAMS = ["fe_native", "csum", "locks", "queues"]


@pytest.fixture(scope="module")
def spec(compile_bpf):
    return pybpf.load_object(compile_bpf(SOURCE))


def _prefill(coll) -> None:
    for i in range(16):
        coll.maps["arr"].update(i, i * i + 1)
    for k in (5, 1, 3):
        coll.maps["hsh"].update(k, k * 10)


def _runs(coll, programs: list[str], cpu: int = 0) -> list:
    out = []
    for prog in programs:
        for packet in PACKETS:
            r = coll.programs[prog].test_run(packet, cpu=cpu)
            out.append((prog, r.retval, [coll.maps["out"][i] for i in range(12)]))
    return out


def _snapshot(coll, skip: tuple[str, ...] = ()) -> dict:
    """Every element map's items; queue/stack contents (which have no keys) drained in order."""
    out = {name: sorted(m.items(), key=repr) for name, m in coll.maps.items()
           if name not in skip + ("q", "st")}
    for name in ("q", "st"):
        items = out[name] = []
        while True:
            try:
                items.append(coll.maps[name].pop())
            except pybpf.errors.BPFError:
                break
    return out


def test_c_programs_give_the_interpreters_results(spec) -> None:
    """Early stops, per-CPU arrays (also on CPU 1), nested for_each, hash maps (empty, then
    filled: the Python helper), csum_diff on ragged sizes, locks — r0 and every map."""
    seen = {}
    for backend in ("vm", "jit"):
        with pybpf.Collection(spec, backend=backend) as coll:
            runs = _runs(coll, ["fe_hash"])                      # empty hash map
            _prefill(coll)
            runs += _runs(coll, NATIVE_PROGRAMS + ["fe_hash", "csum_errors"])
            runs += _runs(coll, ["fe_native"], cpu=1)
            seen[backend] = runs, _snapshot(coll)
    assert seen["jit"] == seen["vm"]
    assert any(r[0] == "fe_native" and r[2][0] < 16 for r in seen["jit"][0])   # an early stop


def test_native_fast_paths_make_no_python_helper_call(spec) -> None:
    with pybpf.Collection(spec, backend="jit") as coll:
        _prefill(coll)
        machine = coll.machine
        for prog in NATIVE_PROGRAMS:
            machine.python_calls.clear()
            for packet in PACKETS:
                coll.programs[prog].test_run(packet)
            assert machine.python_calls == {}, prog
        machine.python_calls.clear()
        coll.programs["fe_hash"].test_run(PACKETS[0])     # hash maps: one call for the snapshot
        assert machine.python_calls == {L.PSEUDO_FOREACH_SNAPSHOT: 1}


@pytest.mark.kernel
def test_c_programs_in_jit_match_the_kernel(spec) -> None:
    from test_kernel_parity import on_cpu0
    seen = {}
    for backend in ("kernel", "jit"):
        with on_cpu0(), pybpf.Collection(spec, backend=backend) as coll:
            _prefill(coll)
            seen[backend] = (_runs(coll, NATIVE_PROGRAMS + ["csum_errors"]),
                             _snapshot(coll, skip=("hsh",)))
    assert seen["jit"] == seen["kernel"]
    ragged = [r for r in seen["jit"][0] if r[0] == "csum_errors"]
    assert ragged and all(v < 0x10000 for r in ragged for v in r[2][:4])   # sums, not -EINVAL


@pytest.mark.kernel
def test_for_each_on_per_cpu_maps_passes_the_running_cpus_value_like_the_kernel(spec) -> None:
    """Pinned to CPU 1: the kernel's callbacks see (and change) CPU 1's copies of a per-CPU
    array; the interpreter and the JIT run with cpu=1 and must do the same."""
    from pybpf.kernel.cpus import possible_cpus
    from vm_support import on_cpu
    if len(possible_cpus()) < 2 or 1 not in os.sched_getaffinity(0):
        pytest.skip("needs CPU 1")

    seen = {}
    for backend in ("kernel", "vm", "jit"):
        with on_cpu(1), pybpf.Collection(spec, backend=backend) as coll:
            pcpu = coll.maps["pcpu"]
            cpus = len(pcpu[0])
            for i in range(pcpu.max_entries):
                pcpu.update(i, [1000 * (c + 1) + i for c in range(cpus)])
            runs = []
            for packet in PACKETS:
                r = (coll.programs["fe_native"].test_run(packet) if backend == "kernel"
                     else coll.programs["fe_native"].test_run(packet, cpu=1))
                runs.append((r.retval, [coll.maps["out"][i] for i in (3, 4, 5)]))
            seen[backend] = runs, [pcpu[i][:2] for i in range(pcpu.max_entries)]
    assert seen["vm"] == seen["kernel"]
    assert seen["jit"] == seen["kernel"]
    assert seen["kernel"][1][0][0] == 1000                      # CPU 0's copies untouched


# --- hand-built programs: the edges C cannot express (the kernel's verifier would refuse them) ---
MAP_FD = 5


def _program(items: list) -> list[I]:
    """Instructions from a list with label strings and ("func", reg, label) LDDWs of callbacks."""
    slot, labels = 0, {}
    for item in items:
        if isinstance(item, str):
            labels[item] = slot
        else:
            slot += 2 if isinstance(item, tuple) or item.opcode == 0x18 else 1
    out, slot = [], 0
    for item in items:
        if isinstance(item, str):
            continue
        if isinstance(item, tuple):
            _, reg, label = item
            item = I(0x18, reg, 4, 0, labels[label] - slot - 1)
        out.append(item)
        slot += 2 if item.opcode == 0x18 else 1
    return out


def _run_both(items: list, map_type: MapType = MapType.ARRAY, entries: int = 4,
              setup=None, key_size: int = 4) -> list:
    """[interpreter result, JIT result]: r0, or the error type; the JIT machine last."""
    out = []
    for engine in ("interp", "jit"):
        machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
                   else Machine(helpers=dict(HELPERS)))
        vm_map = create_map(memory=machine.mem, name="m", type=map_type, key_size=key_size,
                            value_size=8, max_entries=entries, cpus=2)
        machine.register_map(vm_map, fd=MAP_FD)
        prog = machine.load("t", _program(items))
        arg = setup(machine) if setup else 0
        try:
            out.append(machine.run(prog, arg))
        except VMError as exc:
            out.append(type(exc))
    out.append(machine)
    return out


def _for_each(callback: list, after: list, ctx_words: int = 2) -> list:
    """r0 = for_each(map, cb, fp - 8 * ctx_words, 0), then ``after``; cb is ``callback``."""
    return [I(0x18, 1, 1, 0, MAP_FD), ("func", 2, "cb"), I(0xBF, 3, 10),
            I(0x07, 3, 0, 0, -8 * ctx_words), I(0x7A, 10, 0, -8, 0), I(0x7A, 10, 0, -16, 0),
            I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, L.HELPER_FOR_EACH_MAP_ELEM),
            *after, I(0x95), "cb", *callback]


def test_for_each_key_is_read_only_and_only_four_bytes() -> None:
    write = _for_each([I(0x62, 2, 0, 0, 7), I(0xB7, 0, 0, 0, 0), I(0x95)], [])
    past_end = _for_each([I(0x61, 0, 2, 4), I(0x95)], [])
    for items in (write, past_end):
        interp, jit, _ = _run_both(items)
        assert interp is jit is MemoryAccessError


def test_for_each_key_pointer_is_dead_after_the_loop_for_native_and_python_reads() -> None:
    """The callback saves the key pointer in ctx+8 and has a Python helper (probe_read_kernel)
    copy the key to ctx+0; after the loop the saved pointer is unreadable for both."""
    callback = [I(0x7B, 4, 2, 8), I(0xBF, 1, 4), I(0xBF, 3, 2), I(0xB7, 2, 0, 0, 4),
                I(0x85, 0, 0, 0, 113), I(0xB7, 0, 0, 0, 0), I(0x95)]
    python_read = [I(0xBF, 6, 0), I(0xBF, 1, 10), I(0x07, 1, 0, 0, -24), I(0xB7, 2, 0, 0, 4),
                   I(0x79, 3, 10, -8), I(0x85, 0, 0, 0, 113),             # r0 = -EFAULT
                   I(0x79, 7, 10, -16), I(0x67, 7, 0, 0, 8), I(0xAF, 0, 7),
                   I(0x67, 6, 0, 0, 40), I(0xAF, 0, 6)]                   # ^ key << 8 ^ n << 40
    interp, jit, machine = _run_both(_for_each(callback, python_read), entries=6)
    assert interp == jit == ((-errno.EFAULT) & M64) ^ (5 << 8) ^ (6 << 40)
    assert L.HELPER_FOR_EACH_MAP_ELEM not in machine.python_calls     # the loop was native
    native_read = [I(0x79, 1, 10, -8), I(0x61, 0, 1, 0)]
    interp, jit, _ = _run_both(_for_each(callback, native_read))
    assert interp is jit is MemoryAccessError


def test_for_each_on_a_per_cpu_array_passes_the_running_cpus_values() -> None:
    callback = [I(0x79, 5, 3, 0), I(0x79, 6, 4, 0), I(0x27, 6, 0, 0, 10), I(0x0F, 6, 5),
                I(0x7B, 4, 6, 0), I(0xB7, 0, 0, 0, 0), I(0x95)]          # ctx = ctx * 10 + *value

    def setup(machine):
        vm_map = machine.maps_by_fd[MAP_FD]
        for i in range(4):
            vm_map.update(i.to_bytes(4, "little"), [(i + 1).to_bytes(8, "little"),
                                                     (i + 5).to_bytes(8, "little")])
        machine.cpu = 1
        return 0
    interp, jit, machine = _run_both(_for_each(callback, [I(0x79, 0, 10, -16)]),
                                     map_type=MapType.PERCPU_ARRAY, setup=setup)
    assert interp == jit == 5678          # CPU 1's values (hand-checked), as the kernel passes
    assert machine.python_calls == {}


def test_recursive_for_each_stops_at_the_call_depth_limit() -> None:
    recurse = [I(0x18, 1, 1, 0, MAP_FD), ("func", 2, "cb"), I(0xB7, 3, 0, 0, 0),
               I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, L.HELPER_FOR_EACH_MAP_ELEM), I(0x95)]
    items = recurse[:-1] + [I(0x95), "cb"] + recurse
    interp, jit, _ = _run_both(items)
    assert interp is jit is VMError


def _hash_contents(machine) -> list:
    vm_map = machine.maps_by_fd[MAP_FD]
    return [(key, vm_map._lookup(key)) for key in vm_map.raw_keys()]


def _fill(keys: list[int], key_size: int = 4):
    def setup(machine):
        vm_map = machine.maps_by_fd[MAP_FD]
        for k in keys:
            value = ((k * 1000 + 1) & M64).to_bytes(8, "little")
            vm_map.update(k.to_bytes(key_size, "little"),
                          [value, bytes(8)] if vm_map.is_percpu else value)
        return 0
    return setup


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH])
def test_hash_for_each_follows_insertion_order_and_skips_what_the_callback_deletes(map_type):
    """The callback folds key and value into ctx, deletes key + 1 and inserts key + 100: deleted
    elements are skipped, inserted ones not visited (the snapshot), as in the interpreter."""
    callback = [I(0x61, 6, 2, 0), I(0x79, 5, 3, 0), I(0x79, 7, 4, 0), I(0x27, 7, 0, 0, 31),
                I(0x0F, 7, 6), I(0x0F, 7, 5), I(0x7B, 4, 7, 0),
                I(0xBF, 7, 6), I(0x07, 7, 0, 0, 1), I(0x63, 10, 7, -4),
                I(0x18, 1, 1, 0, MAP_FD), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4), I(0x85, 0, 0, 0, 3),
                I(0xBF, 7, 6), I(0x07, 7, 0, 0, 100), I(0x63, 10, 7, -4), I(0x7A, 10, 0, -16, 5),
                I(0x18, 1, 1, 0, MAP_FD), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4), I(0xBF, 3, 10),
                I(0x07, 3, 0, 0, -16), I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, 2),
                I(0xB7, 0, 0, 0, 0), I(0x95)]
    after = [I(0x79, 1, 10, -16), I(0x67, 1, 0, 0, 8), I(0x0F, 0, 1)]     # r0 = n + (ctx << 8)
    results = []
    for keys in ([5, 1, 3, 0, 2, 7, 6, 4], [], [9]):
        interp, jit, machine = _run_both(_for_each(callback, after), map_type=map_type,
                                         entries=32, setup=_fill(keys))
        assert interp == jit
        results.append(jit)
        contents = _hash_contents(machine)
        assert L.HELPER_FOR_EACH_MAP_ELEM not in machine.python_calls
        assert machine.python_calls[L.PSEUDO_FOREACH_SNAPSHOT] == 1
        interp_machine = Machine(helpers=dict(HELPERS))            # the same run, for contents
        vm_map = create_map(memory=interp_machine.mem, name="m", type=map_type, key_size=4,
                            value_size=8, max_entries=32, cpus=2)
        interp_machine.register_map(vm_map, fd=MAP_FD)
        _fill(keys)(interp_machine)
        interp_machine.run(interp_machine.load("t", _program(_for_each(callback, after))), 0)
        assert contents == _hash_contents(interp_machine)
    assert results[1] == 0 and results[0] & 0xFF == 5                 # empty; 5, 1, 3, 0, 7


def test_lru_for_each_sees_native_lookups_recency() -> None:
    lookup = [I(0x62, 10, 0, -32, 1), I(0x18, 1, 1, 0, MAP_FD), I(0xBF, 2, 10),
              I(0x07, 2, 0, 0, -32), I(0x85, 0, 0, 0, 1)]               # lookup(key 1): a touch
    callback = [I(0x61, 6, 2, 0), I(0x79, 7, 4, 0), I(0x27, 7, 0, 0, 10), I(0x0F, 7, 6),
                I(0x07, 7, 0, 0, 1), I(0x7B, 4, 7, 0), I(0xB7, 0, 0, 0, 0), I(0x95)]
    interp, jit, machine = _run_both(lookup + _for_each(callback, [I(0x79, 0, 10, -16)]),
                                     map_type=MapType.LRU_HASH, setup=_fill([0, 1, 2, 3]))
    assert interp == jit == 1342                                      # 0, 2, 3, then 1
    assert set(machine.python_calls) == {L.PSEUDO_FOREACH_SNAPSHOT}


@pytest.mark.parametrize("read_at,expected", [(8, 9), (12, MemoryAccessError)])
def test_hash_for_each_key_region_is_exactly_the_key(read_at, expected) -> None:
    callback = [I(0x61, 0, 2, read_at), I(0x7B, 4, 0, 0), I(0xB7, 0, 0, 0, 0), I(0x95)]
    interp, jit, _ = _run_both(_for_each(callback, [I(0x79, 0, 10, -16)]), map_type=MapType.HASH,
                               setup=_fill([9 << 64], key_size=12), key_size=12)
    assert interp == jit == expected if isinstance(expected, int) else interp is jit is expected


def test_hash_for_each_with_keys_over_the_native_limit_uses_the_python_helper() -> None:
    callback = [I(0x79, 5, 3, 0), I(0x79, 6, 4, 0), I(0x0F, 6, 5), I(0x7B, 4, 6, 0),
                I(0xB7, 0, 0, 0, 0), I(0x95)]
    interp, jit, machine = _run_both(_for_each(callback, [I(0x79, 0, 10, -16)]),
                                     map_type=MapType.HASH, setup=_fill([1, 2], key_size=520),
                                     key_size=520)
    assert interp == jit == 3002
    assert machine.python_calls == {L.HELPER_FOR_EACH_MAP_ELEM: 1}


LOCK, UNLOCK = L.HELPER_SPIN_LOCK, L.HELPER_SPIN_UNLOCK


def _locking(calls: list[tuple[int, int]]) -> list:
    """Lock/unlock the words at arg + offset in order; r0 = 0 at the end."""
    items = [I(0xBF, 6, 1)]
    for helper, offset in calls:
        items += [I(0xBF, 1, 6), I(0x07, 1, 0, 0, offset), I(0x85, 0, 0, 0, helper)]
    return items + [I(0xB7, 0, 0, 0, 0), I(0x95)]


def _words(machine):
    return machine.mem.new("locks", 128, kind="data").base


@pytest.mark.parametrize("calls,expected", [
    ([(LOCK, 0), (UNLOCK, 0), (LOCK, 8), (UNLOCK, 8)], 0),
    ([(LOCK, 0), (LOCK, 0)], HelperError),                       # deadlock
    ([(UNLOCK, 0)], HelperError),                                # not held
    ([(LOCK, 0), (UNLOCK, 8)], HelperError),
    ([(LOCK, 126)], MemoryAccessError),                          # word past the end
    ([(LOCK, 8 * i) for i in range(10)] + [(UNLOCK, 8 * i) for i in range(9, -1, -1)], 0),
])
def test_spin_locks_give_the_interpreters_results(calls, expected) -> None:
    interp, jit, machine = _run_both(_locking(calls), setup=_words)
    assert interp == jit == expected if isinstance(expected, int) else interp is jit is expected
    if expected == 0:
        assert len(machine.held_locks) == 0
        beyond_native = len(calls) > 2 * L.LOCKS_NATIVE
        assert bool(machine.python_calls) == beyond_native


def test_a_lock_left_held_makes_the_next_run_deadlock_in_both_engines() -> None:
    results = []
    for machine in (Machine(helpers=dict(HELPERS)), make_machine(helpers=dict(HELPERS))):
        prog = machine.load("t", _locking([(LOCK, 16)]))
        base = _words(machine)
        first = machine.run(prog, base)
        with pytest.raises(HelperError, match="deadlock"):
            machine.run(prog, base)
        results.append((first, machine.mem.load(base + 16, 4), set(machine.held_locks) ==
                        {base + 16}))
    assert results[0] == results[1] == (0, 1, True)


def test_lock_on_read_only_memory_faults_like_the_interpreter() -> None:
    errors = []
    for machine in (Machine(helpers=dict(HELPERS)), make_machine(helpers=dict(HELPERS))):
        prog = machine.load("t", _locking([(LOCK, 0)]))
        with pytest.raises(MemoryAccessError) as info:
            machine.run(prog, prog.code_base)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_native_lock_set_keeps_the_array_full_while_it_overflows() -> None:
    locks = NativeLockSet(range(100, 100 + L.LOCKS_NATIVE + 3))
    assert len(locks) == L.LOCKS_NATIVE + 3 and locks.words[0] == L.LOCKS_NATIVE
    locks.discard(100)
    assert 100 not in locks and locks.words[0] == L.LOCKS_NATIVE and len(locks.extra) == 2
    for item in list(locks):
        locks.discard(item)
    assert len(locks) == 0 and locks.words[0] == 0
    locks.add(7)
    locks.clear()
    assert 7 not in locks


def _csum(from_off: int | None, from_size: int, to_off: int | None, to_size: int) -> list:
    """r0 = csum_diff(arg + from_off, from_size, arg + to_off, to_size, 0x1234); None: NULL."""
    def pointer(reg: int, off: int | None) -> list:
        return [I(0xB7, reg, 0, 0, 0)] if off is None else [I(0xBF, reg, 6), I(0x07, reg, 0, 0, off)]
    return [I(0xBF, 6, 1), *pointer(1, from_off), I(0xB7, 2, 0, 0, from_size),
            *pointer(3, to_off), I(0xB7, 4, 0, 0, to_size),
            I(0xB7, 5, 0, 0, 0x1234), I(0x85, 0, 0, 0, L.HELPER_CSUM_DIFF), I(0x95)]


def _data(machine):
    return machine.mem.new("data", bytes((i * 91 + 7) & 0xFF for i in range(64))).base


@pytest.mark.parametrize("args", [(0, 64, 0, 0), (4, 0, 8, 56), (0, 20, 32, 32), (60, 8, 0, 4),
                                  (None, 0, None, 0), (None, 4, 0, 4), (0, 8, None, 4),
                                  (0, 6, 0, 4), (0, 256, 0, 260)])
def test_csum_diff_sizes_and_faults_match_the_interpreter(args) -> None:
    interp, jit, machine = _run_both(_csum(*args), setup=_data)
    assert interp == jit
    ragged = (args[1] | args[3]) & 3
    assert machine.python_calls == ({L.HELPER_CSUM_DIFF: 1} if ragged else {})


PUSH, POP, PEEK = L.HELPER_MAP_PUSH, L.HELPER_MAP_POP, L.HELPER_MAP_PEEK


def _queue_ops(ops: list[tuple[int, int, int]]) -> list:
    """r7 = r7 * 31 + helper(map, r6 + offset[, flags]) for each (helper, offset, flags), with
    r6 = r1 (a writable region) or r2 (read-only) for offsets >= 1000; r0 = r7."""
    items = [I(0xBF, 6, 1), I(0xBF, 8, 2), I(0xB7, 7, 0, 0, 0)]
    for helper, offset, flags in ops:
        base, off = (8, offset - 1000) if offset >= 1000 else (6, offset)
        items += [I(0x18, 1, 1, 0, MAP_FD), I(0xBF, 2, base), I(0x07, 2, 0, 0, off),
                  I(0xB7, 3, 0, 0, flags), I(0x85, 0, 0, 0, helper),
                  I(0x27, 7, 0, 0, 31), I(0x0F, 7, 0)]
    return items + [I(0xBF, 0, 7), I(0x95)]


def _run_queue(ops: list, map_type: MapType, before=None, after=None) -> list:
    """[(r0 or error type, data region bytes, items left, whatever ``after`` returns)] for the
    interpreter and the JIT (with its Python helper calls last)."""
    out = []
    for engine in ("interp", "jit"):
        machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
                   else Machine(helpers=dict(HELPERS)))
        vm_map = create_map(memory=machine.mem, name="q", type=map_type, key_size=0,
                            value_size=8, max_entries=3)
        machine.register_map(vm_map, fd=MAP_FD)
        if before:
            before(vm_map)
        data = machine.mem.new("data", bytes(range(1, 65)))
        frozen = machine.mem.new("frozen", bytes(range(64, 128)), writable=False)
        prog = machine.load("t", _queue_ops(ops))
        try:
            r0 = machine.run(prog, data.base, frozen.base)
        except VMError as exc:
            r0 = type(exc)
        extra = after(vm_map) if after else None
        left = []
        while len(vm_map):
            left.append(vm_map.pop())
        out.append((r0, bytes(data.buf), left, extra))
    out.append(machine.python_calls)
    return out


@pytest.mark.parametrize("map_type", [MapType.QUEUE, MapType.STACK])
@pytest.mark.parametrize("ops", [
    [(PUSH, 0, 0), (PUSH, 8, 0), (PUSH, 16, 0), (PUSH, 24, 0), (PUSH, 32, 2), (PUSH, 40, 1),
     (PEEK, 48, 0), (POP, 56, 0), (POP, 0, 0), (POP, 8, 0), (POP, 16, 0), (PEEK, 24, 0)],
    [(POP, 0, 0), (PEEK, 0, 0), (PUSH, 8, 3), (PUSH, 8, 2), (PUSH, 8, 4), (POP, 56, 0)],
    [(PUSH, 0, 0), (PUSH, 1000, 0), (POP, 1001, 0)],               # pop into read-only memory
    [(PUSH, 0, 0), (PUSH, 1000, 0), (PEEK, 1008, 0)],              # peek into read-only memory
    [(PUSH, 0, 0), (PUSH, 60, 0)],                                  # value past the region end
])
def test_queue_and_stack_helpers_give_the_interpreters_results(map_type, ops) -> None:
    interp, jit, python_calls = _run_queue(ops, map_type)
    assert jit == interp
    assert python_calls == {}


def test_queue_items_pushed_and_popped_from_python_and_programs_interleave() -> None:
    def before(vm_map):
        vm_map.push((111).to_bytes(8, "little"))
        vm_map.push_elem(b"ab")                  # a short item: native code defers to Python

    def after(vm_map):
        return [vm_map.peek(), len(vm_map)]
    ops = [(POP, 0, 0), (PUSH, 16, 0), (POP, 8, 0), (PUSH, 24, 0), (POP, 32, 0), (PEEK, 40, 0)]
    interp, jit, python_calls = _run_queue(ops, MapType.QUEUE, before, after)
    assert jit == interp
    assert python_calls == {PUSH: 1, POP: 2}     # until the short item was popped


def _engines():
    return (("interp", Machine(helpers=dict(HELPERS))),
            ("jit", make_machine(helpers=dict(HELPERS))))


# r0 = csum_diff(data + from_off, from_size, data + to_off, to_size, seed) with the five
# parameters read from the u64 words of r1 and data = r2
CSUM_PARAMS = [I(0x79, 6, 1, 0), I(0x0F, 6, 2), I(0x79, 7, 1, 16), I(0x0F, 7, 2),
               I(0xBF, 8, 1), I(0xBF, 1, 6), I(0x79, 2, 8, 8), I(0xBF, 3, 7), I(0x79, 4, 8, 24),
               I(0x79, 5, 8, 32), I(0x85, 0, 0, 0, L.HELPER_CSUM_DIFF), I(0x95)]


def test_csum_diff_on_random_buffers_sizes_and_seeds_matches_the_interpreter() -> None:
    import random
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(600))
    cases = []
    for _ in range(300):
        size = lambda: rng.choice([0, 4, 8, 12, 60, 64, 252, 256, 300, 508, 512, 3, 6, 2 ** 32 + 8])
        fsize, tsize = size(), size()
        cases.append((rng.randrange(0, 600), fsize, rng.randrange(0, 600), tsize,
                      rng.choice([0, M64, rng.randrange(1 << 64), rng.randrange(1 << 32)])))
    seen = {}
    for engine, machine in _engines():
        prog = machine.load("csum", CSUM_PARAMS)
        params = machine.mem.new("params", 40, kind="ctx")
        buf = machine.mem.new("data", data)
        out = []
        for case in cases:
            params.buf[:] = b"".join((v & M64).to_bytes(8, "little") for v in case)
            try:
                out.append(machine.run(prog, params.base, buf.base))
            except VMError as exc:
                out.append(type(exc).__name__)
        seen[engine] = out
        if engine == "jit":                            # sizes not multiples of 4: Python
            ragged = sum(1 for c in cases if (c[1] | c[3]) & 3)
            assert machine.python_calls == {L.HELPER_CSUM_DIFF: ragged}
    assert seen["jit"] == seen["interp"]
    assert len(set(seen["jit"])) > 100                 # values and faults both occur


def test_random_queue_and_stack_traffic_from_programs_and_python_matches_the_interpreter() -> None:
    import random
    for map_type in (MapType.QUEUE, MapType.STACK):
        rng = random.Random(int(map_type))
        ops = rng.choices(["push", "pop", "peek", "py_push", "py_pop"], [5, 2, 1, 2, 1], k=300)
        steps = [(op, rng.choice([0, 0, 2, 1]), rng.randrange(1 << 64)) for op in ops]
        seen = {}
        for engine, machine in _engines():
            vm_map = create_map(memory=machine.mem, name="q", type=map_type, key_size=0,
                                value_size=12, max_entries=5)
            machine.register_map(vm_map, fd=MAP_FD)
            value = machine.mem.new("value", 16)
            progs = {name: machine.load(name, [                # helper(map, r1, flags = r2)
                I(0xBF, 6, 1), I(0xBF, 7, 2), I(0x18, 1, 1, 0, MAP_FD), I(0xBF, 2, 6),
                I(0xBF, 3, 7), I(0x85, 0, 0, 0, helper), I(0x95)])
                for name, helper in (("push", PUSH), ("pop", POP), ("peek", PEEK))}
            out = []
            for op, flags, v in steps:
                if op.startswith("py_"):
                    try:
                        out.append(vm_map.push(v.to_bytes(12, "little"), flags) if op == "py_push"
                                   else vm_map.pop())
                    except pybpf.errors.BPFError as exc:
                        out.append(type(exc).__name__)
                    continue
                value.buf[:8] = v.to_bytes(8, "little")
                out.append((machine.run(progs[op], value.base, flags), bytes(value.buf)))
            seen[engine] = out
        assert machine.python_calls == {}
        assert seen["jit"] == seen["interp"]
        errnos = {r[0] for r in seen["jit"] if isinstance(r, tuple)}
        assert {0, (-errno.ENOENT) & M64, (-errno.E2BIG) & M64, (-errno.EINVAL) & M64} <= errnos

