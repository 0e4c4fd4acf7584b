"""Uprobe targets: find a binary and turn an ELF symbol into the file offset the uprobe PMU wants.

Reads the target's symbol table and program headers with pyelftools; never parses BPF objects.
"""
from __future__ import annotations

import os
import shutil

from ..errors import KernelError

LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
            "/usr/lib", "/usr/local/lib")


def resolve_binary(path: str) -> str:
    """An absolute path for ``path`` (absolute, relative, a library name, or a program on PATH)."""
    if os.sep in path:
        full = os.path.abspath(path)
        if not os.path.isfile(full):
            raise KernelError(f"uprobe target {path} does not exist")
        return full
    for directory in LIB_DIRS:
        candidate = os.path.join(directory, path)
        if os.path.isfile(candidate):
            return candidate
    found = shutil.which(path)
    if found:
        return os.path.abspath(found)
    raise KernelError(f"uprobe target {path!r} not found in library directories or PATH")


def symbol_file_offsets(binary: str, pattern: str) -> dict[str, int]:
    """File offsets of every function symbol whose name matches the glob ``pattern``."""
    import fnmatch

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    names: set[str] = set()
    try:
        with open(binary, "rb") as f:
            elf = ELFFile(f)
            for section_name in (".symtab", ".dynsym"):
                table = elf.get_section_by_name(section_name)
                if table is None:
                    continue
                for sym in table.iter_symbols():
                    if sym["st_value"] and sym["st_info"]["type"] in ("STT_FUNC",
                                                                        "STT_GNU_IFUNC") \
                            and fnmatch.fnmatchcase(sym.name, pattern):
                        names.add(sym.name)
    except (ELFError, OSError) as exc:
        raise KernelError(f"cannot read ELF symbols of {binary}: {exc}") from None
    if not names:
        raise KernelError(f"no function matching {pattern!r} in {binary}")
    return {name: symbol_file_offset(binary, name) for name in sorted(names)}


def symbol_file_offset(binary: str, symbol: str) -> int:
    """File offset of ``symbol`` (``name`` or ``name+off``): st_value translated through PT_LOAD."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    name, _, extra = symbol.partition("+")
    try:
        extra_off = int(extra, 0) if extra else 0
    except ValueError:
        raise KernelError(f"bad uprobe symbol offset in {symbol!r}") from None
    try:
        with open(binary, "rb") as f:
            elf = ELFFile(f)
            vaddr = None
            for section_name in (".symtab", ".dynsym"):
                table = elf.get_section_by_name(section_name)
                if table is None:
                    continue
                for sym in table.iter_symbols():
                    if sym.name == name and sym["st_value"] and \
                            sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC", "STT_NOTYPE"):
                        vaddr = sym["st_value"]
                        break
                if vaddr is not None:
                    break
            if vaddr is None:
                raise KernelError(f"symbol {name!r} not found in {binary}")
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_flags"] & 1 and \
                        seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]:
                    return vaddr - seg["p_vaddr"] + seg["p_offset"] + extra_off
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and \
                        seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]:
                    return vaddr - seg["p_vaddr"] + seg["p_offset"] + extra_off
            return vaddr + extra_off          # relocatable object: value is already an offset
    except (ELFError, OSError) as exc:
        raise KernelError(f"cannot read ELF symbols of {binary}: {exc}") from None
