"""load_object on small purpose-built objects: bad input errors, legacy maps, SEC() handling,
typed globals -- checked against the C source values and llvm-readelf-19."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf.errors import ObjectError
from pybpf.isa.uapi import MapType, ProgramType
from pybpf.obj import load_object

HEADERS = "#include <linux/types.h>\n#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"


@pytest.fixture
def build(compile_bpf, tmp_path):
    def _build(name: str, body: str) -> Path:
        src = tmp_path / f"{name}.c"
        src.write_text(HEADERS + body)
        return compile_bpf(src, out_dir=tmp_path)
    return _build


def _readelf_symbols(path: Path) -> dict[str, tuple[int, int, str]]:
    """name -> (value, size, section index) from llvm-readelf-19."""
    if shutil.which("llvm-readelf-19") is None:
        pytest.skip("llvm-readelf-19 is not installed")
    out = subprocess.run(["llvm-readelf-19", "-s", str(path)], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[0].endswith(":") and parts[0] != "Num:":
            syms[parts[7]] = (int(parts[1], 16), int(parts[2], 0), parts[6])
    return syms


def test_not_an_elf_file_is_an_object_error():
    with pytest.raises(ObjectError, match="not an ELF file"):
        load_object(b"hello world, definitely not ELF")


def test_non_bpf_elf_is_rejected_naming_the_machine():
    exe = Path(shutil.which("true") or "/bin/true")
    with pytest.raises(ObjectError, match="EM_BPF") as exc:
        load_object(exe)
    assert str(exe) in str(exc.value)


def test_missing_file_is_an_object_error(tmp_path):
    with pytest.raises(ObjectError, match="cannot read object"):
        load_object(tmp_path / "nope.o")


def test_unknown_section_names_the_program_and_section(build):
    obj = build("custom", 'SEC("pybpf_custom") int handler(void *ctx) { return 0; }\n'
                          'char LICENSE[] SEC("license") = "GPL";\n')
    with pytest.raises(ObjectError) as exc:
        load_object(obj)
    assert "'pybpf_custom'" in str(exc.value) and "'handler'" in str(exc.value)
    spec = load_object(obj, allow_unknown_sections=True)
    assert spec.programs["handler"].type == ProgramType.UNSPEC
    assert not spec.programs["handler"].section_known


def test_static_program_outside_text_is_refused_like_libbpf(build):
    obj = build("static_prog", 'SEC("xdp") static int hidden(void *ctx) { return 2; }\n'
                               'SEC("xdp") int visible(void *ctx) { return hidden(ctx); }\n'
                               'char LICENSE[] SEC("license") = "GPL";\n')
    with pytest.raises(ObjectError, match="static programs outside .text"):
        load_object(obj)


def test_multiple_programs_in_one_section_are_split_by_symbol(build):
    obj = build("two", 'SEC("xdp") int first(void *ctx) { return 1; }\n'
                       'SEC("xdp") int second(void *ctx) { return 2; }\n'
                       'char LICENSE[] SEC("license") = "Dual BSD/GPL";\n')
    spec = load_object(obj)
    assert sorted(spec.programs) == ["first", "second"]
    # each is "w0 = N; exit" (llvm-objdump-19 -d shows b4 00 00 00 02 00 00 00 / 95 ...)
    assert [(i.opcode, i.imm) for i in spec.programs["second"].instructions] == [(0xB4, 2),
                                                                                (0x95, 0)]
    assert spec.license == "Dual BSD/GPL"


def test_legacy_maps_section_is_parsed_from_bpf_map_def(build):
    obj = build("legacy", """
struct bpf_map_def_legacy { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def_legacy counts SEC("maps") = { BPF_MAP_TYPE_HASH, 4, 8, 77, 1 };
struct bpf_map_def_legacy slots SEC("maps") = { BPF_MAP_TYPE_ARRAY, 4, 16, 3, 0 };
SEC("socket") int filter(void *ctx) {
    __u32 k = 0; void *v = bpf_map_lookup_elem(&slots, &k);
    return v ? bpf_map_lookup_elem(&counts, &k) != 0 : 0;
}
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    counts, slots = spec.maps["counts"], spec.maps["slots"]
    assert (counts.type, counts.key_size, counts.value_size, counts.max_entries,
            counts.flags) == (MapType.HASH, 4, 8, 77, 1)
    assert (slots.type, slots.value_size, slots.max_entries) == (MapType.ARRAY, 16, 3)
    assert spec.programs["filter"].map_refs == ["slots", "counts"]


def test_rodata_assignment_writes_at_the_symbol_offset(build):
    obj = build("rodata", """
const volatile __u32 first = 1;
const volatile __s64 second = -5;
const volatile char name[8] = "abc";
const volatile __u16 table[3] = {1, 2, 3};
SEC("xdp") int prog(void *ctx) { return first + second + name[0] + table[1]; }
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    syms = _readelf_symbols(obj)
    assert spec.rodata["second"] == -5 and spec.rodata["name"] == "abc"
    spec.rodata["first"] = 0xDEADBEEF
    spec.rodata["second"] = -2
    spec.rodata["name"] = "xyz"
    spec.rodata["table"] = [7, 8, 9]
    data = spec.maps[".rodata"].contents[0][1]

    def at(name: str) -> bytes:
        value, size, _ = syms[name]
        return data[value:value + size]

    assert at("first") == (0xDEADBEEF).to_bytes(4, "little")
    assert at("second") == (-2).to_bytes(8, "little", signed=True)
    assert at("name") == b"xyz\0\0\0\0\0"
    assert at("table") == b"\x07\x00\x08\x00\x09\x00"
    assert spec.rodata["table"] == [7, 8, 9]


def test_global_variable_errors_name_the_variable(build):
    obj = build("badvar", """
const volatile __u8 small = 1;
SEC("xdp") int prog(void *ctx) { return small; }
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    with pytest.raises(ObjectError, match="'nope'"):
        spec.rodata["nope"] = 1
    with pytest.raises(ObjectError, match="'small'.*out of range"):
        spec.rodata["small"] = 300


def test_callback_function_pointer_points_at_the_appended_subprogram(build):
    obj = build("callback", """
static long step(__u32 i, void *ctx) { return 0; }
SEC("xdp") int prog(void *ctx) { bpf_loop(4, step, 0, 0); return 2; }
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    program = spec.programs["prog"]
    slots, pos = [], 0
    for insn in program.instructions:
        slots.append(pos)
        pos += insn.slots
    (i,) = [n for n, insn in enumerate(program.instructions) if insn.is_pseudo_func]
    target = slots[i] + program.instructions[i].imm + 1
    (step,) = [f for f in program.func_info if f.name == "step"]
    assert target == step.slot and program.instructions[i].ref == "step"


def test_line_info_maps_instructions_to_source_lines(build):
    obj = build("lines", """
SEC("xdp") int prog(struct xdp_md *ctx)
{
    int verdict = 2; /* LINE-A */
    if (ctx->data_end - ctx->data < 14)
        verdict = 1; /* LINE-B */
    return verdict;
}
char LICENSE[] SEC("license") = "GPL";
""")
    program = load_object(obj).programs["prog"]
    source_lines = obj.parent.joinpath("lines.c").read_text().splitlines()
    for rec in program.line_info:
        assert rec.file_name.endswith("lines.c")
        assert source_lines[rec.line - 1].strip() == rec.source.strip()
    loads = [i for i, insn in enumerate(program.instructions) if insn.cls == 1]
    assert loads and all("ctx->data" in program.source_line(i).source for i in loads)


def test_typed_and_typeless_ksyms_become_btf_id_and_address_loads(build):
    obj = build("ksyms", """
extern const void bpf_prog_active __ksym;
extern const int bpf_stats_enabled_key __ksym __weak;
SEC("raw_tp/sys_enter") int prog(void *ctx) {
    return (long)&bpf_prog_active + (long)&bpf_stats_enabled_key;
}
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    loads = {i.ref: i for i in spec.programs["prog"].instructions if i.is_wide and i.ref}
    assert loads["bpf_prog_active"].src == 0 and spec.ksyms["bpf_prog_active"].typeless
    assert loads["bpf_stats_enabled_key"].src == 3         # BPF_PSEUDO_BTF_ID
    assert spec.ksyms["bpf_stats_enabled_key"].weak


def test_struct_ops_variables_become_struct_ops_maps_with_program_slots(build):
    obj = build("stops", """
struct pybpf_ops {
    int (*init)(void *ctx);
    int flags;
    int (*run)(void *ctx);
};
SEC("struct_ops/my_init") int my_init(void *ctx) { return 0; }
SEC("struct_ops/my_run") int my_run(void *ctx) { return 1; }
SEC(".struct_ops.link") struct pybpf_ops ops_a = { .init = (void *)my_init, .flags = 7,
                                                   .run = (void *)my_run };
SEC(".struct_ops") struct pybpf_ops ops_b = { .run = (void *)my_run };
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    a, b = spec.maps["ops_a"], spec.maps["ops_b"]
    # struct pybpf_ops: init @0, flags @8, run @16 -> 24 bytes (x86-64/BPF layout)
    assert (a.type, a.key_size, a.value_size, a.max_entries) == (MapType.STRUCT_OPS, 4, 24, 1)
    assert a.flags == 1 << 13 and b.flags == 0                  # BPF_F_LINK for .link
    assert a.struct_ops == {"init": "my_init", "run": "my_run"}
    assert b.struct_ops == {"run": "my_run"}
    assert a.contents[0][1][8:12] == (7).to_bytes(4, "little")
    assert spec.programs["my_run"].type == ProgramType.STRUCT_OPS
    assert spec.programs["my_run"].attach_to == "my_run"


def test_question_mark_section_disables_autoload_and_is_forgotten(build):
    obj = build("optional", 'SEC("?xdp") int maybe(void *ctx) { return 2; }\n'
                            'SEC("xdp") int always(void *ctx) { return 2; }\n'
                            'char LICENSE[] SEC("license") = "GPL";\n')
    spec = load_object(obj)
    assert (spec.programs["maybe"].autoload, spec.programs["maybe"].section) == (False, "xdp")
    assert spec.programs["always"].autoload
    assert spec.programs["maybe"].type == ProgramType.XDP


def test_loading_is_deterministic_from_path_or_bytes(corpus_object):
    path = corpus_object("core_calls.bpf.c")
    a, b = load_object(path), load_object(path.read_bytes())
    assert a.programs == b.programs and a.maps == b.maps
    for name in a.programs:
        assert [i.ref for i in a.programs[name].instructions] == [
            i.ref for i in b.programs[name].instructions]
    assert a.btf == b.btf


def test_only_sections_with_visible_globals_are_mmapable(build):
    """Upstream libbpf (map_is_mmapable + btf_fixup_datasec): BPF_F_MMAPABLE only for data maps
    with a non-static, non-hidden variable."""
    obj = build("mmapable", """
__u64 visible_counter;
static __u64 static_only SEC(".data.statics") = 1;
__attribute__((visibility("hidden"))) __u64 hidden_only SEC(".data.hidden") = 2;
SEC("raw_tp/sys_enter") int prog(void *ctx) {
    static_only++; hidden_only++; visible_counter++;
    bpf_printk("hello %d", 1);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
""")
    spec = load_object(obj)
    mmapable = {name: bool(m.flags & (1 << 10)) for name, m in spec.maps.items()}
    # bpf_printk's format is a static const char[] in .rodata: static only, so not mmapable
    assert mmapable == {".bss": True, ".data.statics": False, ".data.hidden": False,
                        ".rodata": False}
    assert spec.maps[".rodata"].flags == 1 << 7                 # BPF_F_RDONLY_PROG only


def test_btf_map_attributes_come_from_the_definition(build):
    obj = build("attrs", """
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1000);
    __uint(key_size, 12);
    __uint(value_size, 24);
    __uint(map_flags, BPF_F_NO_COMMON_LRU);
    __uint(numa_node, 0);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_lru SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
    __uint(max_entries, 64);
    __type(value, __u64);
    __uint(map_extra, 3);
} bloom SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
    __uint(max_entries, 8);
    __type(key, __u32);
    __array(values, struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 2);
        __type(key, __u32);
        __type(value, __u16);
    });
} outer SEC(".maps");
SEC("xdp") int prog(void *ctx) {
    __u32 k = 0;
    return bpf_map_lookup_elem(&pinned_lru, &k) != 0 && bpf_map_lookup_elem(&outer, &k) != 0
           && bpf_map_peek_elem(&bloom, &k) == 0;
}
char LICENSE[] SEC("license") = "GPL";
""")
    from pybpf.obj import Pinning
    spec = load_object(obj)
    lru, bloom, outer = spec.maps["pinned_lru"], spec.maps["bloom"], spec.maps["outer"]
    assert (lru.type, lru.key_size, lru.value_size, lru.max_entries, lru.flags, lru.pinning) == (
        MapType.LRU_HASH, 12, 24, 1000, 2, Pinning.BY_NAME)        # BPF_F_NO_COMMON_LRU = 2
    assert (bloom.type, bloom.key_size, bloom.value_size, bloom.map_extra) == (
        MapType.BLOOM_FILTER, 0, 8, 3)
    assert outer.inner is not None and (outer.inner.type, outer.inner.value_size,
                                        outer.inner.max_entries) == (MapType.ARRAY, 2, 2)
    assert (outer.key_size, outer.value_size) == (4, 4)
    assert spec.btf[outer.key_type].name == "__u32"
