"""BPF helper functions for the VM, with the kernel's argument conventions and return values.

Each helper is ``helper(machine, r1, r2, r3, r4, r5) -> r0``, touching only the VM's memory, maps and
simulated environment (:class:`SimEnv`); none of them reaches the host (no real clock reads unless
the environment's clock says so, no real processes, no real network).
"""
from __future__ import annotations

import ctypes
import errno
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BPFError, HelperError, MemoryAccessError
from ..isa.uapi import HELPER_IDS
from .interpreter import M32, M64, sx64
from .ringbuf import BPF_F_CURRENT_CPU, PerfEventArray, RingBufMap

if TYPE_CHECKING:
    from .machine import Machine

XDP_REDIRECT = 4
TC_ACT_REDIRECT = 7
BPF_FIB_LKUP_RET_NOT_FWDED = 4
MAX_LOOPS = 1 << 23


@dataclass
class SimProcess:
    """The simulated "current" task that get_current_* helpers report."""

    pid: int = 4242                    # thread id
    tgid: int = 4242                   # process id
    uid: int = 1000
    gid: int = 1000
    comm: bytes | str = b"pybpf-vm"
    cgroup_id: int = 1
    task: dict[str, Any] = field(default_factory=dict)   # field values for a BTF-laid-out task_struct


# SimEnv's mutable state lives in one u64[ENV_WORDS] cell block so native code (the JIT) can
# advance the simulated clock and the PRNG in place, with exactly the interpreter's results.
ENV_NOW = 0              # the simulated clock (ns), advanced by 1000 per read
ENV_RANDOM = 1           # splitmix64 state of bpf_get_prandom_u32
ENV_SEEDED = 2           # 0 until the first draw seeds ENV_RANDOM from SimEnv.seed
ENV_WORDS = 4
SIM_CLOCK_STEP = 1000
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9
SPLITMIX_MUL2 = 0x94D049BB133111EB


def splitmix64(state: int) -> tuple[int, int]:
    """(next state, 64-bit output) of splitmix64 (Steele, Lea, Flood 2014): bpf_get_prandom_u32
    returns the output's upper 32 bits. Small enough to run identically in native code."""
    state = (state + SPLITMIX_GAMMA) & M64
    z = ((state ^ (state >> 30)) * SPLITMIX_MUL1) & M64
    z = ((z ^ (z >> 27)) * SPLITMIX_MUL2) & M64
    return state, z ^ (z >> 31)


@dataclass
class SimEnv:
    """Everything outside the program that helpers observe; deterministic unless configured not to be.

    The simulated clock starts at 1 s and advances 1000 ns per read (unless ``clock_ns`` is set);
    bpf_get_prandom_u32 draws from splitmix64 seeded with ``seed`` at the first draw.
    """

    process: SimProcess = field(default_factory=SimProcess)
    clock_ns: Callable[[], int] | None = None     # None: a simulated clock advancing 1000 ns per read
    seed: int = 0
    hz: int = 250
    fib_lookup: Callable[[bytes, int], tuple[int, bytes]] | None = None   # (params, flags) -> (ret, params)
    trace: list[str] = field(default_factory=list)  # bpf_trace_printk output lines
    signals: list[tuple[str, int]] = field(default_factory=list)   # bpf_send_signal(_thread) calls
    cells: Any = field(default=None, repr=False, compare=False)    # ctypes u64[ENV_WORDS], see ENV_*

    def __post_init__(self) -> None:
        if self.cells is None:
            self.cells = (ctypes.c_uint64 * ENV_WORDS)()
            self.cells[ENV_NOW] = 1_000_000_000

    @property
    def cells_address(self) -> int:
        """Host address of the state cells (what native code reads and advances)."""
        return ctypes.addressof(self.cells)

    def now(self) -> int:
        if self.clock_ns is not None:
            return self.clock_ns()
        cells = self.cells
        cells[ENV_NOW] += SIM_CLOCK_STEP
        return cells[ENV_NOW]

    def random_u32(self) -> int:
        cells = self.cells
        if not cells[ENV_SEEDED]:
            cells[ENV_RANDOM], cells[ENV_SEEDED] = self.seed & M64, 1
        cells[ENV_RANDOM], out = splitmix64(cells[ENV_RANDOM])
        return out >> 32


def real_clock() -> int:
    return time.monotonic_ns()


HELPERS: dict[int, Callable[..., int]] = {}


def helper(name: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    def register(fn: Callable[..., int]) -> Callable[..., int]:
        HELPERS[HELPER_IDS[name]] = fn
        return fn
    return register


def _err(code: int) -> int:
    return (-code) & M64


def _neg(value: int) -> int:
    """A C ``long`` return value (negative errno) as the unsigned register value."""
    return value & M64


# --- maps --------------------------------------------------------------------------------------
@helper("map_lookup_elem")
def map_lookup_elem(m: "Machine", map_ptr: int, key: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_lookup_elem")
    return vm_map.lookup_ptr(m.mem.read(key, vm_map.key_size), m.cpu)


@helper("map_lookup_percpu_elem")
def map_lookup_percpu_elem(m: "Machine", map_ptr: int, key: int, cpu: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_lookup_percpu_elem")
    if cpu >= vm_map.num_cpus or not vm_map.is_percpu:
        return 0
    return vm_map.lookup_ptr(m.mem.read(key, vm_map.key_size), cpu)


@helper("map_update_elem")
def map_update_elem(m: "Machine", map_ptr: int, key: int, value: int, flags: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_update_elem")
    key_bytes = m.mem.read(key, vm_map.key_size)
    return _neg(vm_map.update_elem(key_bytes, m.mem.read(value, vm_map.value_size), flags, m.cpu))


@helper("map_delete_elem")
def map_delete_elem(m: "Machine", map_ptr: int, key: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_delete_elem")
    return _neg(vm_map.delete_elem(m.mem.read(key, vm_map.key_size)))


@helper("map_push_elem")
def map_push_elem(m: "Machine", map_ptr: int, value: int, flags: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_push_elem")
    return _neg(vm_map.push_elem(m.mem.read(value, vm_map.value_size), flags))


def _pop(m: "Machine", map_ptr: int, value: int, delete: bool) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_map_pop_elem")
    data = vm_map.pop_elem(delete=delete)
    if data is None:
        return _err(errno.ENOENT)
    m.mem.write(value, data)
    return 0


@helper("map_pop_elem")
def map_pop_elem(m: "Machine", map_ptr: int, value: int, *_: int) -> int:
    return _pop(m, map_ptr, value, True)


@helper("map_peek_elem")
def map_peek_elem(m: "Machine", map_ptr: int, value: int, *_: int) -> int:
    return _pop(m, map_ptr, value, False)


@helper("for_each_map_elem")
def for_each_map_elem(m: "Machine", map_ptr: int, callback: int, ctx: int, flags: int, *_: int) -> int:
    if flags:
        return _err(errno.EINVAL)
    vm_map = m.map_from_handle(map_ptr, "bpf_for_each_map_elem")
    key_region = m.mem.new("for_each key", max(vm_map.key_size, 1), kind="helper", writable=False)
    pool = getattr(vm_map, "pool", None)          # per-CPU maps: the running CPU's copy, as the
    cpu_offset = m.cpu * pool.stride if pool is not None and pool.cpus > 1 else 0   # kernel does
    count = 0
    try:
        for key, value_addr in vm_map.entries_for_iteration():
            key_region.buf[:len(key)] = key
            count += 1
            if m.call_function(callback, map_ptr, key_region.base, value_addr + cpu_offset,
                               ctx) & M64 == 1:
                break
    finally:
        m.mem.unmap(key_region)
    return count


@helper("loop")
def loop(m: "Machine", nr_loops: int, callback: int, ctx: int, flags: int, *_: int) -> int:
    if flags:
        return _err(errno.EINVAL)
    if nr_loops > MAX_LOOPS:
        return _err(errno.E2BIG)
    for i in range(nr_loops):
        if m.call_function(callback, i, ctx) & M64 == 1:
            return i + 1
    return nr_loops


@helper("tail_call")
def tail_call(m: "Machine", ctx: int, map_ptr: int, index: int, *_: int) -> int:
    vm_map = m.map_from_handle(map_ptr, "bpf_tail_call")
    target = vm_map.get_object((index & M32).to_bytes(4, "little")) if (index & M32) < vm_map.max_entries \
        else None
    if target is None:
        return _err(errno.ENOENT)
    return m.tail_call(target, ctx)


# --- ring buffers and perf events ------------------------------------------------------------------
def _ring(m: "Machine", map_ptr: int, what: str) -> RingBufMap:
    ring = m.map_from_handle(map_ptr, what)
    if not isinstance(ring, RingBufMap):
        raise HelperError(f"{what}: map {ring.name!r} is not a ring buffer")
    return ring


@helper("ringbuf_output")
def ringbuf_output(m: "Machine", map_ptr: int, data: int, size: int, flags: int, *_: int) -> int:
    return _neg(_ring(m, map_ptr, "bpf_ringbuf_output").output(m.mem.read(data, size)))


@helper("ringbuf_reserve")
def ringbuf_reserve(m: "Machine", map_ptr: int, size: int, flags: int, *_: int) -> int:
    if flags:
        return 0
    return _ring(m, map_ptr, "bpf_ringbuf_reserve").reserve(size)


def _commit(m: "Machine", data: int, discard: bool) -> int:
    region = m.mem.region_at(data)
    ring = region.owner if region is not None else None
    if not isinstance(ring, RingBufMap) or ring.commit(data, discard=discard) < 0:
        raise HelperError(f"bpf_ringbuf_{'discard' if discard else 'submit'}: {data:#x} is not a "
                          f"reserved ring buffer record")
    return 0


@helper("ringbuf_submit")
def ringbuf_submit(m: "Machine", data: int, flags: int, *_: int) -> int:
    return _commit(m, data, False)


@helper("ringbuf_discard")
def ringbuf_discard(m: "Machine", data: int, flags: int, *_: int) -> int:
    return _commit(m, data, True)


@helper("ringbuf_query")
def ringbuf_query(m: "Machine", map_ptr: int, flags: int, *_: int) -> int:
    return _ring(m, map_ptr, "bpf_ringbuf_query").query(flags)


def _perf_output(m: "Machine", map_ptr: int, flags: int, data: int, size: int, what: str) -> int:
    perf = m.map_from_handle(map_ptr, what)
    if not isinstance(perf, PerfEventArray):
        raise HelperError(f"{what}: map {perf.name!r} is not a perf event array")
    cpu = flags & M32
    if cpu == BPF_F_CURRENT_CPU:
        cpu = m.cpu
    return _neg(perf.output(cpu, m.mem.read(data, size)))


@helper("perf_event_output")
def perf_event_output(m: "Machine", ctx: int, map_ptr: int, flags: int, data: int, size: int) -> int:
    return _perf_output(m, map_ptr, flags, data, size, "bpf_perf_event_output")


@helper("xdp_output")
def xdp_output(m: "Machine", ctx: int, map_ptr: int, flags: int, data: int, size: int) -> int:
    return _perf_output(m, map_ptr, flags, data, size, "bpf_xdp_output")


# --- time, randomness, CPU, current task ---------------------------------------------------------------
@helper("ktime_get_ns")
def ktime_get_ns(m: "Machine", *_: int) -> int:
    return m.env.now()


@helper("ktime_get_boot_ns")
def ktime_get_boot_ns(m: "Machine", *_: int) -> int:
    return m.env.now()


@helper("ktime_get_coarse_ns")
def ktime_get_coarse_ns(m: "Machine", *_: int) -> int:
    return m.env.now() // 4_000_000 * 4_000_000


@helper("ktime_get_tai_ns")
def ktime_get_tai_ns(m: "Machine", *_: int) -> int:
    return m.env.now()


@helper("jiffies64")
def jiffies64(m: "Machine", *_: int) -> int:
    return m.env.now() * m.env.hz // 1_000_000_000


@helper("get_prandom_u32")
def get_prandom_u32(m: "Machine", *_: int) -> int:
    return m.env.random_u32()


@helper("get_smp_processor_id")
def get_smp_processor_id(m: "Machine", *_: int) -> int:
    return m.cpu


@helper("get_numa_node_id")
def get_numa_node_id(m: "Machine", *_: int) -> int:
    return 0


@helper("get_current_pid_tgid")
def get_current_pid_tgid(m: "Machine", *_: int) -> int:
    p = m.env.process
    return ((p.tgid & M32) << 32) | (p.pid & M32)


@helper("get_current_uid_gid")
def get_current_uid_gid(m: "Machine", *_: int) -> int:
    p = m.env.process
    return ((p.gid & M32) << 32) | (p.uid & M32)


@helper("get_current_cgroup_id")
def get_current_cgroup_id(m: "Machine", *_: int) -> int:
    return m.env.process.cgroup_id


@helper("current_task_under_cgroup")
def current_task_under_cgroup(m: "Machine", map_ptr: int, index: int, *_: int) -> int:
    """1 when slot ``index`` of the cgroup array holds the simulated process's cgroup id."""
    vm_map = m.map_from_handle(map_ptr, "bpf_current_task_under_cgroup")
    raw = vm_map._lookup((index & M32).to_bytes(4, "little"))
    if raw is None:
        return _err(errno.EINVAL)
    stored = int.from_bytes(raw[:4], "little")
    return 1 if stored and stored == m.env.process.cgroup_id & M32 else 0


@helper("get_current_comm")
def get_current_comm(m: "Machine", buf: int, size: int, *_: int) -> int:
    comm = m.env.process.comm
    comm = comm.encode() if isinstance(comm, str) else bytes(comm)
    if size == 0:
        return _err(errno.EINVAL)
    m.mem.resolve(buf, size, write=True)      # check the destination before allocating size bytes
    data = comm[:min(size - 1, 15)]
    m.mem.write(buf, data + bytes(size - len(data)))
    return 0


@helper("get_current_task")
def get_current_task(m: "Machine", *_: int) -> int:
    return m.current_task_address()


@helper("get_current_task_btf")
def get_current_task_btf(m: "Machine", *_: int) -> int:
    return m.current_task_address()


@helper("get_ns_current_pid_tgid")
def get_ns_current_pid_tgid(m: "Machine", dev: int, ino: int, nsdata: int, size: int, *_: int) -> int:
    """Fills struct bpf_pidns_info {u32 pid; u32 tgid} (the simulated process is in every pid ns)."""
    if size != 8:
        return _err(errno.EINVAL)
    p = m.env.process
    m.mem.write(nsdata, (p.pid & M32).to_bytes(4, "little") + (p.tgid & M32).to_bytes(4, "little"))
    return 0


@helper("probe_write_user")
def probe_write_user(m: "Machine", dst: int, src: int, size: int, *_: int) -> int:
    """Writes only into simulated user memory (kind "user"); anything else is -EFAULT."""
    size &= M32
    region = m.mem.region_at(dst)
    if region is None or region.kind != "user":
        return _err(errno.EFAULT)
    try:
        m.mem.write(dst, m.mem.read(src, size))
    except MemoryAccessError:
        return _err(errno.EFAULT)
    return 0


@helper("send_signal")
def send_signal(m: "Machine", sig: int, *_: int) -> int:
    """Records the signal for the simulated process in ``SimEnv.signals`` (nothing is sent)."""
    if not 0 < (sig & M32) < 65:
        return _err(errno.EINVAL)
    m.env.signals.append(("process", sig & M32))
    return 0


@helper("send_signal_thread")
def send_signal_thread(m: "Machine", sig: int, *_: int) -> int:
    if not 0 < (sig & M32) < 65:
        return _err(errno.EINVAL)
    m.env.signals.append(("thread", sig & M32))
    return 0


@helper("get_attach_cookie")
def get_attach_cookie(m: "Machine", *_: int) -> int:
    return 0


@helper("get_func_ip")
def get_func_ip(m: "Machine", *_: int) -> int:
    return 0


# --- probe_read family ----------------------------------------------------------------------------
def _probe_read(m: "Machine", dst: int, size: int, src: int) -> int:
    try:
        data = m.mem.read(src, size)
    except MemoryAccessError:
        m.mem.resolve(dst, size, write=True)  # check the destination before allocating size bytes
        m.mem.write(dst, bytes(size))
        return _err(errno.EFAULT)
    m.mem.write(dst, data)
    return 0


def _probe_read_str(m: "Machine", dst: int, size: int, src: int) -> int:
    if size == 0:
        return 0
    try:
        data = m.mem.read_cstr(src, size - 1)
    except MemoryAccessError:
        m.mem.write(dst, bytes(1))
        return _err(errno.EFAULT)
    m.mem.write(dst, data + b"\0")
    return len(data) + 1


for _name in ("probe_read", "probe_read_kernel", "probe_read_user"):
    HELPERS[HELPER_IDS[_name]] = lambda m, dst, size, src, *_: _probe_read(m, dst, size & M32, src)
for _name in ("probe_read_str", "probe_read_kernel_str", "probe_read_user_str"):
    HELPERS[HELPER_IDS[_name]] = lambda m, dst, size, src, *_: _probe_read_str(m, dst, size & M32, src)


# --- strings and formatting -----------------------------------------------------------------------------
_FMT = re.compile(rb"%([-+ #0]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXpsc%])")


def format_printk(m: "Machine", fmt: bytes, args: list[int]) -> bytes:
    """Format like the kernel's bstr_printf for BPF: ints by length modifier, %s from VM memory."""
    out = bytearray()
    pos = 0
    it = iter(args)
    for match in _FMT.finditer(fmt):
        out += fmt[pos:match.start()]
        pos = match.end()
        flags, width, prec, length, conv = match.groups()
        if conv == b"%":
            out += b"%"
            continue
        try:
            arg = next(it)
        except StopIteration:
            raise HelperError("format string has more conversions than arguments") from None
        if int(width or 0) > 4096 or int(prec or 0) > 4096:
            raise HelperError("format width or precision over 4096 (the kernel's output is bounded)")
        spec = "%" + flags.decode() + width.decode() + (f".{prec.decode()}" if prec else "")
        if conv == b"s":
            text = m.mem.read_cstr(arg, 4096).decode("utf-8", "replace")
            out += (spec + "s").__mod__(text).encode()
            continue
        if conv == b"c":
            out += bytes([arg & 0xFF])
            continue
        if conv == b"p":
            out += (spec + "x").__mod__(arg & M64).encode().rjust(0)
            continue
        bits = 64 if length in (b"l", b"ll", b"z") else 32
        value = arg & ((1 << bits) - 1)
        if conv in (b"d", b"i"):
            value = value - (1 << bits) if value >> (bits - 1) else value
            out += (spec + "d").__mod__(value).encode()
        elif conv == b"u":
            out += (spec + "d").__mod__(value).encode()
        else:
            out += (spec + conv.decode()).__mod__(value).encode()
    out += fmt[pos:]
    return bytes(out)


def _fmt_string(m: "Machine", fmt: int, size: int) -> bytes:
    raw = m.mem.read(fmt, size)
    nul = raw.find(0)
    if nul < 0:
        raise HelperError("format string is not NUL-terminated within its size")
    return raw[:nul]


@helper("trace_printk")
def trace_printk(m: "Machine", fmt: int, size: int, a1: int, a2: int, a3: int) -> int:
    text = format_printk(m, _fmt_string(m, fmt, size & M32), [a1, a2, a3])
    m.env.trace.append(text.decode("utf-8", "replace").rstrip("\n"))
    return len(text)


@helper("trace_vprintk")
def trace_vprintk(m: "Machine", fmt: int, size: int, data: int, data_len: int, *_: int) -> int:
    raw = m.mem.read(data, data_len) if data_len else b""
    args = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
    text = format_printk(m, _fmt_string(m, fmt, size & M32), args)
    m.env.trace.append(text.decode("utf-8", "replace").rstrip("\n"))
    return len(text)


@helper("snprintf")
def snprintf(m: "Machine", out: int, out_size: int, fmt: int, data: int, data_len: int) -> int:
    raw = m.mem.read(data, data_len) if data_len else b""
    args = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
    fmt_bytes = m.mem.read_cstr(fmt, 4096)
    text = format_printk(m, fmt_bytes, args)
    if out_size:
        clipped = text[:out_size - 1] + b"\0"
        m.mem.write(out, clipped)
    return len(text) + 1


@helper("strncmp")
def strncmp(m: "Machine", s1: int, s1_size: int, s2: int, *_: int) -> int:
    a = m.mem.read(s1, s1_size)
    b = m.mem.read_cstr(s2, 4096) + b"\0"
    for i in range(s1_size):
        ca, cb = a[i], b[i] if i < len(b) else 0
        if ca != cb:
            return _neg(1 if ca > cb else -1)
        if ca == 0:
            return 0
    return 0


def _strtox(m: "Machine", buf: int, buf_len: int, flags: int, res: int, signed: bool) -> int:
    base = flags & 0x1F
    if flags & ~0x1F or base not in (0, 8, 10, 16):
        return _err(errno.EINVAL)
    text = m.mem.read(buf, buf_len)
    nul = text.find(0)
    text = text if nul < 0 else text[:nul]
    match = re.match(rb"\s*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)" if base == 0 else
                     rb"\s*([-+]?)([0-9a-fA-F]+)", text)
    if not match or (match.group(1) == b"-" and not signed):
        return _err(errno.EINVAL)
    digits = match.group(2)
    try:
        value = int(digits, base if base else 0) if base else int(digits, 0 if digits[:2].lower() == b"0x"
                                                                    else (8 if digits[:1] == b"0" and len(digits) > 1 else 10))
    except ValueError:
        return _err(errno.EINVAL)
    if match.group(1) == b"-":
        value = -value
    if (signed and not -(1 << 63) <= value < (1 << 63)) or (not signed and value >= 1 << 64):
        return _err(errno.ERANGE)
    m.mem.write(res, (value & M64).to_bytes(8, "little"))
    return match.end()


@helper("strtol")
def strtol(m: "Machine", buf: int, buf_len: int, flags: int, res: int, *_: int) -> int:
    return _strtox(m, buf, buf_len, flags, res, True)


@helper("strtoul")
def strtoul(m: "Machine", buf: int, buf_len: int, flags: int, res: int, *_: int) -> int:
    return _strtox(m, buf, buf_len, flags, res, False)


# --- locks ----------------------------------------------------------------------------------------
@helper("spin_lock")
def spin_lock(m: "Machine", lock: int, *_: int) -> int:
    m.mem.resolve(lock, 4, write=True)
    if lock in m.held_locks:
        raise HelperError(f"bpf_spin_lock: lock at {lock:#x} is already held (deadlock)")
    m.held_locks.add(lock)
    m.mem.store(lock, 4, 1)
    return 0


@helper("spin_unlock")
def spin_unlock(m: "Machine", lock: int, *_: int) -> int:
    if lock not in m.held_locks:
        raise HelperError(f"bpf_spin_unlock: lock at {lock:#x} is not held")
    m.held_locks.discard(lock)
    m.mem.store(lock, 4, 0)
    return 0


# --- checksums --------------------------------------------------------------------------------------
def csum_partial(data: bytes, seed: int) -> int:
    """The kernel's (x86-64) csum_partial: 64-bit one's-complement sum of little-endian words,
    then folded to 32 bits with end-around carry, so the exact 32-bit value matches the kernel's."""
    total = seed & M32
    padded = data + bytes(-len(data) % 8)
    for i in range(0, len(padded), 8):
        total += int.from_bytes(padded[i:i + 8], "little")
        if total > M64:
            total = (total & M64) + 1
    folded = (total >> 32) + (total & M32)
    if folded > M32:
        folded = (folded & M32) + 1
    return folded


def _csum_add(a: int, b: int) -> int:
    total = (a & M32) + (b & M32)
    return (total & M32) + (total >> 32)


def _from32to16(value: int) -> int:
    value = (value & 0xFFFF) + (value >> 16)
    return (value & 0xFFFF) + (value >> 16)


@helper("csum_diff")
def csum_diff(m: "Machine", from_: int, from_size: int, to: int, to_size: int, seed: int) -> int:
    """Linux >= 6.13 semantics: any sizes (no multiple-of-4 or 512-byte limit any more; the
    verifier bounds the memory), the 32-bit partial sums combined, then folded to 16 bits."""
    from_size, to_size = from_size & M32, to_size & M32
    old = m.mem.read(from_, from_size) if from_size else b""
    new = m.mem.read(to, to_size) if to_size else b""
    if not from_size:
        total = csum_partial(new, seed)
    elif not to_size:
        total = ~csum_partial(old, ~seed & M32) & M32
    else:
        total = _csum_add(csum_partial(new, seed), ~csum_partial(old, 0) & M32)
    return _from32to16(total)


def fold16(csum: int) -> int:
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = (csum & 0xFFFF) + (csum >> 16)
    return csum & 0xFFFF


__all__ = ["HELPERS", "SimEnv", "SimProcess", "splitmix64", "format_printk", "csum_partial", "fold16",
           "real_clock", "XDP_REDIRECT", "TC_ACT_REDIRECT", "BPFError", "sx64"]
