"""``pybpf prog list|show ID``: programs loaded in the kernel, like ``bpftool prog show``.

Reads ids and info through pybpf.kernel; prints, never modifies anything.
"""
from __future__ import annotations

import argparse
import json


def run_list(args: argparse.Namespace) -> int:
    from ..errors import KernelError
    from ..kernel.ids import prog_ids
    from ..kernel.programs import KernelProgram
    from ._kernel_fmt import prog_line

    rows = []
    ids = [args.id] if getattr(args, "id", None) is not None else list(prog_ids())
    for pid in ids:
        try:
            with KernelProgram.from_id(pid) as prog:
                rows.append(prog.info())
        except KernelError:
            if getattr(args, "id", None) is not None:
                raise
            continue                   # unloaded while we listed
    if args.json:
        print(json.dumps([{"id": i.id, "type": i.type, "name": i.name, "tag": i.tag,
                           "map_ids": list(i.map_ids), "btf_id": i.btf_id,
                           "xlated_len": i.xlated_len, "jited_len": i.jited_len} for i in rows]))
    else:
        for info in rows:
            print(prog_line(info))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prog", help="inspect programs loaded in the kernel")
    sub = parser.add_subparsers(dest="prog_command", metavar="VERB")
    for verb in ("list", "show"):
        p = sub.add_parser(verb, help="list loaded programs")
        p.add_argument("id", nargs="?", type=int, help="only this program id")
        p.add_argument("--json", "-j", action="store_true", help="JSON output")
        p.set_defaults(handler=run_list)
