"""Fuzzing load_object (and CO-RE on what it returns) with mutated and truncated real objects:
only pybpf.errors exceptions may escape, and every input finishes quickly."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF
from pybpf.errors import BPFError
from pybpf.obj import load_object
from pybpf.obj.core import relocate

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "core"
SOURCES = sorted(p.name for p in CORPUS.glob("*.bpf.c") if "vmlinux" not in p.name)
PER_INPUT_SECONDS = 10.0


@pytest.fixture(scope="module")
def objects(corpus_object) -> list[bytes]:
    return [corpus_object(name).read_bytes() for name in SOURCES]


@pytest.fixture(scope="module")
def fields_spec(corpus_object):
    return load_object(corpus_object("core_fields.bpf.c"))


@pytest.fixture(scope="module")
def small_target() -> BTF:
    btf = BTF()
    s32 = btf.add_int("int", 4, signed=True)
    btf.add_struct("task_struct", 16, [("pid", s32, 0), ("tgid", s32, 32)])
    return btf


def _exercise(data: bytes, target: BTF) -> None:
    start = time.monotonic()
    try:
        spec = load_object(data)
        for program in spec.programs.values():
            try:
                relocate(program, target, spec.btf)
            except BPFError:
                pass
    except BPFError:
        pass
    assert time.monotonic() - start < PER_INPUT_SECONDS


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_objects_raise_only_pybpf_errors(objects, small_target, data):
    blob = bytearray(data.draw(st.sampled_from(objects)))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)),
                               min_size=1, max_size=8))
    for pos, value in edits:
        blob[pos] = value
    _exercise(bytes(blob), small_target)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_objects_raise_only_pybpf_errors(objects, small_target, data):
    blob = data.draw(st.sampled_from(objects))
    cut = data.draw(st.integers(0, len(blob) - 1))
    _exercise(blob[:cut], small_target)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_section_headers_raise_only_pybpf_errors(objects, small_target, data):
    """Bias edits into the section header table, where offsets and sizes live."""
    blob = bytearray(data.draw(st.sampled_from(objects)))
    shoff = int.from_bytes(blob[0x28:0x30], "little")
    span = len(blob) - shoff
    for _ in range(data.draw(st.integers(1, 4))):
        pos = shoff + data.draw(st.integers(0, span - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    _exercise(bytes(blob), small_target)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_core_records_raise_only_pybpf_errors(fields_spec, small_target, data):
    """Random type ids, access strings and kinds on real instructions: errors, never crashes."""
    from dataclasses import replace

    from pybpf.obj import CORERelocKind
    spec = fields_spec
    program = spec.programs["read_task_fields"]
    relos = list(program.core_relos)
    n = data.draw(st.integers(0, len(relos) - 1))
    access = data.draw(st.one_of(
        st.from_regex(r"\A[0-9]{1,3}(:[0-9]{1,3}){0,4}\Z"), st.text(max_size=6)))
    relos[n] = replace(relos[n], type_id=data.draw(st.integers(0, len(spec.btf) + 3)),
                       access=access, kind=data.draw(st.sampled_from(list(CORERelocKind))))
    mutated = replace(program, core_relos=relos)
    for target in (small_target, spec.btf):
        try:
            relocate(mutated, target, spec.btf)
        except BPFError:
            pass
