"""execsnoop in the userspace VM: the same compiled object, fed simulated execs from a process table.

Truth is the simulated input (pids, parents, uids, argv, the exec's result), chosen by hand here.
"""
from __future__ import annotations

import errno

import pytest

from pybpf.apps.execsnoop import (Execsnoop, ExecsnoopOptions, ProcessTable, SimTask,
                                  SimulatedExec, compile_object, run_simulated)
from pybpf.errors import BPFError


def _scenario():
    table = ProcessTable()
    shell = table.add(SimTask(pid=500, ppid=1, uid=1000, comm="bash"))
    nobody = table.add(SimTask(pid=600, ppid=1, uid=65534, comm="cron"))
    ls = table.spawn(shell.pid)
    missing = table.spawn(shell.pid)
    many = table.spawn(shell.pid)
    job = table.spawn(nobody.pid)
    execs = [
        SimulatedExec(pid=ls.pid, filename="/bin/ls", argv=["ls", "-l", "/tmp dir"]),
        SimulatedExec(pid=missing.pid, filename="/nonexistent/tool", argv=["tool", "x"],
                      retval=-errno.ENOENT),
        SimulatedExec(pid=many.pid, filename="/usr/bin/printf",
                      argv=["printf"] + [f"a{i}" for i in range(30)]),
        SimulatedExec(pid=job.pid, filename="/usr/bin/backup-job", argv=["backup-job"]),
    ]
    return table, execs, {"ls": ls.pid, "missing": missing.pid, "many": many.pid, "job": job.pid}


def test_vm_reports_exactly_the_simulated_execs():
    table, execs, pids = _scenario()
    events = run_simulated((table, execs), ExecsnoopOptions(include_failed=True, max_args=5))
    by_pid = {e.pid: e for e in events}
    assert len(events) == 4 and set(by_pid) == set(pids.values())

    ls = by_pid[pids["ls"]]
    assert (ls.ppid, ls.uid, ls.retval, ls.comm) == (500, 1000, 0, "ls")
    assert ls.args == ["/bin/ls", "-l", "/tmp dir"] and not ls.truncated

    failed = by_pid[pids["missing"]]
    assert (failed.retval, failed.comm) == (-errno.ENOENT, "bash")
    assert failed.args == ["/nonexistent/tool", "x"]

    many = by_pid[pids["many"]]
    assert many.args == ["/usr/bin/printf", "a0", "a1", "a2", "a3"] and many.truncated

    job = by_pid[pids["job"]]
    assert (job.ppid, job.uid, job.comm) == (600, 65534, "backup-job")


def test_vm_uses_the_same_object_file_as_the_kernel():
    snoop = Execsnoop(ExecsnoopOptions(), backend="vm", object_path=compile_object())
    with snoop:
        assert sorted(snoop.collection.programs) == sorted([
            "execsnoop_enter_execve", "execsnoop_exit_execve", "execsnoop_enter_execveat",
            "execsnoop_exit_execveat"])


def test_vm_hides_failed_execs_by_default():
    table, execs, pids = _scenario()
    events = run_simulated((table, execs), ExecsnoopOptions())
    assert pids["missing"] not in {e.pid for e in events} and len(events) == 3


def test_vm_failed_only():
    table, execs, pids = _scenario()
    events = run_simulated((table, execs), ExecsnoopOptions(failed_only=True))
    assert [e.pid for e in events] == [pids["missing"]]


def test_vm_uid_filter():
    table, execs, pids = _scenario()
    events = run_simulated((table, execs), ExecsnoopOptions(uid=65534))
    assert [e.pid for e in events] == [pids["job"]]


def test_vm_name_filter_is_a_substring_of_the_new_comm():
    table, execs, pids = _scenario()
    events = run_simulated((table, execs), ExecsnoopOptions(name="ckup"))
    assert [e.pid for e in events] == [pids["job"]]


def test_vm_cgroup_filter_uses_the_cgroup_id(tmp_path):
    group = tmp_path / "group"
    group.mkdir()
    table, execs, pids = _scenario()
    table[pids["ls"]].cgroup_id = group.stat().st_ino
    events = run_simulated((table, execs), ExecsnoopOptions(cgroup_path=str(group)))
    assert [e.pid for e in events] == [pids["ls"]]


def test_vm_execveat_is_flagged():
    table = ProcessTable()
    child = table.spawn(1)
    events = run_simulated((table, [SimulatedExec(pid=child.pid, filename="/bin/true",
                                                  argv=["true", "x"], execveat=True)]))
    assert [(e.execveat, e.args) for e in events] == [(True, ["/bin/true", "x"])]


def test_vm_full_ring_buffer_drops_are_counted_exactly():
    table = ProcessTable()
    total = 300
    execs = [SimulatedExec(pid=table.spawn(1).pid, filename="/bin/true", argv=["true", "x" * 64])
             for _ in range(total)]
    seen = []
    with Execsnoop(ExecsnoopOptions(ring_size=4096), backend="vm") as snoop:
        for start in range(0, total, 100):       # read only every 100 execs: the ring overflows
            snoop.simulate(table, execs[start:start + 100])
            seen.extend(snoop.poll(timeout=0))
        drops = snoop.drops()
    assert drops.ringbuf > 0
    assert len({e.pid for e in seen}) == len(seen)
    assert len(seen) + drops.total == total


def test_simulating_an_unknown_pid_is_an_error():
    with Execsnoop(ExecsnoopOptions(), backend="vm") as snoop:
        with pytest.raises(BPFError, match="no pid 4242"):
            snoop.simulate(ProcessTable(), [SimulatedExec(pid=4242, filename="/bin/true")])


def test_object_built_without_vmlinux_h_behaves_the_same_in_the_vm():
    table, execs, pids = _scenario()
    plain = compile_object(use_vmlinux_h=False)
    with Execsnoop(ExecsnoopOptions(include_failed=True, max_args=5), backend="vm",
                   object_path=plain) as snoop:
        snoop.simulate(table, execs)
        events = snoop.poll(timeout=0)
    table2, execs2, _ = _scenario()
    assert events == run_simulated((table2, execs2),
                                   ExecsnoopOptions(include_failed=True, max_args=5))


def test_vm_full_inflight_table_is_counted_as_a_drop():
    table = ProcessTable()
    child = table.spawn(1)
    with Execsnoop(ExecsnoopOptions(), backend="vm") as snoop:
        inflight = snoop.collection.maps["execs"]
        for fake_pid in range(5_000_000, 5_000_000 + inflight.max_entries):
            inflight[fake_pid] = bytes(inflight.value_size)
        snoop.simulate(table, [SimulatedExec(pid=child.pid, filename="/bin/true")])
        assert snoop.poll(timeout=0) == []
        assert (snoop.drops().inflight, snoop.drops().ringbuf) == (1, 0)


def test_opening_twice_is_an_error():
    with Execsnoop(ExecsnoopOptions(), backend="vm") as snoop:
        with pytest.raises(BPFError, match="already open"):
            snoop.open()


def test_polling_a_closed_tracer_is_an_error():
    snoop = Execsnoop(ExecsnoopOptions(), backend="vm")
    with pytest.raises(BPFError, match="not open"):
        snoop.poll(timeout=0)


def test_given_timestamps_apply_to_their_exec_only():
    table = ProcessTable()
    first, second = table.spawn(1), table.spawn(1)
    events = run_simulated((table, [
        SimulatedExec(pid=first.pid, filename="/bin/true", ts_ns=123_456_789),
        SimulatedExec(pid=second.pid, filename="/bin/true")]))
    assert events[0].ts_ns == 123_456_789
    assert events[1].ts_ns != 123_456_789
