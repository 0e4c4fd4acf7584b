"""pybpf.vm: run eBPF objects without a kernel — interpreter, memory regions, maps, helpers, contexts.

Everything here is simulated in-process; nothing in this package calls bpf(2) or reads host memory
through a program's pointers.
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
