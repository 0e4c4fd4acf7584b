"""``pybpf map list|show|dump``: kernel maps, and their contents decoded through the map's BTF.

``dump`` takes a map id or a pinned path. Reading only; never updates a map.
"""
from __future__ import annotations

import argparse
import json
import os


def _open(target: str):  # type: ignore[no-untyped-def]
    from ..kernel.ids import map_with_btf_codecs
    from ..kernel.maps import KernelMap
    if target.isdigit():
        m = KernelMap.from_id(int(target))
    elif os.path.sep in target or os.path.exists(target):
        m = KernelMap.from_pin(target)
    else:
        from ..errors import BPFError
        raise BPFError(f"{target!r} is neither a map id nor a pinned path")
    return map_with_btf_codecs(m)


def run_list(args: argparse.Namespace) -> int:
    from ..errors import KernelError
    from ..kernel.ids import map_ids
    from ..kernel.maps import map_info_from_fd
    from ..kernel.maps import KernelMap
    from ._kernel_fmt import map_line

    infos = []
    for mid in ([args.id] if getattr(args, "id", None) is not None else list(map_ids())):
        try:
            with KernelMap.from_id(mid) as m:
                infos.append(map_info_from_fd(m.fd))
        except KernelError:
            if getattr(args, "id", None) is not None:
                raise
    if args.json:
        print(json.dumps([info.__dict__ for info in infos]))
    else:
        for info in infos:
            print(map_line(info))
    return 0


def run_dump(args: argparse.Namespace) -> int:
    from ..isa.uapi import MapType
    from ._kernel_fmt import jsonable, render

    with _open(args.map) as m:
        if m.type in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.USER_RINGBUF):
            from ..errors import BPFError
            raise BPFError(f"map {m.name!r} is a {m.type.name}: it has no entries to dump "
                           f"(read it with a ring/perf reader)")
        if m.type in (MapType.QUEUE, MapType.STACK):
            entries = [(None, m.peek())] if m._lookup(None) is not None else []
        else:
            entries = list(m.items())
        if args.json:
            print(json.dumps([{"key": jsonable(k), "value": jsonable(v)} for k, v in entries]))
        else:
            for key, value in entries:
                print(f"key: {render(key)}  value: {render(value)}")
            print(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("map", help="inspect maps in the kernel")
    sub = parser.add_subparsers(dest="map_command", metavar="VERB")
    for verb in ("list", "show"):
        p = sub.add_parser(verb, help="list maps")
        p.add_argument("id", nargs="?", type=int, help="only this map id")
        p.add_argument("--json", "-j", action="store_true")
        p.set_defaults(handler=run_list)
    d = sub.add_parser("dump", help="print every entry (BTF-decoded when the map has BTF)")
    d.add_argument("map", help="map id or pinned path")
    d.add_argument("--json", "-j", action="store_true")
    d.set_defaults(handler=run_dump)
