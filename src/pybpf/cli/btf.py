"""``pybpf btf dump FILE [--format raw|c]``: list BTF types (bpftool raw format) or emit a C header.

Argument parsing and printing only; the work lives in pybpf.btf (never decodes BTF itself).
"""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    btf = subparsers.add_parser("btf", help="inspect BTF type information")
    verbs = btf.add_subparsers(dest="btf_command", metavar="VERB")
    dump = verbs.add_parser("dump", help="dump the BTF of a raw BTF file or an ELF object")
    dump.add_argument("file", nargs="?",
                      help="raw BTF (e.g. /sys/kernel/btf/vmlinux) or ELF with .BTF")
    dump.add_argument("--id", dest="btf_id", type=int, metavar="BTF_ID",
                      help="dump a BTF object loaded in the kernel instead of a file")
    dump.add_argument("--format", choices=("raw", "c"), default="raw",
                      help="raw: like 'bpftool btf dump format raw'; c: a vmlinux.h-style header")
    dump.add_argument("--base", help="base BTF for split BTF (kernel modules)")
    dump.add_argument("--type", dest="type_ids", type=int, action="append", metavar="ID",
                      help="only these type ids (repeatable)")
    dump.add_argument("--name", dest="names", action="append", metavar="NAME",
                      help="only the types with this name (repeatable)")
    dump.set_defaults(handler=_dump)
    btf.set_defaults(handler=lambda args: (btf.print_help(), 2)[1])


def _dump(args: argparse.Namespace) -> int:
    from ..btf import BTF

    from ..errors import BTFError
    base = BTF.from_file(args.base) if args.base else None
    if args.btf_id is not None:
        from ..kernel.ids import btf_by_id
        btf = btf_by_id(args.btf_id)
    elif args.file:
        btf = BTF.from_file(args.file, base)
    else:
        raise BTFError("give a BTF file or --id BTF_ID")
    type_ids = list(args.type_ids or [])
    for name in args.names or []:
        found = btf.find(name)
        if not found:
            raise BTFError(f"{args.file or args.btf_id}: no type named {name!r}")
        type_ids += [t.id for t in found]
    type_ids = type_ids or None
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace")   # names that are not UTF-8
    if args.format == "c":
        from ..btf.c_dump import dump_c
        out.write(dump_c(btf, type_ids))
    else:
        from ..btf.raw_dump import iter_raw
        for text in iter_raw(btf, type_ids):
            out.write(text + "\n")
    out.flush()
    return 0
