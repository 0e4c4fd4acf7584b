"""A thin, validated view of a BPF ELF file: sections, symbols and relocations (via pyelftools).

Only reads bytes and checks their shape; it never interprets BPF semantics and never raises
anything but ObjectError for bad input.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError, ELFParseError, ELFRelocationError
from elftools.elf.elffile import ELFFile

from ..errors import ObjectError

EM_BPF = 247
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_REL = 9
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2

_ELF_ERRORS = (ELFError, ELFParseError, ELFRelocationError, struct.error, ValueError,
               IndexError, KeyError, UnicodeDecodeError, AttributeError, TypeError,
               AssertionError, OverflowError, MemoryError, RecursionError, EOFError)


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    size: int
    link: int
    info: int
    data: bytes          # b"" for NOBITS (.bss): ``size`` still holds its length

    @property
    def is_code(self) -> bool:
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str            # "STT_FUNC", "STT_OBJECT", "STT_SECTION", "STT_NOTYPE", ...
    bind: str            # "STB_LOCAL", "STB_GLOBAL", "STB_WEAK"
    visibility: str
    shndx: int           # SHN_UNDEF for externs

    @property
    def is_extern(self) -> bool:
        return self.shndx == SHN_UNDEF and self.bind in ("STB_GLOBAL", "STB_WEAK") and bool(
            self.name)


@dataclass(frozen=True)
class Relocation:
    offset: int          # byte offset in the target section
    symbol: int          # index into ElfView.symbols
    type: int


@dataclass
class ElfView:
    """Everything load_object needs from the ELF file, already decoded."""
    path: str
    sections: list[Section]
    symbols: list[Symbol]
    relocations: dict[int, list[Relocation]] = field(default_factory=dict)  # by target shndx

    def section_by_name(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section(self, index: int) -> Section | None:
        if 0 <= index < len(self.sections):
            return self.sections[index]
        return None

    def symbol(self, index: int, *, where: str) -> Symbol:
        if not 0 <= index < len(self.symbols):
            raise ObjectError(f"{self.path}: {where}: relocation names symbol #{index}, but the "
                              f"symbol table has {len(self.symbols)} entries")
        return self.symbols[index]


def read_elf(data: bytes, path: str) -> ElfView:
    """Decode the parts of a BPF ELF object that pybpf uses; ObjectError for anything malformed."""
    if data[:4] != b"\x7fELF":
        raise ObjectError(f"{path}: not an ELF file (bad magic {data[:4]!r})")
    try:
        return _read(data, path)
    except ObjectError:
        raise
    except _ELF_ERRORS as exc:
        raise ObjectError(f"{path}: malformed ELF: {type(exc).__name__}: {exc}") from None


def _read(data: bytes, path: str) -> ElfView:
    elf = ELFFile(io.BytesIO(data))
    if elf.elfclass != 64:
        raise ObjectError(f"{path}: ELF class {elf.elfclass}, BPF objects are 64-bit")
    if not elf.little_endian:
        raise ObjectError(f"{path}: big-endian BPF objects are not supported")
    machine = elf.header["e_machine"]
    if machine not in ("EM_BPF", EM_BPF):
        raise ObjectError(f"{path}: e_machine is {machine}, not EM_BPF")
    nsec = elf.num_sections()
    if nsec > 65535:
        raise ObjectError(f"{path}: {nsec} sections is implausible")
    sections: list[Section] = []
    symtab_index = None
    for index in range(nsec):
        raw = elf.get_section(index)
        hdr = raw.header
        sh_type = _section_type(hdr["sh_type"])
        size = int(hdr["sh_size"])
        if sh_type == SHT_NOBITS or index == 0:
            content = b""
        else:
            offset = int(hdr["sh_offset"])
            if offset + size > len(data):
                raise ObjectError(f"{path}: section #{index} ({raw.name!r}) extends past the end "
                                  f"of the file ({offset}+{size} > {len(data)} bytes)")
            content = data[offset:offset + size]
        sections.append(Section(index, raw.name, sh_type, int(hdr["sh_flags"]), size,
                                int(hdr["sh_link"]), int(hdr["sh_info"]), content))
        if sh_type == SHT_SYMTAB:
            if symtab_index is not None:
                raise ObjectError(f"{path}: more than one symbol table")
            symtab_index = index
    symbols: list[Symbol] = []
    if symtab_index is not None:
        symtab = elf.get_section(symtab_index)
        if int(symtab.header["sh_entsize"]) != 24:
            raise ObjectError(f"{path}: symbol table entry size {symtab.header['sh_entsize']}, "
                              f"expected 24")
        for i in range(symtab.num_symbols()):
            sym = symtab.get_symbol(i)
            info = sym["st_info"]
            shndx = sym["st_shndx"]
            if isinstance(shndx, str):
                shndx = {"SHN_UNDEF": SHN_UNDEF, "SHN_ABS": SHN_ABS,
                         "SHN_COMMON": SHN_COMMON}.get(shndx, SHN_LORESERVE)
            symbols.append(Symbol(i, sym.name, int(sym["st_value"]), int(sym["st_size"]),
                                  str(info["type"]), str(info["bind"]),
                                  str(sym["st_other"]["visibility"]), int(shndx)))
    relocations: dict[int, list[Relocation]] = {}
    for sec in sections:
        if sec.type != SHT_REL:
            continue
        if sec.link != symtab_index:
            raise ObjectError(f"{path}: relocation section {sec.name!r} does not use the symbol "
                              f"table")
        if sec.size % 16:
            raise ObjectError(f"{path}: relocation section {sec.name!r} size {sec.size} is not a "
                              f"multiple of 16")
        target = sec.info
        if not 0 < target < len(sections):
            raise ObjectError(f"{path}: relocation section {sec.name!r} targets section "
                              f"#{target}, which does not exist")
        rels = relocations.setdefault(target, [])
        for off, info in struct.iter_unpack("<QQ", sec.data):
            rels.append(Relocation(off, info >> 32, info & 0xFFFFFFFF))
    return ElfView(path, sections, symbols, relocations)


def _section_type(value: object) -> int:
    if isinstance(value, int):
        return value
    names = {"SHT_NULL": 0, "SHT_PROGBITS": SHT_PROGBITS, "SHT_SYMTAB": SHT_SYMTAB,
             "SHT_STRTAB": 3, "SHT_RELA": 4, "SHT_NOBITS": SHT_NOBITS, "SHT_REL": SHT_REL,
             "SHT_LLVM_ADDRSIG": 0x6FFF4C03}
    return names.get(str(value), 0x7FFFFFFF)
