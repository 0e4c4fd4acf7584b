"""Our bpf_attr / perf_event_attr / bpf_*_info field offsets and widths against the C compiler's view of
<linux/bpf.h> and <linux/perf_event.h> (offsetof/sizeof from a gcc-built probe). No kernel needed."""
from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from pybpf.kernel.syscall import LAYOUTS, Cmd

# Fields newer than the installed uapi headers (linux-libc-dev 6.1) cannot be checked here.
NEWER_THAN_HEADERS = {"log_true_size", "btf_log_true_size", "path_fd", "relative_fd",
                      "expected_revision", "prog_token_fd", "fd_array_cnt", "uprobe_multi_path",
                      "uprobe_multi_offsets", "uprobe_multi_ref_ctr_offsets",
                      "uprobe_multi_cookies", "uprobe_multi_cnt", "uprobe_multi_flags",
                      "uprobe_multi_pid"}
PREFIX = {
    Cmd.MAP_LOOKUP_BATCH: "batch.", Cmd.MAP_LOOKUP_AND_DELETE_BATCH: "batch.",
    Cmd.MAP_UPDATE_BATCH: "batch.", Cmd.MAP_DELETE_BATCH: "batch.",
    Cmd.PROG_TEST_RUN: "test.", Cmd.OBJ_GET_INFO_BY_FD: "info.",
    Cmd.RAW_TRACEPOINT_OPEN: "raw_tracepoint.", Cmd.LINK_CREATE: "link_create.",
    Cmd.PROG_QUERY: "query.", Cmd.LINK_DETACH: "link_detach.", Cmd.PROG_BIND_MAP: "prog_bind_map.",
    Cmd.LINK_UPDATE: "link_update.", Cmd.ITER_CREATE: "iter_create.",
}
RENAMED = {"perf_event_bpf_cookie": "perf_event.bpf_cookie",
           "tracing_target_btf_id": "tracing.target_btf_id", "tracing_cookie": "tracing.cookie",
           "map_name": "map_name",
           **{f"kprobe_multi_{f}": f"kprobe_multi.{f}"
              for f in ("flags", "cnt", "syms", "addrs", "cookies")}}
SKIP = {(Cmd.MAP_FREEZE, "link_fd"), (Cmd.LINK_DETACH, "map_fd"),       # aliases we add
        (Cmd.LINK_CREATE, "map_fd"), (Cmd.LINK_CREATE, "target_ifindex"),
        (Cmd.RAW_TRACEPOINT_OPEN, "cookie")}                                  # newer than 6.1


def c_field(cmd: Cmd, name: str) -> str:
    return PREFIX.get(cmd, "") + RENAMED.get(name, name)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    fields = []
    for cmd, layout in LAYOUTS.items():
        for name, (offset, fmt) in layout.items():
            if name in NEWER_THAN_HEADERS or (cmd, name) in SKIP:
                continue
            fields.append((cmd, name, offset, fmt))
    extra = [("perf_event_attr", f, o) for f, o in
             [("type", 0), ("size", 4), ("config", 8), ("sample_period", 16),
              ("sample_type", 24), ("read_format", 32), ("wakeup_events", 48),
              ("config1", 56), ("config2", 64)]]
    extra += [("bpf_prog_info", f, o) for f, o in
              [("type", 0), ("id", 4), ("tag", 8), ("jited_prog_len", 16),
               ("xlated_prog_len", 20), ("nr_map_ids", 52), ("map_ids", 56), ("name", 64),
               ("btf_id", 128), ("run_time_ns", 192), ("run_cnt", 200),
               ("verified_insns", 216)]]
    extra += [("bpf_map_info", f, o) for f, o in
              [("type", 0), ("id", 4), ("key_size", 8), ("value_size", 12),
               ("max_entries", 16), ("map_flags", 20), ("name", 24), ("btf_id", 64),
               ("btf_key_type_id", 68), ("btf_value_type_id", 72), ("map_extra", 80)]]
    extra += [("bpf_link_info", f, o) for f, o in [("type", 0), ("id", 4), ("prog_id", 8)]]
    extra += [("bpf_btf_info", f, o) for f, o in [("btf", 0), ("btf_size", 8), ("id", 12)]]
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/bpf.h>",
             "#include <linux/perf_event.h>", "int main(void) {"]
    for cmd, name, _, _ in fields:
        expr = c_field(cmd, name)
        lines.append(f'printf("{cmd.name} {name} %zu %zu\\n", offsetof(union bpf_attr, {expr}), '
                     f'sizeof(((union bpf_attr *)0)->{expr}));')
    for struct_name, name, _ in extra:
        lines.append(f'printf("{struct_name} {name} %zu %zu\\n", offsetof(struct {struct_name}, '
                     f'{name}), sizeof(((struct {struct_name} *)0)->{name}));')
    lines.append("return 0; }")
    d = tmp_path_factory.mktemp("layout")
    (d / "probe.c").write_text("\n".join(lines))
    built = subprocess.run(["gcc", "-o", str(d / "probe"), str(d / "probe.c")],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"layout probe did not compile:\n{built.stderr}"
    out = subprocess.run([str(d / "probe")], capture_output=True, text=True, check=True).stdout
    measured = {}
    for line in out.splitlines():
        a, b, off, size = line.split()
        measured[(a, b)] = (int(off), int(size))
    return fields, extra, measured


def test_bpf_attr_offsets_and_widths_match_uapi_header(probe):
    fields, _, measured = probe
    wrong = []
    for cmd, name, offset, fmt in fields:
        got = measured[(cmd.name, name)]
        if got != (offset, struct.calcsize("<" + fmt)):
            wrong.append(f"{cmd.name}.{name}: ours {(offset, struct.calcsize('<' + fmt))}, "
                         f"header {got}")
    assert not wrong, "\n".join(wrong)


def test_info_and_perf_struct_offsets_match_uapi_header(probe):
    _, extra, measured = probe
    wrong = [f"{s}.{f}: ours {o}, header {measured[(s, f)][0]}"
             for s, f, o in extra if measured[(s, f)][0] != o]
    assert not wrong, "\n".join(wrong)
