"""Differential tests: pybpf's ObjectSpec and CO-RE results against libbpf (via bpftool) and the
kernel's translated instructions, for every object of the CO-RE corpus."""
from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.btf import load_vmlinux
from pybpf.isa.opcodes import PseudoSrc
from pybpf.isa.uapi import ProgramType
from pybpf.obj import load_object
from pybpf.obj.core import relocate
from pybpf.obj.maps import kernel_map_name
from pybpf.obj.spec import BPF_F_MMAPABLE

_REPO = Path(__file__).resolve().parents[2]
CORE_SOURCES = sorted(p.name for p in (_REPO / "tests" / "corpus" / "core").glob("*.bpf.c"))
# the project's own applications (absolute paths: the corpus fixture accepts them as they are)
APP_SOURCES = sorted(str(p) for p in (_REPO / "bpf").glob("*.bpf.c"))
CORPUS_SOURCES = CORE_SOURCES + APP_SOURCES
# programs whose length the verifier changes (inlined helpers, ctx rewrites, dead code)
LENGTH_CHANGES = {"core_calls.bpf.c", "core_packet.bpf.c", *APP_SOURCES}
NO_CTX_REWRITE = {ProgramType.TRACEPOINT, ProgramType.RAW_TRACEPOINT, ProgramType.TRACING}

pytestmark = pytest.mark.kernel


def _libbpf_1_1_flags(m) -> int:
    """The flags the installed bpftool's libbpf (a v1.1 snapshot) gives a map: it still made every
    internal map BPF_F_MMAPABLE; upstream (libbpf 3cd45b66, which pybpf follows) only does so for
    sections holding a non-static variable."""
    return m.flags | BPF_F_MMAPABLE if m.section.startswith((".rodata", ".data", ".bss")) \
        else m.flags


def _object_name(path: Path) -> str:
    return path.name.split(".", 1)[0]       # libbpf: basename up to the first dot


def _xlated_insn(entry: dict) -> tuple[int, int, int, int, int]:
    op = entry["opcodes"]
    imm_bytes = bytes(int(b, 16) for b in op["imm"])
    off = int.from_bytes(bytes(int(b, 16) for b in op["off"]), "little", signed=True)
    imm = int.from_bytes(imm_bytes[:4], "little", signed=True)
    if len(imm_bytes) > 4:
        imm = int.from_bytes(imm_bytes[:4], "little") | (
            int.from_bytes(imm_bytes[-4:], "little") << 32)
    return int(op["code"], 16), int(op["dst_reg"], 16), int(op["src_reg"], 16), off, imm


def _function_at(program, index: int):
    owner = None
    for fi in program.func_info:
        if fi.index <= index:
            owner = fi
    return owner


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_core_relocations_match_libbpf_patch_log(source, corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(source)
    expected = loaded.patched()
    spec = load_object(corpus_object(source))
    ours: dict[tuple[str, int], tuple[str, int | None]] = {}
    vmlinux = load_vmlinux()
    for result in relocate(spec, vmlinux).values():
        program = spec.programs[result.program]
        for outcome in result.outcomes:
            fn = _function_at(program, outcome.index)
            key = (fn.name, outcome.slot - fn.slot)
            if key in ours:              # a subprogram appended to several programs
                continue
            if outcome.poisoned:
                ours[key] = ("poisoned", None)
            else:
                insn = result.instructions[outcome.index]
                value = insn.off if insn.cls in (1, 2, 3) else (
                    insn.imm64 if insn.is_wide else insn.imm)
                ours[key] = ("patched", value)
    assert ours == expected
    if source in CORE_SOURCES:
        assert expected, "libbpf reported no CO-RE relocations: the comparison is empty"


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_relocated_instructions_equal_kernel_xlated_at_core_sites(source, corpus_object,
                                                                  libbpf_loaded):
    loaded = libbpf_loaded(source)
    spec = load_object(corpus_object(source))
    results = relocate(spec, load_vmlinux())
    compared = 0
    for name, result in results.items():
        xlated = loaded.xlated[name]
        program = spec.programs[name]
        slots = sum(i.slots for i in result.instructions)
        kernel_slots = sum(2 if e["opcodes"]["code"] == "0x18" else 1 for e in xlated)
        if slots != kernel_slots:
            continue             # the verifier inlined helpers or removed dead code
        by_slot = {}
        pos = 0
        for entry in xlated:
            by_slot[pos] = _xlated_insn(entry)
            pos += 2 if entry["opcodes"]["code"] == "0x18" else 1
        for outcome in result.outcomes:
            insn = result.instructions[outcome.index]
            got = by_slot[outcome.slot]
            assert (insn.opcode, insn.dst, insn.src, insn.off, insn.imm) == got, (
                f"{name} insn #{outcome.index} ({outcome})")
            compared += 1
        assert program.func_info
    # core_calls inlines map lookups / bpf_loop; core_packet's __sk_buff accesses are rewritten
    if source not in LENGTH_CHANGES:
        assert compared, f"{source}: no program kept its length in the kernel"


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_linked_program_functions_match_kernel_func_order(source, corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(source)
    spec = load_object(corpus_object(source))
    for name, program in spec.programs.items():
        xlated = loaded.xlated[name]
        kernel_funcs = [e["proto"].split("(", 1)[0].split()[-1].lstrip("*")
                        for e in xlated if "proto" in e]
        assert [fi.name for fi in program.func_info] == kernel_funcs


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_programs_and_maps_match_bpftool_view(source, corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(source)
    path = corpus_object(source)
    spec = load_object(path)
    obj_name = _object_name(path)
    assert sorted(spec.programs) == sorted(loaded.programs)
    for name, program in spec.programs.items():
        kernel = loaded.programs[name]
        assert kernel["type"] == program.type.name.lower()
        kernel_maps = {loaded.maps[i]["name"]: loaded.maps[i] for i in kernel.get("map_ids", [])}
        refs = set(program.map_refs)
        if ".rodata" in spec.maps:       # libbpf binds .rodata to every program it loads
            refs.add(".rodata")
        ours = {kernel_map_name(obj_name, ref, internal=spec.maps[ref].is_global_data): ref
                for ref in refs}
        assert sorted(ours) == sorted(kernel_maps)
        for kname, ref in ours.items():
            m, k = spec.maps[ref], kernel_maps[kname]
            assert (m.type.name.lower(), m.key_size, m.value_size, m.max_entries,
                    _libbpf_1_1_flags(m)) == (k["type"], k["bytes_key"], k["bytes_value"],
                                              k["max_entries"], k["flags"])


def test_prog_array_and_map_in_map_slots_match_libbpf_initialisation(corpus_object,
                                                                      libbpf_loaded):
    loaded = libbpf_loaded("core_calls.bpf.c")
    spec = load_object(corpus_object("core_calls.bpf.c"))
    filled = {}
    for map_id, info in loaded.maps.items():
        if info["name"] in ("jumps", "outer"):
            filled[info["name"]] = sorted(
                int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
                for e in loaded.map_dumps[map_id])
    assert filled["jumps"] == [i for i, _ in spec.maps["jumps"].contents]
    assert filled["outer"] == [i for i, _ in spec.maps["outer"].contents]


def test_global_data_initial_contents_match_kernel_map(corpus_object, libbpf_loaded):
    loaded = libbpf_loaded("core_calls.bpf.c")
    spec = load_object(corpus_object("core_calls.bpf.c"))
    for map_id, info in loaded.maps.items():
        if info["name"].endswith(".rodata"):
            value = bytes(int(b, 16) for b in loaded.map_dumps[map_id][0]["value"])
            assert spec.maps[".rodata"].contents == [(0, value)]
            assert spec.rodata["loop_count"] == int.from_bytes(value[:4], "little")
            return
    pytest.fail("bpftool shows no .rodata map")


def test_map_value_loads_reference_global_data_by_section(corpus_object):
    spec = load_object(corpus_object("core_calls.bpf.c"))
    loads = [i for p in spec.programs.values() for i in p.instructions
             if i.is_wide and i.src == PseudoSrc.MAP_VALUE]
    assert {i.ref for i in loads} >= {".rodata", ".data", ".bss", ".data.sums"}


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_line_info_matches_kernel_source_annotations(source, corpus_object, libbpf_loaded):
    loaded = libbpf_loaded(source)
    spec = load_object(corpus_object(source))
    checked = 0
    for name, program in spec.programs.items():
        xlated = loaded.xlated[name]
        kernel, pos = set(), 0
        for entry in xlated:
            if "src" in entry:
                kernel.add((pos, entry["src"].strip()))
            pos += 2 if entry["opcodes"]["code"] == "0x18" else 1
        if pos != sum(i.slots for i in program.instructions):
            continue
        ours = {(rec.slot, rec.source.strip()) for rec in program.line_info}
        assert ours == kernel, name
        checked += 1
    assert checked or source in LENGTH_CHANGES


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_subprogram_linking_matches_libbpf(source, corpus_object, libbpf_loaded):
    """libbpf logs where it appends each subprogram and the imm it gives each call/callback."""
    import re
    loaded = libbpf_loaded(source)
    spec = load_object(corpus_object(source))
    placed = re.findall(r"prog '([^']+)': insn #(\d+) relocated, imm (-?\d+) points to subprog "
                        r"'([^']+)' \(now at (\d+) offset\)", loaded.log)
    for caller, insn, imm, sub, offset in placed:
        if caller not in spec.programs:
            continue                     # a call made from inside a subprogram
        program = spec.programs[caller]
        slots = {}
        pos = 0
        for i in program.instructions:
            slots[pos] = i
            pos += i.slots
        call = slots[int(insn)]
        assert (call.imm, call.ref) == (int(imm), sub)
        assert (sub, int(offset)) in {(f.name, f.slot) for f in program.func_info}
    for name, program in spec.programs.items():
        added = re.findall(rf"prog '{name}': added \d+ insns from sub-prog '([^']+)'", loaded.log)
        assert program.subprograms == added
    if source == "core_calls.bpf.c":
        assert placed


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_every_map_libbpf_creates_is_in_the_spec_with_the_same_shape(source, corpus_object,
                                                                     libbpf_loaded):
    loaded = libbpf_loaded(source)
    path = corpus_object(source)
    spec = load_object(path)
    obj_name = _object_name(path)
    ours = {}
    for name, m in spec.maps.items():
        pin = kernel_map_name(obj_name, name, internal=m.is_global_data).replace(".", "_")
        ours[pin] = (m.type.name.lower(), m.key_size, m.value_size, m.max_entries,
                     _libbpf_1_1_flags(m))
    kernel = {pin: (k["type"], k["bytes_key"], k["bytes_value"], k["max_entries"], k["flags"])
              for pin, k in loaded.pinned_maps.items()}
    assert ours == kernel


@pytest.mark.parametrize("source", CORPUS_SOURCES, ids=lambda s: Path(s).name)
def test_whole_linked_program_equals_kernel_xlated(source, corpus_object, libbpf_loaded):
    """Where the verifier kept the length: every instruction equal, except what the kernel owns
    (helper/kfunc call targets, map addresses); only program types whose context accesses the
    kernel does not rewrite (xdp_md/__sk_buff loads are converted in place)."""
    loaded = libbpf_loaded(source)
    spec = load_object(corpus_object(source))
    results = relocate(spec, load_vmlinux())
    compared = 0
    for name, result in results.items():
        ours, pos = {}, 0
        for insn in result.instructions:
            ours[pos] = insn
            pos += insn.slots
        kernel, kpos = {}, 0
        for entry in loaded.xlated[name]:
            kernel[kpos] = _xlated_insn(entry)
            kpos += 2 if entry["opcodes"]["code"] == "0x18" else 1
        if pos != kpos or result.poisoned or spec.programs[name].type not in NO_CTX_REWRITE:
            continue
        for slot, insn in ours.items():
            code, dst, src, off, imm = kernel[slot]
            if insn.is_pseudo_call:
                # jit_subprogs keeps the pc-relative target in off and puts a subprog index in imm
                assert (insn.opcode, insn.src, insn.imm) == (code, src, off), f"{name} {slot}"
                continue
            assert (insn.opcode, insn.dst, insn.src, insn.off) == (code, dst, src, off), (
                f"{name} slot {slot}: {insn}")
            kernel_owned = (insn.is_wide and insn.src != 0) or (
                insn.is_call and insn.src in (0, 2)) or (insn.is_wide and insn.ref)
            if not kernel_owned:
                assert insn.imm == imm, f"{name} slot {slot}: {insn}"
        compared += 1
    if source not in LENGTH_CHANGES:
        assert compared
