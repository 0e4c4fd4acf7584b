"""``pybpf asm``: assemble a text file (bpf_conformance or llvm-objdump syntax) into raw instructions.

Writes only the output file it is given (or stdout with ``-o -``); it never loads anything.
A ``.data`` file is read as a bpf_conformance test case (its ``-- raw`` bytes, else its ``-- asm``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import AssemblerError
from ..isa.asm import assemble
from ..isa.codec import encode
from ..isa.conformance import parse_case


def run(args: argparse.Namespace) -> int:
    source = Path(args.file)
    try:
        if source.suffix == ".data":                      # a bpf_conformance test case
            code = encode(parse_case(source).instructions())   # validates -- raw too
        else:
            text = sys.stdin.read() if args.file == "-" else source.read_text()
            code = encode(assemble(text))
    except (OSError, UnicodeDecodeError) as exc:
        raise AssemblerError(f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except AssemblerError as exc:     # one line, compiler style: FILE:LINE:COLUMN: message
        where = ":".join(str(part) for part in (source, exc.line, exc.column) if part is not None)
        raise AssemblerError(f"{where}: {getattr(exc, 'reason', str(exc).splitlines()[0])}") from None
    if args.output == "-":
        sys.stdout.buffer.write(code)
        sys.stdout.buffer.flush()
        return 0
    output = Path(args.output) if args.output else source.with_suffix(".bin")
    try:
        output.write_bytes(code)
    except OSError as exc:
        raise AssemblerError(f"{output}: cannot write: {exc.strerror or exc}") from None
    if args.verbose:
        print(f"{output}: {len(code) // 8} slots", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "asm", help="assemble BPF assembly text into raw instructions",
        description="Assemble bpf_conformance-style (mov32 %%r0, 1) or llvm-objdump-style "
                    "(w0 = 1) assembly into little-endian instruction bytes.")
    parser.add_argument("file", help="assembly source ('-' for stdin), or a bpf_conformance .data file")
    parser.add_argument("-o", "--output", help="output file (default FILE.bin; '-' for stdout)")
    parser.add_argument("-v", "--verbose", action="store_true", help="report the slot count")
    parser.set_defaults(handler=run)
