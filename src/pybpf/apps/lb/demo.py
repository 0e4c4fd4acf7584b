"""``pybpf lb demo``: build the namespace testbed, push traffic through the balancer and show, live,
how flows spread over the backends (and what happens when one is removed and added back).

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
