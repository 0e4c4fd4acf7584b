"""The VM's execution engine: register file, call frames, the run loop, calls/exits/atomics/LDDW.

Owns control flow and the instruction budget; never implements a helper or a map itself (those are
looked up in the ``helpers`` table and the map registry it is given).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BPFError, HelperError, InstructionLimitError, MemoryAccessError, VMError
from ..isa.instruction import Instruction
from ..isa.opcodes import LDDW, AtomicOp, Class, JumpOp, Mode, PseudoSrc, Source
from ..isa.uapi import helper_name
from .interpreter import M32, M64, CompiledProgram, Op, base_namespace, compile_program
from .memory import Memory, Region

STACK_SIZE = 512
MAX_CALL_FRAMES = 8                 # kernel MAX_CALL_FRAMES: main program + 7 nested calls
MAX_TAIL_CALLS = 33                 # kernel MAX_TAIL_CALL_CNT
DEFAULT_BUDGET = 5_000_000
BPF_MAX_LOOPS = 8 * 1024 * 1024     # may_goto allowance per run
CORE_POISON = 0xBAD2310             # libbpf's "call 0xbad2310" for unresolvable CO-RE relocations

Helper = Callable[..., int]         # helper(machine, r1, r2, r3, r4, r5) -> r0

# kfuncs the VM can simulate, by name: the VM is single-threaded, so RCU sections are no-ops.
KFUNCS: dict[str, Helper] = {
    "bpf_rcu_read_lock": lambda machine, *args: 0,
    "bpf_rcu_read_unlock": lambda machine, *args: 0,
}


class _Exit(Exception):
    """The outermost frame of the current run loop executed EXIT."""


class _Switch(Exception):
    """Continue in another program (tail call, or return into a tail-called program's caller)."""

    def __init__(self, prog: CompiledProgram, pc: int) -> None:
        self.prog, self.pc = prog, pc


@dataclass
class Frame:
    prog: CompiledProgram
    return_pc: int
    saved: list[int]               # r6..r10 of the caller


@dataclass
class RunState:
    prog: CompiledProgram
    frames: list[Frame] = field(default_factory=list)
    floor: int = 0                 # frames below this belong to an outer run loop (callbacks)
    budget: int = DEFAULT_BUDGET
    executed: int = 0
    tail_calls: int = 0
    may_goto: int = BPF_MAX_LOOPS
    regs: list[int] = field(default_factory=lambda: [0] * 11)


class Machine:
    """Memory + helpers + maps + the loop that runs compiled programs."""

    def __init__(self, *, memory: Memory | None = None, helpers: dict[int, Helper] | None = None,
                 budget: int = DEFAULT_BUDGET) -> None:
        self.mem = memory or Memory()
        self.helpers: dict[int, Helper] = dict(helpers or {})
        self.kfuncs: dict[str, Helper] = dict(KFUNCS)
        self.budget = budget
        self.maps_by_ref: dict[str, Any] = {}         # name -> VM map
        self.maps_by_fd: dict[int, Any] = {}          # fake fd / index -> VM map
        self.map_handles: dict[int, Any] = {}         # handle address -> VM map
        self.code_regions: dict[int, CompiledProgram] = {}   # code base -> program
        self.stacks = [self.mem.new(f"stack[{i}]", STACK_SIZE, kind="stack")
                       for i in range(MAX_CALL_FRAMES)]
        self.stack_tops = [s.base + STACK_SIZE for s in self.stacks]
        self._targets: dict[int, tuple[CompiledProgram, int]] = {}
        self.state: RunState | None = None
        self.ns = base_namespace(self.mem)
        self.last_executed = 0
        from .helpers import SimEnv
        self.env = SimEnv()
        self.cpu = 0
        self.held_locks: set[int] = set()
        self.context: Any = None          # the running program's context object (packet helpers)
        self.redirect: Any = None         # set by bpf_redirect / bpf_redirect_map
        self._task_region: Region | None = None
        self.may_goto_limit = BPF_MAX_LOOPS

    # --- loading ------------------------------------------------------------------------------
    def load(self, name: str, instructions: Sequence[Instruction], *, spec: Any = None,
             source_lines: dict[int, str] | None = None, verified: Any = None) -> CompiledProgram:
        """Prepare ``instructions`` to run; ``verified`` is the VerifierResult that accepted them
        (the JIT drops run-time checks it proves)."""
        from ..isa.codec import encode
        prog = CompiledProgram(name, list(instructions), spec=spec,
                               source_lines=dict(source_lines or {}), verified=verified)
        code = self.mem.new(f"code:{name}", encode(prog.instructions, validate=False),
                            kind="code", writable=False)
        prog.code_base = code.base
        code.owner = prog
        self.code_regions[code.base] = prog
        return compile_program(prog, self)

    def namespace(self) -> dict[str, Any]:
        return dict(self.ns)

    def register_map(self, vm_map: Any, *, name: str | None = None, fd: int | None = None) -> int:
        """Make a map reachable from LDDW (by ref name and by fd); returns its handle address."""
        handle = getattr(vm_map, "handle", None)
        if handle is None:
            handle = self.mem.new(f"map:{vm_map.name}", 0, kind="map", writable=False).base
            vm_map.handle = handle
        self.map_handles[handle] = vm_map
        self.maps_by_ref[name or vm_map.name] = vm_map
        if fd is not None:
            self.maps_by_fd[fd] = vm_map
        return handle

    def map_from_handle(self, handle: int, what: str = "map") -> Any:
        vm_map = self.map_handles.get(handle & M64)
        if vm_map is None:
            raise HelperError(f"{what}: {handle:#x} is not a map pointer")
        return vm_map

    # --- running ------------------------------------------------------------------------------
    def run(self, prog: CompiledProgram, *args: int, budget: int | None = None) -> int:
        """Run ``prog`` with r1..r5 = ``args``; returns r0 (an unsigned 64-bit int)."""
        outer = self.state
        st = RunState(prog, budget=self.budget if budget is None else budget,
                      may_goto=self.may_goto_limit)
        self.state = st
        try:
            R = st.regs
            for i, value in enumerate(args[:5]):
                R[1 + i] = value & M64
            stack = self.stacks[0]
            stack.buf[:] = bytes(STACK_SIZE)
            R[10] = stack.base + STACK_SIZE
            return self._loop(st, prog, 0)
        finally:
            self.last_executed = st.executed
            self.state = outer

    def call_function(self, code_addr: int, *args: int) -> int:
        """Run the subprogram at ``code_addr`` as a callback (bpf_loop...) and return its r0."""
        st = self.state
        if st is None:
            raise VMError("callback invoked outside a running program")
        prog, pc = self._code_target(code_addr)
        R = st.regs
        saved = R[:]
        depth = len(st.frames)
        self._push_frame(st, R, -1)
        for i, value in enumerate(args[:5]):
            R[1 + i] = value & M64
        old_floor, old_prog = st.floor, st.prog
        st.floor = depth + 1
        try:
            return self._loop(st, prog, pc)
        finally:
            st.floor, st.prog = old_floor, old_prog
            del st.frames[depth:]
            R[:] = saved

    def _loop(self, st: RunState, prog: CompiledProgram, pc: int) -> int:
        R = st.regs
        while True:
            ops = prog.ops
            st.prog = prog
            n = -1
            try:
                for n in range(st.budget):
                    pc = ops[pc](R)
            except _Exit:
                st.budget -= n + 1
                st.executed += n + 1
                return R[0]
            except _Switch as switch:
                st.budget -= n + 1
                st.executed += n + 1
                prog, pc = switch.prog, switch.pc
                continue
            except BPFError as err:
                st.executed += n + 1
                raise self._locate(err, prog, pc) from None
            except IndexError:
                st.executed += n + 1
                if 0 <= pc < len(ops):
                    raise
                raise self._locate(VMError(f"execution fell off the end of {prog.name!r} "
                                           f"(slot {pc})"), prog, pc) from None
            except RecursionError:
                raise self._locate(VMError("callbacks nested too deeply"), prog, pc) from None
            st.executed += max(n + 1, 0)
            raise self._locate(InstructionLimitError(
                f"instruction budget exhausted after {st.executed} instructions "
                f"(infinite loop?)"), prog, pc)

    def _locate(self, err: BPFError, prog: CompiledProgram, pc: int) -> BPFError:
        """Add the program, pc and source line to an error raised by an instruction (once)."""
        if not isinstance(err, VMError) or getattr(err, "_located", False):
            return err
        line = prog.describe_pc(pc)
        index = prog.slot_to_index.get(pc, pc)
        message = err.args[0] if err.args else str(err)
        if err.pc is not None:            # already formatted by VMError with a pc
            message = message.split(": ", 1)[-1]
        new = type(err).__new__(type(err))
        VMError.__init__(new, f"{prog.name}: {message}", pc=pc, source_line=line)
        new.__dict__.update({k: v for k, v in err.__dict__.items() if k not in ("pc", "source_line")})
        new.program, new.insn_index = prog.name, index     # type: ignore[attr-defined]
        new._located = True                                 # type: ignore[attr-defined]
        return new

    # --- frames --------------------------------------------------------------------------------
    def _push_frame(self, st: RunState, R: list[int], return_pc: int) -> None:
        depth = len(st.frames) + 1
        if depth >= MAX_CALL_FRAMES:
            raise VMError(f"call depth exceeds {MAX_CALL_FRAMES} frames (stack overflow)")
        st.frames.append(Frame(st.prog, return_pc, R[6:11]))
        R[10] = self.stack_tops[depth]      # like the kernel, a callee's stack starts uninitialised

    def _code_target(self, addr: int) -> tuple[CompiledProgram, int]:
        cached = self._targets.get(addr)
        if cached is not None:
            return cached
        region = self.mem.region_at(addr)
        prog = region.owner if region is not None and region.kind == "code" else None
        off = (addr & M64) - region.base if region is not None else -1
        if prog is None or off % 8 or off // 8 not in prog.slot_to_index:
            raise VMError(f"{addr:#x} is not the address of a function")
        self._targets[addr] = (prog, off // 8)
        return prog, off // 8

    # --- instructions the compiler leaves to the machine ---------------------------------------
    def compile_special(self, insn: Instruction, pc: int, nxt: int, prog: CompiledProgram) -> Op:
        cls = insn.cls
        if insn.opcode == LDDW:
            return self._compile_lddw(insn, pc, nxt, prog)
        if cls == Class.LD:
            return self._compile_legacy_load(insn, nxt)
        if cls == Class.STX:
            return self._compile_atomic(insn, nxt)
        if insn.jump_op == JumpOp.EXIT:
            return self._compile_exit()
        if insn.jump_op == 0xE0:
            return self._compile_may_goto(pc + insn.off + 1, nxt)
        if insn.source == Source.X:
            return self._compile_callx(insn, nxt)
        if insn.is_pseudo_call:
            return self._compile_local_call(prog, pc + insn.imm + 1, nxt)
        if insn.is_kfunc_call:
            impl = self.kfuncs.get(insn.ref or "")
            if impl is None:
                raise HelperError(f"{prog.name}: kfunc {insn.ref or 'btf id ' + str(insn.imm)} is "
                                  f"not supported by the VM (call at slot {pc}); supported: "
                                  f"{', '.join(sorted(self.kfuncs)) or 'none'}")
            return self._bind_call(impl, nxt)
        return self._compile_helper_call(insn.imm, nxt, prog, pc)

    def _compile_exit(self) -> Op:
        machine = self

        def op_exit(R: list[int]) -> int:
            st = machine.state
            frames = st.frames
            if len(frames) <= st.floor:
                raise _Exit
            frame = frames.pop()
            R[6:11] = frame.saved
            if frame.prog is not st.prog:
                raise _Switch(frame.prog, frame.return_pc)
            return frame.return_pc
        return op_exit

    def _compile_may_goto(self, target: int, nxt: int) -> Op:
        """may_goto: falls through until the run's loop allowance (BPF_MAX_LOOPS) is used up."""
        machine = self

        def op_may_goto(R: list[int]) -> int:
            st = machine.state
            if st.may_goto <= 0:
                return target
            st.may_goto -= 1
            return nxt
        return op_may_goto

    def _compile_local_call(self, prog: CompiledProgram, target: int, nxt: int) -> Op:
        machine = self

        def op_call_local(R: list[int]) -> int:
            machine._push_frame(machine.state, R, nxt)
            return target
        return op_call_local

    def _compile_callx(self, insn: Instruction, nxt: int) -> Op:
        machine = self
        reg = insn.dst if insn.dst else (insn.imm if 0 <= insn.imm <= 10 else 0)

        def op_callx(R: list[int]) -> int:
            value = R[reg]
            if value in machine.helpers:
                R[0] = machine.helpers[value](machine, R[1], R[2], R[3], R[4], R[5]) & M64
                return nxt
            prog, pc = machine._code_target(value)
            st = machine.state
            machine._push_frame(st, R, nxt)
            if prog is not st.prog:
                raise _Switch(prog, pc)
            return pc
        return op_callx

    def _compile_helper_call(self, helper_id: int, nxt: int, prog: CompiledProgram, pc: int) -> Op:
        if helper_id == CORE_POISON:
            def op_poisoned(R: list[int]) -> int:
                raise VMError("reached an instruction poisoned by a failed CO-RE relocation "
                              "(the field or type does not exist in the target BTF)")
            return op_poisoned
        if self.helpers.get(helper_id) is None:
            raise HelperError(f"{prog.name}: helper {helper_name(helper_id)} (id {helper_id}) is not "
                              f"supported by the VM (called at slot {pc})")
        machine = self

        def op_helper(R: list[int]) -> int:
            # looked up per call, so a helper replaced after load takes effect (as in the JIT)
            impl = machine.helpers.get(helper_id)
            if impl is None:
                raise HelperError(f"helper {helper_name(helper_id)} (id {helper_id}) is not "
                                  f"supported by the VM")
            R[0] = impl(machine, R[1], R[2], R[3], R[4], R[5]) & M64
            return nxt
        return op_helper

    def _bind_call(self, impl: Helper, nxt: int) -> Op:
        machine = self

        def op_call(R: list[int]) -> int:
            R[0] = impl(machine, R[1], R[2], R[3], R[4], R[5]) & M64
            return nxt
        return op_call

    def _compile_lddw(self, insn: Instruction, pc: int, nxt: int, prog: CompiledProgram) -> Op:
        d, src = insn.dst, insn.src
        if src == PseudoSrc.FUNC:
            target = pc + _s32(insn.imm) + 1
            value = prog.code_base + 8 * target
        elif src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            value = self._map_for(insn, prog, pc).handle
        elif src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            vm_map = self._map_for(insn, prog, pc)
            value_addr = getattr(vm_map, "direct_value_address", None)
            if value_addr is None:
                raise VMError(f"{prog.name}: map {vm_map.name!r} has no directly addressable value "
                              f"(LDDW at slot {pc})")
            value = value_addr((insn.imm64 >> 32) & M32)
        else:
            raise VMError(f"{prog.name}: LDDW with pseudo source {src} (kernel symbol by BTF id) "
                          f"is not supported by the VM (slot {pc})")
        value &= M64

        def op_lddw(R: list[int]) -> int:
            R[d] = value
            return nxt
        return op_lddw

    def _map_for(self, insn: Instruction, prog: CompiledProgram, pc: int) -> Any:
        vm_map = None
        if insn.ref is not None:
            vm_map = self.maps_by_ref.get(insn.ref)
        if vm_map is None:
            vm_map = self.maps_by_fd.get(insn.imm64 & M32)
        if vm_map is None:
            what = repr(insn.ref) if insn.ref else f"fd {insn.imm64 & M32}"
            raise VMError(f"{prog.name}: LDDW at slot {pc} refers to unknown map {what}")
        return vm_map

    def _compile_atomic(self, insn: Instruction, nxt: int) -> Op:
        size, d, s, off, code = insn.size_bytes, insn.dst, insn.src, insn.off, insn.imm
        load, store = self.mem.loader(size), self.mem.storer(size)
        mask = M64 if size == 8 else M32
        base_op = code & ~AtomicOp.FETCH
        fetch = bool(code & AtomicOp.FETCH)
        combine = {AtomicOp.ADD: lambda a, b: (a + b) & mask, AtomicOp.OR: lambda a, b: a | b,
                   AtomicOp.AND: lambda a, b: a & b, AtomicOp.XOR: lambda a, b: a ^ b}

        if code == AtomicOp.CMPXCHG:
            def op_cmpxchg(R: list[int]) -> int:
                addr = R[d] + off
                old = load(addr)
                if old == R[0] & mask:
                    store(addr, R[s])
                else:
                    store(addr, old)            # the kernel's cmpxchg always checks writability
                R[0] = old
                return nxt
            return op_cmpxchg
        if code == AtomicOp.XCHG:
            def op_xchg(R: list[int]) -> int:
                addr = R[d] + off
                old = load(addr)
                store(addr, R[s])
                R[s] = old
                return nxt
            return op_xchg
        fn = combine[AtomicOp(base_op)]

        def op_atomic(R: list[int]) -> int:
            addr = R[d] + off
            old = load(addr)
            store(addr, fn(old, R[s] & mask))
            if fetch:
                R[s] = old
            return nxt
        return op_atomic

    def _compile_legacy_load(self, insn: Instruction, nxt: int) -> Op:
        """LD_ABS/LD_IND: big-endian load from the packet of the skb in r6; out of bounds exits 0."""
        size, s, imm, mode = insn.size_bytes, insn.src, insn.imm, insn.mode
        machine = self

        def op_ld_packet(R: list[int]) -> int:
            offset = imm + (_s32(R[s]) if mode == Mode.IND else 0)
            data = machine.legacy_packet()
            if data is None:
                raise VMError("legacy packet load (LD_ABS/LD_IND) needs a socket buffer context")
            if offset < 0 or offset + size > len(data):
                R[0] = 0
                raise _Exit
            R[0] = int.from_bytes(data[offset:offset + size], "big")
            return nxt
        return op_ld_packet

    def legacy_packet(self) -> bytes | None:
        """Packet bytes for LD_ABS/LD_IND: the socket buffer's data from skb->data on."""
        packet = getattr(self.context, "packet_bytes", None)
        return packet() if packet is not None else None

    # --- services for helpers ---------------------------------------------------------------------
    def tail_call(self, target: Any, ctx: int) -> int:
        """Continue in ``target`` (a VM program) with r1 = ctx; returns an error if over the limit."""
        st = self.state
        compiled = getattr(target, "compiled", target)
        if st is None or st.tail_calls >= MAX_TAIL_CALLS or compiled.ops is None:
            return (-2) & M64                      # -ENOENT: the kernel just falls through
        st.tail_calls += 1
        st.regs[1] = ctx & M64
        raise _Switch(compiled, 0)

    def current_task_address(self) -> int:
        """Address of the simulated current task_struct (laid out by the context module)."""
        if self._task_region is None:
            from .context import build_task_region
            self._task_region = build_task_region(self)
        return self._task_region.base

    def set_current_process(self, process: Any) -> None:
        """Make ``process`` (a SimProcess) the current task; its task_struct is laid out anew on
        next use (the previous layout is unmapped). Used to simulate a process table."""
        self.env.process = process
        if self._task_region is not None:
            self.mem.unmap(self._task_region)
            self._task_region = None


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


__all__ = ["Machine", "STACK_SIZE", "MAX_CALL_FRAMES", "MAX_TAIL_CALLS", "DEFAULT_BUDGET",
           "Region", "MemoryAccessError"]
