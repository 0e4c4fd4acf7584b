"""``pybpf run OBJ --prog NAME --data-in FILE [--repeat N] [--engine kernel|vm|jit]``: one test run.

Prints ``Return value: X, duration (average): Nns`` exactly like ``bpftool prog run``; the work is
BPF_PROG_TEST_RUN (kernel) or pybpf.vm.Collection (vm/jit).
"""
from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from ..errors import BPFError
    from ..obj import load_object

    data = b""
    if args.data_in:
        data = sys.stdin.buffer.read() if args.data_in == "-" else open(args.data_in, "rb").read()
    ctx = open(args.ctx_in, "rb").read() if args.ctx_in else None
    spec = load_object(args.object)
    if args.prog not in spec.programs:
        raise BPFError(f"{args.object}: no program {args.prog!r} "
                       f"(have: {', '.join(sorted(spec.programs))})")
    if args.engine == "kernel":
        from ..kernel import Collection
        coll = Collection(spec, programs=[args.prog])
    else:
        try:
            from ..vm import Collection as VMCollection  # type: ignore[attr-defined]
        except ImportError:
            raise BPFError(f"engine {args.engine!r} is not available: pybpf.vm has no "
                           f"Collection yet") from None
        coll = VMCollection(spec, engine="interp" if args.engine == "vm" else args.engine,
                            programs=[args.prog], unsafe=args.unsafe)
    with coll:
        result = coll.programs[args.prog].test_run(data, ctx_in=ctx, repeat=args.repeat)
    if args.data_out:
        with open(args.data_out, "wb") as f:
            f.write(result.data_out)
    if args.ctx_out:
        with open(args.ctx_out, "wb") as f:
            f.write(result.ctx_out)
    average = " (average)" if args.repeat > 1 else ""
    print(f"Return value: {result.retval}, duration{average}: {result.duration_ns}ns")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run one program of an object on input data (BPF_PROG_TEST_RUN or the VM)",
        description="Load OBJ, run --prog on --data-in, print the result like bpftool prog run.")
    parser.add_argument("object", help="clang-compiled BPF ELF object")
    parser.add_argument("--prog", required=True, help="program (function) name")
    parser.add_argument("--data-in", metavar="FILE", help="input packet/data ('-' for stdin)")
    parser.add_argument("--data-out", metavar="FILE", help="write the output data here")
    parser.add_argument("--ctx-in", metavar="FILE", help="input context")
    parser.add_argument("--ctx-out", metavar="FILE", help="write the output context here")
    parser.add_argument("--repeat", type=int, default=1, help="run N times (average duration)")
    parser.add_argument("--engine", choices=("kernel", "vm", "jit"), default="kernel")
    parser.add_argument("--unsafe", action="store_true",
                        help="vm/jit: run without pybpf's static verifier (run-time checks only)")
    parser.set_defaults(handler=run)
