"""``pybpf pin list [DIR]`` and ``pybpf pin rm PATH``: what is pinned on bpffs, and unpinning.

Only reads bpffs entries (opening each pin to identify it) or unlinks a path that is on bpffs.
"""
from __future__ import annotations

import argparse
import os


def _describe(path: str) -> str:
    from ..errors import KernelError
    from ..kernel.maps import map_info_from_fd
    from ..kernel.fd import bpf_object_kind
    from ..kernel.pin import obj_get
    from ..kernel.programs import prog_info_from_fd
    from ._kernel_fmt import type_name
    from ..isa.uapi import MapType, ProgramType

    try:
        fd = obj_get(path)
    except KernelError as exc:
        return f"? ({exc})"
    with fd:
        kind = bpf_object_kind(fd.number)
        if kind == "map":
            info = map_info_from_fd(fd.number)
            return f"map {info.id} {type_name(MapType, info.type)} {info.name}"
        if kind == "prog":
            pinfo = prog_info_from_fd(fd.number)
            return f"prog {pinfo.id} {type_name(ProgramType, pinfo.type)} {pinfo.name}"
        if kind == "link":
            from ..kernel.links import link_info_from_fd
            linfo = link_info_from_fd(fd.number)
            return f"link {linfo.id} (prog {linfo.prog_id})"
        return kind or "?"


def run_list(args: argparse.Namespace) -> int:
    from ..kernel.pin import BPFFS_DEFAULT
    root = args.dir or BPFFS_DEFAULT
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            print(f"{path}: {_describe(path)}")
    return 0


def run_rm(args: argparse.Namespace) -> int:
    from ..kernel.pin import unpin
    for path in args.paths:
        unpin(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pin", help="list or remove bpffs pins")
    sub = parser.add_subparsers(dest="pin_command", metavar="VERB")
    p = sub.add_parser("list", help="list pinned objects under DIR (default /sys/fs/bpf)")
    p.add_argument("dir", nargs="?")
    p.set_defaults(handler=run_list)
    r = sub.add_parser("rm", help="unpin PATH(s)")
    r.add_argument("paths", nargs="+")
    r.set_defaults(handler=run_rm)
