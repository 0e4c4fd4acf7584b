"""``pybpf lb``: run and manage the XDP layer-4 load balancer (attach, vip, backend, stats, detach, demo).

A thin argparse layer over pybpf.apps.lb; state lives in maps pinned under --pin-dir
(/sys/fs/bpf/pybpf-lb), so separate invocations manage one running balancer. Never prints a traceback
for bad input (errors are pybpf.errors exceptions, reported by cli.main).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_PIN_DIR = "/sys/fs/bpf/pybpf-lb"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("lb", help="XDP layer-4 load balancer (Maglev, IPIP/IP6IP6, DSR)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--pin-dir", default=DEFAULT_PIN_DIR,
                        help=f"bpffs directory of the balancer's pins (default {DEFAULT_PIN_DIR})")
    verbs = parser.add_subparsers(dest="lb_command", metavar="VERB")
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)

    attach = verbs.add_parser("attach", help="load (once) and attach the balancer to an interface")
    attach.add_argument("iface")
    attach.add_argument("--mode", choices=["drv", "skb"], default="drv",
                        help="drv: native XDP (default); skb: generic XDP")
    attach.add_argument("--netns", help="ip-netns namespace holding IFACE")
    _config_options(attach)
    attach.set_defaults(handler=cmd_attach)

    config = verbs.add_parser("config", help="set the next-hop MAC and outer source addresses")
    _config_options(config)
    config.set_defaults(handler=cmd_config)

    vip = verbs.add_parser("vip", help="add or delete a VIP (ADDR:PORT/PROTO, port 0 = any)")
    vip.add_argument("action", choices=["add", "del"])
    vip.add_argument("vip", metavar="ADDR:PORT/PROTO")
    vip.set_defaults(handler=cmd_vip)

    backend = verbs.add_parser("backend", help="add, delete or re-weight a VIP's backend")
    backend.add_argument("action", choices=["add", "del", "weight"])
    backend.add_argument("vip", metavar="VIP")
    backend.add_argument("backend", metavar="BACKEND_ADDR")
    backend.add_argument("--weight", type=int, default=1)
    backend.set_defaults(handler=cmd_backend)

    stats = verbs.add_parser("stats", help="VIPs, backends, traffic and counters")
    stats.add_argument("--watch", nargs="?", type=float, const=1.0, metavar="SECONDS",
                       help="refresh every SECONDS (default 1) with per-second rates")
    stats.add_argument("--count", type=int, default=0, help="with --watch: stop after COUNT refreshes")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(handler=cmd_stats)

    flows = verbs.add_parser("flows", help="tracked flows (conntrack) and their backends")
    flows.add_argument("--limit", type=int, default=50, help="show at most LIMIT flows (0: all)")
    flows.set_defaults(handler=cmd_flows)

    detach = verbs.add_parser("detach", help="detach (all, or one interface); unload when none is left")
    detach.add_argument("iface", nargs="?")
    detach.add_argument("--netns")
    detach.set_defaults(handler=cmd_detach)

    demo = verbs.add_parser("demo", help="build a namespace testbed and show live traffic spread")
    demo.add_argument("--seconds", type=float, default=8.0)
    demo.add_argument("--mode", choices=["drv", "skb"], default="drv")
    demo.add_argument("--vm", action="store_true",
                      help="run in the userspace VM (the default when bpf(2) or netns are unusable)")
    demo.set_defaults(handler=cmd_demo)


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nexthop-mac", help="destination MAC of encapsulated packets")
    parser.add_argument("--src4", help="outer IPv4 source address (IPIP)")
    parser.add_argument("--src6", help="outer IPv6 source address (IP6IP6)")


def _apply_config(lb: Any, args: argparse.Namespace) -> None:
    from pybpf.apps.lb.layout import parse_mac
    if not (args.nexthop_mac or args.src4 or args.src6):
        return
    current = lb.config()
    lb.set_config(nexthop_mac=parse_mac(args.nexthop_mac) if args.nexthop_mac else current.nexthop_mac,
                  src_v4=args.src4 or str(current.src_v4), src_v6=args.src6 or str(current.src_v6))


def cmd_attach(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    pin_dir = Path(args.pin_dir)
    fresh = not (pin_dir / "progs" / deploy.PROGRAM_NAME).exists()
    with deploy.start(pin_dir) as inst:
        try:
            _apply_config(inst.lb, args)
            deploy.attach(args.iface, mode=args.mode, pin_dir=pin_dir, netns=args.netns)
        except BaseException:
            if fresh:
                deploy.remove_pins(pin_dir)
            raise
    print(f"xdp_lb attached to {args.iface} ({args.mode}); pinned under {pin_dir}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    with deploy.open_pinned(Path(args.pin_dir)) as inst:
        _apply_config(inst.lb, args)
        cfg = inst.lb.config()
    print(f"next hop {cfg.nexthop_mac.hex(':')}, source {cfg.src_v4} / {cfg.src_v6}")
    return 0


def cmd_vip(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    with deploy.open_pinned(Path(args.pin_dir)) as inst:
        if args.action == "add":
            index = inst.lb.add_vip(args.vip)
            print(f"VIP {args.vip} added (index {index})")
        else:
            inst.lb.del_vip(args.vip)
            print(f"VIP {args.vip} deleted")
    return 0


def cmd_backend(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    with deploy.open_pinned(Path(args.pin_dir)) as inst:
        if args.action == "add":
            inst.lb.add_backend(args.vip, args.backend, weight=args.weight)
        elif args.action == "weight":
            inst.lb.set_weight(args.vip, args.backend, args.weight)
        else:
            inst.lb.del_backend(args.vip, args.backend)
    print(f"backend {args.backend} {'weight set' if args.action == 'weight' else args.action + 'ed'}"
          f" for VIP {args.vip}")
    return 0


def snapshot(lb: Any) -> dict[str, Any]:
    """Everything `stats` shows, as plain data."""
    return {
        "vips": [{"vip": str(v.vip), "index": v.index, "packets": v.packets, "bytes": v.bytes,
                  "backends": [{"addr": str(b.addr), "index": b.index, "weight": b.weight,
                                "packets": b.packets, "bytes": b.bytes} for b in v.backends]}
                 for v in lb.describe()],
        "counters": lb.counters(),
    }


def render(snap: dict[str, Any], previous: dict[str, Any] | None = None, interval: float = 1.0) -> str:
    def rate(path: tuple[Any, ...], value: int) -> str:
        if previous is None:
            return ""
        old = previous
        for key in path:
            old = old.get(key, {}) if isinstance(old, dict) else {}
        return f"  {(value - (old if isinstance(old, int) else 0)) / interval:10.0f}/s"

    lines = [f"{'VIP / backend':<34} {'weight':>6} {'packets':>12} {'bytes':>14}"]
    for v in snap["vips"]:
        lines.append(f"{v['vip']:<34} {'':>6} {v['packets']:>12} {v['bytes']:>14}"
                     + rate(("vip", v["vip"]), v["packets"]))
        for b in v["backends"]:
            lines.append(f"  -> {b['addr']:<29} {b['weight']:>6} {b['packets']:>12} {b['bytes']:>14}"
                         + rate(("backend", v["vip"], b["addr"]), b["packets"]))
    lines.append("counters: " + ", ".join(f"{k}={v}" for k, v in snap["counters"].items() if v))
    return "\n".join(lines)


def _flat(snap: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"vip": {}, "backend": {}}
    for v in snap["vips"]:
        out["vip"][v["vip"]] = v["packets"]
        out["backend"][v["vip"]] = {b["addr"]: b["packets"] for b in v["backends"]}
    return out


def cmd_stats(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    with deploy.open_pinned(Path(args.pin_dir)) as inst:
        if args.watch is None:
            snap = snapshot(inst.lb)
            print(json.dumps(snap, indent=2) if args.json else render(snap))
            return 0
        previous = None
        shown = 0
        while True:
            snap = snapshot(inst.lb)
            if args.json:
                print(json.dumps(snap), flush=True)
            else:
                print(("\033[H\033[2J" if sys.stdout.isatty() else "")
                      + render(snap, previous and _flat(previous), args.watch) + "\n", flush=True)
            previous = snap
            shown += 1
            if args.count and shown >= args.count:
                return 0
            time.sleep(args.watch)


def cmd_flows(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    from pybpf.apps.lb.layout import PROTOCOL_NAMES
    with deploy.open_pinned(Path(args.pin_dir)) as inst:
        addr_of = {b.index: str(b.addr) for v in inst.lb.describe() for b in v.backends}
        flows = inst.lb.flows()
        for n, (flow, backend) in enumerate(sorted(flows.items(), key=lambda kv: str(kv[0]))):
            if args.limit and n >= args.limit:
                print(f"... {len(flows) - n} more")
                break
            proto = PROTOCOL_NAMES.get(flow.proto, str(flow.proto))
            print(f"{proto:<4} {flow.src}:{flow.sport} -> {flow.dst}:{flow.dport}  =>  "
                  f"{addr_of.get(backend, f'#{backend} (removed)')}")
        if not flows:
            print("no tracked flows")
    return 0


def cmd_detach(args: argparse.Namespace) -> int:
    from pybpf.apps.lb import deploy
    from pybpf.apps.lb.layout import LBConfigError
    if not Path(args.pin_dir).exists():
        raise LBConfigError(f"no load balancer pinned at {args.pin_dir}: nothing to detach")
    done = deploy.detach(args.iface, pin_dir=Path(args.pin_dir), netns=args.netns)
    for ns, iface in done:
        print(f"detached from {iface}" + (f" (netns {ns})" if ns else ""))
    if not Path(args.pin_dir).exists():
        print("balancer unloaded")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pybpf.apps.lb.demo import run_demo, run_vm_demo
    reason = None if args.vm else _kernel_demo_unusable()
    if args.vm or reason:
        if reason:
            print(f"(kernel demo unavailable: {reason})")
        run_vm_demo()
    else:
        run_demo(seconds=args.seconds, mode=args.mode)
    return 0


def _kernel_demo_unusable() -> str | None:
    import os
    import shutil
    if os.geteuid() != 0:
        return "needs root for network namespaces and XDP"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    try:
        from pybpf.kernel.maps import KernelMap
        from pybpf.isa.uapi import MapType
        KernelMap.create(MapType.ARRAY, 4, 4, 1).close()
    except Exception as exc:  # any failure means: use the VM
        return f"bpf(2) unusable: {exc}"
    return None
