"""Ring buffer consumer throughput: pybpf's RingBufReader (callback, batch, numpy paths) vs libbpf's
ring_buffer__consume (benchmarks/c/ringbuf_consumer.c), measured in the same run on the same map.

A kernel XDP program emits one fixed 32-byte record per run; BPF_PROG_TEST_RUN with repeat=N fills
the ring, then each consumer is timed draining exactly those N records. Run as root:
    python benchmarks/ringbuf.py [--records N] [--rounds R]
"""
from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from pybpf.isa import Instruction as I
from pybpf.isa.uapi import MapType, ProgramType
from pybpf.kernel import KernelMap, KernelProgram

from _bench_common import build_c, scratch, table

RECORD = 32
RECORD_DTYPE = np.dtype([("a", "<u8"), ("b", "<u8"), ("c", "<u8"), ("d", "<u8")])


def producer(map_name: str) -> list[I]:
    """XDP: four u64 words on the stack -> bpf_ringbuf_output(&ring, fp-32, 32, 0); return XDP_PASS."""
    body = [I(0x7A, 10, 0, -32 + 8 * i, 0x1111 * (i + 1)) for i in range(4)]
    return body + [I(0x18, 1, 1, 0, 0, ref=map_name), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -32),
                   I(0xB7, 3, 0, 0, RECORD), I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, 130),
                   I(0xB7, 0, 0, 0, 2), I(0x95)]


def time_python(prog: KernelProgram, reader, records: int, rounds: int, drain) -> float:
    total = 0.0
    for _ in range(rounds):
        prog.test_run(bytes(64), repeat=records)
        start = time.perf_counter()
        got = 0
        while got < records:
            got += drain(reader)
        total += time.perf_counter() - start
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ring_bytes = 1 << 24                    # 16 MiB: holds > 400k 40-byte slots
    assert args.records * (RECORD + 8) < ring_bytes, "ring too small for --records"
    n, rounds = args.records, args.rounds

    with scratch() as (tmp, pins), \
            KernelMap.create(MapType.RINGBUF, 0, 0, ring_bytes, name="bench_rb") as ring, \
            KernelProgram.load(producer("bench_rb"), prog_type=ProgramType.XDP,
                               maps={"bench_rb": ring}) as prog:
        consumer = build_c("ringbuf_consumer", tmp)
        ring.pin(pins / "ring")
        prog.pin(pins / "prog")
        rows: list[tuple[str, float, float]] = []

        out = subprocess.run([str(consumer), str(pins / "ring"), str(pins / "prog"), str(n),
                              str(rounds)], capture_output=True, text=True, check=True).stdout
        c_records, c_secs = out.split()
        rows.append(("libbpf ring_buffer__consume (C)", float(c_records), float(c_secs)))

        count = [0]

        def on_record(record: object) -> None:
            count[0] += 1

        reader = ring.ring_reader()
        reader.callback = on_record
        secs = time_python(prog, reader, n, rounds, lambda r: len(r.poll(0)))
        rows.append(("pybpf callback per record (bytes)", n * rounds, secs))
        reader.callback = None
        assert count[0] == n * rounds
        secs = time_python(prog, reader, n, rounds, lambda r: r.consume_raw(on_record))
        rows.append(("pybpf consume_raw(callback, memoryview)", n * rounds, secs))
        secs = time_python(prog, reader, n, rounds, lambda r: len(r.poll(0)))
        rows.append(("pybpf poll() -> bytes per record", n * rounds, secs))
        secs = time_python(prog, reader, n, rounds, lambda r: len(r.poll_batch(0)))
        rows.append(("pybpf poll_batch() -> bytes slices", n * rounds, secs))
        secs = time_python(prog, reader, n, rounds, lambda r: len(r.poll_batch(0, views=True)))
        rows.append(("pybpf poll_batch(views=True)", n * rounds, secs))
        secs = time_python(prog, reader, n, rounds, lambda r: len(r.poll_array(RECORD_DTYPE, 0)))
        rows.append(("pybpf poll_array() -> numpy records", n * rounds, secs))
        reader.close()
        table(f"ring buffer consumption: {rounds} x {n} records of {RECORD} bytes", rows,
              "libbpf ring_buffer__consume (C)")


if __name__ == "__main__":
    main()
