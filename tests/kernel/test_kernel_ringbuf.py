"""Ring buffer and perf buffer readers against records a kernel program produced (BPF_PROG_TEST_RUN)."""
from __future__ import annotations

import os
import struct
import threading
import time

import numpy as np
import pytest

from pybpf.errors import KernelError
from pybpf.isa import Instruction as I
from pybpf.isa.uapi import MapType, ProgramType
from pybpf.kernel import KernelMap, KernelProgram, RingBufReader
from pybpf.obj.mapapi import IntCodec

from kernel_asm import exit_, mov64_imm

pytestmark = pytest.mark.kernel


def emitter(map_name: str, *, discard_odd: bool = False) -> list[I]:
    """XDP program: counter in fp-16 from a 1-slot array 'seq'; ringbuf_output {counter, ~counter}.

    With ``discard_odd`` it reserves and discards every odd record instead of submitting it.
    """
    prog = [
        I(0x62, 10, 0, -4, 0),                         # key = 0
        I(0x18, 1, 1, 0, 0, ref="seq"), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -4),
        I(0x85, 0, 0, 0, 1),                           # r0 = lookup(seq, &key)
        I(0x55, 0, 0, 2, 0), mov64_imm(0, 0), exit_(),
        mov64_imm(6, 1), I(0xDB, 0, 6, 0, 0x01),       # r6 = atomic_fetch_add(*r0, 1)
    ]
    if discard_odd:
        prog += [
            I(0x18, 1, 1, 0, 0, ref=map_name), mov64_imm(2, 16), mov64_imm(3, 0),
            I(0x85, 0, 0, 0, 131),                     # r0 = ringbuf_reserve(map, 16, 0)
            I(0x55, 0, 0, 2, 0), mov64_imm(0, 2), exit_(),
            I(0x7B, 0, 6, 0, 0), I(0xBF, 7, 6), I(0xA7, 7, 0, 0, -1), I(0x7B, 0, 7, 8, 0),
            I(0xBF, 1, 0), mov64_imm(2, 0), I(0xBF, 8, 6), I(0x57, 8, 0, 0, 1),
            I(0x15, 8, 0, 2, 0),
            I(0x85, 0, 0, 0, 133), I(0x05, 0, 0, 1, 0),   # discard odd
            I(0x85, 0, 0, 0, 132),                        # submit even
            mov64_imm(0, 2), exit_(),
        ]
        return prog
    prog += [
        I(0x7B, 10, 6, -16, 0), I(0xBF, 7, 6), I(0xA7, 7, 0, 0, -1), I(0x7B, 10, 7, -8, 0),
        I(0x18, 1, 1, 0, 0, ref=map_name), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -16),
        mov64_imm(3, 16), mov64_imm(4, 0), I(0x85, 0, 0, 0, 130),
        mov64_imm(0, 2), exit_(),
    ]
    return prog


def expected(start: int, count: int, step: int = 1) -> list[tuple[int, int]]:
    return [(i, ~i & 0xFFFFFFFFFFFFFFFF) for i in range(start, start + count, step)]


@pytest.fixture
def ring_setup():
    made = []

    def make(size: int = 1 << 16, discard_odd: bool = False, name: str = "rb"):
        ring = KernelMap.create(MapType.RINGBUF, 0, 0, size, name=name)
        seq = KernelMap.create(MapType.ARRAY, 4, 8, 1, name="seq")
        prog = KernelProgram.load(emitter(name, discard_odd=discard_odd),
                                  prog_type=ProgramType.XDP, maps={name: ring, "seq": seq})
        made.extend([prog, seq, ring])
        return ring, prog

    yield make
    for obj in made:
        obj.close()


def unpack(records) -> list[tuple[int, int]]:
    return [struct.unpack("<QQ", bytes(r)) for r in records]


def test_poll_returns_every_record_in_order(ring_setup):
    ring, prog = ring_setup()
    with ring.ring_reader() as reader:
        prog.test_run(bytes(64), repeat=100)
        assert unpack(reader.poll(timeout=1)) == expected(0, 100)


def test_batch_numpy_and_callback_paths_agree(ring_setup):
    ring, prog = ring_setup()
    seen = []
    with ring.ring_reader() as reader:
        prog.test_run(bytes(64), repeat=40)
        batch = unpack(reader.poll_batch(0))
        prog.test_run(bytes(64), repeat=40)
        arr = reader.poll_array(np.dtype([("seq", "<u8"), ("inv", "<u8")]), 0)
        prog.test_run(bytes(64), repeat=40)
        reader.callback = seen.append
        reader.codec = None
        reader.poll(0)
    assert batch == expected(0, 40)
    assert [(int(a), int(b)) for a, b in zip(arr["seq"], arr["inv"])] == expected(40, 40)
    assert unpack(seen) == expected(80, 40)


def test_discarded_records_are_skipped_by_every_path(ring_setup):
    ring, prog = ring_setup(discard_odd=True)
    with ring.ring_reader() as reader:
        prog.test_run(bytes(64), repeat=20)
        assert unpack(reader.poll(0)) == expected(0, 20, 2)
        prog.test_run(bytes(64), repeat=20)
        assert unpack(reader.poll_batch(0)) == expected(20, 20, 2)
        prog.test_run(bytes(64), repeat=20)
        arr = reader.poll_array("<u8,<u8", 0)
        assert [int(x) for x in arr["f0"]] == list(range(40, 60, 2))


def test_records_wrapping_the_ring_end_are_contiguous(ring_setup):
    ring, prog = ring_setup(size=4096)         # 24-byte slots: wraps after 170 records
    got = []
    with ring.ring_reader() as reader:
        for _ in range(5):
            prog.test_run(bytes(64), repeat=100)
            got += unpack(reader.poll_batch(0))
    assert got == expected(0, 500)


def test_codec_decodes_records():
    codec = IntCodec(8)
    with KernelMap.create(MapType.RINGBUF, 0, 0, 4096, name="rbc") as ring, \
            KernelMap.create(MapType.ARRAY, 4, 8, 1, name="seq") as seq, \
            KernelProgram.load(emitter("rbc"), prog_type=ProgramType.XDP,
                               maps={"rbc": ring, "seq": seq}) as prog:
        reader = ring.ring_reader(codec)
        prog.test_run(bytes(64), repeat=3)
        assert reader.poll(0) == [0, 1, 2]         # first 8 bytes of each 16-byte record


def test_poll_with_zero_timeout_does_not_block(ring_setup):
    ring, _ = ring_setup()
    with ring.ring_reader() as reader:
        start = time.monotonic()
        assert reader.poll(0) == []
        assert time.monotonic() - start < 0.05


def test_poll_times_out_after_the_given_time(ring_setup):
    ring, _ = ring_setup()
    with ring.ring_reader() as reader:
        start = time.monotonic()
        assert reader.poll(0.3) == []
        assert 0.25 <= time.monotonic() - start < 2


def test_blocking_poll_wakes_when_a_record_arrives(ring_setup):
    ring, prog = ring_setup()
    with ring.ring_reader() as reader:
        timer = threading.Timer(0.2, lambda: prog.test_run(bytes(64), repeat=2))
        timer.start()
        try:
            got = reader.poll(None)
        finally:
            timer.join()
        got += reader.poll(0.5) if len(got) < 2 else []
        assert unpack(got) == expected(0, 2)


def test_poll_group_reads_several_rings(ring_setup):
    ring_a, prog_a = ring_setup(name="rba")
    ring_b, prog_b = ring_setup(name="rbb")
    ra, rb = ring_a.ring_reader(), ring_b.ring_reader()
    with RingBufReader.multi([ra, rb]) as group:
        prog_a.test_run(bytes(64), repeat=3)
        prog_b.test_run(bytes(64), repeat=2)
        got = group.poll(timeout=1)
    by_ring = {"rba": [], "rbb": []}
    for reader, rec in got:
        by_ring[reader.name].append(struct.unpack("<QQ", rec))
    assert by_ring == {"rba": expected(0, 3), "rbb": expected(0, 2)}


def test_reader_refuses_non_ringbuf_maps():
    with KernelMap.create(MapType.ARRAY, 4, 4, 1, name="notring") as m:
        with pytest.raises(KernelError, match="not RINGBUF"):
            RingBufReader(m)


# --- perf buffer ------------------------------------------------------------------------------
def perf_emitter() -> list[I]:
    """XDP: bpf_perf_event_output(ctx, &pa, BPF_F_CURRENT_CPU, fp-8 {u64 0x1122334455667788}, 8)."""
    return [I(0xBF, 6, 1), I(0x18, 7, 0, 0, 0x1122334455667788), I(0x7B, 10, 7, -8, 0),
            I(0xBF, 1, 6), I(0x18, 2, 1, 0, 0, ref="pa"), I(0x18, 3, 0, 0, 0xFFFFFFFF),
            I(0xBF, 4, 10), I(0x07, 4, 0, 0, -8), mov64_imm(5, 8), I(0x85, 0, 0, 0, 25),
            mov64_imm(0, 2), exit_()]


def test_perf_buffer_delivers_samples_from_the_running_cpu():
    with KernelMap.create(MapType.PERF_EVENT_ARRAY, 4, 4, 2, name="pa") as pa, \
            KernelProgram.load(perf_emitter(), prog_type=ProgramType.XDP, maps={"pa": pa}) as p:
        reader = pa.perf_reader()
        cpu = max(os.sched_getaffinity(0))
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})              # the program runs on the caller's CPU
        try:
            p.test_run(bytes(64), repeat=4)
        finally:
            os.sched_setaffinity(0, saved)
        samples = reader.poll(1)
        assert len(samples) == 4
        assert all(s.data[:8] == (0x1122334455667788).to_bytes(8, "little") for s in samples)
        assert {s.cpu for s in samples} == {cpu}


def test_perf_buffer_overflow_is_reported_as_lost_samples():
    with KernelMap.create(MapType.PERF_EVENT_ARRAY, 4, 4, 2, name="pa") as pa, \
            KernelProgram.load(perf_emitter(), prog_type=ProgramType.XDP, maps={"pa": pa}) as p:
        reader = pa.perf_reader(pages=1)
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {max(saved)})      # keep every sample on one CPU's ring
        try:
            p.test_run(bytes(64), repeat=1000)     # a 4 KiB ring holds ~170 samples
            first = len(reader.poll(0))
            p.test_run(bytes(64), repeat=1)        # the LOST record is written when room returns
            second = len(reader.poll(0))
        finally:
            os.sched_setaffinity(0, saved)
        assert first + second + reader.lost == 1001
        assert reader.lost > 0


# --- user ring buffer (user space -> program) ---------------------------------------------------
@pytest.fixture
def user_ring(compile_bpf):
    import pybpf
    from pathlib import Path
    from pybpf.kernel import Collection
    spec = pybpf.load_object(str(compile_bpf(Path(__file__).parent / "progs" /
                                             "user_ringbuf.bpf.c")))
    with Collection(spec) as coll:
        yield coll, coll.maps["requests"].ring_writer(IntCodec(8))


def test_program_drains_exactly_what_python_wrote(user_ring):
    coll, writer = user_ring
    writer.write_many(range(1, 21))
    assert coll.programs["drain"].test_run().retval == 20        # samples drained
    assert (coll.bss["total"], coll.bss["samples"]) == (210, 20)
    assert writer.free == 4096                                   # the kernel consumed it all


def test_samples_wrap_around_the_ring_end(user_ring):
    coll, writer = user_ring
    expected = 0
    for round_ in range(30):                                     # 30 x 100 x 16 B > 4096 B ring
        values = range(round_ * 100, round_ * 100 + 100)
        writer.write_many(values)
        expected += sum(values)
        coll.programs["drain"].test_run()
    assert (coll.bss["total"], coll.bss["samples"]) == (expected, 3000)


def test_full_user_ring_refuses_the_whole_batch(user_ring):
    from pybpf.kernel.userringbuf import RingBufFullError
    coll, writer = user_ring
    writer.write_many(range(250))                                # 250 x 16 B = 4000 B
    with pytest.raises(RingBufFullError):
        writer.write_many(range(10))                             # 160 B more do not fit
    coll.programs["drain"].test_run()
    assert coll.bss["samples"] == 250                            # nothing half-written
