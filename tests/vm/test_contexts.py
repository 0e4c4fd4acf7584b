"""Context layouts: tracepoint formats from tracefs (and the built-in fallback), pt_regs, xdp_md."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pybpf.errors import BPFError
from pybpf.vm import Machine, PtRegsContext, TracepointContext, XdpContext
from pybpf.vm.context import BUILTIN_FORMATS, tracepoint_format

EXECVE_FORMAT = Path("/sys/kernel/tracing/events/syscalls/sys_enter_execve/format")


@pytest.mark.skipif(not EXECVE_FORMAT.exists(), reason="no tracefs execve format on this machine")
def test_builtin_execve_layout_matches_this_kernels_tracefs_format(tmp_path) -> None:
    live = {f.name: (f.offset, f.size, f.signed) for f in tracepoint_format("syscalls", "sys_enter_execve")}
    fallback = {f.name: (f.offset, f.size, f.signed)
                for f in tracepoint_format("syscalls", "sys_enter_execve", tracefs=str(tmp_path))}
    assert fallback == live


def test_unknown_tracepoint_without_tracefs_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(BPFError, match="no format .* and no built-in layout"):
        tracepoint_format("sched", "sched_switch", tracefs=str(tmp_path))


def test_tracepoint_strings_and_argv_land_in_user_memory(tmp_path) -> None:
    machine = Machine()
    ctx = TracepointContext("syscalls", "sys_enter_execve",
                            {"filename": "/bin/sh", "argv": ["sh", "-c"]}, tracefs=str(tmp_path))
    addr = machine.mem.read(ctx.setup(machine) + 16, 16)
    filename, argv = struct.unpack("<QQ", addr)
    assert machine.mem.read_cstr(filename) == b"/bin/sh"
    pointers = struct.unpack("<3Q", machine.mem.read(argv, 24))
    assert [machine.mem.read_cstr(p) for p in pointers[:2]] == [b"sh", b"-c"] and pointers[2] == 0
    assert machine.mem.region_at(filename).kind == "user"


def test_tracepoint_context_is_read_only_like_the_kernels(tmp_path) -> None:
    from pybpf.errors import MemoryAccessError
    machine = Machine()
    base = TracepointContext("syscalls", "sys_exit_execve", {"ret": -2}, tracefs=str(tmp_path)).setup(machine)
    assert machine.mem.load(base + 16, 8) == (-2) & (2**64 - 1)
    with pytest.raises(MemoryAccessError, match="read-only"):
        machine.mem.store(base + 16, 8, 0)


def test_pt_regs_places_parameters_in_x86_64_registers() -> None:
    machine = Machine()
    base = PtRegsContext({"parm1": 11, "parm2": 22, "parm3": 33, "rc": 44, "ip": 55}).setup(machine)
    di, si, dx, ax, ip = (machine.mem.load(base + off, 8) for off in (112, 104, 96, 80, 128))
    assert (di, si, dx, ax, ip) == (11, 22, 33, 44, 55)


def test_xdp_md_data_fields_read_as_full_packet_pointers() -> None:
    machine = Machine()
    ctx = XdpContext(bytes(range(64)))
    base = ctx.setup(machine)
    data, end, meta = (machine.mem.load(base + off, 4) for off in (0, 4, 8))
    assert end - data == 64 and meta == data
    assert machine.mem.read(data, 4) == bytes(range(4))
    with pytest.raises(Exception):
        machine.mem.read(end, 1)                # one past data_end is outside the packet


def test_builtin_formats_cover_execve_enter_and_exit() -> None:
    assert {("syscalls", "sys_enter_execve"), ("syscalls", "sys_exit_execve")} <= set(BUILTIN_FORMATS)


@pytest.mark.parametrize("category,name", sorted(BUILTIN_FORMATS))
def test_every_builtin_format_matches_tracefs(tmp_path, category, name) -> None:
    if not (Path("/sys/kernel/tracing/events") / category / name / "format").exists():
        pytest.skip(f"no tracefs format for {category}/{name} here")
    live = [(f.name, f.offset, f.size, f.signed) for f in tracepoint_format(category, name)]
    fallback = [(f.name, f.offset, f.size, f.signed)
                for f in tracepoint_format(category, name, tracefs=str(tmp_path))]
    assert fallback == live
