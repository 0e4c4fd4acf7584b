"""``pybpf load OBJ [--pin DIR]``: load every map and program of an object into the kernel.

With --pin the maps and programs stay alive pinned under DIR (like ``bpftool prog loadall``),
--attach also auto-attaches them by section and pins the links (``link_<prog>``); without --pin
the object is verified, summarised and unloaded. Argument parsing and printing only.
"""
from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..kernel import Collection
    from ..obj import load_object
    from ._kernel_fmt import prog_line

    spec = load_object(args.object)
    for assignment in args.set or []:
        name, _, value = assignment.partition("=")
        spec.rodata[name] = int(value, 0) if value.lstrip("-").isdigit() or \
            value.startswith("0x") else value
    with Collection(spec, log_level=1 if args.verbose else 0) as coll:
        for warning in coll.warnings:
            print(f"warning: {warning}")
        for name, prog in coll.programs.items():
            print(prog_line(prog.info()))
            if args.verbose and prog.verifier_log:
                print(prog.verifier_log.rstrip())
        for name, m in coll.maps.items():
            print(f"map {name}: {m.type.name.lower()} id {m.id}")
        if args.attach and not args.pin:
            from ..errors import BPFError
            raise BPFError("--attach needs --pin DIR (the links must outlive this command)")
        if args.pin:
            coll.pin(args.pin)
            print(f"pinned {len(coll.maps)} map(s) and {len(coll.programs)} program(s) "
                  f"under {args.pin}")
        if args.attach:
            import os
            for name, prog in coll.programs.items():
                link = prog.attach()
                path = os.path.join(args.pin, f"link_{name}")
                link.pin(path)
                print(f"attached {name} ({link.description}), link pinned at {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load", help="load a BPF object into the kernel (optionally pinning it)",
        description="Create the object's maps and load its programs with bpf(2).")
    parser.add_argument("object", help="clang-compiled BPF ELF object")
    parser.add_argument("--pin", metavar="DIR", help="pin maps and programs under DIR (bpffs)")
    parser.add_argument("--attach", action="store_true",
                        help="auto-attach every program by section and pin its link (needs --pin)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="set a .rodata constant before loading (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print verifier logs")
    parser.set_defaults(handler=run)
