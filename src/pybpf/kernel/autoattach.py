"""Auto-attach by libbpf section name for the tracing family (tracepoint, raw_tp, tp_btf, fentry, iter...).

Only maps a section name to one attach call in pybpf.kernel.links; never guesses network targets.
"""
from __future__ import annotations

from typing import Any

from ..errors import BPFError
from . import links

TRACING_PREFIXES = ("tp_btf", "fentry", "fexit", "fmod_ret", "lsm", "fentry.s", "fexit.s",
                    "fmod_ret.s", "lsm.s")


def split_section(section: str) -> tuple[str, str]:
    """``"tracepoint/syscalls/sys_enter_getpid"`` -> ("tracepoint", "syscalls/sys_enter_getpid")."""
    prefix, _, rest = section.partition("/")
    return prefix, rest


def auto_attach(program: Any, **options: Any) -> links.Link:
    section = program.section or ""
    prefix, target = split_section(section)
    target = getattr(program, "attach_to", "") or target
    name = program.name
    if prefix in ("tracepoint", "tp"):
        group, _, event = target.partition("/")
        if not group or not event:
            raise BPFError(f"program {name!r}: section {section!r} must be tracepoint/<group>/<name>")
        return links.attach_tracepoint(program, group, event, **options)
    if prefix in ("raw_tp", "raw_tracepoint", "raw_tp.w", "raw_tracepoint.w"):
        if not target:
            raise BPFError(f"program {name!r}: section {section!r} names no raw tracepoint")
        return links.attach_raw_tracepoint(program, target, **options)
    if prefix in ("iter", "iter.s"):
        return links.attach_iter(program, **options)
    if prefix in TRACING_PREFIXES:
        return links.attach_tracing(program, **options)
    if prefix in ("kprobe", "kretprobe"):
        symbol, _, off = target.partition("+")
        return links.attach_kprobe(program, symbol, offset=int(off, 0) if off else 0,
                                   retprobe=prefix == "kretprobe", **options)
    if prefix in ("uprobe.multi", "uretprobe.multi", "uprobe.multi.s", "uretprobe.multi.s"):
        path, sep, pattern = target.rpartition(":")
        if not sep or not path:
            raise BPFError(f"program {name!r}: section {section!r} must be "
                           f"uprobe.multi/<path>:<pattern> to auto-attach")
        return links.attach_uprobe_multi(program, path, pattern or "*",
                                         retprobe=prefix.startswith("uretprobe"), **options)
    if prefix in ("kprobe.multi", "kretprobe.multi"):
        if not target:
            raise BPFError(f"program {name!r}: section {section!r} names no kernel symbols")
        return links.attach_kprobe_multi(program, target.split(","),
                                         retprobe=prefix == "kretprobe.multi", **options)
    if prefix in ("uprobe", "uretprobe", "uprobe.s", "uretprobe.s"):
        path, sep, symbol = target.rpartition(":")
        if not sep or not path:
            raise BPFError(f"program {name!r}: section {section!r} must be "
                           f"uprobe/<path>:<symbol> to auto-attach")
        return links.attach_uprobe(program, path, symbol or None,
                                   retprobe=prefix.startswith("uretprobe"), **options)
    raise BPFError(f"program {name!r}: section {section!r} cannot be auto-attached; call "
                   f"attach_xdp/attach_tcx/attach_cgroup/attach_perf_event/attach_socket instead")
