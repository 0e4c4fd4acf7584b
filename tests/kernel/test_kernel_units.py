"""Kernel-backend pieces that need no kernel: verifier-log reading, CPU lists, section dispatch, and the
exact bpf(2) attributes the trampoline paths (refused by this kernel) would send."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pybpf.errors import BPFError
from pybpf.isa.uapi import AttachType, ProgramType
from pybpf.kernel import autoattach, links
from pybpf.kernel import syscall as sc
from pybpf.kernel.cpus import parse_cpu_list
from pybpf.kernel.verifier_log import describe, parse_log

# Shape of a 6.x log_level=1 rejection with BTF line info (hand-written, not captured from pybpf).
LOG = """func#0 @0
0: R1=ctx() R10=fp0
; int prog(struct xdp_md *ctx) @ prog.c:10
0: (b7) r0 = 0                        ; R0_w=0
; return *(int *)(long)ctx->data; @ prog.c:12
1: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=pkt(r=0)
2: (61) r0 = *(u32 *)(r2 +0)
invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)
R2 offset is outside of the packet
processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""


def test_parse_log_finds_failing_instruction_source_and_reason():
    failure = parse_log(LOG)
    assert failure.insn == 2
    assert (failure.file, failure.line) == ("prog.c", 12)
    assert failure.source == "return *(int *)(long)ctx->data;"
    assert failure.reason == ("invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0); "
                              "R2 offset is outside of the packet")


def test_describe_falls_back_to_line_info_records_without_log_comments():
    log = "0: (61) r0 = *(u32 *)(r1 +0)\ninvalid bpf_context access off=0 size=4\n"
    records = [SimpleNamespace(slot=0, line=7, file_name="x.c", source="return ctx->a;")]
    message, failure, source_line = describe("p", log, records)
    assert source_line == "x.c:7 'return ctx->a;'"
    assert "instruction 0" in message and "x.c:7" in message


@pytest.mark.parametrize("text,cpus", [("0", [0]), ("0-3", [0, 1, 2, 3]),
                                       ("0-1,4,6-7\n", [0, 1, 4, 6, 7])])
def test_cpu_lists_parse_like_sysfs_documents(text, cpus):
    assert parse_cpu_list(text) == cpus


def fake_program(section: str, attach_to: str = "", **kw):
    return SimpleNamespace(section=section, attach_to=attach_to, name="p", fd=42,
                           expected_attach_type=kw.get("expected"), type=kw.get("type"))


@pytest.mark.parametrize("section,attach_to,call,args", [
    ("tracepoint/syscalls/sys_enter_read", "syscalls/sys_enter_read", "attach_tracepoint",
     ("syscalls", "sys_enter_read")),
    ("tp/sched/sched_switch", "sched/sched_switch", "attach_tracepoint",
     ("sched", "sched_switch")),
    ("raw_tp/sys_enter", "sys_enter", "attach_raw_tracepoint", ("sys_enter",)),
    ("kretprobe/do_unlinkat", "do_unlinkat", "attach_kprobe", ("do_unlinkat",)),
    ("uprobe//usr/bin/bash:readline", "/usr/bin/bash:readline", "attach_uprobe",
     ("/usr/bin/bash", "readline")),
    ("fentry/do_nanosleep", "do_nanosleep", "attach_tracing", ()),
    ("lsm/file_open", "file_open", "attach_tracing", ()),
    ("iter/task", "task", "attach_iter", ()),
    ("uprobe.multi//bin/true:ma*", "/bin/true:ma*", "attach_uprobe_multi", ("/bin/true", "ma*")),
    ("kprobe.multi/a,b", "a,b", "attach_kprobe_multi", (["a", "b"],)),
])
def test_auto_attach_dispatches_by_libbpf_section(monkeypatch, section, attach_to, call, args):
    calls = []
    monkeypatch.setattr(links, call, lambda prog, *a, **kw: calls.append((a, kw)) or "link")
    assert autoattach.auto_attach(fake_program(section, attach_to)) == "link"
    assert calls[0][0] == args
    if section.startswith("kretprobe"):
        assert calls[0][1]["retprobe"] is True


@pytest.mark.parametrize("section", ["xdp", "perf_event", "uprobe", "socket"])
def test_sections_without_a_target_refuse_auto_attach(section):
    with pytest.raises(BPFError, match="cannot be auto-attached|must be"):
        autoattach.auto_attach(fake_program(section))


def test_fentry_attach_sends_link_create_with_the_programs_attach_type(monkeypatch):
    sent = []

    def fake_bpf(attr, **kw):
        sent.append({name: attr[name] for name in ("prog_fd", "target_fd", "attach_type")})
        return 99

    monkeypatch.setattr(sc, "bpf", fake_bpf)
    prog = fake_program("fentry/do_nanosleep", "do_nanosleep",
                        expected=AttachType.TRACE_FENTRY, type=ProgramType.TRACING)
    link = links.attach_tracing(prog)
    link._fd._fd = -1                 # the fake fd 99 is not ours to close
    assert sent == [{"prog_fd": 42, "target_fd": 0, "attach_type": AttachType.TRACE_FENTRY}]


def test_tp_btf_attach_uses_raw_tracepoint_open_without_a_name(monkeypatch):
    sent = []

    def fake_bpf(attr, **kw):
        sent.append((attr.cmd, attr["name"], attr["prog_fd"]))
        return 98

    monkeypatch.setattr(sc, "bpf", fake_bpf)
    prog = fake_program("tp_btf/sched_switch", "sched_switch",
                        expected=AttachType.TRACE_RAW_TP, type=ProgramType.TRACING)
    link = links.attach_tracing(prog)
    link._fd._fd = -1
    assert sent == [(sc.Cmd.RAW_TRACEPOINT_OPEN, 0, 42)]


def test_trampoline_eperm_becomes_not_supported(monkeypatch):
    from pybpf.errors import KernelError, NotSupportedError

    def refuse(attr, **kw):
        raise KernelError("refused", errno=1, command="BPF_LINK_CREATE")

    monkeypatch.setattr(sc, "bpf", refuse)
    prog = fake_program("fexit/do_nanosleep", "do_nanosleep",
                        expected=AttachType.TRACE_FEXIT, type=ProgramType.TRACING)
    with pytest.raises(NotSupportedError, match="trampolines"):
        links.attach_tracing(prog)


def test_kernel_internal_errnos_are_named() -> None:
    """include/linux/errno.h: ENOTSUPP is 524 (verifier/BTF code returns it to bpf(2) callers)."""
    from pybpf.errors import KernelError, errno_name
    assert errno_name(524) == "ENOTSUPP" and errno_name(95) in ("EOPNOTSUPP", "ENOTSUP")
    assert errno_name(9999) == "9999"
    text = str(KernelError("cannot load program 'p'", errno=524, command="BPF_PROG_LOAD"))
    assert "[BPF_PROG_LOAD] ENOTSUPP:" in text and "524" not in text
