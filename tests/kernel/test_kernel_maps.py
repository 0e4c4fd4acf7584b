"""KernelMap against the kernel: element ops, batches vs single ops, per-CPU, queues, mmap, freeze, pins, info."""
from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import KernelError, KeyNotFoundError, MapError
from pybpf.isa import Instruction as I
from pybpf.isa.uapi import MapType, ProgramType
from pybpf.kernel import KernelMap, KernelProgram
from pybpf.kernel.cpus import num_possible_cpus
from pybpf.kernel.maps import BPF_F_MMAPABLE
from pybpf.obj.mapapi import BPF_EXIST, BPF_NOEXIST, IntCodec

from kernel_asm import exit_, mov64_imm

pytestmark = pytest.mark.kernel


def u32(v: int) -> bytes:
    return v.to_bytes(4, "little")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "little")


def test_hash_update_lookup_delete_round_trip():
    with KernelMap.create(MapType.HASH, 4, 8, 16, name="rt") as m:
        m[u32(7)] = u64(99)
        assert m[u32(7)] == u64(99)
        assert u32(7) in m and u32(8) not in m
        del m[u32(7)]
        assert m.lookup(u32(7)) is None


def test_missing_key_raises_key_not_found():
    with KernelMap.create(MapType.HASH, 4, 8, 4) as m:
        with pytest.raises(KeyNotFoundError):
            m[u32(1)]
        with pytest.raises(KeyNotFoundError):
            del m[u32(1)]


def test_update_flags_noexist_and_exist_follow_kernel_semantics():
    with KernelMap.create(MapType.HASH, 4, 8, 4) as m:
        with pytest.raises(KernelError) as exc:
            m.update(u32(1), u64(1), BPF_EXIST)
        assert exc.value.errno == errno.ENOENT
        m.update(u32(1), u64(1), BPF_NOEXIST)
        with pytest.raises(KernelError) as exc:
            m.update(u32(1), u64(2), BPF_NOEXIST)
        assert exc.value.errno == errno.EEXIST
        assert "BPF_MAP_UPDATE_ELEM" in str(exc.value) and "EEXIST" in str(exc.value)


def test_full_hash_reports_e2big():
    with KernelMap.create(MapType.HASH, 4, 4, 2) as m:
        m[u32(1)] = u32(1)
        m[u32(2)] = u32(2)
        with pytest.raises(KernelError) as exc:
            m[u32(3)] = u32(3)
        assert exc.value.errno == errno.E2BIG


def test_wrong_key_size_is_a_map_error_not_struct_error():
    with KernelMap.create(MapType.HASH, 4, 8, 4) as m:
        with pytest.raises(MapError, match="expected 4 bytes, got 2"):
            m[b"\x01\x02"] = u64(1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), max_size=60))
def test_batch_lookup_equals_single_iteration(entries):
    with KernelMap.create(MapType.HASH, 4, 8, 64, key_codec=IntCodec(4),
                          value_codec=IntCodec(8)) as m:
        assert m.batch_update(entries.items()) == len(entries)
        single = {k: m[k] for k in m.keys()}
        batch = dict(m.batch_lookup())
        assert single == batch == entries


def test_batch_delete_removes_exactly_the_given_keys():
    with KernelMap.create(MapType.HASH, 4, 4, 32, key_codec=IntCodec(4),
                          value_codec=IntCodec(4)) as m:
        m.batch_update((i, i * 3) for i in range(20))
        assert m.batch_delete(range(0, 20, 2)) == 10
        assert sorted(m.keys()) == list(range(1, 20, 2))
        assert all(m[k] == k * 3 for k in m.keys())


def test_batch_delete_of_missing_key_raises_key_not_found():
    with KernelMap.create(MapType.HASH, 4, 4, 8, key_codec=IntCodec(4)) as m:
        m[1] = u32(1)
        with pytest.raises(KeyNotFoundError):
            m.batch_delete([1, 2])


def test_batch_lookup_and_delete_empties_the_map():
    with KernelMap.create(MapType.HASH, 4, 4, 16, key_codec=IntCodec(4),
                          value_codec=IntCodec(4)) as m:
        m.batch_update((i, i) for i in range(10))
        got = dict(m.batch_lookup_and_delete())
        assert got == {i: i for i in range(10)}
        assert len(m) == 0


def test_array_batch_lookup_returns_every_slot():
    with KernelMap.create(MapType.ARRAY, 4, 4, 8, key_codec=IntCodec(4),
                          value_codec=IntCodec(4)) as m:
        m[3] = 33
        assert dict(m.batch_lookup()) == {i: (33 if i == 3 else 0) for i in range(8)}


def test_percpu_array_has_one_value_per_possible_cpu():
    ncpu = num_possible_cpus()
    with KernelMap.create(MapType.PERCPU_ARRAY, 4, 4, 2, value_codec=IntCodec(4)) as m:
        m[u32(0)] = list(range(10, 10 + ncpu))
        assert m[u32(0)] == list(range(10, 10 + ncpu))
        assert dict(m.batch_lookup())[u32(0)] == list(range(10, 10 + ncpu))


def test_percpu_counter_written_by_program_lands_in_one_cpu_slot():
    ncpu = num_possible_cpus()
    with KernelMap.create(MapType.PERCPU_ARRAY, 4, 8, 1, value_codec=IntCodec(8)) as m:
        prog = [I(0x62, 10, 0, -4, 0), I(0x18, 1, 1, 0, 0, ref="m"), I(0xBF, 2, 10),
                I(0x07, 2, 0, 0, -4), I(0x85, 0, 0, 0, 1), I(0x15, 0, 0, 2, 0),
                mov64_imm(1, 1), I(0xDB, 0, 1, 0, 0), mov64_imm(0, 2), exit_()]
        with KernelProgram.load(prog, prog_type=ProgramType.XDP, maps={"m": m}) as p:
            p.test_run(bytes(64), repeat=5, cpu=0)
        values = m[u32(0)]
        assert len(values) == ncpu and sum(values) == 5


def test_queue_pops_in_fifo_order_and_stack_in_lifo_order():
    with KernelMap.create(MapType.QUEUE, 0, 4, 8, value_codec=IntCodec(4)) as q, \
            KernelMap.create(MapType.STACK, 0, 4, 8, value_codec=IntCodec(4)) as s:
        for v in (1, 2, 3):
            q.push(v)
            s.push(v)
        assert q.peek() == 1
        assert [q.pop() for _ in range(3)] == [1, 2, 3]
        assert [s.pop() for _ in range(3)] == [3, 2, 1]
        with pytest.raises(KeyNotFoundError):
            q.pop()


def test_lookup_and_delete_on_hash():
    with KernelMap.create(MapType.HASH, 4, 4, 4) as m:
        m[u32(5)] = u32(55)
        assert m.lookup_and_delete(u32(5)) == u32(55)
        assert u32(5) not in m


def test_iteration_matches_bpftool_map_dump(bpftool):
    with KernelMap.create(MapType.HASH, 4, 4, 32, name="dumpme") as m:
        for i in range(12):
            m[u32(i * 7)] = u32(i)
        dumped = bpftool("map", "dump", "id", str(m.id))
        theirs = {bytes(int(b, 16) for b in e["key"]): bytes(int(b, 16) for b in e["value"])
                  for e in dumped}
        assert dict(m.items()) == theirs


def test_info_matches_bpftool_map_show(bpftool):
    with KernelMap.create(MapType.LRU_HASH, 8, 16, 128, name="infome") as m:
        info = m.info()
        shown = bpftool("map", "show", "id", str(info.id))
        assert (shown["type"], shown["name"], shown["bytes_key"], shown["bytes_value"],
                shown["max_entries"]) == ("lru_hash", "infome", 8, 16, 128)


def test_from_id_opens_the_same_map():
    with KernelMap.create(MapType.ARRAY, 4, 4, 4, name="byid") as m:
        m[u32(1)] = u32(11)
        with KernelMap.from_id(m.id) as again:
            assert again.name == "byid" and again[u32(1)] == u32(11)


def test_pinned_map_reopens_from_pin(bpffs_dir):
    path = bpffs_dir / "pinned"
    with KernelMap.create(MapType.HASH, 4, 4, 4, name="pinned") as m:
        m[u32(2)] = u32(22)
        m.pin(path)
    with KernelMap.from_pin(path) as again:
        assert again[u32(2)] == u32(22)
        assert again.type == MapType.HASH


def test_frozen_map_rejects_user_writes_with_eperm():
    with KernelMap.create(MapType.ARRAY, 4, 4, 1) as m:
        m[u32(0)] = u32(1)
        m.freeze()
        with pytest.raises(KernelError) as exc:
            m[u32(0)] = u32(2)
        assert exc.value.errno == errno.EPERM
        assert m[u32(0)] == u32(1)


def test_mmap_shares_values_with_a_running_program():
    with KernelMap.create(MapType.ARRAY, 4, 8, 1, flags=BPF_F_MMAPABLE, name="glob") as m:
        mem = m.mmap()
        struct.pack_into("<Q", mem, 0, 1000)
        # r0 = *(u64 *)map_value; *(u64 *)map_value = r0 + 1; return r0 (low 32 bits)
        prog = [I(0x18, 1, 2, 0, 0, ref="glob"), I(0x79, 0, 1, 0, 0), I(0xBF, 2, 0),
                I(0x07, 2, 0, 0, 1), I(0x7B, 1, 2, 0, 0), exit_()]
        with KernelProgram.load(prog, prog_type=ProgramType.XDP, maps={"glob": m}) as p:
            assert p.test_run(bytes(64)).retval == 1000
        assert struct.unpack_from("<Q", mem, 0)[0] == 1001


def test_array_of_maps_holds_inner_map_ids():
    with KernelMap.create(MapType.ARRAY, 4, 4, 1) as inner, \
            KernelMap.create(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=inner) as outer:
        outer[u32(0)] = inner
        assert outer[u32(0)] == inner.id


def test_closed_map_refuses_operations():
    m = KernelMap.create(MapType.ARRAY, 4, 4, 1)
    m.close()
    m.close()                       # idempotent
    with pytest.raises(KernelError, match="closed"):
        m[u32(0)]


def test_pinned_map_decodes_values_through_its_kernel_btf(compile_bpf, bpffs_dir):
    import pybpf
    from pathlib import Path
    from pybpf.kernel import Collection
    spec = pybpf.load_object(str(compile_bpf(Path(__file__).parent / "progs" / "xdp_swap.bpf.c")))
    with Collection(spec) as coll:
        coll.maps["verdicts"][3] = 77
        coll.maps["verdicts"].pin(bpffs_dir / "verdicts")
    with KernelMap.from_pin(bpffs_dir / "verdicts", decode_btf=True) as again:
        assert again[3] == 77                  # __u32 key / __u64 value from the map's BTF
    with KernelMap.from_pin(bpffs_dir / "verdicts") as raw:
        assert raw[u32(3)] == u64(77)


def test_concurrent_threads_on_one_map_never_mix_keys_and_values():
    import threading
    with KernelMap.create(MapType.HASH, 4, 8, 512, key_codec=IntCodec(4),
                          value_codec=IntCodec(8)) as m:
        m.batch_update((i, i * 1000) for i in range(512))
        bad = []

        def reader(offset: int) -> None:
            for n in range(2000):
                k = (n * 7 + offset) % 512
                if m[k] != k * 1000:
                    bad.append(k)

        threads = [threading.Thread(target=reader, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bad == []


OPS = st.lists(st.tuples(st.sampled_from(["update", "noexist", "exist", "delete", "pop"]),
                         st.integers(0, 15), st.integers(0, 2**63)), max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_hash_map_follows_the_documented_update_semantics(ops):
    """Random operation sequences: the kernel map and a dict with BPF_ANY/NOEXIST/EXIST rules agree."""
    model: dict[int, int] = {}
    with KernelMap.create(MapType.HASH, 4, 8, 8, key_codec=IntCodec(4),
                          value_codec=IntCodec(8)) as m:
        for op, key, value in ops:
            if op == "update":
                if key in model or len(model) < 8:
                    m.update(key, value)
                    model[key] = value
                else:
                    with pytest.raises(KernelError):
                        m.update(key, value)               # E2BIG: full
            elif op == "noexist":
                if key in model or len(model) >= 8:
                    with pytest.raises(KernelError):
                        m.update(key, value, BPF_NOEXIST)
                else:
                    m.update(key, value, BPF_NOEXIST)
                    model[key] = value
            elif op == "exist":
                if key in model:
                    m.update(key, value, BPF_EXIST)
                    model[key] = value
                else:
                    with pytest.raises(KernelError):
                        m.update(key, value, BPF_EXIST)
            elif op == "delete":
                if key in model:
                    del m[key]
                    del model[key]
                else:
                    with pytest.raises(KeyNotFoundError):
                        del m[key]
            else:
                if key in model:
                    assert m.lookup_and_delete(key) == model.pop(key)
                else:
                    with pytest.raises(KeyNotFoundError):
                        m.lookup_and_delete(key)
            assert dict(m.items()) == model
