"""Program contexts for the VM: xdp_md, __sk_buff, raw tracepoint args, tracepoint records, pt_regs.

Each context lays its bytes out in VM memory the way the kernel presents it to a program (including
the kernel's rewriting of 32-bit ``data``/``data_end`` fields into real packet pointers) and owns
the packet helpers that change it; it never reads host memory or real tracepoints (only their
``format`` description files).
"""
from __future__ import annotations

import errno
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BPFError, HelperError
from ..isa.uapi import HELPER_IDS
from .helpers import HELPERS, TC_ACT_REDIRECT, XDP_REDIRECT, BPF_FIB_LKUP_RET_NOT_FWDED, fold16
from .interpreter import M32, M64
from .memory import Region

if TYPE_CHECKING:
    from .machine import Machine

XDP_PACKET_HEADROOM = 256
XDP_FRAME_SIZE = 4096
SKB_SHARED_INFO_SIZE = 320
XDP_FRAME_STRUCT = 40                  # sizeof(struct xdp_frame) kept free at the buffer start
ETH_HLEN = 14


class Context:
    """Base: ``setup(machine) -> r1`` lays the context out; ``finish()`` yields data_out/ctx_out."""

    program_kind = "generic"

    def setup(self, machine: "Machine") -> int:
        raise NotImplementedError

    def data_out(self) -> bytes:
        return b""

    def ctx_out(self) -> bytes:
        return b""

    def release(self, machine: "Machine") -> None:
        for region in getattr(self, "_regions", []):
            machine.mem.unmap(region)
        self._regions: list[Region] = []

    def _map(self, machine: "Machine", name: str, data: bytes | int, kind: str,
             writable: bool = True) -> Region:
        region = machine.mem.new(name, data, kind=kind, writable=writable)
        if not hasattr(self, "_regions"):
            self._regions = []
        self._regions.append(region)
        return region


# --- XDP -------------------------------------------------------------------------------------------
@dataclass
class XdpContext(Context):
    """``struct xdp_md`` over a packet buffer with the kernel's headroom/tailroom."""

    packet: bytes
    ingress_ifindex: int = 1
    rx_queue_index: int = 0
    egress_ifindex: int = 0
    ctx_given: bool = False
    program_kind = "xdp"

    def setup(self, machine: "Machine") -> int:
        if len(self.packet) < ETH_HLEN:
            raise BPFError(f"XDP test input must be at least {ETH_HLEN} bytes (EINVAL)")
        limit = XDP_FRAME_SIZE - SKB_SHARED_INFO_SIZE
        if XDP_PACKET_HEADROOM + len(self.packet) > limit:
            raise BPFError(f"XDP test input of {len(self.packet)} bytes exceeds one frame (EINVAL)")
        buf = bytearray(limit)
        buf[XDP_PACKET_HEADROOM:XDP_PACKET_HEADROOM + len(self.packet)] = self.packet
        self.pkt = self._map(machine, "packet", buf, "packet")
        self.data = self.meta = XDP_PACKET_HEADROOM
        self.end = XDP_PACKET_HEADROOM + len(self.packet)
        self._sync()
        ctx = struct.pack("<6I", 0, 0, 0, self.ingress_ifindex, self.rx_queue_index,
                          self.egress_ifindex)
        self.ctx = self._map(machine, "xdp_md", ctx, "ctx")
        base = self.pkt.base
        self.ctx.fields = {(0, 4): lambda: base + self.data, (4, 4): lambda: base + self.end,
                           (8, 4): lambda: base + self.meta}
        return self.ctx.base

    def _sync(self) -> None:
        self.pkt.lo, self.pkt.hi = self.meta, self.end

    def data_out(self) -> bytes:
        return bytes(self.pkt.buf[self.meta:self.end])

    def ctx_out(self) -> bytes:
        if not self.ctx_given:
            return b""
        return struct.pack("<6I", 0, 0, 0, self.ingress_ifindex, self.rx_queue_index,
                           self.egress_ifindex)

    def adjust_head(self, delta: int) -> int:
        data = self.data + delta
        if data < XDP_FRAME_STRUCT or data > self.end - ETH_HLEN:
            return -errno.EINVAL
        metalen = self.data - self.meta
        if metalen:
            self.pkt.buf[self.meta + delta:self.meta + delta + metalen] = \
                self.pkt.buf[self.meta:self.meta + metalen]
        self.meta += delta
        self.data = data
        self._sync()
        return 0

    def adjust_meta(self, delta: int) -> int:
        meta = self.meta + delta
        metalen = self.data - meta
        if meta < XDP_FRAME_STRUCT or meta > self.data:
            return -errno.EINVAL
        if metalen & 3 or metalen > 32:
            return -errno.EACCES
        self.meta = meta
        self._sync()
        return 0

    def adjust_tail(self, delta: int) -> int:
        end = self.end + delta
        if delta > 0 and end > len(self.pkt.buf):
            return -errno.EINVAL
        if end < self.data + ETH_HLEN:
            return -errno.EINVAL
        if delta > 0:
            self.pkt.buf[self.end:end] = bytes(delta)
        self.end = end
        self._sync()
        return 0

    def packet_bytes(self) -> bytes:
        return bytes(self.pkt.buf[self.data:self.end])


# --- socket buffers ---------------------------------------------------------------------------------
SKB_FIELDS = {"len": 0, "pkt_type": 4, "mark": 8, "queue_mapping": 12, "protocol": 16,
              "vlan_present": 20, "vlan_tci": 24, "vlan_proto": 28, "priority": 32,
              "ingress_ifindex": 36, "ifindex": 40, "tc_index": 44, "cb": 48, "hash": 68,
              "tc_classid": 72, "data": 76, "data_end": 80, "napi_id": 84, "family": 88,
              "remote_ip4": 92, "local_ip4": 96, "remote_port": 132, "local_port": 136,
              "data_meta": 140, "tstamp": 152, "wire_len": 160, "gso_segs": 164, "gso_size": 176,
              "hwtstamp": 184}
SKB_SIZE = 192
# (start, end) of the __sk_buff fields BPF_PROG_TEST_RUN accepts in ctx_in and returns in ctx_out:
# mark, priority, ingress_ifindex, ifindex, cb[5], tstamp, wire_len, gso_segs, gso_size, hwtstamp.
SKB_CTX_OUT_FIELDS = [(8, 12), (32, 44), (48, 68), (152, 168), (176, 180), (184, 192)]


def _pkt_type(dst: bytes) -> int:
    """skb->pkt_type as eth_type_trans sets it on the test device (loopback: all-zero address and
    all-zero broadcast address, so even ff:ff:ff:ff:ff:ff counts as multicast)."""
    if dst[:1] and dst[0] & 1:
        return 2                      # PACKET_MULTICAST
    return 0 if dst == bytes(6) else 3   # PACKET_HOST / PACKET_OTHERHOST


@dataclass
class SkbContext(Context):
    """``struct __sk_buff`` over a frame, as BPF_PROG_TEST_RUN builds it.

    ``l2=True`` (tc/sched_cls) puts skb->data at the Ethernet header; ``l2=False`` (socket
    filters, cgroup skb) at the network header. data_out is always the whole frame (for L3 types
    with the Ethernet header zeroed, as the kernel returns it).
    """

    packet: bytes
    l2: bool = True
    ctx_in: bytes | None = None
    ifindex: int = 1
    program_kind = "skb"

    def setup(self, machine: "Machine") -> int:
        if len(self.packet) < ETH_HLEN:
            raise BPFError(f"skb test input must be at least {ETH_HLEN} bytes (EINVAL)")
        headroom = 64
        buf = bytearray(headroom + len(self.packet) + 256)
        buf[headroom:headroom + len(self.packet)] = self.packet
        self.pkt = self._map(machine, "packet", buf, "packet")
        self.frame_start = headroom
        self.data = headroom + (0 if self.l2 else ETH_HLEN)
        self.end = headroom + len(self.packet)
        self.pkt.lo, self.pkt.hi = self.data, self.end
        ctx = bytearray(SKB_SIZE)
        if self.ctx_in:
            ctx[:len(self.ctx_in)] = self.ctx_in[:SKB_SIZE]
        proto = self.packet[12:14]
        struct.pack_into("<I", ctx, SKB_FIELDS["protocol"], int.from_bytes(proto, "little"))
        struct.pack_into("<I", ctx, SKB_FIELDS["pkt_type"], _pkt_type(self.packet[:6]))
        if not int.from_bytes(ctx[40:44], "little"):
            struct.pack_into("<I", ctx, SKB_FIELDS["ifindex"], self.ifindex)
        if self.ctx_in and not int.from_bytes(ctx[160:164], "little"):
            struct.pack_into("<I", ctx, SKB_FIELDS["wire_len"], len(self.packet))
        self.ctx = self._map(machine, "__sk_buff", ctx, "ctx")
        base = self.pkt.base
        self.ctx.fields = {(0, 4): lambda: self.end - self.data,
                           (76, 4): lambda: base + self.data, (80, 4): lambda: base + self.end,
                           (140, 4): lambda: base + self.data}
        return self.ctx.base

    def data_out(self) -> bytes:
        if self.l2:
            return bytes(self.pkt.buf[self.frame_start:self.end])
        # BPF_PROG_TEST_RUN pushes the link-layer header back as zeros for L3 program types
        return bytes(ETH_HLEN) + bytes(self.pkt.buf[self.frame_start + ETH_HLEN:self.end])

    def ctx_out(self) -> bytes:
        """Like the kernel: only with ctx_in, and only the fields BPF_PROG_TEST_RUN copies back."""
        if not self.ctx_in:
            return b""
        out = bytearray(SKB_SIZE)
        for start, end in SKB_CTX_OUT_FIELDS:
            out[start:end] = self.ctx.buf[start:end]
        return bytes(out)

    def packet_bytes(self) -> bytes:
        return bytes(self.pkt.buf[self.data:self.end])

    def packet_address(self, offset: int, size: int) -> int | None:
        if offset < 0 or size < 0 or self.data + offset + size > self.end:
            return None
        return self.pkt.base + self.data + offset


# --- tracing contexts ------------------------------------------------------------------------------
def _user_value(ctx: Context, machine: "Machine", value: Any) -> int:
    """Ints pass through; str/bytes become NUL-terminated strings in simulated user memory;
    lists become NULL-terminated arrays of pointers (argv)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value & M64
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, (bytes, bytearray)):
        return ctx._map(machine, "user string", bytes(value) + b"\0", "user").base
    if isinstance(value, (list, tuple)):
        pointers = [_user_value(ctx, machine, v) for v in value] + [0]
        return ctx._map(machine, "user array", b"".join(p.to_bytes(8, "little") for p in pointers),
                        "user").base
    raise BPFError(f"cannot place a {type(value).__name__} in simulated user memory")


@dataclass
class RawTracepointContext(Context):
    """``struct bpf_raw_tracepoint_args``: an array of u64 arguments (strings placed in user memory)."""

    args: Sequence[Any] = ()
    program_kind = "raw_tp"

    def setup(self, machine: "Machine") -> int:
        values = [_user_value(self, machine, a) for a in self.args]
        data = b"".join(v.to_bytes(8, "little") for v in values) or bytes(8)
        return self._map(machine, "raw_tp args", data, "ctx", writable=False).base


PT_REGS = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
           "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"]
PT_REGS_ALIASES = {"parm1": "di", "parm2": "si", "parm3": "dx", "parm4": "cx", "parm5": "r8",
                   "rc": "ax", "ret": "ax", "rbp": "bp", "rsp": "sp", "rip": "ip", "rax": "ax",
                   "rdi": "di", "rsi": "si", "rdx": "dx", "rcx": "cx"}


@dataclass
class PtRegsContext(Context):
    """x86-64 ``struct pt_regs`` for kprobe/uprobe programs; give registers or PARM1..5 by name."""

    regs: dict[str, Any] = field(default_factory=dict)
    program_kind = "kprobe"

    def setup(self, machine: "Machine") -> int:
        values = [0] * len(PT_REGS)
        for name, value in self.regs.items():
            key = PT_REGS_ALIASES.get(name.lower(), name.lower())
            if key not in PT_REGS:
                raise BPFError(f"pt_regs has no register {name!r}")
            values[PT_REGS.index(key)] = _user_value(self, machine, value)
        data = b"".join(v.to_bytes(8, "little") for v in values)
        return self._map(machine, "pt_regs", data, "ctx", writable=False).base


@dataclass(frozen=True)
class TracepointField:
    name: str
    offset: int
    size: int
    signed: bool
    type: str


BUILTIN_FORMATS = {
    ("syscalls", "sys_enter_execve"): [("int __syscall_nr", 8, 4, True),
                                       ("const char * filename", 16, 8, False),
                                       ("const char *const * argv", 24, 8, False),
                                       ("const char *const * envp", 32, 8, False)],
    ("syscalls", "sys_exit_execve"): [("int __syscall_nr", 8, 4, True), ("long ret", 16, 8, True)],
    ("syscalls", "sys_enter_execveat"): [("int __syscall_nr", 8, 4, True), ("int fd", 16, 8, False),
                                         ("const char * filename", 24, 8, False),
                                         ("const char *const * argv", 32, 8, False),
                                         ("const char *const * envp", 40, 8, False),
                                         ("int flags", 48, 8, False)],
    ("syscalls", "sys_exit_execveat"): [("int __syscall_nr", 8, 4, True),
                                        ("long ret", 16, 8, True)],
}
COMMON_FIELDS = [("unsigned short common_type", 0, 2, False), ("unsigned char common_flags", 2, 1, False),
                 ("unsigned char common_preempt_count", 3, 1, False), ("int common_pid", 4, 4, True)]
_FIELD_RE = re.compile(r"field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);")


def _to_field(decl: str, offset: int, size: int, signed: bool) -> TracepointField:
    name = re.sub(r"\[.*\]$", "", decl.strip()).split()[-1].lstrip("*")
    return TracepointField(name, offset, size, signed, decl.strip())


def tracepoint_format(category: str, name: str,
                      tracefs: str = "/sys/kernel/tracing") -> list[TracepointField]:
    """Fields of a tracepoint record: from tracefs when readable, else the built-in fallback."""
    path = Path(tracefs) / "events" / category / name / "format"
    try:
        text = path.read_text()
    except OSError:
        text = ""
    fields = [_to_field(d, int(o), int(s), s2 == "1") for d, o, s, s2 in _FIELD_RE.findall(text)]
    if fields:
        return fields
    builtin = BUILTIN_FORMATS.get((category, name))
    if builtin is None:
        raise BPFError(f"tracepoint {category}/{name}: no format at {path} and no built-in layout")
    return [_to_field(*f) for f in COMMON_FIELDS + builtin]


@dataclass
class TracepointContext(Context):
    """A tracepoint record laid out from its format; ``values`` by field name (strings -> user memory)."""

    category: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    tracefs: str = "/sys/kernel/tracing"
    program_kind = "tracepoint"

    def setup(self, machine: "Machine") -> int:
        fields = tracepoint_format(self.category, self.name, self.tracefs)
        by_name = {f.name: f for f in fields}
        size = max(f.offset + f.size for f in fields)
        buf = bytearray((size + 7) & ~7)
        values = dict(self.values)
        values.setdefault("common_pid", machine.env.process.pid)
        for key, value in values.items():
            f = by_name.get(key)
            if f is None:
                raise BPFError(f"tracepoint {self.category}/{self.name} has no field {key!r} "
                               f"(fields: {', '.join(by_name)})")
            if isinstance(value, (bytes, bytearray)) and "[" in f.type:
                buf[f.offset:f.offset + f.size] = bytes(value[:f.size]).ljust(f.size, b"\0")
                continue
            number = _user_value(self, machine, value)
            buf[f.offset:f.offset + f.size] = (number & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")
        return self._map(machine, f"tracepoint {self.category}/{self.name}", buf, "ctx",
                         writable=False).base


@dataclass
class RawContext(Context):
    """Arbitrary context bytes (``ctx_in``) passed in r1 as-is."""

    data: bytes = b""
    writable: bool = True

    def setup(self, machine: "Machine") -> int:
        if not self.data:
            return 0
        self.region = self._map(machine, "ctx", self.data, "ctx", writable=self.writable)
        return self.region.base

    def ctx_out(self) -> bytes:
        return bytes(self.region.buf) if self.data else b""


# --- the simulated current task ------------------------------------------------------------------------
TASK_REGION_SIZE = 16384


def build_task_region(machine: "Machine") -> Region:
    """The simulated current task_struct: laid out by the machine's BTF (``task_btf``) when it has
    one, from SimProcess (pid, tgid, comm) plus ``SimProcess.task`` overrides; else zeros."""
    from .kernel_objects import _find_member, layout_object, task_values
    btf = getattr(machine, "task_btf", None)
    task_type = None
    if btf is not None:
        from ..btf import Struct
        try:
            task_type = max((t for t in btf.find("task_struct") if isinstance(t, Struct) and t.size),
                            key=lambda t: t.size, default=None)
        except BPFError:
            task_type = None
    if task_type is None:
        if machine.env.process.task:
            raise BPFError("SimProcess.task field values need BTF with struct task_struct "
                           "(give the Collection btf=..., or use an object that defines it)")
        return machine.mem.new("task_struct (simulated, no BTF)", TASK_REGION_SIZE, kind="kernel",
                               writable=False)
    values = task_values(machine)
    defaults = {"pid", "tgid", "comm"} - set(machine.env.process.task)
    values = {k: v for k, v in values.items()
              if k not in defaults or _find_member(btf, task_type, k) is not None}
    return layout_object(machine, btf, "task_struct", values, name="current task_struct (simulated)")


# --- packet helpers ----------------------------------------------------------------------------------------
def _helper(name: str):
    def register(fn):
        HELPERS[HELPER_IDS[name]] = fn
        return fn
    return register


def _xdp(m: "Machine", what: str) -> XdpContext:
    if not isinstance(m.context, XdpContext):
        raise HelperError(f"{what} needs an XDP context")
    return m.context


def _skb(m: "Machine", what: str) -> SkbContext:
    if not isinstance(m.context, SkbContext):
        raise HelperError(f"{what} needs a socket buffer (__sk_buff) context")
    return m.context


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


@_helper("xdp_adjust_head")
def xdp_adjust_head(m: "Machine", ctx: int, delta: int, *_: int) -> int:
    return _xdp(m, "bpf_xdp_adjust_head").adjust_head(_s32(delta)) & M64


@_helper("xdp_adjust_meta")
def xdp_adjust_meta(m: "Machine", ctx: int, delta: int, *_: int) -> int:
    return _xdp(m, "bpf_xdp_adjust_meta").adjust_meta(_s32(delta)) & M64


@_helper("xdp_adjust_tail")
def xdp_adjust_tail(m: "Machine", ctx: int, delta: int, *_: int) -> int:
    return _xdp(m, "bpf_xdp_adjust_tail").adjust_tail(_s32(delta)) & M64


@_helper("xdp_get_buff_len")
def xdp_get_buff_len(m: "Machine", ctx: int, *_: int) -> int:
    x = _xdp(m, "bpf_xdp_get_buff_len")
    return x.end - x.data


@_helper("xdp_load_bytes")
def xdp_load_bytes(m: "Machine", ctx: int, offset: int, buf: int, length: int, *_: int) -> int:
    x = _xdp(m, "bpf_xdp_load_bytes")
    offset, length = offset & M32, length & M32
    if x.data + offset + length > x.end:
        return (-errno.EINVAL) & M64
    m.mem.write(buf, bytes(x.pkt.buf[x.data + offset:x.data + offset + length]))
    return 0


@_helper("xdp_store_bytes")
def xdp_store_bytes(m: "Machine", ctx: int, offset: int, buf: int, length: int, *_: int) -> int:
    x = _xdp(m, "bpf_xdp_store_bytes")
    offset, length = offset & M32, length & M32
    if x.data + offset + length > x.end:
        return (-errno.EINVAL) & M64
    x.pkt.buf[x.data + offset:x.data + offset + length] = m.mem.read(buf, length)
    return 0


@_helper("skb_load_bytes")
def skb_load_bytes(m: "Machine", ctx: int, offset: int, to: int, length: int, *_: int) -> int:
    s = _skb(m, "bpf_skb_load_bytes")
    addr = s.packet_address(_s32(offset), length & M32)
    if addr is None:
        m.mem.write(to, bytes(length & M32))
        return (-errno.EFAULT) & M64
    m.mem.write(to, m.mem.read(addr, length & M32))
    return 0


@_helper("skb_store_bytes")
def skb_store_bytes(m: "Machine", ctx: int, offset: int, frm: int, length: int, flags: int) -> int:
    s = _skb(m, "bpf_skb_store_bytes")
    addr = s.packet_address(_s32(offset), length & M32)
    if addr is None:
        return (-errno.EFAULT) & M64
    m.mem.write(addr, m.mem.read(frm, length & M32))
    return 0


def _csum_replace(m: "Machine", offset: int, frm: int, to: int, flags: int, l4: bool) -> int:
    s = _skb(m, "bpf_l4_csum_replace" if l4 else "bpf_l3_csum_replace")
    size = flags & 0xF
    if flags & ~(0xF | 0x10 | 0x20 | 0x40) or size not in (0, 2, 4):
        return (-errno.EINVAL) & M64
    addr = s.packet_address(offset & M32, 2)
    if addr is None:
        return (-errno.EFAULT) & M64
    old = m.mem.load(addr, 2)
    mangled = l4 and bool(flags & 0x20)
    if mangled and old == 0:
        return 0
    total = (~old) & 0xFFFF
    if size == 0:
        total += to & M32
    else:
        mask = (1 << (8 * size)) - 1
        fb, tb = (frm & mask).to_bytes(size, "little"), (to & mask).to_bytes(size, "little")
        for i in range(0, size, 2):
            total += (~int.from_bytes(fb[i:i + 2], "little")) & 0xFFFF
            total += int.from_bytes(tb[i:i + 2], "little")
    new = (~fold16(total)) & 0xFFFF
    if mangled and new == 0:
        new = 0xFFFF
    m.mem.store(addr, 2, new)
    return 0


@_helper("l3_csum_replace")
def l3_csum_replace(m: "Machine", ctx: int, offset: int, frm: int, to: int, flags: int) -> int:
    return _csum_replace(m, offset, frm, to, flags, False)


@_helper("l4_csum_replace")
def l4_csum_replace(m: "Machine", ctx: int, offset: int, frm: int, to: int, flags: int) -> int:
    return _csum_replace(m, offset, frm, to, flags, True)


def _redirect_verdict(m: "Machine") -> int:
    return XDP_REDIRECT if isinstance(m.context, XdpContext) else TC_ACT_REDIRECT


@_helper("redirect")
def redirect(m: "Machine", ifindex: int, flags: int, *_: int) -> int:
    if flags & ~1:
        return 0 if isinstance(m.context, XdpContext) else 2      # XDP_ABORTED / TC_ACT_SHOT
    m.redirect = ("ifindex", ifindex & M32, flags)
    return _redirect_verdict(m)


@_helper("redirect_map")
def redirect_map(m: "Machine", map_ptr: int, key: int, flags: int, *_: int) -> int:
    """XDP_REDIRECT when the devmap/xskmap/cpumap slot is set (non-zero), else the fallback action
    in the low bits of ``flags`` (the kernel's behaviour for an empty slot)."""
    vm_map = m.map_from_handle(map_ptr, "bpf_redirect_map")
    key_bytes = (key & ((1 << (8 * vm_map.key_size)) - 1)).to_bytes(vm_map.key_size, "little")
    try:
        raw = vm_map._lookup(key_bytes)
    except BPFError:
        raw = None
    if raw is None or not any(raw):
        return flags & 3
    m.redirect = ("map", vm_map.name, key & M32)
    return XDP_REDIRECT


@_helper("fib_lookup")
def fib_lookup(m: "Machine", ctx: int, params: int, plen: int, flags: int, *_: int) -> int:
    hook = m.env.fib_lookup
    if hook is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    data = m.mem.read(params, plen & M32)
    ret, new = hook(data, flags)
    if new:
        m.mem.write(params, bytes(new[:len(data)]).ljust(len(data), b"\0"))
    return ret & M64


__all__ = ["Context", "XdpContext", "SkbContext", "RawTracepointContext", "TracepointContext",
           "PtRegsContext", "RawContext", "tracepoint_format", "TracepointField", "PT_REGS"]
