"""Helpers for tests/isa: run llvm-objdump-19 / llvm-mc-19 and parse their BPF output.

Test support only: it runs the LLVM tools in a temporary directory and never touches the kernel.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

OBJDUMP = "llvm-objdump-19"
LLVM_MC = "llvm-mc-19"
_LINE = re.compile(r"^\s*(\d+):\t(.*)$")
_SECTION = re.compile(r"^Disassembly of section (.*):$")
CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus" / "isa"
FAR_JUMP = CORPUS_DIR / "far_jump.c"          # 24000 instructions: compiled at v4 only
CORPUS = sorted(p for p in CORPUS_DIR.glob("*.c") if p != FAR_JUMP)
MCPUS = ("v1", "v2", "v3", "v4")


def need(tool: str) -> str:
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")
    return tool


def objdump(path: Path, *extra: str) -> dict[str, list[tuple[int, str]]]:
    """{section: [(slot, text), ...]} from ``llvm-objdump-19 -d --no-show-raw-insn``."""
    proc = subprocess.run([need(OBJDUMP), "-d", "--no-show-raw-insn", *extra, str(path)],
                          capture_output=True, text=True, check=True)
    out: dict[str, list[tuple[int, str]]] = {}
    current = None
    for line in proc.stdout.splitlines():
        if (m := _SECTION.match(line)):
            current = out.setdefault(m.group(1), [])
        elif current is not None and (m := _LINE.match(line)):
            current.append((int(m.group(1)), m.group(2)))
    return out


def bytes_to_object(code: bytes, workdir: Path, mcpu: str = "v4") -> Path:
    """Wrap raw instruction bytes in a BPF ELF object (one .text section, symbol f) via llvm-mc."""
    src = workdir / "code.s"
    lines = [".text", ".globl f", "f:"]
    for i in range(0, len(code), 8):
        lines.append(".byte " + ",".join(str(b) for b in code[i:i + 8]))
    src.write_text("\n".join(lines) + "\n")
    obj = workdir / "code.o"
    subprocess.run([need(LLVM_MC), "-triple", "bpfel", f"-mcpu={mcpu}", "-filetype=obj",
                    str(src), "-o", str(obj)], check=True, capture_output=True)
    return obj


def llvm_disassemble(code: bytes, *extra: str) -> list[str]:
    """llvm-objdump's text for each instruction of raw code (target annotations stripped)."""
    with tempfile.TemporaryDirectory() as tmp:
        obj = bytes_to_object(code, Path(tmp))
        lines = objdump(obj, *extra).get(".text", [])
    return [re.sub(r" <[^<>]*>$", "", text) for _, text in lines]


def llvm_assemble(text: str) -> bytes:
    """The .text bytes llvm-mc-19 produces for llvm-syntax assembly."""
    from elftools.elf.elffile import ELFFile
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "a.s"
        src.write_text(".text\n" + text + "\n")
        obj = Path(tmp) / "a.o"
        subprocess.run([need(LLVM_MC), "-triple", "bpfel", "-mcpu=v4", "-filetype=obj",
                        str(src), "-o", str(obj)], check=True, capture_output=True)
        with open(obj, "rb") as stream:
            return ELFFile(stream).get_section_by_name(".text").data()
