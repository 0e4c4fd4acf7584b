"""`pybpf lb ...`: separate invocations manage one pinned balancer; checked with ip(8) and bpftool.

Each test gets its own network namespace with a veth pair and its own bpffs pin directory, both
removed by the fixture even on failure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel
VIP = "10.200.50.1:80/tcp"


def pybpf_lb(pin_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pybpf", "lb", "--pin-dir", str(pin_dir), *args],
                          capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"pybpf lb {' '.join(args)} failed: {proc.stderr}")
    return proc


@pytest.fixture
def testbed(request):
    name = f"pblbcli{os.getpid() % 100000}"
    pin_dir = Path(f"/sys/fs/bpf/{name}")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "lb0", "type", "veth", "peer", "name", "peer0"],
                       check=True)
        for iface in ("lb0", "peer0"):
            subprocess.run(["ip", "-n", name, "link", "set", iface, "up"], check=True)
        yield name, pin_dir
    finally:
        try:
            if pin_dir.exists():
                from pybpf.apps.lb import deploy
                try:
                    deploy.detach(pin_dir=pin_dir, unload=True)
                finally:
                    deploy.remove_pins(pin_dir)
        finally:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def xdp_program_on(netns: str, iface: str) -> str | None:
    out = subprocess.run(["ip", "-n", netns, "-j", "-d", "link", "show", iface], capture_output=True,
                         text=True, check=True).stdout
    xdp = json.loads(out)[0].get("xdp")
    return xdp["prog"]["name"] if xdp else None


def bpftool_dump(path: Path) -> list[dict]:
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def bpftool_lookup(path: Path, index: int) -> dict:
    key = [str(b) for b in index.to_bytes(4, "little")]
    out = subprocess.run(["bpftool", "-j", "map", "lookup", "pinned", str(path), "key", *key],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_attach_pins_the_balancer_and_detach_removes_program_and_pins(testbed):
    netns, pin_dir = testbed
    pybpf_lb(pin_dir, "attach", "lb0", "--netns", netns, "--mode", "drv",
             "--nexthop-mac", "02:00:00:00:00:aa", "--src4", "10.200.50.254")
    assert xdp_program_on(netns, "lb0") == "xdp_lb"
    assert (pin_dir / "maps" / "vip_map").exists()
    pybpf_lb(pin_dir, "detach")
    assert xdp_program_on(netns, "lb0") is None
    assert not pin_dir.exists()


def test_separate_invocations_write_vips_and_backends_into_the_pinned_maps(testbed):
    netns, pin_dir = testbed
    pybpf_lb(pin_dir, "attach", "lb0", "--netns", netns, "--mode", "skb")
    pybpf_lb(pin_dir, "vip", "add", VIP)
    pybpf_lb(pin_dir, "backend", "add", VIP, "10.200.51.1")
    pybpf_lb(pin_dir, "backend", "add", VIP, "10.200.51.2", "--weight", "3")
    vips = bpftool_dump(pin_dir / "maps" / "vip_map")
    assert len(vips) == 1
    members = bpftool_dump(pin_dir / "maps" / "vip_backends")
    weights = sorted(int(e["formatted"]["value"]["weight"]) for e in members)
    assert weights == [1, 3]
    for member in members:
        index = int(member["formatted"]["key"]["backend_index"])
        entry = bpftool_lookup(pin_dir / "maps" / "backends", index)
        assert int(entry["formatted"]["value"]["flags"]) == 1            # LB_BACKEND_ALIVE
    pybpf_lb(pin_dir, "backend", "del", VIP, "10.200.51.1")
    assert len(bpftool_dump(pin_dir / "maps" / "vip_backends")) == 1
    pybpf_lb(pin_dir, "vip", "del", VIP)
    assert bpftool_dump(pin_dir / "maps" / "vip_map") == []


def test_stats_json_lists_vips_backends_and_weights(testbed):
    from pybpf.apps.lb import deploy
    _, pin_dir = testbed
    with deploy.start(pin_dir) as inst:        # configured through the API: same pinned state
        inst.lb.add_vip(VIP)
        inst.lb.add_backend(VIP, "10.200.51.1")
    pybpf_lb(pin_dir, "backend", "weight", VIP, "10.200.51.1", "--weight", "7")
    snap = json.loads(pybpf_lb(pin_dir, "stats", "--json").stdout)
    assert [v["vip"] for v in snap["vips"]] == [VIP]
    assert [(b["addr"], b["weight"]) for b in snap["vips"][0]["backends"]] == [("10.200.51.1", 7)]
    watch = pybpf_lb(pin_dir, "stats", "--watch", "0.1", "--count", "2", "--json").stdout
    assert len(watch.strip().splitlines()) == 2


def test_bad_vip_is_reported_in_one_line_with_status_1(testbed):
    from pybpf.apps.lb import deploy
    _, pin_dir = testbed
    deploy.start(pin_dir).close()
    proc = pybpf_lb(pin_dir, "vip", "add", "10.200.50.1/tcp", check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "ADDR:PORT/PROTO" in proc.stderr


def test_commands_without_a_running_balancer_say_so(tmp_path):
    proc = pybpf_lb(Path("/sys/fs/bpf/pybpf-lb-absent"), "stats", check=False)
    assert proc.returncode == 1
    assert "no load balancer pinned" in proc.stderr and "Traceback" not in proc.stderr


def test_attach_to_a_missing_interface_fails_cleanly_and_leaves_no_pins(testbed):
    netns, pin_dir = testbed
    proc = pybpf_lb(pin_dir, "attach", "nosuch0", "--netns", netns, check=False)
    assert proc.returncode == 1
    assert "no network interface named 'nosuch0'" in proc.stderr and "Traceback" not in proc.stderr
    assert not pin_dir.exists()


def test_stats_text_shows_per_second_rates_against_the_previous_snapshot():
    from pybpf.cli.lb import _flat, render
    def snap(vip_packets, backend_packets):
        return {"vips": [{"vip": VIP, "index": 0, "packets": vip_packets, "bytes": 0,
                          "backends": [{"addr": "10.200.51.1", "index": 0, "weight": 1,
                                        "packets": backend_packets, "bytes": 0}]}],
                "counters": {"rx": vip_packets}}
    text = render(snap(300, 120), _flat(snap(100, 20)), interval=2.0)
    vip_line, backend_line = text.splitlines()[1:3]
    assert vip_line.split()[-1] == "100/s"          # (300 - 100) / 2 s
    assert backend_line.split()[-1] == "50/s"       # (120 - 20) / 2 s


def test_flows_lists_tracked_connections_with_their_backend(testbed):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import raw

    from pybpf.apps.lb import deploy
    _, pin_dir = testbed
    with deploy.start(pin_dir) as inst:
        inst.lb.set_config(nexthop_mac=b"\x02" * 6, src_v4="10.200.50.254")
        inst.lb.add_vip(VIP)
        inst.lb.add_backend(VIP, "10.200.51.1")
        syn = Ether() / IP(src="10.200.50.7", dst="10.200.50.1") / TCP(sport=4242, dport=80, flags="S")
        assert inst.program.test_run(raw(syn)).retval == 3
    out = pybpf_lb(pin_dir, "flows").stdout
    assert out.strip() == "tcp  10.200.50.7:4242 -> 10.200.50.1:80  =>  10.200.51.1"
