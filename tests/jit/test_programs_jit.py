"""Real C programs (tests/vm/progs, built with clang-19) give the same results in the JIT as in the
interpreter (the semantic oracle): return value, packet out, trace output and map contents."""
from __future__ import annotations

import pytest

import pybpf
from pybpf.isa.uapi import MapType
from pybpf.vm import Collection

NO_ITEMS = {MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.PROG_ARRAY}


def contents(m) -> list[tuple[bytes, bytes | None]]:
    """Raw (key, value) bytes of every element, sorted by key."""
    return sorted((k, m._lookup(k)) for k in m.raw_keys())
PACKET_PROGRAMS = [("vm_xdp", "xdp_parse"), ("vm_xdp", "xdp_adjust"), ("vm_xdp", "xdp_helpers"),
                   ("vm_xdp", "xdp_tail_caller"), ("vm_skb", "tc_dnat"), ("vm_skb", "tc_fields"),
                   ("vm_skb", "sock_len"), ("vm_misc", "xdp_strings"), ("vm_misc", "xdp_redirects"),
                   ("vm_misc", "xdp_env"), ("vm_tail", "xdp_self_tail")]


def observe(path, prog: str, engine: str, frames: dict[str, bytes]) -> list:
    seen: list = []
    with Collection(pybpf.load_object(path), engine=engine) as coll:
        for name, frame in frames.items():
            try:
                r = coll.programs[prog].test_run(frame)
                seen.append((name, r.retval, r.data_out, r.extra["trace"], r.extra["redirect"]))
            except pybpf.errors.BPFError as exc:
                seen.append((name, type(exc).__name__, str(exc)))
        for mname, m in coll.maps.items():
            if m.type not in NO_ITEMS:
                seen.append((mname, contents(m)))
    return seen


@pytest.mark.parametrize("obj,prog", PACKET_PROGRAMS, ids=[p for _, p in PACKET_PROGRAMS])
def test_c_program_gives_the_interpreters_results_in_the_jit(vm_prog_path, frames, obj, prog) -> None:
    path = vm_prog_path(obj)
    assert observe(path, prog, "jit", frames) == observe(path, prog, "interp", frames)


def test_echo_reply_from_the_jit_matches_a_scapy_built_reply(vm_prog_path, frames) -> None:
    from scapy.all import IP, UDP, Ether
    with Collection(pybpf.load_object(vm_prog_path("vm_xdp")), engine="jit") as coll:
        result = coll.programs["xdp_parse"].test_run(frames["udp echo"])
    assert result.retval == pybpf.XDP_TX
    reply = Ether(result.data_out)
    assert (reply[IP].src, reply[IP].dst) == ("10.200.0.2", "10.200.0.1")
    assert (reply[UDP].sport, reply[UDP].dport) == (7, 1234)


def test_repeat_runs_natively_and_keeps_the_last_result(vm_prog_path, frames) -> None:
    with Collection(pybpf.load_object(vm_prog_path("vm_xdp")), engine="jit") as coll:
        once = coll.programs["xdp_parse"].test_run(frames["icmp"])
        many = coll.programs["xdp_parse"].test_run(frames["icmp"], repeat=1000)
    with Collection(pybpf.load_object(vm_prog_path("vm_xdp")), engine="interp") as coll:
        coll.programs["xdp_parse"].test_run(frames["icmp"])
        interp = coll.programs["xdp_parse"].test_run(frames["icmp"], repeat=1000)
    assert many.repeat == 1000 and many.retval == once.retval == interp.retval
    assert many.data_out == interp.data_out


def test_repeat_counts_every_run_in_the_maps(vm_prog_path, frames) -> None:
    """1001 runs of the ICMP frame: the per-protocol counters must equal the interpreter's."""
    maps = {}
    for engine in ("interp", "jit"):
        with Collection(pybpf.load_object(vm_prog_path("vm_xdp")), engine=engine) as coll:
            coll.programs["xdp_parse"].test_run(frames["icmp"])
            coll.programs["xdp_parse"].test_run(frames["icmp"], repeat=1000)
            maps[engine] = {n: contents(m) for n, m in coll.maps.items()
                            if m.type not in NO_ITEMS}
    assert maps["jit"] == maps["interp"]


def test_cli_run_engine_jit_prints_the_interpreters_return_value(vm_prog_path, frames, tmp_path) -> None:
    import subprocess
    import sys
    packet = tmp_path / "udp.bin"
    packet.write_bytes(frames["udp echo"])
    lines = {}
    for engine in ("vm", "jit"):
        proc = subprocess.run([sys.executable, "-m", "pybpf", "run", str(vm_prog_path("vm_xdp")),
                               "--prog", "xdp_parse", "--data-in", str(packet),
                               "--engine", engine], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines[engine] = proc.stdout.strip().split(",")[0]
    assert lines["jit"] == lines["vm"] == f"Return value: {pybpf.XDP_TX}"
