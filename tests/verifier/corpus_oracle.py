"""Verdicts of the kernel and of pybpf for every program of the project's C corpora.

Test/benchmark support: compiles tests/corpus/**/*.c and bpf/*.c, loads each program with
pybpf.kernel.Collection (BTF, CO-RE, maps) and verifies the same instructions with pybpf.
"""
from __future__ import annotations

import glob
import time
from dataclasses import dataclass
from pathlib import Path

from pybpf.errors import BPFError, KernelVerifierError

REPO = Path(__file__).resolve().parents[2]
# Kernel refusals that are not verifier safety verdicts (no trampolines here, kernel features)
NOT_SAFETY = ("attach", "trampoline", "Operation not permitted", "EPERM", "btf_id", "not supported")


def corpus_sources() -> list[Path]:
    files = sorted(glob.glob(str(REPO / "tests/corpus/**/*.c"), recursive=True))
    files += sorted(glob.glob(str(REPO / "bpf/*.c")))
    return [Path(f) for f in files]


@dataclass
class Verdict:
    source: str
    program: str
    prog_type: str
    kernel_ok: bool | None           # None: the kernel refused for a non-safety reason
    kernel_message: str
    kernel_seconds: float
    pybpf_ok: bool
    pybpf_message: str
    pybpf_seconds: float
    insns_processed: int
    instructions: int


def _relocated(spec, prog):  # noqa: ANN001, ANN202
    if not getattr(prog, "core_relos", None):
        return prog.instructions
    try:
        from pybpf.kernel.btfload import vmlinux
        from pybpf.obj import core
        return list(core.relocate(prog, vmlinux(), spec.btf).instructions)
    except BPFError:
        return prog.instructions


def verdicts_for(source: Path, compile_bpf) -> list[Verdict]:  # noqa: ANN001
    from pybpf.kernel import Collection
    from pybpf.obj import load_object
    from pybpf.verifier import verify

    from pybpf.build import BuildError
    try:
        obj = compile_bpf(source)
    except BuildError:
        return []          # sources needing generated headers (vmlinux.h) are built by their owners
    spec = load_object(obj)
    out = []
    for name, prog in spec.programs.items():
        start = time.perf_counter()
        try:
            with Collection(spec, programs=[name]):
                pass
            kernel_ok, kmsg = True, ""
        except KernelVerifierError as exc:
            text = str(exc)
            lines = [ln for ln in exc.log.splitlines() if ln.strip()
                     and not ln.startswith(("processed ", "verification time", "stack depth"))]
            kmsg = lines[-1] if lines else text.splitlines()[0]
            kernel_ok = None if any(k in text for k in NOT_SAFETY) and not exc.log else False
        except BPFError as exc:
            kernel_ok, kmsg = None, str(exc).splitlines()[0]
        kernel_seconds = time.perf_counter() - start
        insns = _relocated(spec, prog)
        btf_ctx = target = None
        if prog.attach_btf:
            from pybpf.btf import load_vmlinux
            from pybpf.verifier.btf_ctx import pointer_args
            target = load_vmlinux()
            btf_ctx = pointer_args(target, prog.section, prog.attach_to)
        result = verify(insns, prog_type=prog.type, maps=spec.maps, line_info=prog.line_info,
                        program=name, raise_on_reject=False, btf_ctx=btf_ctx, target_btf=target,
                        func_info=prog.func_info, prog_btf=spec.btf,
                        expected_attach_type=int(prog.expected_attach_type)
                        if prog.expected_attach_type is not None else None)
        out.append(Verdict(source.name, name, prog.type.name, kernel_ok, kmsg, kernel_seconds,
                           result.accepted, result.error.headline() if result.error else "",
                           result.time, result.insns_processed, len(insns)))
    return out
