"""Every BPF C source in the repository (bpf/*.c, tests/corpus/**, tests/kernel/progs) loads into the
kernel through pybpf.kernel.Collection, and bpftool sees exactly the programs and maps we created."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import KernelVerifierError
from pybpf.kernel import Collection

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
# Sources the kernel must refuse: a bad access, and CO-RE relocations against types no kernel has
# (pybpf poisons them as libbpf does, so the verifier rejects the first poisoned instruction).
MUST_FAIL = {"bad_access.bpf.c", "core_relocs.c"}
SOURCES = sorted(
    [p for p in (REPO / "bpf").glob("*.c")]
    + [p for p in (REPO / "tests" / "corpus").rglob("*.c")]
    + [p for p in (REPO / "tests" / "kernel" / "progs").glob("*.c")],
    key=lambda p: str(p.relative_to(REPO)))


@pytest.fixture(scope="module")
def vmlinux_h(tmp_path_factory, bpftool):
    """Sources that include "vmlinux.h" get one generated from the running kernel by bpftool."""
    inc = tmp_path_factory.mktemp("vmlinux")
    with open(inc / "vmlinux.h", "w") as f:
        subprocess.run([bpftool.path, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format",
                        "c"], stdout=f, check=True)
    return inc


@pytest.mark.parametrize("source", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_corpus_object_loads_and_bpftool_sees_it(source, compile_bpf, bpftool, vmlinux_h, bpffs_dir):
    needs_vmlinux = '#include "vmlinux.h"' in source.read_text()
    obj = compile_bpf(source, include_dirs=[vmlinux_h]) if needs_vmlinux else compile_bpf(source)
    spec = pybpf.load_object(str(obj))
    if source.name in MUST_FAIL:
        with pytest.raises(KernelVerifierError) as refused:
            Collection(spec, pin_path=str(bpffs_dir))
        if source.name == "core_relocs.c":          # the error explains which relocation failed
            assert "POISONED (the target BTF has no struct 'outer')" in str(refused.value)
        return
    # pin-by-name maps go to a per-test directory, not the shared /sys/fs/bpf default
    with Collection(spec, pin_path=str(bpffs_dir)) as coll:
        assert set(coll.programs) == set(spec.programs)
        for name, prog in coll.programs.items():
            info = prog.info()
            shown = bpftool("prog", "show", "id", str(info.id))
            assert shown["name"] in (name, name[:15])      # bpftool prefers the BTF name
            assert sorted(shown.get("map_ids", [])) == sorted(info.map_ids)
            used = {coll.maps[m].id for m in spec.programs[name].map_refs}
            assert used <= set(info.map_ids)
