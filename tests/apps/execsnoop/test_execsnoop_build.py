"""Building bpf/execsnoop.bpf.c: with pybpf's vmlinux.h when there is kernel BTF, else without."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf.apps.execsnoop.build import VMLINUX_BTF, compile_object, vmlinux_header_dir


def test_no_kernel_btf_means_no_vmlinux_header(tmp_path):
    assert vmlinux_header_dir(tmp_path / "absent") is None


def _task_struct_size_in(obj: Path) -> int:
    dump = subprocess.run(["bpftool", "btf", "dump", "file", str(obj)], capture_output=True,
                          text=True, check=True).stdout
    sizes = [int(line.split("size=")[1].split()[0]) for line in dump.splitlines()
             if "STRUCT 'task_struct' size=" in line]
    assert len(sizes) == 1
    return sizes[0]


def test_object_uses_the_full_kernel_task_struct_when_vmlinux_h_is_available():
    if not VMLINUX_BTF.exists() or not shutil.which("bpftool"):
        pytest.skip("needs /sys/kernel/btf/vmlinux and bpftool")
    kernel = subprocess.run(["bpftool", "btf", "dump", "file", str(VMLINUX_BTF)],
                            capture_output=True, text=True, check=True).stdout
    kernel_size = int(next(line for line in kernel.splitlines()
                           if "STRUCT 'task_struct' size=" in line).split("size=")[1].split()[0])
    assert _task_struct_size_in(compile_object()) == kernel_size
    # without vmlinux.h the object declares only the two fields it reads (CO-RE fixes offsets)
    assert _task_struct_size_in(compile_object(use_vmlinux_h=False)) == 16
