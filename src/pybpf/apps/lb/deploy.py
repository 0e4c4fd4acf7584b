"""Build, load, pin, attach and detach the xdplb data plane; open a running instance by its pins.

Lifecycle only: the VIP/backend logic lives in control.py. Never writes outside its bpffs directory
(default /sys/fs/bpf/pybpf-lb) and the interface it is told to attach to.

Until pybpf.kernel offers Collection loading and XDP links, loading falls back to ``bpftool prog
load ... pinmaps`` and attaching to ``ip link set ... xdp pinned`` (temporary scaffolding); maps and
programs are always driven through pybpf.kernel's KernelMap / KernelProgram.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...build import BPF_SOURCE_DIR, compile_bpf
from ...errors import BPFError, KernelError
from ...obj.mapapi import Map
from .control import MAP_NAMES, LoadBalancer
from .layout import LBConfigError

PIN_DIR = Path("/sys/fs/bpf/pybpf-lb")
PROGRAM_NAME = "xdp_lb"
SOURCE = BPF_SOURCE_DIR / "xdplb.bpf.c"
XDP_MODES = {"drv": "xdpdrv", "skb": "xdpgeneric", "native": "xdpdrv", "generic": "xdpgeneric"}


def object_path(defines: Mapping[str, str] | None = None) -> Path:
    """Compile (cached) bpf/xdplb.bpf.c; ``defines`` override LB_RING_SIZE, LB_MAX_VIPS, ..."""
    return compile_bpf(SOURCE, mcpu="v3", defines=dict(defines or {}))


@dataclass
class Instance:
    """One loaded balancer: its maps, its program, and how to release them."""

    maps: dict[str, Map]
    program: Any
    pin_dir: Path | None = None
    _owned: list[Any] = field(default_factory=list)

    @property
    def lb(self) -> LoadBalancer:
        return LoadBalancer(self.maps)

    def close(self) -> None:
        for obj in [*self._owned, self.program, *self.maps.values()]:
            try:
                obj.close()
            except BPFError:
                pass
        self._owned.clear()

    def __enter__(self) -> "Instance":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(backend: str = "kernel", *, defines: Mapping[str, str] | None = None) -> Instance:
    """Load a private (unpinned) balancer into the kernel or the VM, e.g. for test_run."""
    path = object_path(defines)
    if backend == "kernel" and not _kernel_collection_available():
        scratch = _scratch_dir()
        try:
            _bpftool_load(path, scratch)
            return _open_dir(scratch, owned_dir=scratch)
        except BaseException:
            _remove_pins(scratch)
            raise
    import pybpf
    coll = pybpf.Collection(pybpf.load_object(str(path)), backend=backend)
    inst = Instance(maps={n: coll.maps[n] for n in MAP_NAMES}, program=coll.programs[PROGRAM_NAME])
    inst._owned.append(coll)
    return inst


# --- the pinned, shared instance used by the CLI ----------------------------------------------
def start(pin_dir: Path = PIN_DIR, *, defines: Mapping[str, str] | None = None) -> Instance:
    """Load the balancer and pin its program and maps under ``pin_dir`` (reusing a running one)."""
    pin_dir = Path(pin_dir)
    if (pin_dir / "prog").exists():
        return open_pinned(pin_dir)
    _ensure_bpffs(pin_dir.parent)
    path = object_path(defines)
    if not _kernel_collection_available():
        _bpftool_load(path, pin_dir)
        return open_pinned(pin_dir)
    import pybpf
    coll = pybpf.Collection(pybpf.load_object(str(path)))
    pin_dir.mkdir(parents=True, exist_ok=True)
    (pin_dir / "maps").mkdir(exist_ok=True)
    try:
        coll.programs[PROGRAM_NAME].pin(pin_dir / "prog")
        for name in MAP_NAMES:
            coll.maps[name].pin(pin_dir / "maps" / name)
    except BaseException:
        coll.close()
        _remove_pins(pin_dir)
        raise
    coll.close()
    return open_pinned(pin_dir)


def open_pinned(pin_dir: Path = PIN_DIR) -> Instance:
    """Open the running balancer pinned under ``pin_dir``."""
    pin_dir = Path(pin_dir)
    if not (pin_dir / "prog").exists():
        raise LBConfigError(f"no load balancer pinned at {pin_dir}: run `pybpf lb attach IFACE` first")
    return _open_dir(pin_dir)


def attach(iface: str, *, mode: str = "drv", pin_dir: Path = PIN_DIR) -> None:
    """Attach the pinned program to ``iface`` (mode drv = native XDP, skb = generic)."""
    if mode not in XDP_MODES:
        raise LBConfigError(f"XDP mode must be one of {', '.join(XDP_MODES)}, got {mode!r}")
    if not Path(f"/sys/class/net/{iface}").exists():
        raise LBConfigError(f"no network interface named {iface!r}")
    _run(["ip", "link", "set", "dev", iface, XDP_MODES[mode], "pinned", str(Path(pin_dir) / "prog")],
         f"attach XDP program to {iface}")
    (Path(pin_dir) / f"attached-{iface}").mkdir(exist_ok=True)   # a bpffs dir records the attachment


def attached_interfaces(pin_dir: Path = PIN_DIR) -> list[str]:
    pin_dir = Path(pin_dir)
    if not pin_dir.exists():
        return []
    return sorted(p.name[len("attached-"):] for p in pin_dir.iterdir() if p.name.startswith("attached-"))


def detach(iface: str | None = None, *, pin_dir: Path = PIN_DIR, unload: bool | None = None) -> list[str]:
    """Detach from ``iface`` (or every attached interface); unpin everything once none is left."""
    pin_dir = Path(pin_dir)
    targets = [iface] if iface else attached_interfaces(pin_dir)
    for name in targets:
        if Path(f"/sys/class/net/{name}").exists():
            for flavour in ("xdpdrv", "xdpgeneric"):
                subprocess.run(["ip", "link", "set", "dev", name, flavour, "off"],
                               capture_output=True, text=True)
        marker = pin_dir / f"attached-{name}"
        if marker.exists():
            marker.rmdir()
    if unload if unload is not None else not attached_interfaces(pin_dir):
        _remove_pins(pin_dir)
    return targets


# --- helpers ----------------------------------------------------------------------------------
def _kernel_collection_available() -> bool:
    try:
        import pybpf.kernel as k
    except ImportError:
        return False
    return hasattr(k, "Collection") and os.environ.get("PYBPF_LB_BPFTOOL") != "1"


def _open_dir(pin_dir: Path, owned_dir: Path | None = None) -> Instance:
    from ...kernel.maps import KernelMap
    from ...kernel.programs import KernelProgram
    maps: dict[str, Map] = {}
    try:
        for name in MAP_NAMES:
            maps[name] = KernelMap.from_pin(pin_dir / "maps" / name)
        program = KernelProgram.from_pin(pin_dir / "prog")
    except BaseException:
        for m in maps.values():
            m.close()
        raise
    inst = Instance(maps=maps, program=program, pin_dir=pin_dir)
    if owned_dir is not None:
        inst._owned.append(_PinCleanup(owned_dir))
    return inst


class _PinCleanup:
    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self) -> None:
        _remove_pins(self.path)


def _scratch_dir() -> Path:
    _ensure_bpffs(Path("/sys/fs/bpf"))
    path = Path(f"/sys/fs/bpf/pybpf-lb-test-{os.getpid()}-{id(object())}")
    return path


def _ensure_bpffs(path: Path) -> None:
    try:
        from ...kernel.pin import ensure_bpffs
    except ImportError:
        return
    ensure_bpffs(str(path))


def _bpftool_load(path: Path, pin_dir: Path) -> None:
    if shutil.which("bpftool") is None:
        raise KernelError("bpftool is needed to load xdplb until pybpf.kernel.Collection exists")
    pin_dir.mkdir(parents=True, exist_ok=True)
    _run(["bpftool", "prog", "load", str(path), str(pin_dir / "prog"), "type", "xdp",
          "pinmaps", str(pin_dir / "maps")], f"load {path.name}")


def _remove_pins(pin_dir: Path) -> None:
    if not pin_dir.exists():
        return
    for p in sorted(pin_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            p.rmdir() if p.is_dir() else p.unlink()
        except OSError:
            pass
    try:
        pin_dir.rmdir()
    except OSError:
        pass


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise KernelError(f"cannot {what}: {' '.join(cmd)}: {proc.stderr.strip() or proc.stdout.strip()}")
