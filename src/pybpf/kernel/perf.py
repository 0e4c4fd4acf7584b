"""perf_event_open(2) helpers: perf_event_attr packing, tracepoint ids from tracefs, dynamic PMU types.

Builds attributes and opens perf events (returning owned FDs); never attaches programs itself.
"""
from __future__ import annotations

import ctypes
import os
import struct
from functools import lru_cache

from ..errors import KernelError, NotSupportedError
from . import syscall as sc
from .fd import FD

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3

PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408

ATTR_FLAG_DISABLED = 1 << 0
ATTR_FLAG_FREQ = 1 << 10
ATTR_FLAG_WATERMARK = 1 << 14

PERF_ATTR_SIZE = 128
TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PMU_DIR = "/sys/bus/event_source/devices"


def perf_attr(*, type: int, config: int = 0, sample_period: int = 0, sample_type: int = 0,
              flags: int = 0, wakeup_events: int = 0, config1: int = 0,
              config2: int = 0) -> ctypes.Array:
    """A zeroed struct perf_event_attr (size 128) with the given fields."""
    buf = ctypes.create_string_buffer(PERF_ATTR_SIZE)
    struct.pack_into("<IIQQQQQI", buf, 0, type, PERF_ATTR_SIZE, config, sample_period,
                     sample_type, 0, flags, wakeup_events)
    struct.pack_into("<QQ", buf, 56, config1, config2)
    return buf


def open_event(attr: ctypes.Array, *, pid: int = -1, cpu: int = 0, what: str = "") -> FD:
    try:
        return FD(sc.perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC), "perf_event")
    except KernelError as exc:
        raise type(exc)(f"{what or 'perf event'}: perf_event_open failed", errno=exc.errno,
                        command="perf_event_open") from None


@lru_cache(maxsize=1)
def tracefs() -> str:
    for path in TRACEFS_CANDIDATES:
        if os.path.isdir(os.path.join(path, "events")):
            return path
    if _mount_tracefs(TRACEFS_CANDIDATES[0]):
        return TRACEFS_CANDIDATES[0]
    raise NotSupportedError("tracefs is not mounted (looked in /sys/kernel/tracing)")


def _mount_tracefs(path: str) -> bool:
    """Mount tracefs at ``path`` (an existing, empty mount point) like bpffs is mounted on demand."""
    if not os.path.isdir(path) or os.listdir(path):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tracefs", os.fsencode(path), b"tracefs", ctypes.c_ulong(0), None) != 0:
        return False
    return os.path.isdir(os.path.join(path, "events"))


def tracepoint_id(group: str, name: str) -> int:
    """The id of tracepoint ``group/name`` from tracefs events/<group>/<name>/id."""
    if "/" in group or "/" in name or group.startswith(".") or name.startswith("."):
        raise KernelError(f"invalid tracepoint name {group}/{name}")
    path = os.path.join(tracefs(), "events", group, name, "id")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        raise KernelError(f"tracepoint {group}/{name} does not exist ({path} missing)") from None


def pmu_type(name: str) -> int:
    """The dynamic PMU type of ``kprobe``/``uprobe``; NotSupportedError when the PMU is absent."""
    path = os.path.join(PMU_DIR, name, "type")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        what = {"kprobe": "kprobes", "uprobe": "uprobes"}.get(name, f"{name} PMU")
        raise NotSupportedError(f"{what} are not supported by this kernel ({path} is missing)") \
            from None


def retprobe_bit(name: str) -> int:
    """Bit of ``config`` that makes a kprobe/uprobe PMU event a return probe (format/retprobe)."""
    path = os.path.join(PMU_DIR, name, "format", "retprobe")
    try:
        with open(path) as f:
            text = f.read().strip()          # "config:0"
        return 1 << int(text.split(":", 1)[1])
    except (FileNotFoundError, ValueError, IndexError):
        raise NotSupportedError(f"{name} return probes are not supported ({path})") from None
