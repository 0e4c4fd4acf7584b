"""Map lookup throughput: pybpf KernelMap single lookups and native batch lookups vs a C loop over
libbpf's bpf_map_lookup_elem / bpf_map_lookup_batch (benchmarks/c/map_lookup.c), same map, same run.

Run as root:  python benchmarks/maps.py [--entries K] [--lookups N]
"""
from __future__ import annotations

import argparse
import subprocess
import time

from pybpf.isa.uapi import MapType
from pybpf.kernel import KernelMap
from pybpf.obj.mapapi import IntCodec

from _bench_common import build_c, scratch, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=300_000)
    args = parser.parse_args()
    k, n = args.entries, args.lookups
    batch_rounds = 20

    with scratch() as (tmp, pins), \
            KernelMap.create(MapType.HASH, 4, 8, k, name="bench_map", key_codec=IntCodec(4),
                             value_codec=IntCodec(8)) as m:
        m.batch_update((i, i * i) for i in range(k))
        m.pin(pins / "map")
        loop = build_c("map_lookup", tmp)
        out = subprocess.run([str(loop), str(pins / "map"), str(n), str(k), "4", "8"],
                             capture_output=True, text=True, check=True).stdout.split()
        c_n, c_secs, c_batch_n, c_batch_secs = int(out[0]), float(out[1]), int(out[2]), float(out[3])

        raw_keys = [i.to_bytes(4, "little") for i in range(k)]
        start = time.perf_counter()
        lookup = m._lookup
        for i in range(n):
            lookup(raw_keys[i % k])
        raw_secs = time.perf_counter() - start

        start = time.perf_counter()
        for i in range(n):
            m[i % k]
        decoded_secs = time.perf_counter() - start

        start = time.perf_counter()
        got = 0
        for _ in range(batch_rounds):
            got += m.batch_lookup_raw()[2]
        batch_raw_secs = time.perf_counter() - start

        start = time.perf_counter()
        got_dec = 0
        for _ in range(batch_rounds):
            got_dec += len(m.batch_lookup())
        batch_dec_secs = time.perf_counter() - start

        table(f"single lookups: {n} lookups over {k} keys (hash, 4-byte keys, 8-byte values)", [
            ("libbpf bpf_map_lookup_elem loop (C)", c_n, c_secs),
            ("pybpf KernelMap._lookup(bytes)", n, raw_secs),
            ("pybpf KernelMap[int] (codec decode)", n, decoded_secs),
        ], "libbpf bpf_map_lookup_elem loop (C)")
        table(f"batch lookups: {batch_rounds} full dumps of {k} entries", [
            ("libbpf bpf_map_lookup_batch (C)", c_batch_n, c_batch_secs),
            ("pybpf batch_lookup_raw()", got, batch_raw_secs),
            ("pybpf batch_lookup() decoded pairs", got_dec, batch_dec_secs),
        ], "libbpf bpf_map_lookup_batch (C)")


if __name__ == "__main__":
    main()
