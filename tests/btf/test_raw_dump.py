"""``format raw`` listings: identical text to ``bpftool btf dump file X format raw``."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pybpf.btf import BTF
from pybpf.btf.raw_dump import dump_raw


def test_raw_dump_of_corpus_objects_is_identical_to_bpftool(corpus_objects, bpftool_raw):
    for path in corpus_objects.values():
        assert dump_raw(BTF.from_file(path)) == bpftool_raw(path), path.name


def test_raw_dump_of_vmlinux_is_identical_to_bpftool(vmlinux_btf, vmlinux_raw_text):
    ours = dump_raw(vmlinux_btf).splitlines()
    theirs = vmlinux_raw_text.splitlines()
    assert len(ours) == len(theirs)
    mismatches = [(a, b) for a, b in zip(ours, theirs) if a != b]
    assert mismatches == []


def test_cli_btf_dump_raw_matches_bpftool(zoo_object, bpftool_raw):
    proc = subprocess.run([sys.executable, "-m", "pybpf", "btf", "dump", str(zoo_object),
                           "--format", "raw"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == bpftool_raw(zoo_object)


def test_cli_btf_dump_of_garbage_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"\x9f\xeb\x01\x00" + b"\xff" * 40)
    proc = subprocess.run([sys.executable, "-m", "pybpf", "btf", "dump", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("pybpf: error:") and "Traceback" not in proc.stderr


@pytest.mark.kernel
def test_cli_dumps_a_kernel_btf_object_by_id_like_bpftool(bpftool):
    listing = subprocess.run([bpftool, "btf", "list"], check=True, capture_output=True,
                             text=True).stdout
    btf_id = next(line.split(":")[0] for line in listing.splitlines() if "[vmlinux]" in line)
    ours = subprocess.run([sys.executable, "-m", "pybpf", "btf", "dump", "--id", btf_id,
                           "--name", "task_struct"], capture_output=True, text=True)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run([bpftool, "btf", "dump", "id", btf_id, "format", "raw"],
                            check=True, capture_output=True, text=True).stdout
    assert ours.stdout.startswith("[") and ours.stdout in theirs
