"""``format c``: headers equal to bpftool's, that clang compiles, with the kernel's struct layouts."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pybpf.btf import BTF, Kind, Typedef
from pybpf.btf.c_dump import dump_c
from pybpf.errors import BTFError

CLANG_BPF = ["clang-19", "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86",
             "-I/usr/include/x86_64-linux-gnu", "-ferror-limit=0"]
MODE_BYTE = " __attribute__((mode(byte)))"     # newer libbpf emits it; bpftool 7.1 does not

PROGRAM = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	int ppid = BPF_CORE_READ(task, real_parent, tgid);
	return ppid + p->pid;
}

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	return eth->h_proto == bpf_htons(0x0800) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="session")
def vmlinux_h(tmp_path_factory, vmlinux_btf):
    """The vmlinux.h that `pybpf btf dump /sys/kernel/btf/vmlinux --format c` prints (made
    in-process from the shared, already decoded vmlinux BTF; the CLI path is tested below)."""
    out = tmp_path_factory.mktemp("vmlinux_h") / "vmlinux.h"
    out.write_text(dump_c(vmlinux_btf))
    return out


def test_cli_dump_format_c_prints_the_header(zoo_object, bpftool):
    proc = subprocess.run([sys.executable, "-m", "pybpf", "btf", "dump", str(zoo_object),
                           "--format", "c"], capture_output=True, text=True)
    theirs = subprocess.run([bpftool, "btf", "dump", "file", str(zoo_object), "format", "c"],
                            check=True, capture_output=True, text=True).stdout
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == theirs


@pytest.fixture(scope="session")
def bpftool_vmlinux_h(bpftool, vmlinux_path) -> str:
    return subprocess.run([bpftool, "btf", "dump", "file", str(vmlinux_path), "format", "c"],
                          check=True, capture_output=True, text=True).stdout


def test_corpus_c_dump_is_identical_to_bpftool(corpus_objects, bpftool):
    for path in corpus_objects.values():
        theirs = subprocess.run([bpftool, "btf", "dump", "file", str(path), "format", "c"],
                                check=True, capture_output=True, text=True).stdout
        assert dump_c(BTF.from_file(path)) == theirs, path.name


def test_vmlinux_h_matches_bpftool_line_for_line(vmlinux_h, bpftool_vmlinux_h):
    ours = vmlinux_h.read_text().replace(MODE_BYTE, "").splitlines()
    theirs = bpftool_vmlinux_h.replace(MODE_BYTE, "").splitlines()
    assert len(ours) == len(theirs)
    assert [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b] == []


def test_program_including_vmlinux_h_compiles(vmlinux_h, tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    proc = subprocess.run([*CLANG_BPF, f"-I{vmlinux_h.parent}", "-c", str(src), "-o",
                           str(tmp_path / "prog.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _has_va_list(btf: BTF, t) -> bool:
    for m in t.members:
        x = btf.get(m.type_id)
        for _ in range(8):
            if isinstance(x, Typedef) and x.name in ("va_list", "__gnuc_va_list"):
                return True
            if not hasattr(x, "type_id") or x.kind == Kind.PTR:
                break
            x = btf[x.type_id]
    return False


def test_clang_lays_out_every_struct_like_the_kernel(vmlinux_h, vmlinux_btf, tmp_path):
    """sizeof/offsetof of every uniquely named struct/union/enum equals the kernel BTF."""
    tags: dict[str, list] = {}
    for kind in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64):
        for t in vmlinux_btf.types(kind):
            if t.name:
                tags.setdefault(t.name, []).append(t)
    lines = ['#include "vmlinux.h"']
    checked_members = 0
    for name, ts in tags.items():
        if len(ts) != 1:
            continue                 # renamed to name___N in the header
        t = ts[0]
        if t.kind in (Kind.ENUM, Kind.ENUM64):
            if t.values:
                lines.append(f"_Static_assert(sizeof(enum {name}) == {t.size}, \"{name}\");")
            continue
        if _has_va_list(vmlinux_btf, t):
            continue                 # va_list is `char *` on the BPF target (bpftool's too)
        kw = "struct" if t.kind == Kind.STRUCT else "union"
        lines.append(f"_Static_assert(sizeof({kw} {name}) == {t.size}, \"{name}\");")
        for m in t.members:
            if m.name and not m.bitfield_size:
                lines.append(f"_Static_assert(__builtin_offsetof({kw} {name}, {m.name}) == "
                             f"{m.bit_offset // 8}, \"{name}.{m.name}\");")
                checked_members += 1
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([*CLANG_BPF, f"-I{vmlinux_h.parent}", "-fsyntax-only", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert checked_members > 10000


def test_dump_of_selected_types_includes_their_dependencies(zoo_object):
    btf = BTF.from_file(zoo_object)
    text = dump_c(btf, [btf.find_one("value", Kind.STRUCT).id], header=False)
    assert text.index("struct flags {") < text.index("struct value {")
    assert "struct node" not in text


def test_self_referencing_pointer_cycle_is_a_btf_error():
    btf = BTF()
    btf.add_ptr(1)                      # id 1: a pointer to itself
    with pytest.raises(BTFError, match="cycle"):
        dump_c(btf)


def test_struct_embedding_itself_is_a_btf_error():
    btf = BTF()
    i = btf.add_int("int", 4, signed=True)
    btf.add_struct("loop", 8, [("x", i, 0), ("self", 2, 32)])
    with pytest.raises(BTFError, match="cycle"):
        dump_c(btf)


def test_bitfields_packed_and_padding_round_trip_through_clang(tmp_path):
    """A hand-built BTF dumped to C, compiled by clang, gives back the same layout."""
    btf = BTF()
    u32 = btf.add_int("unsigned int", 4)
    u8 = btf.add_int("unsigned char", 1)
    u64 = btf.add_int("long long unsigned int", 8)
    btf.add_struct("gappy", 32, [("a", u8, 0), ("bits", u32, 13, 5), ("wide", u64, 64),
                                 ("late", u32, 160)])
    btf.add_struct("tight", 9, [("c", u8, 0), ("v", u64, 8)])
    src = tmp_path / "gen.c"
    src.write_text(dump_c(btf) + "\nstruct gappy g;\nstruct tight t;\n")
    obj = tmp_path / "gen.o"
    subprocess.run([*CLANG_BPF, "-c", str(src), "-o", str(obj)], check=True)
    back = BTF.from_file(obj)
    for name in ("gappy", "tight"):
        ours, theirs = btf.find_one(name), back.find_one(name)
        assert theirs.size == ours.size
        assert [(m.name, m.bit_offset, m.bitfield_size) for m in theirs.members if m.name] == \
            [(m.name, m.bit_offset, m.bitfield_size) for m in ours.members]


def test_format_decl_writes_c_declarators_like_bpftool(zoo_object, bpftool):
    from pybpf.btf.c_dump import format_decl
    btf = BTF.from_file(zoo_object)
    node = btf.find_one("node", Kind.STRUCT)
    theirs = subprocess.run([bpftool, "btf", "dump", "file", str(zoo_object), "format", "c"],
                            check=True, capture_output=True, text=True).stdout
    for m in node.members:
        if m.name in ("callback", "handlers", "names", "cvp", "next", "name"):
            assert f"\t{format_decl(btf, m.type_id, m.name)};\n" in theirs


def test_one_type_dump_is_lazy_and_compiles_with_the_kernel_layout(vmlinux_path, tmp_path):
    btf = BTF.from_file(vmlinux_path)                   # fresh: count what gets decoded
    task = btf.find_one("task_struct", Kind.STRUCT)
    header = dump_c(btf, [task.id])
    assert len(btf._cache) < len(btf) // 10
    checks = [f"_Static_assert(sizeof(struct task_struct) == {task.size}, \"size\");"]
    checks += [f"_Static_assert(__builtin_offsetof(struct task_struct, {m.name}) == "
               f"{m.bit_offset // 8}, \"{m.name}\");"
               for m in task.members if m.name and not m.bitfield_size]
    src = tmp_path / "task.c"
    src.write_text(header + "\n".join(checks) + "\n")
    proc = subprocess.run([*CLANG_BPF, "-fsyntax-only", str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_cli_dump_by_name_selects_that_type(vmlinux_path, bpftool_vmlinux_h):
    proc = subprocess.run([sys.executable, "-m", "pybpf", "btf", "dump", str(vmlinux_path),
                           "--name", "xdp_md", "--format", "c"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    theirs = bpftool_vmlinux_h
    start = proc.stdout.index("struct xdp_md {")
    block = proc.stdout[start:proc.stdout.index("};", start) + 2]
    assert block in theirs


def test_split_btf_c_dump_matches_bpftool_with_base(zoo_object, bpftool, tmp_path):
    base = BTF.from_file(zoo_object)
    split = BTF(base=base)
    ptr = split.add_ptr(base.find_one("node", Kind.STRUCT).id)
    state = split.add_enum("mod_state", {"MS_A": 0, "MS_B": 3})
    split.add_struct("module_thing", 24, [("n", ptr, 0), ("counter", base.find_one("int").id, 64),
                                          ("st", state, 96),
                                          ("v", base.find_one("flags", Kind.STRUCT).id, 128)])
    base_file, split_file = tmp_path / "base.btf", tmp_path / "split.btf"
    base_file.write_bytes(base.to_bytes())
    split_file.write_bytes(split.to_bytes())
    theirs = subprocess.run([bpftool, "-B", str(base_file), "btf", "dump", "file",
                             str(split_file), "format", "c"], check=True, capture_output=True,
                            text=True).stdout
    assert dump_c(BTF.parse(split_file.read_bytes(), base)) == theirs
