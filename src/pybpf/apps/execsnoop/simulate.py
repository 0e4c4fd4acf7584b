"""Feeds simulated execs to execsnoop's BPF programs in the userspace VM (a small process table).

For each exec it makes the process current (pid, uid, comm, real_parent->tgid laid out by the
object's BTF), runs the enter tracepoint program with filename/argv placed in simulated user memory,
then the exit program with the return value, exactly as the kernel would call them. Never touches the
kernel or real processes.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import BPFError
from . import layout
from .event import ExecEvent

AT_FDCWD = -100
TRUNCATION_PLACEHOLDER = "..."


@dataclass
class SimTask:
    """One entry of the simulated process table."""

    pid: int
    ppid: int
    uid: int = 0
    comm: str = "sh"
    cgroup_id: int = 1


@dataclass
class SimulatedExec:
    """One execve/execveat a simulated process performs, and what the kernel answers."""

    pid: int
    filename: str
    argv: list[str] = field(default_factory=list)
    retval: int = 0                     # 0, or -errno for a failed exec
    execveat: bool = False
    ts_ns: int | None = None            # bpf_ktime_get_ns() during the exec (None: VM clock)
    comm_after: str | None = None       # comm after success (None: basename of filename)
    # what the process looks like when it calls exec (None: as the process table says)
    comm_before: str | None = None
    ppid: int | None = None
    uid: int | None = None


class ProcessTable:
    """A small simulated process table: pids, parents, uids, command names and cgroups."""

    def __init__(self, *, first_pid: int = 1000) -> None:
        self.tasks: dict[int, SimTask] = {1: SimTask(pid=1, ppid=0, uid=0, comm="init")}
        self._next_pid = first_pid

    def add(self, task: SimTask) -> SimTask:
        self.tasks[task.pid] = task
        self._next_pid = max(self._next_pid, task.pid + 1)
        return task

    def spawn(self, parent: int = 1, *, uid: int | None = None, cgroup_id: int | None = None) -> SimTask:
        """fork(): a new child of ``parent`` with its comm, uid and cgroup."""
        if parent not in self.tasks:
            raise BPFError(f"simulated process table has no pid {parent}")
        mother = self.tasks[parent]
        child = SimTask(pid=self._next_pid, ppid=parent,
                        uid=mother.uid if uid is None else uid, comm=mother.comm,
                        cgroup_id=mother.cgroup_id if cgroup_id is None else cgroup_id)
        return self.add(child)

    def __getitem__(self, pid: int) -> SimTask:
        try:
            return self.tasks[pid]
        except KeyError:
            raise BPFError(f"simulated process table has no pid {pid}") from None


def _sim_process(task: SimTask) -> Any:
    from ...vm.helpers import SimProcess
    return SimProcess(pid=task.pid, tgid=task.pid, uid=task.uid, gid=task.uid, comm=task.comm,
                      cgroup_id=task.cgroup_id, task={"real_parent": {"tgid": task.ppid}})


def run_exec(collection: Any, table: ProcessTable, exec_: SimulatedExec) -> None:
    """Run the enter and exit programs for one exec, updating the task's comm when it succeeds."""
    task = table[exec_.pid]
    if exec_.comm_before is not None:
        task.comm = exec_.comm_before
    if exec_.ppid is not None:
        task.ppid = exec_.ppid
    if exec_.uid is not None:
        task.uid = exec_.uid
    machine = collection.machine
    env = collection.env
    saved_clock = env.clock_ns
    if exec_.ts_ns is not None:
        stamp = exec_.ts_ns
        env.clock_ns = lambda: stamp
    try:
        machine.set_current_process(_sim_process(task))
        if exec_.execveat:
            enter = collection.programs["execsnoop_enter_execveat"]
            exit_ = collection.programs["execsnoop_exit_execveat"]
            enter.run_tracepoint(fd=AT_FDCWD, filename=exec_.filename, argv=list(exec_.argv),
                                 envp=[], flags=0)
        else:
            enter = collection.programs["execsnoop_enter_execve"]
            exit_ = collection.programs["execsnoop_exit_execve"]
            enter.run_tracepoint(filename=exec_.filename, argv=list(exec_.argv), envp=[])
        if exec_.retval >= 0:
            new_comm = exec_.comm_after or os.path.basename(exec_.filename)
            task.comm = new_comm[:layout.TASK_COMM_LEN - 1]
            machine.set_current_process(_sim_process(task))
        exit_.run_tracepoint(ret=exec_.retval)
    finally:
        env.clock_ns = saved_clock


def execs_from_events(events: Iterable[ExecEvent]) -> tuple[ProcessTable, list[SimulatedExec]]:
    """Turn recorded events back into a process table and the execs that produce them again."""
    table = ProcessTable()
    execs: list[SimulatedExec] = []
    for event in events:
        if event.pid not in table.tasks:
            table.add(SimTask(pid=event.pid, ppid=event.ppid, uid=event.uid, comm="sh"))
        argv = [event.filename, *event.args[1:]]
        if event.truncated:
            argv.append(TRUNCATION_PLACEHOLDER)
        execs.append(SimulatedExec(
            pid=event.pid, filename=event.filename, argv=argv, retval=event.retval,
            execveat=event.execveat, ts_ns=event.ts_ns or None, ppid=event.ppid, uid=event.uid,
            comm_before=event.comm if event.failed else None,
            comm_after=None if event.failed else event.comm))
    return table, execs


def scripted_execs(commands: Sequence[Sequence[str]], *, parent_comm: str = "pybpf",
                   uid: int = 1000) -> tuple[ProcessTable, list[SimulatedExec]]:
    """A table with one parent shell that starts each command in a child; paths under
    /nonexistent fail with ENOENT."""
    table = ProcessTable()
    shell = table.add(SimTask(pid=table._next_pid, ppid=1, uid=uid, comm=parent_comm))
    execs = []
    for argv in commands:
        child = table.spawn(shell.pid)
        failed = argv[0].startswith("/nonexistent/")
        execs.append(SimulatedExec(pid=child.pid, filename=argv[0], argv=list(argv),
                                   retval=-errno.ENOENT if failed else 0))
    return table, execs
