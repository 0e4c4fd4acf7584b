"""CO-RE in the VM: programs relocated against a target BTF read simulated kernel objects laid out
from that same BTF, so the values a test feeds in come back out whatever the layout."""
from __future__ import annotations

from pathlib import Path

import pytest

import pybpf
from pybpf.vm import Collection, SimEnv, SimProcess

CORE = Path(__file__).resolve().parents[1] / "corpus" / "core"
TASK = {"pid": 77, "tgid": 70, "comm": "bash-shell-12345",
        "real_parent": {"tgid": 1234}, "se": {"vruntime": 987654321},
        "mm": {"start_stack": 0x7FFD_0000_1000},
        "signal": {"nr_threads": 3, "rlim": [{"rlim_cur": i * 10, "rlim_max": i * 100} for i in range(16)]}}


def read_fields(spec, btf) -> dict:
    env = SimEnv(process=SimProcess(pid=77, tgid=70, task=dict(TASK)))
    with Collection(spec, env=env, btf=btf) as coll:
        coll.programs["read_task_fields"].run_tracepoint()
        (_, value), = coll.maps[".bss"].items()
        return value


@pytest.mark.parametrize("btf", [None, "vmlinux"], ids=["object BTF", "vmlinux BTF"])
def test_core_reads_of_a_simulated_task_return_the_given_values(compile_bpf, btf) -> None:
    if btf == "vmlinux" and not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("no /sys/kernel/btf/vmlinux")
    spec = pybpf.load_object(compile_bpf(CORE / "core_fields.bpf.c"))
    out = read_fields(spec, btf).fields_result
    assert (out.pid, out.tgid, out.ppid) == (77, 70, 1234)
    assert out.vruntime == 987654321
    # comm is NUL-terminated like the kernel's (16 bytes: the 16th given character is dropped)
    assert (out.comm1, out.comm_last) in ((b"a", b"\0"), ("a", "\0"), (ord("a"), 0))
    assert out.pid_size == 4 and out.pid_offset_exists == 1
    assert out.start_stack == 0x7FFD_0000_1000
    assert (out.nofile_cur, out.nr_threads) == (70, 3)


def test_kconfig_kernel_version_defaults_to_this_machine(compile_bpf) -> None:
    import platform
    spec = pybpf.load_object(compile_bpf(CORE / "core_externs.bpf.c"))
    with Collection(spec, programs=[]) as coll:
        kconfig = next(m for name, m in coll.maps.items() if name.startswith(".kconfig"))
        raw = kconfig._lookup(bytes(4))
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    version = spec.externs["LINUX_KERNEL_VERSION"]
    assert int.from_bytes(raw[version.offset:version.offset + 4], "little") >> 8 == (major << 8) + minor


@pytest.mark.parametrize("btf", [None, "vmlinux"], ids=["object BTF", "vmlinux BTF"])
def test_tp_btf_program_dereferences_simulated_task_pointers(compile_bpf, btf) -> None:
    if btf == "vmlinux" and not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("no /sys/kernel/btf/vmlinux")
    spec = pybpf.load_object(compile_bpf(CORE / "core_externs.bpf.c"))
    # unsafe with the object's own BTF: pybpf's verifier types tp_btf arguments only from a target
    # BTF's btf_trace_* typedefs, which the object BTF lacks (missing verifier feature)
    with Collection(spec, btf=btf, kconfig={"CONFIG_BPF_SYSCALL": "y", "CONFIG_HZ": 250},
                    unsafe=btf is None) as coll:
        prev = coll.kernel_object("task_struct", {"tgid": 300})
        nxt = coll.kernel_object("task_struct", {"pid": 401, "signal": {
            "rlim": [{"rlim_cur": 1000 + i} for i in range(16)]}})
        coll.programs["on_switch"].run_raw_tracepoint(0, prev, nxt)   # kfuncs rcu_read_(un)lock
        (_, value), = coll.maps[".bss"].items()
    out = value.externs_result
    assert (out.next_pid, out.prev_tgid, out.nofile) == (401, 300, 1007)
    assert (out.has_syscall, out.hz, out.missing_option) == (1, 250, 0)
