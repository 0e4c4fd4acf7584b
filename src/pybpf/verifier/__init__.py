"""pybpf.verifier: a static verifier that proves eBPF programs safe before they run, and explains why not.

Pure analysis of instructions (abstract interpretation over every path, like the Linux verifier);
it never loads anything into the kernel and never executes the program.

Public API::

    from pybpf.verifier import verify, verify_program, VerifierResult, ProgramRejected

    result = verify(instructions, prog_type=ProgramType.XDP,
                    maps={"counters": (MapType.ARRAY, 4, 8, 1)},   # or MapSpec objects
                    line_info=None, log_level=1)   # 2: log every processed insn
    result.accepted, result.insns_processed, result.states, result.peak_states, result.time

    verify_program(program_spec, object_spec)     # maps + line_info taken from pybpf.obj specs

A rejection raises a :class:`ProgramRejected` (a :class:`pybpf.errors.VerifierError`) subclass with
``pc`` (slot index, as llvm-objdump and the kernel count), ``reason`` (the kernel-style message),
``hint`` (what to do), ``source_line`` (from line_info) and ``path`` (each instruction on the way with
the register state before it). ``str(exc)`` prints all of it. Pass ``raise_on_reject=False`` to get a
VerifierResult with ``accepted=False`` and ``error`` instead.

Semantics are those the kernel applies to a privileged loader (root: CAP_BPF + CAP_PERFMON, which is
how pybpf loads): reading uninitialised stack is allowed, pointers may be stored to maps or returned,
pointer comparisons are allowed. ``privileged=False`` applies the stricter unprivileged rules for these
three. Modelled: all ALU/JMP/JMP32/memory/atomic instructions, tnum + signed/unsigned range tracking
refined on both branch directions (register-register too, linked copies), packet range proofs,
per-byte stack tracking with spills, context layouts (xdp, __sk_buff, pt_regs, tracepoint, raw_tp,
perf_event, tracing, syscall), ~60 helper prototypes, NULL checks, ring buffer reference tracking,
spin locks, bpf-to-bpf calls (8 frames, 512-byte combined stack), bpf_loop/for_each_map_elem
callbacks (verified once), bounded loops (explored iteration by iteration, with the kernel's
1M-instruction complexity limit and infinite-loop detection). Not modelled (rejected with
UnsupportedFeatureError rather than guessed): kfunc calls, helpers without a prototype here, socket
pointers; BTF pointers (PTR_TO_BTF_ID) read as unknown scalars.
"""
from .api import VerifierResult, verify, verify_program
from .rejections import (
    ComplexityLimitError, ContextAccessError, HelperCallError, InfiniteLoopError,
    InvalidInstructionError, InvalidMemoryAccessError, InvalidRegisterError, MapValueBoundsError,
    MemoryBoundsError, NullPointerError, PacketBoundsError, PointerArithmeticError,
    ProgramRejected, ProgramStructureError, ReferenceLeakError, ReturnValueError, StackAccessError,
    UninitializedRegisterError, UnsupportedFeatureError,
)

__all__ = [
    "verify", "verify_program", "VerifierResult", "ProgramRejected", "ProgramStructureError",
    "InvalidInstructionError", "InvalidRegisterError", "UninitializedRegisterError",
    "InvalidMemoryAccessError", "NullPointerError", "PacketBoundsError", "MapValueBoundsError",
    "StackAccessError", "ContextAccessError", "MemoryBoundsError", "PointerArithmeticError",
    "HelperCallError", "ReferenceLeakError", "ReturnValueError", "InfiniteLoopError",
    "ComplexityLimitError", "UnsupportedFeatureError",
]
