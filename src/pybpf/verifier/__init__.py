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
three. Where the kernel is deliberately imprecise (no ranges through div/mod, no NULL-folding for
ctx/stack/packet pointers, ``pkt < pkt_end`` with offset 0 proving nothing) pybpf is imprecise the same
way, so it never accepts what the kernel rejects.

Modelled: all ALU/JMP/JMP32/memory/atomic instructions; tnum + s64/u64/s32/u32 range tracking
refined on both branch directions (register-register too, linked copies); packet range proofs;
per-byte stack tracking with spills; context layouts (xdp, __sk_buff for socket/tc/cgroup_skb,
pt_regs, tracepoint, raw_tp, perf_event, syscall; tp_btf/fentry/fexit/lsm arguments typed from a
``target_btf``); ~70 helper prototypes with per-program-type availability; NULL checks; constant-key
array lookups; known ``.rodata`` loads; ring buffer reference tracking; spin locks; bpf-to-bpf calls
(8 frames, 512-byte combined stack); global functions when ``func_info`` + ``prog_btf`` are given
(verify_program passes them): each verified once on its own with arguments typed from its BTF
prototype, calls checked against the prototype and returning an unknown scalar;
bpf_loop/for_each_map_elem callbacks (verified once, caller stack they can reach forgotten
afterwards); arena pointers; bounded loops (explored iteration by iteration with state pruning, the
kernel's 1M-instruction complexity limit and infinite-loop detection).
Pruning uses a static stand-in for the kernel's precision tracking (scalars that can no longer reach
an address, a branch, a checked helper argument or the stack are ignored when comparing states).

Not modelled (rejected with UnsupportedFeatureError rather than guessed): kfuncs other than
rcu/preempt lock pairs, helpers without a prototype here, socket pointers, may_goto, global function
arguments tagged arg:trusted/untrusted/nullable/arena or typed as dynptrs.
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
