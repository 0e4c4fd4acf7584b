"""A namespace testbed for the balancer: client -> router -> balancer (XDP) -> router -> 3 backends.

Creates only network namespaces named ``<prefix>-*``, veth pairs inside them and addresses in
10.200.0.0/16 and fd00:200::/48; ``destroy()`` removes all of it (and the balancer's pins) even after
a partial setup. It never touches the host's own interfaces or sends traffic anywhere else.

    client 10.200.1.2 --- router --- 10.200.2.1 balancer (xdp_lb on eth0, XDP_TX back to router)
                             |------ 10.200.1{N}.2 backend N (xdp_decap on eth0, VIP on lo, DSR)
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import BPFError
from . import deploy
from .control import LoadBalancer
from .netns import run_in_netns

VIP4 = "10.200.100.1"
VIP6 = "fd00:200:100::1"
TCP_PORT = 80
UDP_PORT = 53
LB_SRC4 = "10.200.2.1"
LB_SRC6 = "fd00:200:2::1"
CLIENT4 = "10.200.1.2"
CLIENT6 = "fd00:200:1::2"


class TopologyError(BPFError):
    """A step of building the namespace testbed failed (names the command)."""


@dataclass
class BackendHost:
    name: str
    netns: str
    addr4: str
    addr6: str
    server: subprocess.Popen | None = None


@dataclass
class Topology:
    """The testbed; use as a context manager (or call destroy()) to tear everything down."""

    prefix: str = field(default_factory=lambda: f"pblb{os.getpid() % 100000}")
    backends_count: int = 3
    xdp_mode: str = "drv"
    backends: list[BackendHost] = field(default_factory=list)
    instance: deploy.Instance | None = None
    created: list[str] = field(default_factory=list)

    # --- names ----------------------------------------------------------------------------------
    @property
    def client(self) -> str:
        return f"{self.prefix}-cl"

    @property
    def router(self) -> str:
        return f"{self.prefix}-rt"

    @property
    def balancer(self) -> str:
        return f"{self.prefix}-lb"

    @property
    def pin_dir(self) -> Path:
        return Path(f"/sys/fs/bpf/{self.prefix}-lb")

    @property
    def lb(self) -> LoadBalancer:
        assert self.instance is not None
        return self.instance.lb

    @property
    def vips(self) -> list[str]:
        return [f"{VIP4}:{TCP_PORT}/tcp", f"{VIP4}:{UDP_PORT}/udp",
                f"[{VIP6}]:{TCP_PORT}/tcp", f"[{VIP6}]:{UDP_PORT}/udp"]

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> "Topology":
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        for ns in (self.client, self.router, self.balancer):
            self._add_netns(ns)
        self.backends = [BackendHost(f"b{i}", f"{self.prefix}-b{i}", f"10.200.{10 + i}.2",
                                     f"fd00:200:{10 + i}::2") for i in range(1, self.backends_count + 1)]
        for b in self.backends:
            self._add_netns(b.netns)
        self._wire(self.client, "eth0", CLIENT4, CLIENT6, self.router, "c0", "10.200.1.1", "fd00:200:1::1")
        self._wire(self.balancer, "eth0", LB_SRC4, LB_SRC6, self.router, "l0", "10.200.2.254",
                   "fd00:200:2::fe")
        for i, b in enumerate(self.backends, start=1):
            self._wire(b.netns, "eth0", b.addr4, b.addr6, self.router, f"b{i}",
                       f"10.200.{10 + i}.1", f"fd00:200:{10 + i}::1")
        self._ip(self.client, "link", "set", "eth0", "mtu", "1400")
        # XDP sees veth frames without their CHECKSUM_PARTIAL metadata: make the client send real
        # checksums (and no TSO super-frames), as a NIC would.
        run_in_netns(self.client, disable_offloads, "eth0")
        self._ip(self.client, "route", "add", "default", "via", "10.200.1.1")
        self._ip(self.client, "-6", "route", "add", "default", "via", "fd00:200:1::1")
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
            self._sysctl(self.router, key)
        self._ip(self.router, "route", "add", f"{VIP4}/32", "via", LB_SRC4)
        self._ip(self.router, "-6", "route", "add", f"{VIP6}/128", "via", LB_SRC6)
        for i, b in enumerate(self.backends, start=1):
            self._ip(b.netns, "addr", "add", f"{VIP4}/32", "dev", "lo")
            self._ip(b.netns, "addr", "add", f"{VIP6}/128", "dev", "lo", "nodad")
            self._ip(b.netns, "route", "add", "default", "via", f"10.200.{10 + i}.1")
            self._ip(b.netns, "-6", "route", "add", "default", "via", f"fd00:200:{10 + i}::1")
            for key in ("net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"):
                self._sysctl(b.netns, key)

        self.instance = deploy.start(self.pin_dir)
        router_mac = self._mac(self.router, "l0")
        self.lb.set_config(nexthop_mac=router_mac, src_v4=LB_SRC4, src_v6=LB_SRC6)
        deploy.attach("eth0", netns=self.balancer, pin_dir=self.pin_dir, mode=self.xdp_mode)
        # native XDP_TX on a veth lands in the peer's NAPI, which an XDP program on the peer enables
        deploy.attach("l0", netns=self.router, pin_dir=self.pin_dir, mode=self.xdp_mode,
                      program="xdp_pass")
        for b in self.backends:        # no ipip/ip6tnl in this kernel: decapsulate in XDP (Katran)
            deploy.attach("eth0", netns=b.netns, pin_dir=self.pin_dir, mode=self.xdp_mode,
                          program="xdp_decap")
            b.server = self._start_server(b)
        for vip in self.vips:
            self.lb.add_vip(vip)
            for b in self.backends:
                self.lb.add_backend(vip, b.addr6 if "[" in vip else b.addr4)
        self._warm_up()

    def destroy(self) -> None:
        """Stop servers, detach and unpin, delete the namespaces; each step runs even if one fails."""
        try:
            for b in self.backends:
                if b.server is not None:
                    try:
                        if b.server.stdin:
                            b.server.stdin.close()
                        b.server.terminate()
                        b.server.wait(timeout=5)
                    except (OSError, subprocess.TimeoutExpired):
                        b.server.kill()
                        b.server.wait()
                    b.server = None
            if self.instance is not None:
                self.instance.close()
                self.instance = None
        finally:
            try:
                if self.pin_dir.exists():
                    try:
                        deploy.detach(pin_dir=self.pin_dir, unload=True)
                    finally:
                        deploy.remove_pins(self.pin_dir)
            finally:
                for ns in reversed(self.created):
                    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                self.created.clear()

    # --- traffic --------------------------------------------------------------------------------
    def in_client(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return run_in_netns(self.client, fn, *args, **kwargs)

    def backend_name(self, addr: str) -> str:
        return next(b.name for b in self.backends if addr in (b.addr4, b.addr6))

    def backend_addr(self, name: str, family: int = 4) -> str:
        b = next(b for b in self.backends if b.name == name)
        return b.addr4 if family == 4 else b.addr6

    # --- helpers --------------------------------------------------------------------------------
    def _add_netns(self, ns: str) -> None:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)   # a leftover of a crash
        self._run(["ip", "netns", "add", ns])
        self.created.append(ns)
        self._ip(ns, "link", "set", "lo", "up")

    def _wire(self, ns_a: str, if_a: str, addr4_a: str, addr6_a: str,
              ns_b: str, if_b: str, addr4_b: str, addr6_b: str) -> None:
        self._run(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth",
                   "peer", "name", if_b, "netns", ns_b])
        for ns, iface, a4, a6 in ((ns_a, if_a, addr4_a, addr6_a), (ns_b, if_b, addr4_b, addr6_b)):
            self._ip(ns, "addr", "add", f"{a4}/24", "dev", iface)
            self._ip(ns, "addr", "add", f"{a6}/64", "dev", iface, "nodad")
            self._ip(ns, "link", "set", iface, "up")

    def _mac(self, ns: str, iface: str) -> bytes:
        out = self._run(["ip", "-n", ns, "-j", "link", "show", iface])
        return bytes.fromhex(json.loads(out)[0]["address"].replace(":", ""))

    def _ip(self, ns: str, *args: str) -> None:
        self._run(["ip", "-n", ns, *args])

    def _sysctl(self, ns: str, setting: str) -> None:
        self._run(["ip", "netns", "exec", ns, "sysctl", "-qw", setting])

    def _run(self, cmd: list[str]) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise TopologyError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
        return proc.stdout

    def _start_server(self, b: BackendHost) -> subprocess.Popen:
        src = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.Popen(
            ["ip", "netns", "exec", b.netns, sys.executable, "-m", "pybpf.apps.lb.identity_server",
             b.name, "--tcp-port", str(TCP_PORT), "--udp-port", str(UDP_PORT),
             "--udp-addr", VIP4, "--udp-addr", VIP6],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            proc.kill()
            err = proc.stderr.read() if proc.stderr else ""
            raise TopologyError(f"identity server on {b.name} did not start: {err.strip()}")
        return proc

    def _warm_up(self) -> None:
        """Resolve neighbours on every hop (first packets would otherwise wait on ARP/ND)."""
        deadline = time.monotonic() + 10
        for vip in (VIP4, VIP6):
            while True:
                try:
                    self.in_client(udp_ask, vip, UDP_PORT, 0, timeout=0.5)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TopologyError(f"no UDP answer from VIP {vip} after 10 s") from None


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1F


def disable_offloads(iface: str) -> None:
    """Turn off TX checksum offload and TSO on ``iface`` (ethtool -K IFACE tx off tso off)."""
    import array
    import fcntl
    import struct as _struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in (ETHTOOL_STXCSUM, ETHTOOL_STSO):
            value = array.array("I", [cmd, 0])
            addr, _ = value.buffer_info()
            ifreq = _struct.pack("16sP", iface.encode(), addr)
            try:
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
            except OSError as exc:
                raise TopologyError(f"cannot disable offload {cmd:#x} on {iface}: {exc}") from None


# --- client-side probes (call through Topology.in_client) ---------------------------------------
def udp_ask(vip: str, port: int, sport: int, *, timeout: float = 2.0) -> str:
    """One UDP request from source port ``sport`` (0: any); returns the answering backend's name."""
    family = socket.AF_INET6 if ":" in vip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.bind(("", sport))
        s.connect((vip, port))
        for _ in range(3):
            s.send(b"who")
            try:
                return s.recv(64).decode().strip()
            except socket.timeout:
                continue
        raise TimeoutError(f"no UDP answer from {vip}:{port} (source port {sport})")


def tcp_open(vip: str, port: int, sport: int, *, timeout: float = 3.0) -> socket.socket:
    family = socket.AF_INET6 if ":" in vip else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(timeout)
        s.bind(("", sport))
        s.connect((vip, port))
    except BaseException:
        s.close()
        raise
    return s


def tcp_ask(s: socket.socket) -> str:
    """Ask an open connection who answers; raises OSError if the connection is gone."""
    s.sendall(b"who")
    data = s.recv(64)
    if not data:
        raise ConnectionResetError("connection closed")
    return data.decode().strip()


def tcp_identities(vip: str, port: int, sports: range, *, keep_open: bool = False
                   ) -> tuple[dict[int, str], dict[int, socket.socket]]:
    """One connection per source port: {sport: backend name} (and the sockets if keep_open)."""
    names: dict[int, str] = {}
    kept: dict[int, socket.socket] = {}
    for sport in sports:
        s = tcp_open(vip, port, sport)
        try:
            names[sport] = tcp_ask(s)
        finally:
            if keep_open:
                kept[sport] = s
            else:
                s.close()
    return names, kept


def udp_identities(vip: str, port: int, sports: range) -> dict[int, str]:
    return {sport: udp_ask(vip, port, sport) for sport in sports}
