"""execsnoop in the kernel: the execs our test process starts come back exactly, with the right fields.

Truth is what this process knows about its own children (pid, ppid, uid, argv, exit of execve).
"""
from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from pybpf.apps.execsnoop import Execsnoop, ExecsnoopOptions

from execsnoop_helpers import collect_until, fork_exec

pytestmark = pytest.mark.kernel

CGROUP2_ROOT = Path("/sys/fs/cgroup/unified")


def _ours(events):
    return [e for e in events if e.ppid == os.getpid()]


def _comm_of_self() -> str:
    return Path("/proc/self/comm").read_text().strip()


def test_kernel_reports_exactly_our_execs_with_pid_ppid_uid_ret_and_args():
    long_argv = ["/bin/true"] + [f"arg{i}" for i in range(30)]
    with Execsnoop(ExecsnoopOptions(include_failed=True, max_args=5)) as snoop:
        echo = subprocess.Popen(["/bin/echo", "hello", "two words"], stdout=subprocess.DEVNULL)
        echo.wait()
        many = subprocess.Popen(long_argv)
        many.wait()
        missing = fork_exec("/nonexistent/pybpf-no-such-binary", ["nothing", "x"])
        events = collect_until(snoop, lambda evs: len(_ours(evs)) >= 3, timeout=10)
        assert snoop.drops().total == 0
    ours = sorted(_ours(events), key=lambda e: e.pid)
    by_pid = {e.pid: e for e in ours}
    assert sorted(by_pid) == sorted([echo.pid, many.pid, missing])
    assert len(ours) == 3

    ok = by_pid[echo.pid]
    assert (ok.ppid, ok.uid, ok.retval, ok.comm) == (os.getpid(), os.getuid(), 0, "echo")
    assert ok.args == ["/bin/echo", "hello", "two words"] and not ok.truncated

    cut = by_pid[many.pid]
    assert cut.retval == 0 and cut.comm == "true"
    assert cut.args == ["/bin/true", "arg0", "arg1", "arg2", "arg3"]
    assert cut.truncated

    failed = by_pid[missing]
    assert failed.retval == -errno.ENOENT
    assert failed.args == ["/nonexistent/pybpf-no-such-binary", "x"]
    assert failed.comm == _comm_of_self()[:15]


def test_failed_execs_are_hidden_by_default_like_libbpf_tools():
    with Execsnoop(ExecsnoopOptions()) as snoop:
        missing = fork_exec("/nonexistent/pybpf-no-such-binary", ["nothing"])
        marker = subprocess.Popen(["/bin/true", "marker"])
        marker.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == marker.pid for e in evs))
    pids = {e.pid for e in _ours(events)}
    assert marker.pid in pids and missing not in pids


def test_failed_only_reports_just_the_failures():
    with Execsnoop(ExecsnoopOptions(failed_only=True)) as snoop:
        ok = subprocess.Popen(["/bin/true"])
        ok.wait()
        missing = fork_exec("/nonexistent/pybpf-no-such-binary", ["nothing"])
        events = collect_until(snoop, lambda evs: any(e.pid == missing for e in evs))
    assert [e.pid for e in _ours(events)] == [missing]


def test_uid_filter_keeps_only_that_users_execs():
    with Execsnoop(ExecsnoopOptions(uid=65534)) as snoop:
        root_child = subprocess.Popen(["/bin/true", "as-root"])
        root_child.wait()
        nobody = subprocess.Popen(["/bin/true", "as-nobody"], user=65534, group=65534)
        nobody.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == nobody.pid for e in evs))
    ours = _ours(events)
    assert [(e.pid, e.uid, e.args) for e in ours] == [(nobody.pid, 65534,
                                                        ["/bin/true", "as-nobody"])]


def test_name_filter_matches_a_substring_of_the_new_command_name():
    with Execsnoop(ExecsnoopOptions(name="ech")) as snoop:
        other = subprocess.Popen(["/bin/true"])
        other.wait()
        echo = subprocess.Popen(["/bin/echo"], stdout=subprocess.DEVNULL)
        echo.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == echo.pid for e in evs))
    assert [(e.pid, e.comm) for e in _ours(events)] == [(echo.pid, "echo")]


def test_cgroup_filter_keeps_only_processes_inside_the_cgroup():
    if not (CGROUP2_ROOT / "cgroup.procs").exists():
        pytest.skip(f"no cgroup v2 hierarchy at {CGROUP2_ROOT}")
    group = CGROUP2_ROOT / f"pybpf_execsnoop_test_{os.getpid()}"
    group.mkdir()
    try:
        procs = str(group / "cgroup.procs")

        def enter_group() -> None:
            with open(procs, "w") as handle:
                handle.write("0")

        with Execsnoop(ExecsnoopOptions(cgroup_path=str(group))) as snoop:
            outside = subprocess.Popen(["/bin/true", "outside"])
            outside.wait()
            inside = subprocess.Popen(["/bin/true", "inside"], preexec_fn=enter_group)
            inside.wait()
            events = collect_until(snoop, lambda evs: any(e.pid == inside.pid for e in evs))
        assert [(e.pid, e.args) for e in _ours(events)] == [(inside.pid, ["/bin/true", "inside"])]
    finally:
        group.rmdir()


def test_execveat_is_traced_and_flagged():
    fd = os.open("/bin/true", os.O_RDONLY)
    try:
        with Execsnoop(ExecsnoopOptions()) as snoop:
            pid = os.fork()
            if pid == 0:
                try:
                    os.execve(fd, ["true", "via-fd"], {})       # fexecve -> execveat(fd, "", AT_EMPTY_PATH)
                finally:
                    os._exit(127)
            os.waitpid(pid, 0)
            events = collect_until(snoop, lambda evs: any(e.pid == pid for e in evs))
    finally:
        os.close(fd)
    (event,) = [e for e in events if e.pid == pid]
    assert event.execveat and event.retval == 0
    assert event.args == ["", "via-fd"]          # execveat's filename is "" with AT_EMPTY_PATH


def test_object_built_without_vmlinux_h_reads_ppid_through_core_too():
    from pybpf.apps.execsnoop import compile_object
    plain = compile_object(use_vmlinux_h=False)
    with Execsnoop(ExecsnoopOptions(), object_path=plain) as snoop:
        child = subprocess.Popen(["/bin/true", "plain"])
        child.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == child.pid for e in evs))
    (event,) = [e for e in events if e.pid == child.pid]
    assert (event.ppid, event.args) == (os.getpid(), ["/bin/true", "plain"])


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_close_releases_every_fd():
    from pybpf.apps.execsnoop import compile_object
    compile_object()
    before = _open_fds()
    with Execsnoop(ExecsnoopOptions(cgroup_path=str(CGROUP2_ROOT))
                   if CGROUP2_ROOT.is_dir() else ExecsnoopOptions()) as snoop:
        assert len(_open_fds()) > len(before)
        snoop.poll(timeout=0)
    assert _open_fds() == before


def test_a_directory_that_is_no_cgroup_is_a_clear_error_and_leaks_nothing(tmp_path):
    from pybpf.apps.execsnoop import compile_object
    from pybpf.errors import BPFError
    compile_object()
    before = _open_fds()
    with pytest.raises(BPFError, match="is not a cgroup v2 directory"):
        Execsnoop(ExecsnoopOptions(cgroup_path=str(tmp_path))).open()
    assert _open_fds() == before


def test_exec_from_a_non_leader_thread_is_reported_under_the_process_id():
    with Execsnoop(ExecsnoopOptions()) as snoop:
        pid = os.fork()
        if pid == 0:
            try:
                import threading
                worker = threading.Thread(
                    target=os.execv, args=("/bin/true", ["true", "from-a-thread"]))
                worker.start()
                worker.join(timeout=10)
            finally:
                os._exit(127)
        _, status = os.waitpid(pid, 0)
        events = collect_until(snoop, lambda evs: any(e.pid == pid for e in evs))
    assert os.waitstatus_to_exitcode(status) == 0          # /bin/true ran, not the fallback exit
    (event,) = [e for e in events if e.pid == pid]
    assert (event.ppid, event.comm, event.args) == (os.getpid(), "true",
                                                    ["/bin/true", "from-a-thread"])


def test_long_arguments_are_cut_to_127_bytes():
    long_arg = "x" * 300
    with Execsnoop(ExecsnoopOptions()) as snoop:
        child = subprocess.Popen(["/bin/true", long_arg, "after"])
        child.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == child.pid for e in evs))
    (event,) = [e for e in events if e.pid == child.pid]
    assert event.args == ["/bin/true", "x" * 127, "after"]


def test_full_inflight_table_is_counted_as_a_drop():
    with Execsnoop(ExecsnoopOptions(uid=65534)) as snoop:
        inflight = snoop.collection.maps["execs"]
        blank = bytes(inflight.value_size)
        for fake_pid in range(5_000_000, 5_000_000 + inflight.max_entries):   # > any pid_max
            inflight[fake_pid] = blank
        child = subprocess.Popen(["/bin/true", "lost"], user=65534, group=65534)
        child.wait()
        for fake_pid in range(5_000_000, 5_000_000 + inflight.max_entries):
            del inflight[fake_pid]
        late = subprocess.Popen(["/bin/true", "seen"], user=65534, group=65534)
        late.wait()
        events = collect_until(snoop, lambda evs: any(e.pid == late.pid for e in evs))
        drops = snoop.drops()
    assert child.pid not in {e.pid for e in events}
    assert late.pid in {e.pid for e in events}
    assert (drops.inflight, drops.ringbuf) == (1, 0)
