"""``pybpf disasm``: print the instructions of a BPF ELF object (or a raw .bin) in llvm-objdump's syntax.

Reads section bytes and symbols with pyelftools only; it never applies relocations or loads anything.

Output format (like ``llvm-objdump-19 -d --no-show-raw-insn``)::

    Disassembly of section xdp:

    0000000000000000 <xdp_prog>:
           0:\tr0 = 0x2
           1:\texit

Each instruction line is the slot index right-aligned in 8 columns, ``:``, a tab, then the text of
:func:`pybpf.isa.disasm.format_instruction` (jump targets annotated ``<symbol+0xoff>``). With ``-r``
each relocation follows its instruction as llvm-objdump -r prints it
(``\t\t0000000000000038:  R_BPF_64_64\tcounts``), then its .BTF.ext CO-RE records
(``\t\t0000000000000018:  CO-RE <byte_off> [8] struct task_struct::pid (0:4)``).

``--bare`` prints only the instruction text (``# section NAME`` comments between sections), which
``pybpf asm`` reads back; ``--syntax conformance`` prints the bpf_conformance syntax instead.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BPFError, InstructionError, ObjectError
from ..isa.codec import decode, slot_offsets
from ..isa.disasm import disassemble, nearest_symbol
from ..isa.instruction import Instruction

EM_BPF = 247
SHF_EXECINSTR = 0x4
RELOC_TYPES = {0: "R_BPF_NONE", 1: "R_BPF_64_64", 2: "R_BPF_64_ABS64", 3: "R_BPF_64_ABS32",
               4: "R_BPF_64_NODYLD32", 10: "R_BPF_64_32"}


@dataclass
class CodeSection:
    """The bytes of one executable section and the symbols defined in it (byte offset -> name)."""
    name: str
    data: bytes
    symbols: dict[int, str] = field(default_factory=dict)
    functions: dict[int, str] = field(default_factory=dict)
    relocations: list[tuple[int, str, str]] = field(default_factory=list)   # (offset, type, symbol)
    core_relocations: list[tuple[int, str]] = field(default_factory=list)    # (offset, CO-RE text)


def read_code_sections(path: str | Path) -> list[CodeSection]:
    """Every non-empty executable section of a BPF ELF object, in file order."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    path = Path(path)
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            if elf["e_machine"] not in ("EM_BPF", EM_BPF):
                raise ObjectError(f"{path}: not a BPF object (machine {elf['e_machine']})")
            sections: dict[int, CodeSection] = {}
            for index, section in enumerate(elf.iter_sections()):
                if section["sh_flags"] & SHF_EXECINSTR and section["sh_type"] == "SHT_PROGBITS" \
                        and section["sh_size"]:
                    sections[index] = CodeSection(section.name, section.data())
            symtab = elf.get_section_by_name(".symtab")
            _read_relocations(elf, sections, symtab)
            _read_core_relocations(path, sections)
            if symtab is not None:
                for symbol in symtab.iter_symbols():
                    shndx = symbol["st_shndx"]
                    kind = symbol["st_info"]["type"]
                    if isinstance(shndx, int) and shndx in sections and symbol.name \
                            and kind in ("STT_FUNC", "STT_NOTYPE"):
                        sections[shndx].symbols.setdefault(symbol["st_value"], symbol.name)
                        if kind == "STT_FUNC":
                            sections[shndx].functions.setdefault(symbol["st_value"], symbol.name)
            return list(sections.values())
    except OSError as exc:
        raise ObjectError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ELFError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise ObjectError(f"{path}: not a valid ELF object (truncated or corrupt: "
                          f"{exc or type(exc).__name__})") from None
    except Exception as exc:   # pyelftools raises assorted errors on truncated files
        if isinstance(exc, BPFError):
            raise
        raise ObjectError(f"{path}: not a valid ELF object (truncated or corrupt: "
                          f"{type(exc).__name__}: {exc})") from None


def _read_relocations(elf: Any, sections: dict[int, CodeSection], symtab: Any) -> None:
    """Fill each code section's relocations from the SHT_REL section that targets it."""
    if symtab is None:
        return
    for rel in elf.iter_sections():
        if rel["sh_type"] not in ("SHT_REL", "SHT_RELA") or rel["sh_info"] not in sections:
            continue
        for entry in rel.iter_relocations():
            symbol = symtab.get_symbol(entry["r_info_sym"])
            name = symbol.name
            if symbol["st_info"]["type"] == "STT_SECTION":
                name = elf.get_section(symbol["st_shndx"]).name
            kind = RELOC_TYPES.get(entry["r_info_type"], f"R_BPF_{entry['r_info_type']}")
            sections[rel["sh_info"]].relocations.append((entry["r_offset"], kind, name))


def _read_core_relocations(path: Path, sections: dict[int, CodeSection]) -> None:
    """Add .BTF.ext CO-RE records (llvm-objdump -r lists them after the ELF relocations)."""
    from .disasm_core import core_relocations
    by_name = {s.name: s for s in sections.values()}
    try:
        records = core_relocations(path.read_bytes(), str(path))
    except (BPFError, IndexError, KeyError, ValueError, AttributeError):
        return          # a malformed .BTF/.BTF.ext only loses the CO-RE annotations, not the listing
    for name, items in records.items():
        if name in by_name:
            by_name[name].core_relocations.extend(items)


def decode_section(section: CodeSection, path: str | Path = "") -> list[Instruction]:
    try:
        return decode(section.data)
    except InstructionError as exc:
        raise InstructionError(f"{path}: section {section.name}: {exc}") from None


def section_listing(section: CodeSection, insns: list[Instruction], *, alu32: bool = False,
                    llvm_exact: bool = False, relocations: bool = False,
                    helper_names: bool = False) -> list[str]:
    """The lines ``pybpf disasm`` prints for one section (function headers included)."""
    texts = disassemble(insns, alu32=alu32, llvm_exact=llvm_exact,
                        symbolize=nearest_symbol(section.symbols), helper_names=helper_names)
    relocs: dict[int, list[str]] = {}
    for offset, kind, symbol in sorted(section.relocations) if relocations else []:
        relocs.setdefault(offset // 8, []).append(f"\t\t{offset:016x}:  {kind}\t{symbol}")
    for offset, text in section.core_relocations if relocations else []:
        relocs.setdefault(offset // 8, []).append(f"\t\t{offset:016x}:  {text}")
    out = []
    for insn_text, slot, insn in zip(texts, slot_offsets(insns), insns):
        name = section.functions.get(slot * 8)
        if name is not None:
            out += ["", f"{slot * 8:016x} <{name}>:"]
        out.append(f"{slot:8d}:\t{insn_text}")
        for at in range(slot, slot + insn.slots):
            out += relocs.get(at, [])
    return out


def _print_section(section: CodeSection, insns: list[Instruction], args: argparse.Namespace) -> None:
    if args.syntax == "conformance":
        from ..isa.disasm_conformance import disassemble_conformance
        texts = disassemble_conformance(insns)
        lines = texts if args.bare else [f"{slot:8d}:\t{text}" for slot, text
                                         in zip(slot_offsets(insns), texts)]
    elif args.bare:
        lines = disassemble(insns, alu32=args.alu32, llvm_exact=args.llvm_exact,
                            helper_names=args.helpers)
    else:
        lines = section_listing(section, insns, alu32=args.alu32, llvm_exact=args.llvm_exact,
                                relocations=args.reloc, helper_names=args.helpers)
    for line in lines:
        print(line)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.raw:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ObjectError(f"{path}: cannot read: {exc.strerror or exc}") from None
        section = CodeSection("raw", data)
        _print_section(section, decode_section(section, path), args)
        return 0
    sections = read_code_sections(path)
    if args.section:
        sections = [s for s in sections if s.name == args.section]
        if not sections:
            raise ObjectError(f"{path}: no executable section named {args.section!r}")
    if not args.bare:
        print(f"\n{args.file}:\tfile format elf64-bpf")
    for section in sections:
        insns = decode_section(section, path)
        print(f"# section {section.name}" if args.bare else f"\nDisassembly of section {section.name}:")
        _print_section(section, insns, args)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "disasm", help="disassemble a BPF object or raw instruction file",
        description="Print instructions in llvm-objdump's BPF syntax, prefixed by the slot index.")
    parser.add_argument("file", help="BPF ELF object (.o), or raw instructions with --raw")
    parser.add_argument("--section", "-j", help="only this section")
    parser.add_argument("--raw", action="store_true", help="FILE is raw little-endian instructions")
    parser.add_argument("-r", "--reloc", action="store_true",
                        help="show relocations after the instructions they patch")
    parser.add_argument("--alu32", action="store_true",
                        help="print sub-register loads/stores as w registers (llvm --mcpu=v3)")
    parser.add_argument("--llvm-exact", action="store_true",
                        help="spell calls and ld_pseudo exactly as llvm-objdump (lossy)")
    parser.add_argument("--syntax", choices=("llvm", "conformance"), default="llvm",
                        help="llvm-objdump syntax (default) or bpf_conformance syntax")
    parser.add_argument("--helpers", action="store_true",
                        help="annotate helper calls with their names (call 0x1 <bpf_map_lookup_elem>)")
    parser.add_argument("--bare", action="store_true",
                        help="instruction text only (no slot numbers or headers): input for 'pybpf asm'")
    parser.set_defaults(handler=run)


def main(argv: list[str] | None = None) -> int:
    from .main import main as cli_main
    return cli_main(["disasm", *(argv if argv is not None else sys.argv[1:])])
