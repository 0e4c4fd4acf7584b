"""pybpf.kernel: the bpf(2) backend — maps, programs, links, ring/perf buffers, pins, feature probes.

Talks to the kernel through ctypes only (no libbpf, bcc or bpftool at run time). Importing this
package does not touch the kernel; objects are created on request and own their fds.

Public API::

    Collection(spec, *, btf=None, kconfig=None, pin_path=None, log_level=0, programs=None)
    KernelMap.create(type, key_size, value_size, max_entries, ...) / .from_id / .from_pin / .from_fd
    KernelProgram.load(insns, prog_type=..., ...) / .from_id / .from_pin; .test_run(); .attach*()
    RingBufReader(map, codec=None) (.poll, .poll_batch, .poll_array, .multi), PerfBufReader
    links: attach_tracepoint/raw_tracepoint/tracing/kprobe/uprobe/perf_event/xdp/tcx/cgroup/socket
    features: prog_type_supported, map_type_supported, helper_supported, attach_type_supported
    pin: ensure_bpffs, obj_pin, obj_get
"""
from __future__ import annotations

from .collection import Collection
from .fd import FD
from .links import FDLink, Link
from .maps import KernelMap, KernelMapError, MapInfo
from .perfbuf import PerfBufReader, PerfSample
from .programs import KernelProgram, ProgramInfo
from .ringbuf import RingBufReader, RingPollGroup

__all__ = ["Collection", "FD", "KernelMap", "KernelMapError", "MapInfo", "KernelProgram",
           "ProgramInfo", "Link", "FDLink", "RingBufReader", "RingPollGroup", "PerfBufReader",
           "PerfSample"]
