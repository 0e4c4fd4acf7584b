"""Fixtures for execsnoop tests: the C exec-burst helper and the tiny static program it execs.

Builds the C burst helpers with gcc into a temporary directory; never leaves processes running.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def burst_tools(tmp_path_factory):
    """(burst, tiny): the fork/exec burst helper and the tiny static program it execs (its file
    name, hence its comm, is unique to this session)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (needed to build the exec burst helper)")
    out = tmp_path_factory.mktemp("execsnoop_bin")
    # a command name unique to this test session, so concurrent runs never see each other's execs
    burst, tiny = out / "burst", out / f"pybpf_t{os.getpid():07d}"     # 14 chars: a full comm
    subprocess.run([gcc, "-O2", "-o", str(burst), str(HERE / "burst.c")], check=True)
    subprocess.run([gcc, "-O2", "-static", "-nostdlib", "-o", str(tiny), str(HERE / "tiny.c")],
                   check=True)
    return burst, tiny
