"""Every native helper fast path of the JIT runs only while the machine's helper table holds
pybpf's own implementation (pybpf.vm.helpers.HELPERS[id]); a helper the user replaced is called
like the interpreter calls it, and putting pybpf's implementation back brings the fast path back.

The time/random/CPU-id and ring-buffer helpers are covered by test_native_env / test_native_ringbuf;
here: bpf_map_lookup_elem (array, per-CPU array, hash and LPM trie, inline where the verifier
proved the map kind, else map_lookup), bpf_map_update_elem (array, hash), bpf_xdp_adjust_head,
bpf_loop, bpf_for_each_map_elem, bpf_csum_diff, bpf_spin_lock/unlock and queue/stack
push/pop/peek.
"""
from __future__ import annotations

import errno
import re
import struct
import types

import pytest

import pybpf
from pybpf.isa.codec import slot_offsets
from pybpf.isa.uapi import HELPER_IDS, MapType
from pybpf.obj.spec import MapSpec, ObjectSpec
from pybpf.verifier import verify_program
from pybpf.vm.helpers import HELPERS
from pybpf.vm.jit import layout as L
from pybpf.vm.jit import native_env, native_ringbuf
from pybpf.vm.jit.codegen import generate
from pybpf.vm.jit.machine import _NATIVE_HELPERS
from pybpf.vm.jit.proof import proof_of
from vm_support import asm_with_map, xdp_spec

M64 = (1 << 64) - 1
ID = HELPER_IDS
ENOENT = (-errno.ENOENT) & M64


# --- mocks: each records its calls and changes what the program sees --------------------------
def _orig(hid: int):
    return lambda m, *a: HELPERS[hid](m, *a)


def _miss(hid: int):                       # a lookup that finds nothing
    return lambda m, *a: 0


def _dropped(hid: int):                    # an update / pop / peek that does nothing
    return lambda m, *a: 0 if hid == ID["map_update_elem"] else ENOENT


def _plus(n: int):
    return lambda hid: (lambda m, *a: (HELPERS[hid](m, *a) + n) & M64)


def _refused(hid: int):                    # adjust_head says -EINVAL without moving anything
    return lambda m, *a: (-errno.EINVAL) & M64


# (program, helper, mock); vm_xdp.c: xdp_parse looks up a per-CPU array, an array and a hash map
# and inserts into the hash; xdp_helpers runs bpf_loop, for_each (array), queue/stack, an LPM
# lookup, csum_diff, array updates and a spin lock; xdp_adjust moves the packet head
CASES = [("xdp_parse", "map_lookup_elem", _miss), ("xdp_parse", "map_update_elem", _dropped),
         ("xdp_helpers", "map_lookup_elem", _miss),
         ("xdp_helpers", "map_update_elem", _dropped),
         ("xdp_adjust", "xdp_adjust_head", _refused), ("xdp_helpers", "loop", _plus(1000)),
         ("xdp_helpers", "for_each_map_elem", _plus(1000)), ("xdp_helpers", "csum_diff", _plus(1)),
         ("xdp_helpers", "spin_lock", _orig), ("xdp_helpers", "spin_unlock", _orig),
         ("xdp_helpers", "map_push_elem", _orig), ("xdp_helpers", "map_pop_elem", _dropped),
         ("xdp_helpers", "map_peek_elem", _dropped)]


class Mock:
    """A user's replacement of helper ``hid``: counts its calls; ``switch`` is the interpreter's
    table entry (bound when the program is loaded), which calls the mock only while ``on``."""

    def __init__(self, hid: int, make) -> None:
        self.hid, self.calls, self.on = hid, 0, False
        self.impl = make(hid)

    def __call__(self, machine, *args):
        self.calls += 1
        return self.impl(machine, *args)

    def switch(self, machine, *args):
        return self(machine, *args) if self.on else HELPERS[self.hid](machine, *args)


@pytest.fixture(scope="module")
def vm_xdp(vm_prog_path):
    return pybpf.load_object(vm_prog_path("vm_xdp"))


def _prepare(coll) -> None:
    for proto in (1, 6, 17):
        coll.maps["proto_count"].update(proto, proto * 3)
    for prefix, addr, value in ((8, 0x0000000A, 8), (24, 0x00C8000A, 24), (16, 0x0000C80A, 16)):
        coll.maps["routes"].update(struct.pack("<II", prefix, addr), value)


def _state(coll) -> list:
    return [sorted(coll.maps[n].items(), key=repr)
            for n in ("proto_count", "flows", "percpu_hits", "results", "guarded")]


def _drain(coll) -> list:
    out = []
    for name in ("fifo", "lifo"):
        while True:
            try:
                out.append((name, coll.maps[name].pop()))
            except pybpf.errors.BPFError:
                break
    return out


def _phase(coll, prog: str, packets: list[bytes]) -> list:
    out = []
    for i, packet in enumerate(packets):
        r = coll.programs[prog].test_run(packet, repeat=1 + i % 3)
        out.append((r.retval, r.data_out, _state(coll)))
    return out


def _packets(frames, phase: int = 0) -> list[bytes]:
    """The sample frames, two new flows for this phase (hash inserts), LPM/loop inputs."""
    from scapy.all import IP, UDP
    from vm_support import ether
    fresh = [ether(IP(src=f"10.200.{10 + phase}.{i}", dst="10.200.0.2") / UDP(sport=9, dport=53))
             for i in (1, 2)]
    return [frames[k] for k in ("udp echo", "udp dns", "icmp", "tcp", "arp", "bytes")] + fresh + \
        [bytes([7, 1, 2, 3, 10, 0, 200, 10]) + bytes(56), bytes([40, 9, 8, 7, 10, 5, 5, 5]) * 8]


@pytest.mark.parametrize("prog,name,make", CASES, ids=[f"{p}-{n}" for p, n, _ in CASES])
def test_a_replaced_helper_is_called_and_restoring_it_brings_the_fast_path_back(
        vm_xdp, frames, monkeypatch, prog, name, make) -> None:
    """Plain, replaced, restored (the same map state throughout): each phase gives the
    interpreter's results; the JIT calls the replacement exactly as often as the interpreter and
    Python for that helper only while it is replaced."""
    hid = ID[name]
    mock_i, mock_j = Mock(hid, make), Mock(hid, make)
    with monkeypatch.context() as m:               # the interpreter binds helpers at load
        m.setitem(HELPERS, hid, mock_i.switch)
        interp = pybpf.vm.Collection(vm_xdp, engine="interp")
    jit = pybpf.vm.Collection(vm_xdp, engine="jit")
    seen: dict[str, list] = {"interp": [], "jit": []}
    python: list[int] = []
    with interp, jit:
        machine = jit.machine
        assert machine.helpers[hid] is HELPERS[hid]
        for coll in (interp, jit):
            _prepare(coll)
        for i, phase in enumerate(("plain", "replaced", "restored")):
            packets = _packets(frames, i)
            mock_i.on = phase == "replaced"
            machine.helpers[hid] = mock_j if phase == "replaced" else HELPERS[hid]
            before = machine.python_calls.get(hid, 0)
            seen["interp"].append(_phase(interp, prog, packets))
            seen["jit"].append(_phase(jit, prog, packets))
            python.append(machine.python_calls.get(hid, 0) - before)
        seen["interp"].append(_drain(interp))
        seen["jit"].append(_drain(jit))
    assert seen["jit"] == seen["interp"]
    assert mock_j.calls == mock_i.calls > 0
    # native before and after, Python in between; only adjust_head has runs native code leaves
    # to Python anyway: repeated runs on one context, whose metadata (adjust_meta) is still there
    expected = sum(i % 3 for i in range(len(_packets(frames)))) if name == "xdp_adjust_head" else 0
    assert python == [expected, mock_j.calls, expected]
    if make is not _orig:                          # the replacement's results are visible
        assert seen["interp"][1] != seen["interp"][0]


def test_a_helper_replaced_before_the_machine_exists_is_never_run_natively(vm_xdp, frames,
                                                                           monkeypatch) -> None:
    """The table given at construction decides too (as make_machine(helpers=...) does)."""
    packets = _packets(frames)
    hid = ID["map_lookup_elem"]
    seen, mocks = {}, {}
    for engine in ("interp", "jit"):
        mocks[engine] = mock = Mock(hid, _plus(0))
        with monkeypatch.context() as m:
            m.setitem(HELPERS, hid, mock)
            coll = pybpf.vm.Collection(vm_xdp, engine=engine)
        with coll:
            _prepare(coll)
            seen[engine] = [_phase(coll, p, packets) for p in ("xdp_parse", "xdp_helpers")]
            if engine == "jit":
                assert coll.machine.python_calls[hid] == mock.calls
    assert seen["jit"] == seen["interp"]
    assert mocks["jit"].calls == mocks["interp"].calls > 0


# --- inline lookups the verifier proved (a small program, as in test_jit_proof) ----------------
SOURCE = """
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = 0 ll
call 1
if r0 == 0 goto miss
r0 = *(u64 *)(r0 + 0)
exit
miss:
r0 = 99
exit
"""


def _spec(map_type: MapType) -> ObjectSpec:
    return xdp_spec(asm_with_map(SOURCE), {"m": MapSpec(name="m", type=map_type, key_size=4,
                                                        value_size=8, max_entries=4)})


@pytest.mark.parametrize("map_type,family", [(MapType.ARRAY, "array"),
                                             (MapType.PERCPU_ARRAY, "array"),
                                             (MapType.HASH, "hash"),
                                             (MapType.LRU_HASH, "hash")])
def test_inline_lookups_are_gated_too(map_type, family) -> None:
    spec = _spec(map_type)
    insns = spec.programs["p"].instructions
    prog = types.SimpleNamespace(verified=verify_program(spec.programs["p"], spec),
                                 instructions=insns)
    ir_text = generate(insns, {s: i for i, s in enumerate(slot_offsets(insns))}, "bpf_gate",
                       proof_of(prog))[0]
    assert re.search(rf'^"?{family}_lookup5"?:', ir_text, re.M)     # inlined, behind the gate
    assert re.search(r'^"?native_helper5"?:', ir_text, re.M)
    assert re.search(r'^"?python_helper5"?:', ir_text, re.M)
    hid, calls = ID["map_lookup_elem"], []

    def other_key(machine, handle, key, *rest):      # looks up key 1 instead of key 0
        calls.append(key)
        machine.mem.write(key, (1).to_bytes(4, "little"))
        return HELPERS[hid](machine, handle, key, *rest)

    with pybpf.vm.Collection(spec, engine="jit") as coll:
        for k, v in ((0, 5), (1, 6)):
            coll.maps["m"].update(k, v.to_bytes(8, "little"))
        p, machine = coll.programs["p"], coll.machine
        assert p.test_run(bytes(64)).retval == 5 and machine.python_helper_calls == 0
        machine.helpers[hid] = other_key
        assert p.test_run(bytes(64)).retval == 6 and len(calls) == 1
        assert machine.python_calls[hid] == 1
        machine.helpers[hid] = HELPERS[hid]
        assert p.test_run(bytes(64), repeat=5).retval == 5 and machine.python_calls[hid] == 1
        del machine.helpers[hid]
        with pytest.raises(pybpf.errors.HelperError, match="not supported"):
            p.test_run(bytes(64))
        calls_before = machine.python_calls[hid]
        machine.helpers = dict(HELPERS)                  # a whole new table: native again
        assert p.test_run(bytes(64)).retval == 5 and machine.python_calls[hid] == calls_before


def test_every_native_helper_has_one_bit_and_pybpfs_implementation() -> None:
    bits = {**native_env.NATIVE_BITS, **native_ringbuf.NATIVE_BITS, **L.NATIVE_GATED}
    assert len(bits) == len(native_env.NATIVE_BITS) + len(native_ringbuf.NATIVE_BITS) + \
        len(L.NATIVE_GATED)
    values = list(bits.values())
    assert all(v and v & (v - 1) == 0 for v in values) and len(set(values)) == len(values)
    assert {hid for hid, _, _ in _NATIVE_HELPERS} == set(bits)
    assert all(HELPERS[hid] is impl for hid, _, impl in _NATIVE_HELPERS)
    assert set(L.NATIVE_GATED) == {ID[n] for _, n, _ in CASES} | {ID["map_lookup_elem"]}


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_helper_replaced_after_load_takes_effect_in_both_engines(engine) -> None:
    """Both engines look the helper table up when the call runs: replacing bpf_get_prandom_u32
    after the program was loaded (and run once) changes what the next run sees, and restoring
    pybpf's implementation brings the original back."""
    spec = xdp_spec(asm_with_map("call 7\nr0 &= 0xff\nexit"))
    with pybpf.vm.Collection(spec, engine=engine) as coll:
        run = lambda: coll.programs["p"].test_run(bytes(64)).retval      # noqa: E731
        run()
        coll.machine.helpers[7] = lambda machine, *args: 0x1234
        assert run() == 0x34
        coll.machine.helpers[7] = HELPERS[7]
        assert [run() for _ in range(8)] != [0x34] * 8
