"""Agreement with the Linux verifier on the project's C corpora and on generated programs.

pybpf must reject every program the kernel rejects for a safety reason, and accept at least 95% of
what the kernel accepts. Both numbers are printed (run with -s to see them).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from asm_util import MAPS, prog
from corpus_oracle import corpus_sources, verdicts_for
from program_gen import call_programs, pointer_programs, scalar_programs, xdp_programs
from pybpf.verifier import verify

GENERATED_EXAMPLES = 150


def _report(label: str, kernel_ok: int, both_ok: int, kernel_bad: int, caught: int) -> str:
    rate = 100.0 * both_ok / kernel_ok if kernel_ok else 100.0
    return (f"{label}: kernel accepted {kernel_ok}, pybpf accepted {both_ok} of them ({rate:.1f}%); "
            f"kernel rejected {kernel_bad}, pybpf rejected {caught} of them")


class Tally:
    """Kernel verdicts against pybpf's: counts, the programs pybpf wrongly accepted (``missed``)
    and those it wrongly rejected."""

    def __init__(self) -> None:
        self.kernel_ok = self.both_ok = self.kernel_bad = self.caught = 0
        self.missed: list[str] = []
        self.wrongly_rejected: list[str] = []

    def record(self, kernel_accepted: bool, ours: object, describe: str) -> None:
        accepted = bool(ours.accepted)                               # type: ignore[attr-defined]
        if kernel_accepted:
            self.kernel_ok += 1
            self.both_ok += accepted
            if not accepted:
                error = getattr(ours, "error", None)
                self.wrongly_rejected.append(
                    f"{error.headline() if error is not None else 'rejected'}\n{describe}")
        else:
            self.kernel_bad += 1
            self.caught += not accepted
            if accepted:
                self.missed.append(describe)

    def report(self, label: str) -> str:
        return _report(label, self.kernel_ok, self.both_ok, self.kernel_bad, self.caught)


@pytest.mark.kernel
@pytest.mark.parametrize("strategy", ["gadgets", "pointers", "calls", "scalars"])
def test_generated_programs_agree_with_the_kernel(strategy):
    from kernel_oracle import load
    tally = Tally()

    @settings(max_examples=GENERATED_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given({"gadgets": xdp_programs(), "pointers": pointer_programs(),
            "calls": call_programs(), "scalars": scalar_programs()}[strategy])
    def check(text: str) -> None:
        insns = prog(text)
        kernel = load(insns, 6, MAPS)
        ours = verify(insns, prog_type=6, maps=MAPS, raise_on_reject=False, insn_limit=100_000)
        tally.record(kernel.accepted, ours, text if kernel.accepted
                     else f"kernel: {kernel.message}\n{text}")

    check()
    print("\n" + tally.report(f"generated XDP programs ({strategy})"))
    assert not tally.missed, ("pybpf accepted programs the kernel rejects:\n"
                              + "\n\n".join(tally.missed[:3]))
    assert tally.both_ok >= 0.95 * tally.kernel_ok, "\n\n".join(tally.wrongly_rejected[:3])


@pytest.mark.kernel
def test_corpus_programs_agree_with_the_kernel(compile_bpf):
    sources = corpus_sources()
    if not sources:
        pytest.skip("no C corpus yet")
    verdicts = [v for src in sources for v in verdicts_for(src, compile_bpf)]
    judged = [v for v in verdicts if v.kernel_ok is not None]
    kernel_ok = [v for v in judged if v.kernel_ok]
    kernel_bad = [v for v in judged if not v.kernel_ok]
    both_ok = [v for v in kernel_ok if v.pybpf_ok]
    caught = [v for v in kernel_bad if not v.pybpf_ok]
    print("\n" + _report(f"{len(sources)} corpus sources, {len(verdicts)} programs",
                         len(kernel_ok), len(both_ok), len(kernel_bad), len(caught)))
    for v in verdicts:
        if v.kernel_ok is not None and v.kernel_ok != v.pybpf_ok:
            print(f"  disagree {v.source}:{v.program}: kernel={v.kernel_message!r} "
                  f"pybpf={v.pybpf_message!r}")
    assert len(caught) == len(kernel_bad)
    assert len(both_ok) >= 0.95 * len(kernel_ok)


CTX_TYPES = {1: 200, 3: 200, 8: 200, 5: 40, 2: 176, 17: 104, 7: 192, 6: 28}   # type -> offsets to try


@pytest.mark.kernel
def test_context_accesses_agree_with_the_kernel():
    from hypothesis import strategies as st
    from kernel_oracle import load
    sizes = {1: "b", 2: "h", 4: "w", 8: "dw"}
    tally = Tally()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(CTX_TYPES)).flatmap(lambda t: st.tuples(
        st.just(t), st.integers(-4, CTX_TYPES[t]), st.sampled_from([1, 2, 4, 8]), st.booleans())))
    def check(args: tuple[int, int, int, bool]) -> None:
        prog_type, off, size, write = args
        text = (f"st{sizes[size]} [%r1{off:+d}], 0\nmov %r0, 0\nexit" if write
                else f"ldx{sizes[size]} %r0, [%r1{off:+d}]\nmov %r0, 0\nexit")
        kernel = load(prog(text), prog_type, MAPS)
        ours = verify(prog(text), prog_type=prog_type, raise_on_reject=False)
        tally.record(kernel.accepted, ours, f"type {prog_type}: {text!r}: {kernel.message}")

    check()
    print("\n" + tally.report("context accesses"))
    assert not tally.missed, "\n".join(tally.missed[:5])
    assert tally.both_ok >= 0.9 * tally.kernel_ok


@pytest.mark.kernel
def test_random_instruction_streams_agree_with_the_kernel():
    from hypothesis import strategies as st
    from kernel_oracle import load
    from pybpf.isa import Instruction
    from test_robustness import instruction
    tally = Tally()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(instruction(), min_size=1, max_size=12), st.sampled_from([1, 2, 3, 5, 6, 17]))
    def check(insns: list, prog_type: int) -> None:
        insns = insns + [Instruction(0xB7, dst=0), Instruction(0x95)]
        kernel = load(insns, prog_type, MAPS)
        ours = verify(insns, prog_type=prog_type, maps=MAPS, raise_on_reject=False,
                      insn_limit=5000)
        tally.record(kernel.accepted, ours, f"type {prog_type}: {kernel.message}: {insns}")

    check()
    print("\n" + tally.report("random instruction streams"))
    assert not tally.missed, "\n".join(tally.missed[:3])
    assert tally.both_ok >= 0.95 * tally.kernel_ok


@pytest.mark.kernel
def test_tp_btf_pointer_arguments_are_typed_like_the_kernel(compile_bpf):
    from pathlib import Path
    from pybpf.btf import load_vmlinux
    from pybpf.errors import KernelVerifierError
    from pybpf.kernel import Collection
    from pybpf.obj import load_object
    from pybpf.verifier import verify_program
    spec = load_object(compile_bpf(Path(__file__).resolve().parent / "progs" / "tp_btf_fields.c"))
    vmlinux = load_vmlinux()
    with Collection(spec, programs=["inside"]):
        pass
    assert verify_program(spec.programs["inside"], spec, target_btf=vmlinux).accepted
    with pytest.raises(KernelVerifierError, match="access beyond struct"):
        with Collection(spec, programs=["beyond"]):
            pass
    result = verify_program(spec.programs["beyond"], spec, target_btf=vmlinux,
                            raise_on_reject=False)
    assert not result.accepted and "beyond struct" in result.error.reason


@pytest.mark.kernel
def test_helper_calls_agree_with_the_kernel():
    from kernel_oracle import load
    from program_gen import helper_programs
    tally = Tally()

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(helper_programs())
    def check(case: tuple[str, int]) -> None:
        text, prog_type = case
        insns = prog(text)
        kernel = load(insns, prog_type, MAPS)
        ours = verify(insns, prog_type=prog_type, maps=MAPS, raise_on_reject=False)
        tally.record(kernel.accepted, ours, f"type {prog_type}: {kernel.message}\n{text}")

    check()
    print("\n" + tally.report("helper calls"))
    assert not tally.missed, "\n\n".join(tally.missed[:3])
    assert tally.both_ok >= 0.95 * tally.kernel_ok


@pytest.mark.kernel
def test_one_instruction_may_not_mix_context_and_other_pointers(compile_bpf):
    """The kernel's save_aux_ptr_type rule: a load reached with a packet, a map value or a stack
    pointer is fine; one reached with the context on one path and the packet on another is not."""
    from pathlib import Path

    import pybpf
    from kernel_oracle import load
    from pybpf.verifier import verify_program
    spec = pybpf.load_object(compile_bpf(Path(__file__).parent / "progs" / "mixed_pointers.c"))
    verdicts = {}
    for name, program in spec.programs.items():
        kernel = load(program.instructions, int(program.type), spec.maps)
        ours = verify_program(program, spec, raise_on_reject=False)
        verdicts[name] = (kernel.accepted, ours.accepted)
        if not kernel.accepted:
            assert "same insn cannot be used with different pointers" in kernel.message
            assert "same insn cannot be used with different pointers" in str(ours.error)
    assert verdicts == {"pkt_value_or_stack": (True, True), "ctx_or_packet": (False, False)}
