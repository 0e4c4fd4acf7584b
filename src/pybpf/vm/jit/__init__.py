"""pybpf.vm.jit: eBPF programs compiled to native code with LLVM (llvmlite), run on the VM's memory.

The JIT is a drop-in :class:`~pybpf.vm.machine.Machine` (``JITMachine``): same regions, maps,
helpers and errors as the interpreter, which stays the oracle for semantics. It never gives native
code a pointer the region table does not vouch for, and never lets a fault kill the process.

Public API: ``make_machine(helpers=..., budget=...)``, ``JITMachine``, ``program_key``.
"""
from .machine import JITMachine, NativeProgram, make_machine, program_key

__all__ = ["JITMachine", "NativeProgram", "make_machine", "program_key"]
