"""The kernel CLI verbs (load, prog, map, run, feature, pin) against bpftool's view of the same objects."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from pybpf.cli.main import main

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"
FRAME = bytes.fromhex("020000000001020000000002") + b"\x08\x00" + bytes(40)


@pytest.fixture(scope="module")
def swap_obj(compile_bpf):
    return str(compile_bpf(PROGS / "xdp_swap.bpf.c"))


def cli(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_run_prints_bpftool_format_and_same_retval(swap_obj, tmp_path, bpffs_dir, capsys):
    data = tmp_path / "pkt.bin"
    data.write_bytes(FRAME)
    out = cli(capsys, "run", swap_obj, "--prog", "xdp_swap", "--data-in", str(data),
              "--repeat", "5", "--data-out", str(tmp_path / "ours.bin"))
    ours = re.fullmatch(r"Return value: (\d+), duration \(average\): (\d+)ns\n", out)
    assert ours, out
    cli(capsys, "load", swap_obj, "--pin", str(bpffs_dir))
    proc = subprocess.run(["bpftool", "prog", "run", "pinned", str(bpffs_dir / "xdp_swap"),
                           "data_in", str(data), "data_out", str(tmp_path / "theirs.bin"),
                           "repeat", "5"], capture_output=True, text=True, check=True)
    theirs = re.search(r"Return value: (\d+), duration \(average\): (\d+)ns", proc.stdout)
    assert ours.group(1) == theirs.group(1)
    assert (tmp_path / "ours.bin").read_bytes() == (tmp_path / "theirs.bin").read_bytes()


def test_load_pin_then_map_dump_matches_bpftool(swap_obj, tmp_path, bpffs_dir, capsys, bpftool):
    cli(capsys, "load", swap_obj, "--pin", str(bpffs_dir))
    data = tmp_path / "pkt.bin"
    data.write_bytes(FRAME)
    subprocess.run(["bpftool", "prog", "run", "pinned", str(bpffs_dir / "xdp_swap"), "data_in",
                    str(data), "repeat", "9"], capture_output=True, check=True)
    ours = json.loads(cli(capsys, "map", "dump", str(bpffs_dir / "verdicts"), "--json"))
    theirs = bpftool("map", "dump", "pinned", str(bpffs_dir / "verdicts"))
    assert {e["key"]: e["value"] for e in ours} == \
        {e["formatted"]["key"]: e["formatted"]["value"] for e in theirs}
    assert {e["key"]: e["value"] for e in ours}[3] == 9        # XDP_TX nine times


def test_prog_and_map_list_show_what_bpftool_shows(swap_obj, bpffs_dir, capsys, bpftool):
    cli(capsys, "load", swap_obj, "--pin", str(bpffs_dir))
    prog_id = bpftool("prog", "show", "pinned", str(bpffs_dir / "xdp_swap"))["id"]
    map_id = bpftool("map", "show", "pinned", str(bpffs_dir / "verdicts"))["id"]
    progs = {p["id"]: p for p in json.loads(cli(capsys, "prog", "list", "--json"))}
    assert progs[prog_id]["name"] == "xdp_swap" and progs[prog_id]["map_ids"] == [map_id]
    maps = {m["id"]: m for m in json.loads(cli(capsys, "map", "list", "--json"))}
    assert (maps[map_id]["name"], maps[map_id]["max_entries"]) == ("verdicts", 8)
    listing = cli(capsys, "pin", "list", str(bpffs_dir))
    assert f"prog {prog_id} xdp xdp_swap" in listing and f"map {map_id} array verdicts" in listing


def test_feature_probe_json_agrees_with_bpftool(capsys, bpftool):
    ours = json.loads(cli(capsys, "feature", "probe", "--json", "--no-helpers"))
    theirs = bpftool("feature", "probe", "kernel")
    for section in ("program_types", "map_types"):
        assert {k: ours[section][k] for k in theirs[section]} == theirs[section]


def test_map_dump_of_a_program_pin_is_a_clear_error(swap_obj, bpffs_dir, capsys):
    cli(capsys, "load", swap_obj, "--pin", str(bpffs_dir))
    assert main(["map", "dump", str(bpffs_dir / "xdp_swap")]) == 1
    assert "not a map" in capsys.readouterr().err


def test_run_with_vm_engine_agrees_with_kernel(swap_obj, tmp_path, capsys):
    pytest.importorskip("pybpf.vm.collection")
    data = tmp_path / "pkt.bin"
    data.write_bytes(FRAME)
    kernel = cli(capsys, "run", swap_obj, "--prog", "xdp_swap", "--data-in", str(data))
    vm = cli(capsys, "run", swap_obj, "--prog", "xdp_swap", "--data-in", str(data),
             "--engine", "vm")
    assert kernel.split(",")[0] == vm.split(",")[0]


def test_load_attach_pins_links_that_keep_tracing_after_exit(compile_bpf, bpffs_dir, capsys):
    import os
    from pybpf.kernel import KernelMap
    from pybpf.kernel.links import FDLink
    obj = str(compile_bpf(PROGS / "tp_getpid.bpf.c"))
    out = cli(capsys, "load", obj, "--pin", str(bpffs_dir), "--attach",
              "--set", f"target_tgid={os.getpid()}")
    assert "link pinned at" in out
    with KernelMap.from_pin(bpffs_dir / "events") as events:
        reader = events.ring_reader()
        os.getpid()
        assert len(reader.poll(1)) == 1            # still attached: the pinned link holds it
        link = FDLink.from_pin(bpffs_dir / "link_on_getpid")
        link.unpin()
        link.close()                               # last reference gone: detached
        os.getpid()
        assert reader.poll(0.2) == []
