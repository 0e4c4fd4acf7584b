"""pybpf.kernel: the bpf(2) backend — maps, programs, links, ring/perf buffers, pins, feature probes.

Talks to the kernel through ctypes only (no libbpf, bcc or bpftool at run time). Importing this
package does not touch the kernel; objects are created on request and own their fds.

Public API::

    Collection(spec, *, btf=None, kconfig=None, pin_path=None, log_level=0, programs=None)
        .programs[name] (KernelProgram), .maps[name] (KernelMap), .bss/.data/.rodata (live
        globals by name), .attach_all(), .pin(dir), .close()
    KernelMap.create(type, key_size, value_size, max_entries, ...) / .from_id / .from_pin / .from_fd
        dict-like (pybpf.obj.mapapi.Map), batch_lookup/update/delete (native), freeze(), mmap(),
        pin(), info(), ring_reader(codec), perf_reader(codec)
    KernelProgram.load(insns, prog_type=..., ...) / .from_id / .from_pin; .test_run(); .attach()
        (by section) and attach_tracepoint/raw_tracepoint/tracing/kprobe/uprobe/perf_event/xdp/
        tcx/cgroup/socket -> Link (close() detaches; FDLink.pin/from_pin)
    RingBufReader(map, codec=None) (.poll, .poll_batch, .poll_array, .consume_raw, .multi),
    PerfBufReader (.poll, .lost), UserRingBufWriter (.write, .write_many; map.ring_writer())
    features: prog_type_supported, map_type_supported, helper_supported, attach_type_supported,
        probe_all
    pin: ensure_bpffs, obj_pin, obj_get, unpin;  ids: prog_ids/map_ids/link_ids, btf_by_id
"""
from __future__ import annotations

from .collection import Collection
from .fd import FD
from .links import FDLink, Link
from .maps import KernelMap, KernelMapError, MapInfo
from .perfbuf import PerfBufReader, PerfSample
from .programs import KernelProgram, ProgramInfo
from .ringbuf import RingBufReader, RingPollGroup
from .userringbuf import RingBufFullError, UserRingBufWriter

__all__ = ["Collection", "FD", "KernelMap", "KernelMapError", "MapInfo", "KernelProgram",
           "ProgramInfo", "Link", "FDLink", "RingBufReader", "RingPollGroup", "PerfBufReader",
           "PerfSample", "UserRingBufWriter", "RingBufFullError"]
