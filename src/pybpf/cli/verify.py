"""``pybpf verify OBJ [--prog NAME] [--log-level N]``: prove every program of an object safe, or explain.

Parses the object with pybpf.obj and runs pybpf.verifier on each program; it never loads anything
into the kernel. Exit status 0 when every selected program is accepted, 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import BPFError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="statically verify the programs of a BPF object (no kernel needed)",
        description="Run pybpf's static verifier on each program; explain rejections with the "
                    "path, register states and source line.")
    parser.add_argument("object", help="BPF ELF object (.o)")
    parser.add_argument("--prog", action="append", default=None, metavar="NAME",
                        help="only this program (repeatable); default: all")
    parser.add_argument("--log-level", type=int, default=1, choices=(0, 1, 2),
                        help="0: verdict lines only; 1: explain rejections (default); "
                             "2: also print every instruction the verifier processed")
    parser.add_argument("--insn-limit", type=int, default=1_000_000,
                        help="instructions processed before giving up (kernel: 1000000)")
    parser.add_argument("--unprivileged", action="store_true",
                        help="apply unprivileged rules (no uninitialised stack reads, no pointer leaks)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..obj import load_object
    from ..verifier import verify_program

    spec = load_object(args.object)
    target_btf = None
    if any(getattr(p, "attach_btf", False) for p in spec.programs.values()):
        try:
            from ..btf import load_vmlinux
            target_btf = load_vmlinux()
        except (OSError, BPFError):
            target_btf = None
    names = args.prog or list(spec.programs)
    unknown = [n for n in names if n not in spec.programs]
    if unknown:
        raise BPFError(f"{args.object}: no program named {', '.join(unknown)} "
                       f"(programs: {', '.join(spec.programs) or 'none'})")
    failed = 0
    total_insns = total_states = 0
    total_time = 0.0
    for name in names:
        program = spec.programs[name]
        result = verify_program(program, spec, raise_on_reject=False, insn_limit=args.insn_limit,
                                privileged=not args.unprivileged, target_btf=target_btf,
                                log_level=max(args.log_level, 1))
        total_insns += result.insns_processed
        total_states += result.states
        total_time += result.time
        if result.accepted:
            if args.log_level >= 2:
                print(result.log)
            print(f"{name} ({program.type.name.lower()}): accepted: {result.insns_processed} insns "
                  f"processed, {result.states} states (peak {result.peak_states}), "
                  f"{result.time * 1e3:.1f} ms")
            continue
        failed += 1
        assert result.error is not None
        if args.log_level == 0:
            print(f"{name} ({program.type.name.lower()}): REJECTED: {result.error.headline()}")
        else:
            print(f"{name} ({program.type.name.lower()}): REJECTED")
            print("  " + result.error.explain().replace("\n", "\n  "))
        if args.log_level >= 2:
            print(result.log)
    print(f"{len(names) - failed}/{len(names)} programs accepted; {total_insns} insns processed, "
          f"{total_states} states, {total_time * 1e3:.1f} ms", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    from .main import main as cli_main
    return cli_main(["verify", *(argv if argv is not None else sys.argv[1:])])
