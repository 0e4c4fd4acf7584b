"""``pybpf feature probe [--json] [--no-helpers]``: what this kernel supports, like bpftool feature probe.

Prints the results of pybpf.kernel.features; never attaches anything.
"""
from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from ..kernel.features import probe_all

    result = probe_all(helpers=not args.no_helpers)
    if args.json:
        print(json.dumps(result))
        return 0
    for section, values in result.items():
        print(f"{section.replace('_', ' ')}:")
        for key, value in values.items():
            if isinstance(value, list):
                print(f"  {key}: {', '.join(value) if value else '(none)'}")
            else:
                print(f"  {key.replace('_', ' ')}: {'yes' if value else 'NO'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("feature", help="probe kernel BPF features")
    sub = parser.add_subparsers(dest="feature_command", metavar="VERB")
    p = sub.add_parser("probe", help="probe program/map types, helpers, attach types")
    p.add_argument("target", nargs="?", default="kernel", choices=("kernel",))
    p.add_argument("--json", "-j", action="store_true")
    p.add_argument("--no-helpers", action="store_true", help="skip the per-type helper probes")
    p.set_defaults(handler=run)
