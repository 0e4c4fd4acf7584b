"""Build, load, pin, attach and detach the xdplb data plane; open a running instance by its pins.

Lifecycle only: the VIP/backend logic lives in control.py. Never writes outside its bpffs directory
(default /sys/fs/bpf/pybpf-lb) and the interfaces it is told to attach to. Kernel work goes through
pybpf.Collection / pybpf.kernel (maps, programs, XDP links); the VM through pybpf.Collection(...,
backend="vm").

Pinned layout: <pin_dir>/maps/<map>, <pin_dir>/progs/<program>, <pin_dir>/links/<netns>@<iface>.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...build import BPF_SOURCE_DIR, compile_bpf
from ...errors import BPFError
from ...obj.mapapi import Map
from .control import MAP_NAMES, LoadBalancer
from .layout import LBConfigError
from .netns import run_in_netns

PIN_DIR = Path("/sys/fs/bpf/pybpf-lb")
PROGRAM_NAME = "xdp_lb"
PROGRAM_NAMES = ("xdp_lb", "xdp_decap", "xdp_pass", "xdp_tx_floor")
SOURCE = BPF_SOURCE_DIR / "xdplb.bpf.c"
XDP_MODES = ("drv", "skb")


def object_path(defines: Mapping[str, str] | None = None) -> Path:
    """Compile (cached) bpf/xdplb.bpf.c; ``defines`` override LB_RING_SIZE, LB_MAX_VIPS, ..."""
    return compile_bpf(SOURCE, mcpu="v3", defines=dict(defines or {}))


@dataclass
class Instance:
    """One loaded balancer: its maps, its programs, and how to release them."""

    maps: dict[str, Map]
    programs: dict[str, Any]
    pin_dir: Path | None = None
    _owned: list[Any] = field(default_factory=list)

    @property
    def program(self) -> Any:
        return self.programs[PROGRAM_NAME]

    @property
    def lb(self) -> LoadBalancer:
        return LoadBalancer(self.maps)

    def close(self) -> None:
        for obj in [*self._owned, *self.programs.values(), *self.maps.values()]:
            try:
                obj.close()
            except BPFError:
                pass
        self._owned.clear()

    def __enter__(self) -> "Instance":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load_collection(backend: str, defines: Mapping[str, str] | None) -> Any:
    import pybpf
    return pybpf.Collection(pybpf.load_object(str(object_path(defines))), backend=backend)


def load(backend: str = "kernel", *, defines: Mapping[str, str] | None = None) -> Instance:
    """Load a private (unpinned) balancer into the kernel ("kernel") or the VM ("vm")."""
    coll = _load_collection(backend, defines)
    try:
        inst = Instance(maps={n: coll.maps[n] for n in MAP_NAMES},
                        programs={n: coll.programs[n] for n in PROGRAM_NAMES if n in coll.programs})
    except KeyError as exc:
        coll.close()
        raise LBConfigError(f"{SOURCE.name}: loaded object lacks {exc}") from None
    inst._owned.append(coll)
    return inst


# --- the pinned, shared instance used by the CLI ----------------------------------------------
def start(pin_dir: Path = PIN_DIR, *, defines: Mapping[str, str] | None = None) -> Instance:
    """Load the balancer and pin its programs and maps under ``pin_dir`` (or open the running one)."""
    pin_dir = Path(pin_dir)
    if (pin_dir / "progs" / PROGRAM_NAME).exists():
        return open_pinned(pin_dir)
    from ...kernel.pin import ensure_bpffs
    ensure_bpffs()
    coll = _load_collection("kernel", defines)
    try:
        for sub in ("", "maps", "progs", "links"):
            (pin_dir / sub).mkdir(parents=True, exist_ok=True)
        for name in PROGRAM_NAMES:
            coll.programs[name].pin(pin_dir / "progs" / name)
        for name in MAP_NAMES:
            coll.maps[name].pin(pin_dir / "maps" / name)
    except BaseException:
        coll.close()
        remove_pins(pin_dir)
        raise
    coll.close()
    return open_pinned(pin_dir)


def open_pinned(pin_dir: Path = PIN_DIR) -> Instance:
    """Open the running balancer pinned under ``pin_dir``."""
    from ...kernel.maps import KernelMap
    from ...kernel.programs import KernelProgram
    pin_dir = Path(pin_dir)
    if not (pin_dir / "progs" / PROGRAM_NAME).exists():
        raise LBConfigError(f"no load balancer pinned at {pin_dir}: run `pybpf lb attach IFACE` first")
    inst = Instance(maps={}, programs={}, pin_dir=pin_dir)
    try:
        for name in MAP_NAMES:
            inst.maps[name] = KernelMap.from_pin(pin_dir / "maps" / name)
        for name in PROGRAM_NAMES:
            inst.programs[name] = KernelProgram.from_pin(pin_dir / "progs" / name)
    except BaseException:
        inst.close()
        raise
    return inst


def _link_pin(pin_dir: Path, iface: str, netns: str | None) -> Path:
    return Path(pin_dir) / "links" / f"{netns or ''}@{iface}"


def attach(iface: str, *, mode: str = "drv", pin_dir: Path = PIN_DIR, netns: str | None = None,
           program: str = PROGRAM_NAME) -> Path:
    """Attach a pinned program (default the balancer) to ``iface`` through a pinned XDP link.

    mode "drv" is native XDP, "skb" generic XDP. ``netns`` names an `ip netns` namespace that holds
    the interface. Returns the link's pin path (the link outlives this process until detach()).
    """
    if mode not in XDP_MODES:
        raise LBConfigError(f"XDP mode must be one of {', '.join(XDP_MODES)}, got {mode!r}")
    from ...kernel.links import attach_xdp
    from ...kernel.programs import KernelProgram
    pin = _link_pin(pin_dir, iface, netns)
    if pin.exists():
        raise LBConfigError(f"{iface} already has a pybpf-lb program attached (link {pin})")
    prog_pin = Path(pin_dir) / "progs" / program
    if not prog_pin.exists():
        raise LBConfigError(f"program {program!r} is not pinned under {pin_dir}")

    def do_attach() -> None:
        if not _iface_exists(iface):        # asked inside the namespace (/sys shows the caller's)
            raise LBConfigError(f"no network interface named {iface!r}"
                                + (f" in namespace {netns!r}" if netns else ""))
        with KernelProgram.from_pin(prog_pin) as prog:
            link = attach_xdp(prog, iface, mode=mode)
            try:
                link.pin(pin)
            finally:
                link.close()

    (Path(pin_dir) / "links").mkdir(exist_ok=True)
    run_in_netns(netns, do_attach)
    return pin


def _iface_exists(iface: str) -> bool:
    import socket
    try:
        socket.if_nametoindex(iface)
        return True
    except OSError:
        return False


def attachments(pin_dir: Path = PIN_DIR) -> list[tuple[str | None, str]]:
    """(netns or None, interface) of every pinned XDP link."""
    links = Path(pin_dir) / "links"
    if not links.exists():
        return []
    out = []
    for p in sorted(links.iterdir()):
        ns, _, iface = p.name.partition("@")
        out.append((ns or None, iface))
    return out


def detach(iface: str | None = None, *, pin_dir: Path = PIN_DIR, netns: str | None = None,
           unload: bool | None = None) -> list[tuple[str | None, str]]:
    """Detach from ``iface`` (or from everything); unpin the balancer once nothing is attached."""
    from ...kernel.links import FDLink
    pin_dir = Path(pin_dir)
    targets = [(netns, iface)] if iface else attachments(pin_dir)
    done = []
    for ns, name in targets:
        pin = _link_pin(pin_dir, name, ns)
        if not pin.exists():
            raise LBConfigError(f"{name} has no pybpf-lb link (looked for {pin})")
        link = FDLink.from_pin(pin)
        try:
            link.detach()
        except BPFError:
            pass                        # interface already gone: the link is defunct
        finally:
            link.close()
        pin.unlink()
        done.append((ns, name))
    if unload if unload is not None else not attachments(pin_dir):
        remove_pins(pin_dir)
    return done


def remove_pins(pin_dir: Path) -> None:
    """Unpin everything under ``pin_dir`` (objects die once no fd or link holds them)."""
    pin_dir = Path(pin_dir)
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


__all__ = ["Instance", "load", "start", "open_pinned", "attach", "detach", "attachments",
           "remove_pins", "object_path", "PIN_DIR"]
