"""The JIT's on-disk object cache: a second process runs a program from cached machine code
without generating IR, damaged entries are ignored, and PYBPF_JIT_CACHE=0 leaves no files."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import sys
    from pybpf.isa import assemble as asm
    from pybpf.vm.jit import make_machine
    from pybpf.vm.jit import machine as jit_machine
    if sys.argv[1] == "no-ir":
        def refuse(*a, **k):
            raise SystemExit("IR generation was called")
        jit_machine.generate = refuse
    m = make_machine(helpers={})
    prog = m.load("p", asm("""
        r0 = 1
        r2 = 10
        r0 *= 3
        r2 -= 1
        if r2 != 0x0 goto -0x3
        r0 += r1
        exit
    """))
    print(m.run(prog, 5))
''')


def run(cache: Path, mode: str = "compile", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                          env={**os.environ, "PYBPF_CACHE_DIR": str(cache), **env}, timeout=120)


def test_second_process_runs_from_the_cache_without_generating_ir(tmp_path) -> None:
    first = run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert int(first.stdout) == 3 ** 10 + 5                  # hand-checked
    assert len(list((tmp_path / "jit").glob("*.o"))) == 1
    second = run(tmp_path, "no-ir")
    assert second.returncode == 0, second.stderr + second.stdout
    assert second.stdout == first.stdout


def test_a_damaged_entry_is_ignored_and_recompiled(tmp_path) -> None:
    assert run(tmp_path).returncode == 0
    entry, = (tmp_path / "jit").glob("*.o")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    refused = run(tmp_path, "no-ir")                          # the damaged code is never loaded
    assert refused.returncode != 0 and "IR generation was called" in refused.stderr
    again = run(tmp_path)
    assert again.returncode == 0 and int(again.stdout) == 3 ** 10 + 5


def test_cache_off_writes_nothing(tmp_path) -> None:
    result = run(tmp_path, PYBPF_JIT_CACHE="0")
    assert result.returncode == 0 and int(result.stdout) == 3 ** 10 + 5
    assert not list(tmp_path.glob("jit/*.o"))


def test_the_cache_is_pruned_to_its_newest_entries(tmp_path, monkeypatch) -> None:
    from pybpf.vm.jit import objcache
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(objcache, "MAX_ENTRIES", 5)
    monkeypatch.setattr(objcache, "PRUNE_EVERY", 4)
    monkeypatch.setattr(objcache, "_stores", 0)
    for i in range(12):
        objcache.store(f"{i:064x}", b"object %d" % i)
        os.utime(tmp_path / "jit" / f"{i:064x}.o", (1000 + i, 1000 + i))
    kept = sorted(int(p.stem, 16) for p in (tmp_path / "jit").glob("*.o"))
    assert kept == [7, 8, 9, 10, 11]          # pruned at the 12th store to the 5 newest
    assert objcache.load(f"{11:064x}") == b"object 11"
