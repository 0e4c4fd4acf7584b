"""Fixtures for kernel-backend tests: tiny hand-assembled programs, bpffs scratch dirs, bpftool, veth netns.

Everything a fixture creates (pins, namespaces, links) is removed in its teardown, even on failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bpftool():
    path = shutil.which("bpftool")
    if not path:
        pytest.skip("bpftool is not installed")

    def run(*args: str) -> object:
        proc = subprocess.run([path, "-j", *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"bpftool {' '.join(args)} failed: {proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    run.path = path  # type: ignore[attr-defined]
    return run


@pytest.fixture
def bpffs_dir():
    """A fresh directory on /sys/fs/bpf, removed with everything pinned in it."""
    from pybpf.kernel.pin import ensure_bpffs
    ensure_bpffs()
    path = Path("/sys/fs/bpf") / f"pybpf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


@pytest.fixture
def fd_count():
    def count() -> int:
        return len(os.listdir("/proc/self/fd"))
    return count


@pytest.fixture
def veth_netns():
    """veth pair: ``pybpf<N>a`` (root ns, 10.200.<N>.1) <-> ``eth0`` in netns (10.200.<N>.2)."""
    if not shutil.which("ip"):
        pytest.skip("iproute2 is not installed")
    n = (os.getpid() % 200) + 20
    ns = f"pybpf_ns_{os.getpid()}"
    host_if = f"pybpf{n}a"
    peer_if = f"pybpf{n}b"

    def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["ip", *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    ip("link", "del", host_if, check=False)       # leftovers of a killed earlier run
    ip("netns", "del", ns, check=False)
    try:
        ip("netns", "add", ns)
        ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        ip("link", "set", peer_if, "netns", ns)
        ip("addr", "add", f"10.200.{n}.1/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", ns, "addr", "add", f"10.200.{n}.2/24", "dev", peer_if)
        ip("-n", ns, "link", "set", peer_if, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        yield {"ns": ns, "host_if": host_if, "peer_if": peer_if,
               "host_ip": f"10.200.{n}.1", "peer_ip": f"10.200.{n}.2"}
    finally:
        ip("link", "del", host_if, check=False)
        ip("netns", "del", ns, check=False)
