"""Collection lifecycle: pinned-by-name reuse, initial prog-array / map-in-map contents, frozen .rodata,
live globals through mmap, and closing that really releases every kernel object."""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import KernelError
from pybpf.kernel import Collection, KernelMap, KernelProgram

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"
CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_pin_by_name_map_is_reused_by_a_second_load(compile_bpf, bpffs_dir, bpftool):
    spec = pybpf.load_object(str(compile_bpf(PROGS / "pin_by_name.bpf.c")))
    with Collection(spec, pin_path=str(bpffs_dir)) as first:
        first.programs["count_runs"].test_run(bytes(64), repeat=3)
        pinned_id = bpftool("map", "show", "pinned", str(bpffs_dir / "shared_hits"))["id"]
        assert first.maps["shared_hits"].id == pinned_id
    with Collection(spec, pin_path=str(bpffs_dir)) as second:
        assert second.maps["shared_hits"].id == pinned_id
        second.programs["count_runs"].test_run(bytes(64), repeat=2)
        assert second.maps["shared_hits"][0] == 5


def test_pinned_map_with_other_shape_is_refused(compile_bpf, bpffs_dir):
    with KernelMap.create(pybpf.kernel.maps.MapType.HASH, 4, 8, 4, name="shared_hits") as wrong:
        wrong.pin(bpffs_dir / "shared_hits")
    spec = pybpf.load_object(str(compile_bpf(PROGS / "pin_by_name.bpf.c")))
    with pytest.raises(KernelError, match="differs in type"):
        Collection(spec, pin_path=str(bpffs_dir))


def test_initial_map_in_map_and_prog_array_slots_match_bpftool(compile_bpf, bpftool):
    spec = pybpf.load_object(str(compile_bpf(CORPUS / "core" / "core_calls.bpf.c")))
    with Collection(spec) as coll:
        outer = bpftool("map", "dump", "id", str(coll.maps["outer"].id))
        jumps = bpftool("map", "dump", "id", str(coll.maps["jumps"].id))

        def slots(dump: list) -> dict[int, int]:
            return {int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little"):
                    int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little") for e in dump}

        assert slots(outer) == {0: coll.maps["inner_a"].id, 2: coll.maps["inner_b"].id}
        assert slots(jumps) == {1: coll.programs["tail_target"].info().id}


def test_rodata_is_frozen_with_the_values_set_before_load(compile_bpf):
    spec = pybpf.load_object(str(compile_bpf(PROGS / "tp_getpid.bpf.c")))
    spec.rodata["target_tgid"] = 4242
    with Collection(spec) as coll:
        assert coll.rodata["target_tgid"] == 4242
        with pytest.raises(KernelError) as exc:
            coll.rodata["target_tgid"] = 1
        assert exc.value.errno == errno.EPERM


def test_globals_are_read_and_written_live_while_the_program_runs(compile_bpf):
    spec = pybpf.load_object(str(compile_bpf(PROGS / "tp_getpid.bpf.c")))
    spec.rodata["target_tgid"] = os.getpid()
    with Collection(spec) as coll, coll.programs["on_getpid"].attach():
        ring = coll.maps["events"].ring_reader()
        os.getpid()
        os.getpid()
        assert coll.bss["seq"] == 2                 # read through the .bss mmap
        coll.bss["seq"] = 100                       # written through the mmap, seen by the program
        os.getpid()
        seqs = [int.from_bytes(r[4:8], "little") for r in ring.poll(1)]
    assert seqs == [0, 1, 100]


def test_close_releases_every_program_and_map(compile_bpf):
    from pybpf.kernel.ids import map_ids as live_map_ids, prog_ids as live_prog_ids
    spec = pybpf.load_object(str(compile_bpf(CORPUS / "core" / "core_calls.bpf.c")))
    coll = Collection(spec)
    progs = {p.info().id for p in coll.programs.values()}
    maps = {m.id for m in coll.maps.values()}
    coll.close()
    # the kernel frees programs and maps asynchronously (RCU, prog-array release work)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not (progs & set(live_prog_ids())) and not (maps & set(live_map_ids())):
            break
        time.sleep(0.05)
    assert not progs & set(live_prog_ids())
    assert not maps & set(live_map_ids())


def test_kconfig_externs_and_kfuncs_resolve_against_the_running_kernel(compile_bpf):
    import gzip
    import re as re_mod
    spec = pybpf.load_object(str(compile_bpf(CORPUS / "core" / "core_externs.bpf.c")))
    try:
        coll = Collection(spec)
    except pybpf.errors.NotSupportedError as exc:
        pytest.skip(f"tp_btf refused here: {exc}")
    with coll, coll.programs["on_switch"].attach():
        time.sleep(0.05)                       # a few context switches
        result = coll.bss["externs_result"]
    major, minor, patch = (int(x) for x in
                           re_mod.match(r"(\d+)\.(\d+)\.(\d+)", os.uname().release).groups())
    assert result.version == (major << 16) + (minor << 8) + min(patch, 255)
    config = {}
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            config = dict(line.split("=", 1) for line in f.read().splitlines()
                          if line.startswith("CONFIG_") and "=" in line)
    except OSError:
        pass
    if config:
        assert result.hz == int(config["CONFIG_HZ"])
        assert result.has_syscall == (config.get("CONFIG_BPF_SYSCALL") == "y")
    assert result.missing_option == 0          # weak, unknown: zero
    assert result.next_pid >= 0 and result.prev_tgid >= 0


def test_map_replacement_is_used_by_programs_and_left_open(compile_bpf):
    from pybpf.isa.uapi import MapType
    spec = pybpf.load_object(str(compile_bpf(PROGS / "xdp_swap.bpf.c")))
    with KernelMap.create(MapType.ARRAY, 4, 8, 8, name="mine") as mine:
        with Collection(spec, map_replacements={"verdicts": mine}) as coll:
            assert coll.maps["verdicts"] is mine
            coll.programs["xdp_swap"].test_run(bytes(12) + b"\x08\x00" + bytes(40), repeat=4)
        assert not mine.closed                   # not the collection's to close
        assert int.from_bytes(mine[(3).to_bytes(4, "little")], "little") == 4


def test_unknown_program_or_map_name_is_a_readable_error(compile_bpf):
    spec = pybpf.load_object(str(compile_bpf(PROGS / "xdp_swap.bpf.c")))
    with Collection(spec) as coll:
        with pytest.raises(KernelError, match="no program named 'nope' \\(have: xdp_swap\\)"):
            coll.programs["nope"]
        with pytest.raises(KeyError):                 # still a KeyError for dict-style code
            coll.maps["nope"]


def test_arena_pages_are_shared_between_program_and_python(compile_bpf):
    import ctypes
    import struct
    spec = pybpf.load_object(str(compile_bpf(CORPUS / "isa" / "arena.c")))
    with Collection(spec) as coll:
        mem = coll.maps["arena"].mmap()            # the same pages the program sees
        mem[0:8] = bytes(8)                        # fault the first page in from user space
        anchor = ctypes.c_char.from_buffer(mem)
        coll.bss["counter"] = ctypes.addressof(anchor)   # an arena pointer, user-space view
        del anchor
        assert coll.programs["arena_update"].test_run().retval == 0
        assert struct.unpack_from("<I", mem, 0)[0] == 1  # *counter = 1 done by the program


def test_kconfig_values_given_to_the_collection_override_the_kernel_config(compile_bpf):
    spec = pybpf.load_object(str(compile_bpf(CORPUS / "core" / "core_externs.bpf.c")))
    try:
        coll = Collection(spec, kconfig={"CONFIG_HZ": 123, "CONFIG_PYBPF_NO_SUCH_OPTION": "y"})
    except pybpf.errors.NotSupportedError as exc:
        pytest.skip(f"tp_btf refused here: {exc}")
    with coll, coll.programs["on_switch"].attach():
        time.sleep(0.05)
        result = coll.bss["externs_result"]
    assert (result.hz, result.missing_option) == (123, 1)
