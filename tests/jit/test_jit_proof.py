"""The JIT drops exactly the run-time checks pybpf's verifier proved, and nothing else changes.

A hand-written XDP program whose slots are checked by hand: what the verifier reports for each
memory access and map call, which access sites keep a fault path in the generated code with and
without the proof, and that results agree with the interpreter and the fully checked JIT.
"""
from __future__ import annotations

import ctypes
import re
import types

import pytest

import pybpf
from pybpf.isa import Instruction
from pybpf.isa.uapi import MapType
from pybpf.obj.spec import MapSpec, ObjectSpec
from pybpf.verifier import verify_program
from pybpf.vm.jit import layout as L
from pybpf.vm.jit.codegen import generate
from pybpf.vm.jit.proof import NO_PROOF, proof_of
from vm_support import asm_with_map, xdp_spec

# slot: 0,1 ctx loads; 5 packet load; 6 store through r10; 11 array lookup; 13/15 map value
# read/write; 20 a load through r4, which is the map value on one path and fp-16 on the other
SOURCE = """
r6 = *(u32 *)(r1 + 0)
r7 = *(u32 *)(r1 + 4)
r2 = r6
r2 += 14
if r2 > r7 goto out
r8 = *(u8 *)(r6 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = 0 ll
call 1
if r0 == 0 goto out
r1 = *(u64 *)(r0 + 0)
r1 += r8
*(u64 *)(r0 + 0) = r1
r4 = r0
if r8 > 5 goto mixed
r4 = r10
r4 += -16
mixed:
r5 = *(u64 *)(r4 + 0)
r0 = r5
r0 &= 3
exit
out:
r0 = 2
exit
"""
EXPECTED_ACCESSES = {0: {"ctx"}, 1: {"ctx"}, 5: {"pkt"}, 6: {"fp"}, 13: {"map_value"},
                     15: {"map_value"}, 20: {"fp", "map_value"}}


def _insns() -> list[Instruction]:
    return asm_with_map(SOURCE)


def _spec(map_type: MapType = MapType.ARRAY) -> ObjectSpec:
    return xdp_spec(_insns(), {"m": MapSpec(name="m", type=map_type, key_size=4, value_size=8,
                                            max_entries=4)})


def _fault_sites(ir_text: str) -> set[int]:
    return {int(m) for m in re.findall(r'^"?fault_at(\d+)(?:\.\d+)?"?:', ir_text, re.M)}


def test_the_verifier_reports_each_accesss_base_types_and_each_map_call() -> None:
    spec = _spec()
    result = verify_program(spec.programs["p"], spec)
    assert {pc: set(t) for pc, t in result.access_types.items()} == EXPECTED_ACCESSES
    assert dict(result.map_calls) == {11: frozenset({(int(MapType.ARRAY), "fp")})}
    assert result.digest == pybpf.isa.digest(spec.programs["p"].instructions)


def test_proven_accesses_lose_their_fault_paths_and_the_rest_keep_them() -> None:
    spec = _spec()
    insns = spec.programs["p"].instructions
    slots = {s: i for i, s in enumerate(_slots(insns))}
    prog = types.SimpleNamespace(verified=verify_program(spec.programs["p"], spec),
                                 instructions=insns)
    proof = proof_of(prog)
    assert proof.array_lookup(11) == L.MAP_KIND_ARRAY
    checked_ir = generate(insns, slots, "bpf_checked", NO_PROOF)[0]
    trusted_ir = generate(insns, slots, "bpf_trusted", proof)[0]
    assert _fault_sites(checked_ir) == {0, 1, 5, 13, 15, 20}   # slot 6 (r10 + constant) never
    assert _fault_sites(trusted_ir) == {0, 1}      # context loads keep their checked path...
    fast_fields = set(map(int, re.findall(r'^"?xdp_field(\d+)"?:', trusted_ir, re.M)))
    assert fast_fields == {0, 1}                   # ...behind the published XDP state
    assert not re.search(r'^"?xdp_field', checked_ir, re.M)


def _slots(insns: list[Instruction]) -> list[int]:
    from pybpf.isa.codec import slot_offsets
    return slot_offsets(insns)


def test_a_proof_counts_only_for_the_instructions_it_was_computed_for(monkeypatch) -> None:
    spec = _spec()
    result = verify_program(spec.programs["p"], spec)
    other = _insns()
    other[-1 - 1] = Instruction(0xB7, 0, 0, 0, 1)       # r0 = 1 instead of r0 = 2
    assert proof_of(types.SimpleNamespace(verified=result, instructions=other)) is NO_PROOF
    same = types.SimpleNamespace(verified=result, instructions=_insns())
    assert proof_of(same).accesses
    monkeypatch.setenv("PYBPF_JIT_CHECKS", "all")
    assert proof_of(same) is NO_PROOF


def _run(engine: str, packets: list[bytes], map_type: MapType = MapType.ARRAY, **kw) -> list[tuple]:
    out = []
    with pybpf.vm.Collection(_spec(map_type), engine=engine, **kw) as coll:
        coll.maps["m"].update(0, (7).to_bytes(8, "little"))
        for packet in packets:
            result = coll.programs["p"].test_run(packet)
            out.append((result.retval, sorted(coll.maps["m"].items())))
    return out


PACKETS = [bytes(range(64)), bytes([0] * 12 + [9] + [0] * 40), bytes([1] * 14),
           bytes([3] * 30)]


def test_trusted_checked_and_interpreted_runs_agree(monkeypatch) -> None:
    trusted = _run("jit", PACKETS)
    assert trusted == _run("interp", PACKETS)
    assert trusted == _run("jit", PACKETS, unsafe=True)
    monkeypatch.setenv("PYBPF_JIT_CHECKS", "all")
    assert trusted == _run("jit", PACKETS)
    # hand-checked: byte 12 (12, then 9) is added to the value and, being > 5, the value is read
    # back through r4; byte 12 = 1 reads fp-16 instead (zeroed stack)
    assert [r for r, _ in trusted] == [(7 + 12) & 3, (7 + 12 + 9) & 3, 0, 0]
    assert trusted[1][1][0][1] == (7 + 12 + 9).to_bytes(8, "little")


def test_an_inlined_array_lookup_falls_back_when_the_map_row_is_not_that_array() -> None:
    """The proof picks the inline path; the row's kind still decides (a row cleared, as for a
    map the JIT does not serve, sends the lookup through map_lookup and on to Python)."""
    with pybpf.vm.Collection(_spec(), engine="jit") as coll:
        coll.maps["m"].update(0, (5).to_bytes(8, "little"))
        prog = coll.programs["p"]
        assert prog.test_run(PACKETS[0]).retval == (5 + 12) & 3
        machine = coll.machine
        before = machine.python_helper_calls
        handle = coll.maps["m"].handle if hasattr(coll.maps["m"], "handle") else \
            machine.maps_by_ref["m"].handle
        machine.mem.set_map_row(handle >> 32, [0])
        assert prog.test_run(PACKETS[0]).retval == (5 + 12 + 12) & 3
        assert machine.python_helper_calls == before + 1
        assert coll.maps["m"][0] == (5 + 24).to_bytes(8, "little")


INLINED = {MapType.ARRAY: ("array", L.MAP_KIND_ARRAY),
           MapType.PERCPU_ARRAY: ("array", L.MAP_KIND_PERCPU_ARRAY),
           MapType.HASH: ("hash", L.MAP_KIND_HASH),
           MapType.PERCPU_HASH: ("hash", L.MAP_KIND_PERCPU_HASH),
           MapType.LRU_HASH: ("hash", L.MAP_KIND_LRU_HASH),
           MapType.LRU_PERCPU_HASH: ("hash", L.MAP_KIND_LRU_PERCPU_HASH)}


@pytest.mark.parametrize("map_type", list(INLINED))
def test_each_map_kind_gets_its_own_inline_lookup_and_the_interpreters_results(map_type) -> None:
    spec = _spec(map_type)
    prog = types.SimpleNamespace(verified=verify_program(spec.programs["p"], spec),
                                 instructions=spec.programs["p"].instructions)
    proof = proof_of(prog)
    family, kind = INLINED[map_type]
    assert (proof.array_lookup(11), proof.hash_lookup(11)) == \
        ((kind, None) if family == "array" else (None, kind))
    ir_text = generate(prog.instructions, {s: i for i, s in enumerate(_slots(prog.instructions))},
                       "bpf_kind", proof)[0]
    assert re.search(rf'^"?{family}_lookup11"?:', ir_text, re.M)
    assert _run("jit", PACKETS, map_type) == _run("interp", PACKETS, map_type)


def test_a_full_lru_touch_log_sends_an_inlined_hash_lookup_to_python() -> None:
    """The inline LRU path logs each hit for the map's recency order; when the log is full the
    lookup finishes in Python, which settles the log, and the run's result is unchanged."""
    with pybpf.vm.Collection(_spec(MapType.LRU_HASH), engine="jit") as coll:
        coll.maps["m"].update(0, (5).to_bytes(8, "little"))
        prog = coll.programs["p"]
        machine = coll.machine
        log = (ctypes.c_uint32 * 2).from_address(coll.maps["m"]._jit_index.log_address)
        value, calls = 5, []
        for _ in range(log[1] + 2):                    # one logged hit per run fills the log
            value += 12
            assert prog.test_run(PACKETS[0]).retval == value & 3
            calls.append(machine.python_helper_calls)
        assert calls[0] == 0 and calls[-1] >= 1        # native until the log filled up
        assert coll.maps["m"][0] == value.to_bytes(8, "little")
