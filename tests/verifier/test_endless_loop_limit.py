"""An endless loop that only the instruction limit stops: pybpf rejects it the way the kernel does.

spin_forever (tests/vm/progs/vm_bad.c) increments a volatile stack variable forever. Every pass
leaves a different state, so neither verifier can show the loop repeats itself: the kernel gives
up at its 1M processed-instruction limit ("BPF program is too large"). pybpf must give up there
too, with the same rejection after the same number of instructions, not appear to hang (it took
almost five minutes when each prune-point visit rescanned every state stored at the loop head).
Performance itself is not asserted here.
"""
from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

import pybpf
from pybpf.verifier import ComplexityLimitError, verify_program
from pybpf.verifier.analyzer import Analyzer, Options
from pybpf.verifier.api import PATH_TAIL, _line_lookup, _map_info, _replay_start, explain_path
from pybpf.verifier.cfg import analyse_shape

VM_BAD = Path(__file__).resolve().parents[1] / "vm" / "progs" / "vm_bad.c"


@pytest.fixture(scope="module")
def spin(compile_bpf):  # noqa: ANN001, ANN201
    """(ObjectSpec, ProgramSpec) of spin_forever."""
    spec = pybpf.load_object(compile_bpf(VM_BAD))
    return spec, spec.programs["spin_forever"]


@pytest.mark.kernel
@pytest.mark.slow
def test_endless_loop_is_rejected_at_the_instruction_limit_like_the_kernel(spin) -> None:
    from kernel_oracle import load
    spec, prog = spin
    # log_level 4 (statistics only): the full log of a million instructions would not fit
    kernel = load(prog.instructions, int(prog.type), {}, log_level=4)
    assert not kernel.accepted and kernel.errno == errno.E2BIG, kernel.log
    assert kernel.message.startswith("BPF program is too large"), kernel.log
    kernel_processed = int(re.search(r"processed (\d+) insns", kernel.log).group(1))

    result = verify_program(prog, spec, raise_on_reject=False)
    assert not result.accepted
    assert isinstance(result.error, ComplexityLimitError)
    assert kernel.message in result.error.reason        # "... Processed 1000001 insn"
    assert result.insns_processed == kernel_processed
    # the explanation is the tail of the path of the million instructions processed before the
    # one refused (which the path does not include)
    pcs = result.error.path_pcs
    assert len(pcs) == kernel_processed - 1
    path = result.error.path
    assert len(path) == PATH_TAIL + 1 and path[0].startswith("... (")
    assert int(re.search(r"\((\d+) earlier lines\)", path[0]).group(1)) > len(pcs) - PATH_TAIL
    assert path[-1].startswith(f"{pcs[-1]}: ")


def test_explanation_replayed_from_a_stored_state_matches_the_replay_from_the_entry(spin) -> None:
    spec, prog = spin
    limit = 5_000
    args = (analyse_shape(list(prog.instructions)), int(prog.type),
            {k: _map_info(str(k), v) for k, v in spec.maps.items()}, Options(insn_limit=limit))
    with pytest.raises(ComplexityLimitError) as info:
        Analyzer(*args).run()
    pcs, checkpoint = info.value.path_pcs, info.value.path_checkpoint
    assert len(pcs) == limit
    start, _ = _replay_start(Analyzer(*args), pcs, checkpoint)
    assert limit - 200 < start <= limit - PATH_TAIL       # it resumes near the end of the path
    lines = _line_lookup(prog.line_info)
    from_entry = explain_path(args, pcs, lines)
    assert len(from_entry) == PATH_TAIL + 1
    assert explain_path(args, pcs, lines, resume=checkpoint) == from_entry
    rejected = verify_program(prog, spec, insn_limit=limit, raise_on_reject=False).error
    assert rejected.path == from_entry
    assert rejected.path_checkpoint is None     # verify lets the stored states go once explained
