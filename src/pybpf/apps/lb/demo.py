"""``pybpf lb demo``: build the namespace testbed, push traffic through the balancer and show, live,
how flows spread over the backends (and what happens when one is removed and added back).
Without a usable kernel (or with --vm) the same story runs in pybpf's userspace VM on crafted packets.

For people watching a terminal: never used by the control plane; tears the testbed down on exit.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from .topology import TCP_PORT, UDP_PORT, VIP4, VIP6, Topology, tcp_identities, udp_identities

BAR = 40


def _bars(counts: Counter, names: list[str]) -> list[str]:
    total = sum(counts.values()) or 1
    return [f"    {name:<4} {'#' * round(BAR * counts[name] / total):<{BAR}} {counts[name]:>5}"
            for name in names]


def run_demo(*, seconds: float = 8.0, mode: str = "drv", flows_per_tick: int = 150,
             out: Callable[[str], None] = print) -> dict[str, Counter]:
    """Run the demo; returns the per-phase answer counts (for tests and scripts)."""
    phases: dict[str, Counter] = {}
    out("building testbed: client -> router -> xdp_lb -> 3 backends (IPIP/IP6IP6, direct return)")
    with Topology(xdp_mode=mode) as topo:
        names = [b.name for b in topo.backends]
        vip_tcp = f"{VIP4}:{TCP_PORT}/tcp"
        out(f"VIPs: {', '.join(topo.vips)}; backends: "
            + ", ".join(f"{b.name}={b.addr4}/{b.addr6}" for b in topo.backends))
        ticks = max(3, int(seconds))
        removed = topo.backends[0]
        port = 20000
        for tick in range(ticks):
            phase = "normal"
            if tick == ticks // 3:
                topo.lb.del_backend(vip_tcp, removed.addr4)
                out(f"--- removed {removed.name} from {vip_tcp}")
            if ticks // 3 <= tick < 2 * ticks // 3:
                phase = f"without {removed.name}"
            if tick == 2 * ticks // 3:
                topo.lb.add_backend(vip_tcp, removed.addr4)
                out(f"--- added {removed.name} back to {vip_tcp}")
            started = time.monotonic()
            tcp, _ = topo.in_client(tcp_identities, VIP4, TCP_PORT, range(port, port + flows_per_tick))
            udp = topo.in_client(udp_identities, VIP6, UDP_PORT, range(port, port + flows_per_tick))
            port += flows_per_tick
            counts = Counter(tcp.values())
            phases.setdefault(phase, Counter()).update(counts)
            out(f"t={tick + 1:>2}s  {len(tcp)} new TCP connections to {VIP4}:{TCP_PORT} "
                f"and {len(udp)} UDP flows to [{VIP6}]:{UDP_PORT} answered in "
                f"{time.monotonic() - started:.2f}s")
            out("  TCP answers by backend:")
            for line in _bars(counts, names):
                out(line)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        counters = topo.lb.counters()
        out("balancer counters: " + ", ".join(f"{k}={v}" for k, v in counters.items() if v))
    out("testbed removed")
    return phases


def run_vm_demo(*, flows: int = 150, out: Callable[[str], None] = print) -> dict[str, Counter]:
    """The demo in the userspace VM: crafted TCP packets through xdp_lb, backends read from the
    outer header of each XDP_TX frame. Returns the per-phase counts of new flows per backend."""
    import struct

    from . import deploy
    backends = {"b1": "10.200.11.2", "b2": "10.200.12.2", "b3": "10.200.13.2"}
    by_addr = {v: k for k, v in backends.items()}
    vip = f"{VIP4}:{TCP_PORT}/tcp"
    vip_packed = bytes(int(x) for x in VIP4.split("."))

    def packet(sport: int, flags: int) -> bytes:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 200, 1, 2]),
                         vip_packed)
        tcp = struct.pack("!HHIIBBHHH", sport, TCP_PORT, 0, 0, 0x50, flags, 8192, 0, 0)
        return bytes.fromhex("020000000002020000000001" "0800") + ip + tcp

    def send(inst: deploy.Instance, sport: int, flags: int) -> str:
        result = inst.program.test_run(packet(sport, flags))
        return by_addr.get(".".join(str(b) for b in result.data_out[30:34]), "?")

    phases: dict[str, Counter] = {}
    out("pybpf lb demo in the userspace VM: xdp_lb runs in pybpf.vm on crafted TCP packets")
    with deploy.load("vm", defines={"LB_RING_SIZE": "4099"}) as inst:
        lb = inst.lb
        lb.set_config(nexthop_mac=bytes.fromhex("0200000000aa"), src_v4="10.200.2.1",
                      src_v6="fd00:200:2::1")
        lb.add_vip(vip)
        for addr in backends.values():
            lb.add_backend(vip, addr)
        port = 20000
        first: dict[int, str] = {}
        for phase in ("3 backends", "b1 removed", "b1 added back"):
            if phase == "b1 removed":
                lb.del_backend(vip, backends["b1"])
                kept = sum(send(inst, p, 0x10) == b for p, b in first.items() if b != "b1")
                out(f"--- removed b1: {kept}/{sum(b != 'b1' for b in first.values())} established "
                    "flows on b2/b3 kept their backend")
            if phase == "b1 added back":
                lb.add_backend(vip, backends["b1"])
            counts: Counter = Counter()
            for sport in range(port, port + flows):
                name = send(inst, sport, 0x02)
                counts[name] += 1
                if phase == "3 backends":
                    first[sport] = name
            port += flows
            phases[phase] = counts
            out(f"{phase}: {flows} new TCP connections to {vip}")
            for line in _bars(counts, list(backends)):
                out(line)
        out("balancer counters: " + ", ".join(f"{k}={v}" for k, v in lb.counters().items() if v))
    return phases
