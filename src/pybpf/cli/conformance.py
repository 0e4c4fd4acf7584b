"""``pybpf conformance DIR [--engine interp|jit]``: run bpf_conformance .data files in the userspace VM.

Prints one line per failing case and a final ``N passed, M failed`` line; never touches the kernel.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import BPFError


def register(sub: argparse._SubParsersAction) -> None:       # type: ignore[type-arg]
    parser = sub.add_parser("conformance", help="run bpf_conformance .data tests in the VM")
    parser.add_argument("directory", help="the suite directory (or its tests/ folder) or one .data file")
    parser.add_argument("--engine", choices=("interp", "jit"), default="interp")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list passing cases")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..vm.conformance import case_files, run_file
    target = Path(args.directory)
    files = [target] if target.is_file() else case_files(target)
    if not files:
        raise BPFError(f"{target}: no .data files found")
    passed = failed = 0
    for path in files:
        outcome = run_file(path, engine=args.engine)
        if outcome.passed:
            passed += 1
            if args.verbose:
                print(f"PASS {path.name}: {outcome.detail}")
        else:
            failed += 1
            print(f"FAIL {path.name}: {outcome.detail}")
    print(f"{passed} passed, {failed} failed")
    sys.stdout.flush()
    return 0 if failed == 0 else 1
