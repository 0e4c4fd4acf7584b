"""`pybpf obj info/relocate`: the command-line view of an object, checked against llvm-readelf-19
and the hand-built foreign BTF layout."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from pybpf.btf import BTF


def _pybpf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf", *args], capture_output=True, text=True,
                          timeout=120)


def test_obj_info_lists_the_entry_functions_llvm_readelf_sees(corpus_object):
    if shutil.which("llvm-readelf-19") is None:
        pytest.skip("llvm-readelf-19 is not installed")
    obj = corpus_object("core_calls.bpf.c")
    proc = _pybpf("obj", "info", "--json", str(obj))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    readelf = subprocess.run(["llvm-readelf-19", "-s", "-S", "--wide", str(obj)],
                             capture_output=True, text=True, check=True).stdout
    text_index = None
    for line in readelf.splitlines():
        if line.strip().startswith("[") and " .text " in line:
            text_index = line.split("]")[0].strip(" [")
    funcs = {parts[7] for line in readelf.splitlines()
             for parts in [line.split()] if len(parts) == 8 and parts[3] == "FUNC"
             and parts[4] == "GLOBAL" and parts[6] != text_index}
    assert set(info["programs"]) == funcs


def test_obj_relocate_reports_offsets_from_the_given_btf(corpus_object, tmp_path):
    btf = BTF()
    s32 = btf.add_int("int", 4, signed=True)
    btf.add_struct("task_struct", 64, [("tgid", s32, 0), ("pid", s32, 40 * 8)])
    path = tmp_path / "target.btf"
    path.write_bytes(btf.to_bytes())
    proc = _pybpf("obj", "relocate", str(corpus_object("core_calls.bpf.c")), "--btf", str(path),
                  "--program", "count_calls")
    assert proc.returncode == 0, proc.stderr
    assert "struct task_struct.pid (0:1 @ offset 40): 20 -> 40" in proc.stdout


def test_obj_info_on_a_non_bpf_file_prints_one_error_line(tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    proc = _pybpf("obj", "info", str(bad))
    assert proc.returncode == 1
    assert proc.stderr.startswith("pybpf: error:") and "Traceback" not in proc.stderr
