"""Execsnoop: loads bpf/execsnoop.bpf.c into the kernel or the VM, attaches it, yields ExecEvents.

The library face of ``pybpf execsnoop``: owns one Collection and its links and closes them all; never
prints, and never keeps an fd (cgroup dir, links, maps) past close().
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import BPFError
from . import layout
from .build import compile_object
from .event import ExecEvent
from .options import ExecsnoopOptions

# (program, tracepoint category, tracepoint name)
TRACEPOINTS = (
    ("execsnoop_enter_execve", "syscalls", "sys_enter_execve"),
    ("execsnoop_exit_execve", "syscalls", "sys_exit_execve"),
    ("execsnoop_enter_execveat", "syscalls", "sys_enter_execveat"),
    ("execsnoop_exit_execveat", "syscalls", "sys_exit_execveat"),
)


@dataclass(frozen=True)
class DropCounts:
    """Execs the BPF program saw but could not report."""

    ringbuf: int = 0        # the ring buffer was full at syscall exit
    inflight: int = 0       # the in-flight table was full at syscall enter

    @property
    def total(self) -> int:
        return self.ringbuf + self.inflight


class Execsnoop:
    """Traces execs with one compiled object, in ``backend`` "kernel" or "vm".

    Use as a context manager::

        with Execsnoop(ExecsnoopOptions(include_failed=True)) as snoop:
            for event in snoop.poll(timeout=1.0):
                print(event.pid, event.args)
    """

    def __init__(self, options: ExecsnoopOptions | None = None, *, backend: str = "kernel",
                 object_path: str | os.PathLike[str] | None = None) -> None:
        self.options = options or ExecsnoopOptions()
        self.options.validate()
        self.backend = backend
        self.object_path = Path(object_path) if object_path else None
        self.collection: Any = None
        self.links: list[Any] = []
        self.unattached: list[str] = []     # optional tracepoints this kernel lacks (and why)
        self.reader: Any = None
        self._cgroup_fd: int | None = None
        self.start_ns = 0
        self.realtime_offset_ns = 0         # CLOCK_REALTIME - CLOCK_MONOTONIC at open()

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self) -> "Execsnoop":
        """Load, set filters, attach (kernel) and open the ring reader. Closes everything on error."""
        import pybpf
        if self.collection is not None:
            raise BPFError("execsnoop is already open")
        try:
            spec = pybpf.load_object(str(self.object_path or compile_object()))
            for name, value in self.options.rodata().items():
                spec.rodata[name] = value
            if self.options.ring_size is not None:
                spec.maps["events"].max_entries = self.options.ring_size
            self.collection = pybpf.Collection(spec, backend=self.backend)
            if self.options.cgroup_path:
                self._set_cgroup(self.options.cgroup_path)
            self.start_ns = _monotonic_ns()
            self.realtime_offset_ns = time.time_ns() - self.start_ns
            if self.backend == "kernel":
                self._attach_kernel()
            self.reader = self.collection.maps["events"].ring_reader()
        except BaseException:
            self.close()
            raise
        return self

    def _set_cgroup(self, path: str) -> None:
        try:
            self._cgroup_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise BPFError(f"cannot open cgroup {path!r}: {exc.strerror}") from None
        if self.backend == "kernel":
            try:
                self.collection.maps["cgroup_map"][0] = self._cgroup_fd
            except BPFError as exc:
                raise BPFError(f"{path!r} is not a cgroup v2 directory (e.g. under "
                               f"/sys/fs/cgroup/unified): {exc}") from None
        else:       # the VM's cgroup array holds cgroup ids (the directory's inode number)
            self.collection.maps["cgroup_map"][0] = os.fstat(self._cgroup_fd).st_ino & 0xFFFFFFFF

    def _attach_kernel(self) -> None:
        for prog_name, category, event in TRACEPOINTS:
            program = self.collection.programs[prog_name]
            try:
                self.links.append(program.attach_tracepoint(category, event))
            except BPFError as exc:
                if not event.endswith("execveat"):
                    raise
                # kernels without the execveat tracepoints still get execve traced
                self.unattached.append(f"{category}/{event}: {exc}")

    def close(self) -> None:
        """Detach and release everything. Idempotent; safe after a failed open()."""
        for link in reversed(self.links):
            try:
                link.close()
            except Exception:   # noqa: BLE001 - keep closing the rest
                pass
        self.links.clear()
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.collection is not None:
            self.collection.close()
            self.collection = None
        if self._cgroup_fd is not None:
            os.close(self._cgroup_fd)
            self._cgroup_fd = None

    def __enter__(self) -> "Execsnoop":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- feeding the VM ---------------------------------------------------------------------
    def simulate(self, table: Any, execs: Any) -> None:
        """VM only: run the BPF programs for each SimulatedExec of ``table`` (see simulate.py)."""
        from .simulate import run_exec
        if self.backend == "kernel":
            raise BPFError("simulated execs need the VM backend (backend='vm')")
        if self.collection is None:
            raise BPFError("execsnoop is not open: use it as a context manager or call open()")
        for exec_ in execs:
            run_exec(self.collection, table, exec_)

    def replay(self, events: Any) -> None:
        """VM only: run the BPF programs on the execs a recording saw (see recording.py)."""
        from .simulate import execs_from_events
        self.simulate(*execs_from_events(events))

    # --- reading -----------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.reader is None:
            raise BPFError("execsnoop is not open: use it as a context manager or call open()")

    def poll(self, timeout: float | None = 0.1) -> list[ExecEvent]:
        """Events that arrived within ``timeout`` seconds, after the userspace (-l) filter."""
        self._require_open()
        events = [layout.decode_event(_record_bytes(r)) for r in self.reader.poll(timeout)]
        return [e for e in events if self.options.shows(e)]

    def drops(self) -> DropCounts:
        """How many execs the BPF program had to drop so far (read from its ``stats`` map)."""
        if self.collection is None:
            raise BPFError("execsnoop is not open")
        stats = self.collection.maps["stats"]
        return DropCounts(ringbuf=_as_int(stats[layout.STAT_RINGBUF_DROPS]),
                          inflight=_as_int(stats[layout.STAT_INFLIGHT_DROPS]))


def run_simulated(table_and_execs: tuple[Any, Any],
                  options: ExecsnoopOptions | None = None) -> list[ExecEvent]:
    """Run simulated execs through execsnoop in the VM and return the events it reports."""
    with Execsnoop(options, backend="vm") as snoop:
        snoop.simulate(*table_and_execs)
        return snoop.poll(timeout=0)


def _record_bytes(record: Any) -> bytes:
    if isinstance(record, (bytes, bytearray, memoryview)):
        return bytes(record)
    for attr in ("data", "raw"):
        value = getattr(record, attr, None)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
    raise BPFError(f"ring buffer returned {type(record).__name__}, expected raw bytes")


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int.from_bytes(bytes(value), "little")


def _monotonic_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
