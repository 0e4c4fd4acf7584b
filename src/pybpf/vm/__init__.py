"""pybpf.vm: run eBPF objects without a kernel — interpreter, memory regions, maps, helpers, contexts.

Everything here is simulated in-process; nothing in this package calls bpf(2) or reads host memory
through a program's pointers.

Public API
----------
``Collection(spec, *, btf=None, engine="interp", kconfig=None, env=None, cpus=None, budget=5_000_000,
programs=None, unsafe=False)`` (also ``pybpf.Collection(spec, backend="vm")``). Programs are first
checked by pybpf.verifier (kernel rules); a rejected program raises ProgramRejected with the verifier's
explanation, ``.verified[name]`` holds each VerifierResult, and ``unsafe=True`` skips the verifier
(run-time checks still apply; ``verify=`` is a deprecated alias). ``.maps[name]`` are
pybpf.obj.mapapi.Map objects (``m[k]``, ``items()``, ``ring_reader()`` for ring buffers/perf arrays),
``.programs[name]`` are :class:`VMProgram`:

* ``test_run(data_in, ctx_in=None, repeat=1)`` -> TestRunResult with BPF_PROG_TEST_RUN semantics
  (XDP: xdp_md over data_in, data_out = packet incl. meta; tc/socket: __sk_buff; raw_tp: ctx_in u64
  args); ``result.extra`` has ``instructions``, ``trace`` (bpf_printk lines) and ``redirect``.
* ``run(context)`` with ``XdpContext``, ``SkbContext``, ``TracepointContext(cat, name, values)``,
  ``RawTracepointContext(args)``, ``PtRegsContext(regs)`` or ``RawContext(bytes)``; shortcuts
  ``run_tracepoint(**fields)``, ``run_raw_tracepoint(*args)``, ``run_probe(parm1=..., ...)``;
  strings/lists given as values are placed in simulated user memory.
* ``coll.env`` (:class:`SimEnv`: ``process=SimProcess(pid, tgid, uid, gid, comm, task={...})``,
  ``clock_ns``, ``seed``, ``fib_lookup``), ``coll.trace``, ``coll.kernel_object(type, values)``.

Errors are pybpf.errors: MemoryAccessError (pc, address, nearest region, source line),
InstructionLimitError, HelperError (unsupported helper at load), VMError. Lower layers:
``Machine`` (run loop, frames, calls), ``Memory``/``Region`` (the address space; layout documented
in pybpf.vm.memory for the JIT), ``create_map`` (VM maps), ``pybpf.vm.conformance.run_case``.
"""
from .collection import Collection, VMProgram
from .context import (PtRegsContext, RawContext, RawTracepointContext, SkbContext, TracepointContext,
                      XdpContext)
from .helpers import SimEnv, SimProcess
from .machine import Machine
from .maps import create_map
from .memory import Memory, Region

__all__ = ["Collection", "VMProgram", "Machine", "Memory", "Region", "SimEnv", "SimProcess",
           "XdpContext", "SkbContext", "TracepointContext", "RawTracepointContext", "PtRegsContext",
           "RawContext", "create_map"]
