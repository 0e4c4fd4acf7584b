"""Fixtures for tests/obj: the compiled CO-RE corpus and a bpftool-loaded view of each object.

Every bpffs pin directory a fixture creates is removed again, even when a test fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "core"
CORPUS_SOURCES = sorted(p.name for p in CORPUS.glob("*.bpf.c"))
BPFFS = Path("/sys/fs/bpf")


@pytest.fixture(scope="session")
def corpus_object(compile_bpf):
    """corpus_object("core_fields.bpf.c") -> Path of the compiled object."""
    def build(name: str) -> Path:
        return compile_bpf(CORPUS / name, include_dirs=[str(CORPUS)])
    return build


@dataclass
class LoadedByLibbpf:
    """What bpftool (libbpf 1.x) did with an object: its debug log and the kernel's view."""
    log: str
    programs: dict[str, dict] = field(default_factory=dict)       # pin name -> prog show json
    xlated: dict[str, list[dict]] = field(default_factory=dict)   # pin name -> xlated json
    maps: dict[int, dict] = field(default_factory=dict)           # map id -> map show json
    map_dumps: dict[int, list] = field(default_factory=dict)
    pinned_maps: dict[str, dict] = field(default_factory=dict)    # pin file name -> map show

    def patched(self) -> dict[tuple[str, int], tuple[str, int | None]]:
        """(prog, insn) -> ("patched", new value) or ("poisoned", None), from libbpf's log."""
        out: dict[tuple[str, int], tuple[str, int | None]] = {}
        for m in re.finditer(r"prog '([^']+)': relo #\d+: patched insn #(\d+) \(([^)]+)\) "
                             r"(?:imm|off|imm64) (-?\d+) -> (-?\d+)", self.log):
            out[(m.group(1), int(m.group(2)))] = ("patched", int(m.group(5)))
        for m in re.finditer(r"prog '([^']+)': relo #\d+: substituting insn #(\d+) w/ invalid",
                             self.log):
            out[(m.group(1), int(m.group(2)))] = ("poisoned", None)
        return out


def _bpftool(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=check,
                          timeout=60)


@pytest.fixture(scope="session")
def libbpf_loaded(corpus_object):
    """libbpf_loaded("core_types.bpf.c") -> LoadedByLibbpf (loaded once, pins removed at once)."""
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    cache: dict[str, LoadedByLibbpf] = {}

    def load(name: str) -> LoadedByLibbpf:
        if name in cache:
            return cache[name]
        obj = corpus_object(name)
        pin = BPFFS / f"pybpf_obj_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            pin.mkdir()
            proc = _bpftool("-d", "prog", "loadall", str(obj), str(pin / "progs"), "pinmaps",
                            str(pin / "maps"), check=False)
            if proc.returncode != 0:
                pytest.fail(f"bpftool could not load {name}:\n{proc.stderr[-3000:]}")
            view = LoadedByLibbpf(log=proc.stderr)
            for entry in sorted((pin / "progs").iterdir()):
                info = json.loads(_bpftool("-j", "prog", "show", "pinned", str(entry)).stdout)
                view.programs[entry.name] = info
                view.xlated[entry.name] = json.loads(
                    _bpftool("-j", "prog", "dump", "xlated", "id", str(info["id"]),
                             "opcodes").stdout)
                for map_id in info.get("map_ids", []):
                    if map_id not in view.maps:
                        view.maps[map_id] = json.loads(
                            _bpftool("-j", "map", "show", "id", str(map_id)).stdout)
                        info_ = view.maps[map_id]
                        if not (info_["type"] in ("prog_array", "array_of_maps", "hash_of_maps")
                                or info_["name"].endswith(".rodata")):
                            continue     # big data maps (e.g. a Maglev table) dump slowly
                        dump = _bpftool("-j", "map", "dump", "id", str(map_id), check=False)
                        view.map_dumps[map_id] = (json.loads(dump.stdout)
                                                  if dump.returncode == 0 and dump.stdout
                                                  else [])
            map_pins = sorted((pin / "maps").iterdir()) if (pin / "maps").exists() else []
            for entry in map_pins:
                view.pinned_maps[entry.name] = json.loads(
                    _bpftool("-j", "map", "show", "pinned", str(entry)).stdout)
        finally:
            if pin.exists():
                shutil.rmtree(pin, ignore_errors=True)
        cache[name] = view
        return view

    return load
