"""A minimal ELF section reader: return one named section's bytes (.BTF, .BTF.ext) from ELF data.

Reads section headers only; never interprets symbols or relocations (pybpf.obj does that), and
raises BTFError for any malformed header instead of IndexError/struct.error.
"""
from __future__ import annotations

import struct

from ..errors import BTFError

SHT_NOBITS = 8


def list_sections(data: bytes, source: str = "<ELF>") -> dict[str, tuple[int, int]]:
    """Map section name -> (file offset, size) for every section with contents."""
    if data[:4] != b"\x7fELF" or len(data) < 52:
        raise BTFError(f"{source}: not an ELF file")
    elf_class, elf_data = data[4], data[5]
    if elf_class not in (1, 2) or elf_data not in (1, 2):
        raise BTFError(f"{source}: bad ELF class/data bytes {elf_class}/{elf_data}")
    e = "<" if elf_data == 1 else ">"
    is64 = elf_class == 2
    try:
        if is64:
            shoff, = struct.unpack_from(e + "Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
            sh_fmt = e + "IIQQQQIIQQ"
        else:
            shoff, = struct.unpack_from(e + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
            sh_fmt = e + "IIIIIIIIII"
        if shnum == 0 and shoff:        # more than 0xff00 sections: the count is in section 0
            shnum = struct.unpack_from(sh_fmt, data, shoff)[5]
        if shentsize < struct.calcsize(sh_fmt) or shoff + shnum * shentsize > len(data):
            raise BTFError(f"{source}: ELF section header table is out of bounds")
        headers = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
        if not headers:
            return {}
        if shstrndx >= len(headers):
            raise BTFError(f"{source}: ELF section-name table index {shstrndx} is out of range")
        str_off, str_size = headers[shstrndx][4], headers[shstrndx][5]
        names = data[str_off:str_off + str_size]
        out: dict[str, tuple[int, int]] = {}
        for h in headers:
            name_off, sh_type, offset, size = h[0], h[1], h[4], h[5]
            end = names.find(b"\0", name_off)
            if name_off >= len(names) or end < 0:
                continue
            name = names[name_off:end].decode("utf-8", "replace")
            if sh_type == SHT_NOBITS:
                continue
            if offset + size > len(data):
                raise BTFError(f"{source}: ELF section {name} runs past the end of the file")
            out.setdefault(name, (offset, size))
        return out
    except struct.error:
        raise BTFError(f"{source}: truncated ELF headers") from None


def find_btf_section(data: bytes, source: str = "<ELF>", name: str = ".BTF") -> bytes | None:
    """The bytes of section ``name``, or None when the ELF file has no such section."""
    sections = list_sections(data, source)
    if name not in sections:
        return None
    offset, size = sections[name]
    return data[offset:offset + size]
