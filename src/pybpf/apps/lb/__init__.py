"""pybpf.apps.lb: an XDP layer-4 load balancer (Katran-style) with Maglev hashing and a Python control plane.

Re-exports only. Importing this package must never load programs or touch the kernel.

Pieces
    bpf/xdplb.bpf.c   the data plane (xdp_lb), plus xdp_decap (backend-side decapsulation, for kernels
                      without ipip/ip6tnl), xdp_pass and xdp_tx_floor (benchmark floor)
    maglev.py         Maglev table population (NSDI'16 3.4), weighted as Katran does
    layout.py         byte layouts of the maps (mirrors bpf/xdplb.h), the flow hash mirror
    control.py        LoadBalancer: VIPs, backends, weights, config, statistics, over any pybpf maps
    deploy.py         load / pin under /sys/fs/bpf/pybpf-lb / attach (pinned XDP links) / detach
    topology.py       the namespace testbed (client, router, balancer, 3 backends); demo.py on top
    cli: pybpf lb attach|config|vip|backend|stats|detach|demo

Data-plane policy
    * Traffic to no VIP (address, port, protocol; port 0 = any port) is XDP_PASS, unchanged.
    * A TCP SYN picks a backend through the VIP's Maglev table (murmur3 of the 5-tuple modulo M) and
      (re)writes the flow's conntrack entry (LRU hash, per-CPU LRU lists). Other packets follow their
      conntrack entry; a missing entry (ct_miss) or one pointing at a removed backend (ct_stale)
      falls back to the Maglev table and is re-recorded. UDP: first packet = new_conn.
    * Forwarding: IPIP for IPv4 VIP + IPv4 backend, IP6IP6 for IPv6, IPv4-in-IPv6 for an IPv4 VIP with
      an IPv6 backend (IPv6-in-IPv4 is refused by the control plane). Outer header: TTL/hop limit 64,
      id 0, no DF, TOS / traffic class and flow label copied, source from the config map; Ethernet
      source = the packet's old destination MAC, destination = the configured next hop; XDP_TX.
      Backends answer clients directly (DSR).
    * ICMP "fragmentation needed" / ICMPv6 "packet too big" quoting a VIP flow is encapsulated to the
      backend owning that flow (conntrack, else Maglev; no entry created), as Katran does.
    * Dropped and counted: truncated headers, bad IP version, ihl < 5, IPv4 total length shorter than
      its header or longer than the frame, TCP data offset < 5, VIP without backends.
      Passed and counted: non-IP, non-TCP/UDP, IPv4 fragments, IPv6 fragment and extension headers.
      IPv4 options are accepted.
"""
from __future__ import annotations

from .control import LoadBalancer  # noqa: F401
from .layout import Backend, Counter, FlowKey, LBConfig, LBConfigError, VipKey, flow_hash  # noqa: F401
from .maglev import DEFAULT_TABLE_SIZE, EMPTY, MaglevError, build_table  # noqa: F401
