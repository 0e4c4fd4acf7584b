"""The abstract interpreter: explores every path of a program over register/stack abstractions.

Checks each instruction's safety the way the Linux verifier does for a privileged (CAP_BPF +
CAP_PERFMON) loader, prunes states already covered by a fully explored one, and raises a
ProgramRejected subclass at the first unsafe instruction. Never runs the program or touches the kernel.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from ..isa import Instruction
from ..isa.opcodes import ALUOp, Class, JumpOp, Mode, PseudoSrc
from ..isa.uapi import MapType, ProgramType, helper_name
from . import bounds as B
from . import tnum as T
from . import helpers as H
from .bounds import Bounds
from .cfg import ProgramShape, compute_relevance
from .context import PACKET_TYPES as PKT_PROG_TYPES, PACKET_WRITE_TYPES, SKB_TYPES, context_access
from .global_funcs import CTX, SCALAR, GlobalArg, GlobalFunc
from .regs import (NOT_INIT, OR_NULL, PACKET_TYPES, UNKNOWN_SCALAR, MapInfo, Reg, RegType,
                   const_scalar, scalar)
from .rejections import (
    ComplexityLimitError, InvalidInstructionError, ContextAccessError, HelperCallError, InfiniteLoopError,
    InvalidMemoryAccessError, InvalidRegisterError, MapValueBoundsError, MemoryBoundsError,
    NullPointerError, PacketBoundsError, PointerArithmeticError, ProgramRejected,
    ProgramStructureError, ReferenceLeakError, ReturnValueError, StackAccessError,
    UninitializedRegisterError, UnsupportedFeatureError,
)
from .state import (EMPTY_SLOT, INVALID, MAX_STACK, MISC, SPILL, ZERO, Checkpoint, Frame, Slot,
                    State, fresh_frame, state_covers, state_signature)

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
MAX_VAR_OFF = 1 << 29
MAX_CALL_FRAMES = 8
MAX_PACKET_OFF = 0xFFFF

_JMP_OPS = {JumpOp.JEQ: "==", JumpOp.JNE: "!=", JumpOp.JGT: ">", JumpOp.JGE: ">=",
            JumpOp.JLT: "<", JumpOp.JLE: "<=", JumpOp.JSGT: "s>", JumpOp.JSGE: "s>=",
            JumpOp.JSLT: "s<", JumpOp.JSLE: "s<=", JumpOp.JSET: "&"}
_ALU_NAMES = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=",
              0x70: ">>=", 0x80: "neg", 0x90: "%=", 0xA0: "^=", 0xB0: "=", 0xC0: "s>>=",
              0xD0: "endian"}

# what ARG_PTR_TO_MEM-like helper arguments may point to
_MEM_ARG_TYPES = (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY,
                  RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META, RegType.PTR_TO_MEM)

# kfuncs taking no arguments and returning nothing, the only ones pybpf models
VOID_KFUNCS = frozenset({"bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_preempt_disable",
                         "bpf_preempt_enable"})

# return value ranges the kernel enforces at program exit, per program type
RETURN_RANGES = {ProgramType.CGROUP_SKB: (0, 1), ProgramType.CGROUP_SOCK: (0, 1),
                 ProgramType.CGROUP_DEVICE: (0, 1), ProgramType.CGROUP_SYSCTL: (0, 1),
                 ProgramType.CGROUP_SOCKOPT: (0, 1), ProgramType.SK_LOOKUP: (0, 1),
                 ProgramType.CGROUP_SOCK_ADDR: (0, 1)}


_NO_MIXING = frozenset({RegType.PTR_TO_CTX, RegType.PTR_TO_BTF_ID, RegType.PTR_TO_ARENA})

# Enum members the per-instruction paths compare against, bound once: on Python 3.11 every
# ``RegType.X`` / ``ALUOp.X`` lookup goes through EnumType.__getattr__'s slow attribute hook
# (about 5x a plain class attribute), and a loop the kernel gives up on after 1M processed
# instructions makes pybpf take these paths a million times.
_T_NOT_INIT, _T_STACK = RegType.NOT_INIT, RegType.PTR_TO_STACK
_ALU64 = Class.ALU64
_ST = Class.ST
_MOV, _NEG_OR_END = ALUOp.MOV, (ALUOp.NEG, ALUOp.END)
_DIV_OR_MOD = (ALUOp.DIV, ALUOp.MOD)
_SHIFTS = (ALUOp.LSH, ALUOp.RSH, ALUOp.ARSH)
_EXIT, _CALL, _JA = JumpOp.EXIT, JumpOp.CALL, JumpOp.JA
_MEMSX, _ATOMIC = Mode.MEMSX, Mode.ATOMIC


@dataclass
class Options:
    privileged: bool = True            # root / CAP_BPF+CAP_PERFMON semantics (allow_ptr_leaks...)
    insn_limit: int = 1_000_000        # BPF_COMPLEXITY_LIMIT_INSNS
    state_limit: int = 64 * 1024       # stored states before giving up
    expected_attach_type: int | None = None
    btf_ctx: tuple[int, ...] | None = None     # tracing programs: pointee BTF id per ctx slot
    btf: object = None                         # the BTF those ids refer to (normally vmlinux)
    global_funcs: dict[int, GlobalFunc] | None = None  # first slot -> global subprog (func_info)


class _PathEnd(Exception):
    """This path finished (exit of the main program or of a callback)."""


class Analyzer:
    """One verification run. ``step`` is deterministic so a rejected path can be replayed."""

    def __init__(self, shape: ProgramShape, prog_type: int, maps: dict[str, MapInfo],
                 options: Options) -> None:
        self.shape = shape
        self.prog_type = prog_type
        self.maps = maps
        self.opt = options
        self.processed = 0
        self.total_states = 0
        self.peak_states = 0
        self.cur_states = 0
        self.max_states_per_insn = 0
        # pc -> finished checkpoints (branches == 0, the only ones that can prune), creation order
        self.checkpoints: dict[int, list[Checkpoint]] = {}
        # pc -> how many checkpoints there are still being explored (branches > 0). They are
        # counted, not listed: a loop the analysis keeps unrolling leaves thousands of them at its
        # head, and scanning them at every visit made such programs quadratic in their length.
        self.in_progress: dict[int, int] = {}
        self.stack_depth: dict[int, int] = {s: 0 for s in shape.subprog_starts}
        self.call_edges: set[tuple[int, int]] = set()
        self.signatures: dict[tuple, list[Checkpoint]] = {}
        self.trace: list[str] | None = None      # set to a list to log every processed insn
        self.access_types: dict[int, set[RegType]] = {}   # slot -> base pointer types it accessed
        self.map_calls: dict[int, set[tuple[int, RegType | None]]] = {}  # helper slot -> (map type, key ptr type)
        self.base_in_region: dict[int, bool] = {}   # slot -> its base pointer itself was in region
        self.trace_limit = 100_000
        self.jmps_since_cp = 0
        self.insns_since_cp = 0
        self.entry = 0                    # where exploration starts: 0, or a global function
        self.global_calls: dict[int, int] = {}   # global function start -> first call site seen
        self.relevant = compute_relevance(shape, self._relevant_args, self._exit_uses_r0)

    def _relevant_args(self, func_id: int) -> set[int]:
        proto = H.PROTOS.get(func_id)
        if proto is None:
            return {1, 2, 3, 4, 5}
        return {i + 1 for i, kind in enumerate(proto.args) if kind != H.ANY}

    def _exit_uses_r0(self, pc: int) -> bool:
        return self.shape.subprog_of.get(pc, 0) != 0 or self.prog_type in RETURN_RANGES

    # --- entry state -----------------------------------------------------------------------
    def initial_state(self) -> State:
        if self.entry:                     # a global function, verified on its own
            return self._global_entry_state(self.opt.global_funcs[self.entry])  # type: ignore
        frame = fresh_frame(-1, 0, 0)
        frame.regs[1] = Reg(RegType.PTR_TO_CTX, B.ZERO)
        frame.regs[10] = Reg(RegType.PTR_TO_STACK, B.ZERO, frame=0)
        return State([frame], pc=0)

    # --- exploration -----------------------------------------------------------------------
    def run(self) -> None:
        """Explore the program from insn 0, then, like the kernel, each global function some
        explored path called, once and on its own (they may call further global functions)."""
        self._explore()
        done: set[int] = set()
        while pending := [s for s in self.global_calls if s not in done]:
            for start in pending:
                done.add(start)
                self.entry = start
                self._explore_global(self.opt.global_funcs[start])  # type: ignore[index]
        self.entry = 0

    def _explore(self) -> None:
        worklist = [self.initial_state()]
        first = True
        prune_points, limit, step = self.shape.prune_points, self.opt.insn_limit, self.step
        while worklist:
            st = worklist.pop()
            try:
                while True:
                    if not first and st.pc in prune_points:
                        if self._visit_prune_point(st):
                            raise _PathEnd
                    first = False
                    self.processed += 1
                    self.insns_since_cp += 1
                    if self.processed > limit:
                        raise ComplexityLimitError(
                            f"BPF program is too large. Processed {self.processed} insn "
                            f"(limit {limit}); the analysis could not prove that "
                            "every loop terminates within the limit", pc=st.pc)
                    st.recent.append(st.pc)
                    st.depth += 1
                    if self.trace is not None and len(self.trace) < self.trace_limit:
                        self._trace(st)
                    succ = step(st)
                    if not succ:
                        raise _PathEnd
                    for other in succ[1:]:
                        if other.parent is not None:
                            other.parent.branches += 1
                        worklist.append(other)
                    st = succ[0]
            except _PathEnd:
                self._path_done(st)
            except ProgramRejected as exc:
                exc.path_pcs = st.visited()  # type: ignore[attr-defined]
                exc.path_checkpoint = st.parent  # type: ignore[attr-defined]
                raise

    def _trace(self, st: State) -> None:
        from .disasm import format_insn
        regs = " ".join(f"R{r}={reg.describe()}" for r, reg in enumerate(st.regs)
                        if reg.type is not RegType.NOT_INIT)
        depth = f"[{len(st.frames) - 1}] " if len(st.frames) > 1 else ""
        self.trace.append(f"{depth}{st.pc}: {format_insn(self.shape.insns[st.pc], st.pc)} ; {regs}")

    def _path_done(self, st: State) -> None:
        if self.trace is not None and len(self.trace) < self.trace_limit:
            self.trace.append(f"{st.pc}: path ends (exit or covered by an explored state)")
        cp = st.parent
        while cp is not None:
            cp.branches -= 1
            if cp.branches:
                break
            self._finish_checkpoint(cp)
            cp = cp.parent

    def _finish_checkpoint(self, cp: Checkpoint) -> None:
        """Every path from ``cp`` is explored: it may now prune, so list it at its creation place.

        Only a finished state may prune (its descendants were all proven safe); in-progress ones
        never reach the list, and never leave a finished one out of order.
        """
        self.in_progress[cp.pc] -= 1
        bisect.insort(self.checkpoints.setdefault(cp.pc, []), cp, key=_serial)

    def _stored_at(self, pc: int) -> int:
        """States stored at ``pc``: finished ones plus those still being explored."""
        return len(self.checkpoints.get(pc, ())) + self.in_progress.get(pc, 0)

    def _visit_prune_point(self, st: State) -> bool:
        pc = st.pc
        lst = self.checkpoints.setdefault(pc, [])
        if pc in self.shape.loop_heads:
            sig = (pc, state_signature(st))
            for cp in self.signatures.get(sig, ()):
                if cp.branches > 0:
                    raise InfiniteLoopError(
                        f"infinite loop detected at insn {pc}: the loop comes back to exactly the "
                        "same state, so it can never exit", pc=pc)
        else:
            sig = None
        live = self.shape.live
        in_progress = self.in_progress.get(pc, 0) > 0
        add_new = not (in_progress and self.jmps_since_cp < 20 and self.insns_since_cp < 100)
        keep: list[Checkpoint] = []
        pruned = False
        for i, cp in enumerate(lst):           # finished checkpoints only
            if state_covers(cp.state, st, live, exact=False, relevant=self.relevant):
                cp.hits += 1
                keep.extend(lst[i:])
                pruned = True
                break
            if add_new:
                cp.misses += 1              # like the kernel: evict states that never prune
            if cp.misses <= cp.hits * 16 + 16:
                keep.append(cp)
        lst[:] = keep
        if pruned:
            return True
        if not add_new:
            return False
        self.total_states += 1
        cp = Checkpoint(pc, st.snapshot(), 1, st.parent, pc in self.shape.loop_heads,
                        serial=self.total_states, depth=st.depth)
        self.in_progress[pc] = self.in_progress.get(pc, 0) + 1
        if sig is not None:
            self.signatures.setdefault(sig, []).append(cp)
        st.parent = cp
        self.cur_states = sum(len(v) for v in self.checkpoints.values()) \
            + sum(self.in_progress.values()) \
            if self.total_states % 64 == 0 else self.cur_states + 1
        self.peak_states = max(self.peak_states, self.cur_states)
        self.max_states_per_insn = max(self.max_states_per_insn, self._stored_at(pc))
        self.jmps_since_cp = 0
        self.insns_since_cp = 0
        if self.total_states > self.opt.state_limit:
            raise ComplexityLimitError(
                f"too many states ({self.total_states}) stored while exploring paths", pc=pc)
        return False

    # --- register access -------------------------------------------------------------------
    @staticmethod
    def _check_regno(regno: int) -> None:
        if regno > 10:
            raise InvalidRegisterError(f"R{regno} is invalid (registers are r0-r10)")

    def read(self, st: State, regno: int) -> Reg:
        self._check_regno(regno)
        reg = st.frames[-1].regs[regno]
        if reg.type is _T_NOT_INIT:
            raise UninitializedRegisterError(
                f"R{regno} !read_ok: r{regno} is read before any instruction on this path wrote it")
        return reg

    def write(self, st: State, regno: int, reg: Reg) -> None:
        self._check_regno(regno)
        if regno == 10:
            raise InvalidRegisterError("frame pointer is read only (r10 cannot be written)")
        st.frames[-1].regs[regno] = reg

    # --- the transfer function -------------------------------------------------------------
    def step(self, st: State) -> list[State]:
        """Apply the instruction at ``st.pc`` to ``st``; return the successor states."""
        pc = st.pc
        insn = self.shape.insns[pc]
        self.current_pc = pc
        try:
            handler = self._HANDLERS.get(insn.cls)
            if handler is None:
                return self._jump(st, insn, pc)
            handler(self, st, insn)
        except ProgramRejected as exc:
            if exc.pc is None:
                exc.pc = pc
                exc._refresh()
            raise
        st.pc = pc + insn.slots
        return [st]

    def _jump(self, st: State, insn: Instruction, pc: int) -> list[State]:
        """JMP/JMP32 class: exit, calls, gotos and conditional jumps."""
        op = insn.jump_op
        if op == _EXIT:
            return self._exit(st)
        if op == _CALL:
            return self._call(st, insn, pc)
        self.jmps_since_cp += 1
        if op == _JA:
            st.pc = pc + 1 + insn.jump_offset
            return [st]
        return self._cond_jump(st, insn, pc)

    def _ld(self, st: State, insn: Instruction) -> None:
        """LD class: the 64-bit immediate load or a legacy packet load (LD_ABS/LD_IND)."""
        if insn.opcode == 0x18:
            self._lddw(st, insn, self.current_pc)
        else:
            self._ld_abs(st, insn)

    # --- ALU -------------------------------------------------------------------------------
    def _alu(self, st: State, insn: Instruction) -> None:
        is64 = insn.cls == _ALU64
        op = insn.alu_op
        dst = insn.dst
        self._check_regno(dst)
        if insn.source:
            self._check_regno(insn.src)
        if op == _MOV:
            if insn.source:
                src = self.read(st, insn.src)
                if insn.off == 1 and is64:             # addr_space_cast
                    self._addr_space_cast(st, insn, src)
                    return
                if insn.off:                           # movsx
                    if src.is_pointer:
                        self._ptr_leak_check(insn.src, "sign-extending move of a pointer")
                        value = UNKNOWN_SCALAR
                    else:
                        value = scalar(B.sign_extend(src.var, insn.off))
                    if not is64:
                        value = scalar(B.truncate32(value.var))
                    self.write(st, dst, value)
                    return
                if is64:
                    if src.is_scalar and not src.id and not src.var.is_const:
                        src = src.with_(id=st.new_id())
                        st.regs[insn.src] = src
                    self.write(st, dst, src)
                    return
                if src.is_pointer:
                    self._ptr_leak_check(insn.src, "partial copy of pointer")
                    self.write(st, dst, scalar(B.low32(B.UNKNOWN)))
                    return
                if src.var.fits_u32():
                    if not src.id and not src.var.is_const:
                        src = src.with_(id=st.new_id())
                        st.regs[insn.src] = src
                    self.write(st, dst, src)
                else:
                    self.write(st, dst, scalar(B.low32(src.var)))
                return
            imm = insn.imm & U64 if is64 else insn.imm & U32
            self.write(st, dst, const_scalar(imm))
            return
        d = self.read(st, dst)
        if dst == 10:
            self.write(st, dst, d)                     # raises: frame pointer is read only
        if op in _NEG_OR_END:
            if d.is_pointer:
                self._ptr_leak_check(dst, "pointer arithmetic")
                self.write(st, dst, UNKNOWN_SCALAR)
                return
            v = d.var if is64 or op == ALUOp.END else B.low32(d.var)
            if op == ALUOp.NEG:
                res = B.neg(v)
                res = res if is64 else B.truncate32(res)
            else:
                res = B.bswap(v, insn.imm, to_le=not insn.source and not is64)
            self.write(st, dst, scalar(res))
            return
        if insn.source:
            s = self.read(st, insn.src)
        else:
            s = const_scalar(insn.imm & U64 if is64 else insn.imm & U32)
            bits = 64 if is64 else 32
            if op in _DIV_OR_MOD and insn.imm == 0:
                raise ProgramRejected("div by zero (the immediate divisor is 0)")
            if op in _SHIFTS and not 0 <= insn.imm < bits:
                raise ProgramRejected(f"invalid shift {insn.imm} (must be 0..{bits - 1})")
        if d.is_pointer or s.is_pointer:
            self.write(st, dst, self._pointer_alu(st, insn, d, s, is64))
            return
        self.write(st, dst, scalar(self._scalar_alu(op, d.var, s.var, is64, insn.off)))

    def _addr_space_cast(self, st: State, insn: Instruction, src: Reg) -> None:
        if not any(m.type == MapType.ARENA for m in self.maps.values()):
            raise ProgramRejected("addr_space_cast insn can only be used in a program that has "
                                  "an associated arena")
        if insn.imm == 1:                              # arena (as 1) -> kernel pointer (as 0)
            self.write(st, insn.dst, Reg(RegType.PTR_TO_ARENA, B.ZERO))
        elif insn.imm == 1 << 16:                      # kernel -> user arena address: 32 bits
            self.write(st, insn.dst, scalar(B.low32(B.UNKNOWN)))
        else:
            raise InvalidInstructionError(f"invalid addr_space_cast imm {insn.imm:#x}")

    def _ptr_leak_check(self, regno: int, what: str) -> None:
        if not self.opt.privileged:
            raise PointerArithmeticError(f"R{regno} {what} prohibited (unprivileged)")

    @staticmethod
    def _scalar_alu(op: int, a: Bounds, b: Bounds, is64: bool, off: int) -> Bounds:
        if is64:
            return _alu_op(op, a, b, 64, off)
        r = B.truncate32(_alu_op(op, B.low32(a), B.low32(b), 32, off))
        if op in (ALUOp.DIV, ALUOp.MOD) and not r.is_const:
            return B.UNKNOWN
        if op in (ALUOp.LSH, ALUOp.RSH, ALUOp.ARSH) and not B.low32(b).is_const:
            return B.UNKNOWN                # like the kernel: not even zero-extended
        if op in (ALUOp.ADD, ALUOp.SUB, ALUOp.MUL):
            r = B.with_s32(r, _alu_op(op, B.sext32(a), B.sext32(b), 64, off))
        return r

    def _pointer_alu(self, st: State, insn: Instruction, d: Reg, s: Reg, is64: bool) -> Reg:
        op = insn.alu_op
        dst = insn.dst
        opname = _ALU_NAMES.get(op, "?")
        if not is64:
            if op == ALUOp.SUB and self.opt.privileged:
                return scalar(B.low32(B.UNKNOWN))
            raise PointerArithmeticError(f"R{dst} 32-bit pointer arithmetic prohibited",
                                         hint="pointers are 64-bit; use 64-bit ALU instructions")
        if d.is_pointer and s.is_pointer:
            if op == ALUOp.SUB and self.opt.privileged:
                return UNKNOWN_SCALAR
            raise PointerArithmeticError(f"R{dst} pointer {opname} pointer prohibited")
        ptr, off = (d, s) if d.is_pointer else (s, d)
        if ptr.type is RegType.PTR_TO_ARENA:
            if op in (ALUOp.ADD, ALUOp.SUB) and not s.is_pointer:
                return Reg(RegType.PTR_TO_ARENA, B.ZERO)
            return UNKNOWN_SCALAR
        if ptr.type in OR_NULL:
            raise PointerArithmeticError(
                f"R{dst} pointer arithmetic on {ptr.type.value} prohibited, null-check it first",
                hint="compare the pointer with 0 before adjusting it")
        allowed = (RegType.PTR_TO_CTX, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY,
                   RegType.PTR_TO_STACK, RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META,
                   RegType.PTR_TO_MEM, RegType.PTR_TO_BTF_ID, RegType.PTR_TO_FUNC)
        if ptr.type not in allowed:
            if not (ptr.type is RegType.CONST_PTR_TO_MAP and off.var.is_const
                    and off.var.const == 0 and op == ALUOp.ADD):
                raise PointerArithmeticError(
                    f"R{dst} pointer arithmetic on {ptr.type.value} prohibited")
        if op == ALUOp.SUB:
            if s.is_pointer:
                raise PointerArithmeticError(f"R{dst} tried to subtract pointer from scalar")
            if ptr.type is RegType.PTR_TO_STACK:
                raise PointerArithmeticError(
                    f"R{dst} subtraction from stack pointer prohibited",
                    hint="add a negative constant instead (r1 += -8)")
        elif op in (ALUOp.AND, ALUOp.OR, ALUOp.XOR):
            raise PointerArithmeticError(f"R{dst} bitwise operator {opname} on pointer prohibited")
        elif op != ALUOp.ADD:
            raise PointerArithmeticError(
                f"R{dst} pointer arithmetic with {opname} operator prohibited")
        self._sane_offset(off, ptr, dst)
        name = ptr.type.value
        if off.var.is_const:
            delta = off.var.sconst if op == ALUOp.ADD else -off.var.sconst
            new_off = ptr.off + delta
            if not -MAX_VAR_OFF < new_off < MAX_VAR_OFF:
                raise PointerArithmeticError(f"value {delta} makes {name} pointer be out of bounds")
            return ptr.with_(off=new_off)
        var = B.add(ptr.var, off.var) if op == ALUOp.ADD else B.sub(ptr.var, off.var)
        new = ptr.with_(var=var)
        if ptr.type in PACKET_TYPES:
            new = new.with_(id=st.new_id(), range=0)
            if off.var.umax > MAX_PACKET_OFF or var.umax + ptr.off > MAX_PACKET_OFF:
                raise PacketBoundsError(
                    f"value {off.var.umax} makes pkt pointer be out of bounds",
                    hint="mask or bound the offset (e.g. & 0xff) before adding it to a packet pointer")
        if var.smin <= -MAX_VAR_OFF or var.smin == B.S64_MIN:
            raise PointerArithmeticError(
                f"math between {name} pointer and register with unbounded min value is not allowed")
        return new

    @staticmethod
    def _sane_offset(off: Reg, ptr: Reg, dst: int) -> None:
        name = ptr.type.value
        v = off.var
        if v.is_const:
            if not -MAX_VAR_OFF < v.sconst < MAX_VAR_OFF:
                raise PointerArithmeticError(
                    f"math between {name} pointer and {v.sconst} is not allowed")
            return
        if v.smin == B.S64_MIN:
            raise PointerArithmeticError(
                f"math between {name} pointer and register with unbounded min value is not allowed",
                hint=f"bound the offset in R{dst}'s operand with a check before adding it")
        if not -MAX_VAR_OFF < v.smin < MAX_VAR_OFF:
            raise PointerArithmeticError(f"value {v.smin} makes {name} pointer be out of bounds")

    # --- 64-bit immediate loads ------------------------------------------------------------
    def _lddw(self, st: State, insn: Instruction, pc: int) -> None:
        src = insn.src
        if src == PseudoSrc.IMM64:
            self.write(st, insn.dst, const_scalar(insn.imm64))
        elif src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX, PseudoSrc.MAP_VALUE,
                     PseudoSrc.MAP_IDX_VALUE):
            info = self._map_for(insn)
            if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
                self.write(st, insn.dst, Reg(RegType.CONST_PTR_TO_MAP, B.ZERO, map=info))
            else:
                off = insn.imm64 >> 32
                if info.type != MapType.ARRAY or info.max_entries != 1 or off >= info.value_size:
                    raise MapValueBoundsError(
                        f"invalid access to map value pointer, value_size={info.value_size} "
                        f"off={off}")
                self.write(st, insn.dst, Reg(RegType.PTR_TO_MAP_VALUE, B.ZERO, off=off, map=info,
                                             readonly=info.readonly))
        elif src == PseudoSrc.FUNC:
            imm = insn.imm & U32
            imm = imm - (1 << 32) if imm >> 31 else imm
            self._static_callback(pc + 1 + imm)
            self.write(st, insn.dst, Reg(RegType.PTR_TO_FUNC, B.ZERO, target=pc + 1 + imm))
        else:
            self.write(st, insn.dst, Reg(RegType.PTR_TO_BTF_ID, B.ZERO))

    def _map_for(self, insn: Instruction) -> MapInfo:
        key: object = insn.ref if insn.ref is not None else insn.imm64 & U32
        info = self.maps.get(key)  # type: ignore[arg-type]
        if info is None:
            raise ProgramRejected(
                f"the program references map {key!r}, which was not described to the verifier "
                f"(known maps: {', '.join(map(str, self.maps)) or 'none'})")
        return info

    # --- legacy packet loads ---------------------------------------------------------------
    def _ld_abs(self, st: State, insn: Instruction) -> None:
        if self.prog_type not in SKB_TYPES:
            raise ProgramRejected(
                "BPF_LD_[ABS|IND] instructions not allowed for this program type")
        ctx = st.regs[6]
        if ctx.type is not RegType.PTR_TO_CTX:
            raise ProgramRejected("at the time of BPF_LD_ABS|IND R6 != pointer to skb")
        if st.refs:
            raise ProgramRejected("BPF_LD_[ABS|IND] cannot be mixed with socket references")
        if insn.mode == Mode.IND:
            self.read(st, insn.src)
        for r in range(1, 6):
            st.regs[r] = NOT_INIT
        size = insn.size_bytes
        st.regs[0] = scalar(B.unsigned_range(0, (1 << (8 * size)) - 1))

    # --- memory ----------------------------------------------------------------------------
    def _same_pointer_kind(self, reg: Reg) -> None:
        """The kernel's save_aux_ptr_type: one load/store instruction may see several pointer
        types across paths only when none of them is a context, BTF or arena pointer (those
        accesses are rewritten per instruction)."""
        seen = self.access_types.get(self.current_pc)
        if not seen or reg.type in seen:
            return
        if reg.type in _NO_MIXING or not seen.isdisjoint(_NO_MIXING):
            raise InvalidMemoryAccessError(
                "same insn cannot be used with different pointers",
                hint=f"this instruction dereferences a {reg.type.value} pointer here and a "
                     f"{'/'.join(sorted(t.value for t in seen))} pointer on another path; "
                     "context, BTF and arena pointers need an instruction of their own")

    def _ldx(self, st: State, insn: Instruction) -> None:
        self.read(st, insn.src)
        self._check_regno(insn.dst)
        self._same_pointer_kind(st.regs[insn.src])
        value = self._mem_access(st, insn.src, insn.off, insn.size_bytes, write=False,
                                 value=None, sign=insn.mode == _MEMSX)
        self.write(st, insn.dst, value)

    def _store(self, st: State, insn: Instruction) -> None:
        size = insn.size_bytes
        if insn.cls == _ST:
            self.read(st, insn.dst)
            self._same_pointer_kind(st.regs[insn.dst])
            imm = insn.imm & ((1 << (8 * size)) - 1)
            self._mem_access(st, insn.dst, insn.off, size, write=True, value=const_scalar(imm),
                             st_imm=True)
            return
        src = self.read(st, insn.src)
        self.read(st, insn.dst)
        if insn.mode == _ATOMIC:
            self._atomic(st, insn, src)
            return
        self._same_pointer_kind(st.regs[insn.dst])
        self._mem_access(st, insn.dst, insn.off, size, write=True, value=src)

    def _atomic(self, st: State, insn: Instruction, src: Reg) -> None:
        ptr = st.regs[insn.dst]
        if ptr.type not in (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM):
            raise InvalidMemoryAccessError(
                f"BPF_ATOMIC stores into R{insn.dst} {ptr.type.value} is not allowed")
        if src.is_pointer:
            self._ptr_leak_check(insn.src, "leaks addr into mem")
        size = insn.size_bytes
        if ptr.var.is_const and (ptr.off + insn.off + ptr.var.sconst) % size:
            where = "value" if ptr.type is RegType.PTR_TO_MAP_VALUE else ptr.type.value
            raise InvalidMemoryAccessError(
                f"misaligned {where} access off {ptr.var.sconst}+{ptr.off}+{insn.off} size {size}",
                hint="atomic operations need naturally aligned addresses")
        if insn.imm == 0xF1:
            self.read(st, 0)
        self._mem_access(st, insn.dst, insn.off, size, write=False, value=None)
        self._mem_access(st, insn.dst, insn.off, size, write=True, value=UNKNOWN_SCALAR)
        width = B.UNKNOWN if size == 8 else B.low32(B.UNKNOWN)
        if insn.imm == 0xF1:
            st.regs[0] = scalar(width)
        elif insn.imm & 1:
            self.write(st, insn.src, scalar(width))

    def _mem_access(self, st: State, regno: int, off: int, size: int, *, write: bool,
                    value: Reg | None, sign: bool = False, st_imm: bool = False) -> Reg:
        reg = st.frames[-1].regs[regno]
        t = reg.type
        seen = self.access_types.get(self.current_pc)
        if seen is None:
            seen = self.access_types[self.current_pc] = set()
        seen.add(t)
        self._note_base(reg)
        if t is _T_STACK:
            return self._stack_access(st, regno, reg, off, size, write, value, sign, st_imm)
        what = "write into" if write else "read from"
        loaded = _loaded_scalar(size, sign)
        if t is RegType.PTR_TO_CTX:
            if reg.off or not (reg.var.is_const and reg.var.const == 0):
                raise ContextAccessError(
                    f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed",
                    hint="access context fields at a constant offset from the original r1")
            try:
                kind = context_access(self.prog_type, off, size, write,
                                      self.opt.expected_attach_type)
            except (KeyError, ValueError):
                raise UnsupportedFeatureError(
                    f"pybpf does not model the context of program type {self.prog_type}") from None
            if kind is None:
                raise ContextAccessError(
                    f"invalid bpf_context access off={off} size={size}",
                    hint=f"{'writing' if write else 'reading'} {size} bytes at offset {off} of the "
                         f"{_prog_name(self.prog_type)} context is not allowed")
            if write:
                return NOT_INIT
            if kind == "pkt":
                return Reg(RegType.PTR_TO_PACKET, B.ZERO)
            if kind == "pkt_end":
                return Reg(RegType.PTR_TO_PACKET_END, B.ZERO)
            if kind == "pkt_meta":
                return Reg(RegType.PTR_TO_PACKET_META, B.ZERO)
            if kind == "sock":
                raise UnsupportedFeatureError("pybpf does not model socket pointers (skb->sk)")
            btf_ctx = self.opt.btf_ctx
            if btf_ctx is not None and self.prog_type in (ProgramType.TRACING, ProgramType.LSM):
                slot = off // 8
                if slot >= len(btf_ctx):
                    raise ContextAccessError(
                        f"func has {len(btf_ctx)} args; reading arg {slot} is invalid "
                        f"(invalid bpf_context access off={off} size={size})")
                if btf_ctx[slot] and size == 8:
                    return self._btf_ptr(btf_ctx[slot])
            return loaded
        if t in OR_NULL:
            raise NullPointerError(
                f"R{regno} invalid mem access '{t.value}'",
                hint=f"R{regno} may be NULL here: compare it with 0 before dereferencing it")
        if t is RegType.PTR_TO_MAP_VALUE:
            assert reg.map is not None
            if write and reg.readonly:
                raise MapValueBoundsError(
                    f"write into map forbidden, value_size={reg.map.value_size} "
                    f"off={reg.off + off} size={size}", hint="the map is read-only (.rodata)")
            self._region_check(regno, reg, off, size, reg.map.value_size, "map value",
                               MapValueBoundsError, "value_size")
            data = reg.map.frozen_data
            if data is not None and not write and reg.var.is_const:
                start = reg.off + off + reg.var.sconst
                value = int.from_bytes(data[start:start + size], "little")
                if sign and value >> (8 * size - 1):
                    value -= 1 << (8 * size)
                return const_scalar(value)
            return loaded
        if t is RegType.PTR_TO_MAP_KEY and reg.map is not None:
            if write:                      # kernel check_mem_access: keys are read-only
                raise InvalidMemoryAccessError(f"write to change key R{regno} not allowed",
                                               hint="a map key pointer may only be read")
            self._region_check(regno, reg, off, size, reg.map.key_size, "map key",
                               MapValueBoundsError, "key_size")
            return loaded
        if t is RegType.PTR_TO_MEM:
            self._region_check(regno, reg, off, size, reg.range, "memory", MemoryBoundsError,
                               "mem_size")
            return loaded
        if t in PACKET_TYPES:
            if write and self.prog_type not in PACKET_WRITE_TYPES:
                raise PacketBoundsError("cannot write into packet")
            if reg.var.smin < 0:
                raise PacketBoundsError(
                    f"R{regno} min value is negative, either use unsigned index or do a "
                    "if (index >=0) check.")
            start = reg.off + off
            if start < 0 or start + size > reg.range:
                name = "pkt_meta" if t is RegType.PTR_TO_PACKET_META else "pkt"
                raise PacketBoundsError(
                    f"invalid access to packet, off={start} size={size}, "
                    f"R{regno}(id={reg.id},off={reg.off},r={reg.range})",
                    hint=f"packet access R{regno}+{start} ({size} bytes) may exceed data_end: "
                         f"check that {name} + {start + size} <= data_end first")
            return loaded
        if t is RegType.PTR_TO_ARENA:
            return loaded                           # arena faults are handled at run time
        if t is RegType.CONST_PTR_TO_MAP:
            if write:
                raise InvalidMemoryAccessError("only read from bpf_array is supported",
                                               hint="a map pointer's fields are read-only")
            return loaded
        if t is RegType.PTR_TO_BTF_ID:
            if write:
                raise UnsupportedFeatureError("pybpf does not model writes through BTF pointers")
            if reg.range:                               # a struct of known size
                start = reg.off + off
                if not reg.var.is_const or start < 0 or start + size > reg.range:
                    raise InvalidMemoryAccessError(
                        f"access beyond struct at off {start} size {size} (struct size "
                        f"{reg.range})", hint="read fields through a constant offset inside the struct")
                if reg.target and self.opt.btf is not None:
                    from .btf_ctx import field_pointee
                    pointee = field_pointee(self.opt.btf, reg.target, start, size)
                    if pointee:
                        return self._btf_ptr(pointee)
            return loaded
        raise InvalidMemoryAccessError(
            f"R{regno} invalid mem access '{t.value}'",
            hint=f"R{regno} holds a {t.value}, not a pointer that may be {what} directly")

    def _note_base(self, reg: Reg) -> None:
        """Record whether the access's base register itself points inside the region it accesses
        (its offset from the region start, the frame bottom for the stack, is in [0, 2**31)): then
        the base alone names the region, and the JIT may share one region lookup among accesses
        through the same register value."""
        start = -MAX_STACK if reg.type is _T_STACK else 0
        v = reg.var
        inside = (reg.off + v.smin >= start and reg.off + v.smax - start < (1 << 31)
                  and v.smin > B.S64_MIN)
        pc = self.current_pc
        self.base_in_region[pc] = self.base_in_region.get(pc, True) and inside

    def _btf_ptr(self, type_id: int) -> Reg:
        from .btf_ctx import struct_size
        size = struct_size(self.opt.btf, type_id) if self.opt.btf is not None else 0
        return Reg(RegType.PTR_TO_BTF_ID, B.ZERO, range=size, target=type_id)

    def _region_check(self, regno: int, reg: Reg, off: int, size: int, limit: int, what: str,
                      err: type, size_name: str) -> None:
        base = reg.off + off
        v = reg.var
        if v.smin < 0 and (v.smin == B.S64_MIN or base + v.smin < 0):
            raise err(f"R{regno} min value is negative, either use unsigned index or do a "
                      "if (index >=0) check.",
                      hint=f"the index added to R{regno} may be negative")
        lo = base + max(v.smin, 0)
        if lo < 0 or lo + size > limit:
            raise err(f"invalid access to {what}, {size_name}={limit} off={lo} size={size}",
                      hint=f"bytes {lo}..{lo + size - 1} are outside the {limit}-byte {what}")
        if v.umax >= MAX_VAR_OFF:
            raise err(f"R{regno} unbounded memory access, make sure to bounds check any such "
                      "access", hint="compare the index against the size before using it")
        hi = base + v.umax
        if hi + size > limit:
            raise err(f"invalid access to {what}, {size_name}={limit} off={hi} size={size}",
                      hint=f"R{regno}'s offset may reach {hi}; bound it so that {hi}+{size} <= {limit}")

    # --- stack -----------------------------------------------------------------------------
    def _stack_access(self, st: State, regno: int, reg: Reg, off: int, size: int, write: bool,
                      value: Reg | None, sign: bool, st_imm: bool) -> Reg:
        frame = st.frames[reg.frame]
        what = "write to" if write else "read from"
        if not reg.var.is_const:
            lo = reg.off + off + reg.var.smin
            hi = reg.off + off + reg.var.smax + size
            if reg.var.smin <= -MAX_VAR_OFF or reg.var.smax >= MAX_VAR_OFF or lo < -MAX_STACK \
                    or hi > 0:
                raise StackAccessError(
                    f"invalid variable-offset {'write to' if write else 'read from'} stack "
                    f"R{regno} var_off={reg.var.var} off={reg.off + off} size={size}",
                    hint="the variable stack offset may leave the 512-byte frame")
            if (reg.var.var.mask | reg.var.var.value + reg.off + off) & (size - 1):
                raise StackAccessError(
                    f"misaligned stack access off {reg.var.var}+{reg.off + off} size {size}")
            self._note_depth(frame, -lo)
            for addr in range(lo, hi):
                slot, pos = _slot_of(addr)
                if write:
                    self._set_byte(frame, slot, pos, MISC)
                elif not self.opt.privileged and \
                        frame.stack.get(slot, EMPTY_SLOT).kinds[pos] == INVALID:
                    raise StackAccessError(
                        f"invalid read from stack R{regno} var_off={reg.var.var} size={size}")
            return NOT_INIT if write else _loaded_scalar(size, sign)
        addr = reg.off + off + reg.var.sconst
        if addr < -MAX_STACK or addr + size > 0:
            raise StackAccessError(f"invalid {what} stack R{regno} off={addr} size={size}",
                                   hint="the stack frame is the 512 bytes below r10")
        if addr % size:
            raise StackAccessError(f"misaligned stack access off {addr} size {size}",
                                   hint="stack accesses must be aligned to their size")
        self._note_depth(frame, -addr)
        slot, pos = _slot_of(addr)
        cur = frame.stack.get(slot, EMPTY_SLOT)
        if write:
            assert value is not None
            self._stack_write(frame, slot, pos, size, cur, value, st_imm)
            return NOT_INIT
        return self._stack_read(regno, addr, slot, pos, size, cur, sign)

    def _note_depth(self, frame: Frame, depth: int) -> None:
        if depth > self.stack_depth.get(frame.subprog, 0):
            self.stack_depth[frame.subprog] = depth

    @staticmethod
    def _set_byte(frame: Frame, slot: int, pos: int, kind: int) -> None:
        cur = frame.stack.get(slot, EMPTY_SLOT)
        kinds = list(cur.kinds)
        spill, spill_size = cur.spill, cur.spill_size
        if spill is not None and kinds[pos] == SPILL:
            kinds = [MISC if k == SPILL else k for k in kinds]
            spill, spill_size = None, 0
        kinds[pos] = kind
        frame.stack[slot] = Slot(tuple(kinds), spill, spill_size)

    def _stack_write(self, frame: Frame, slot: int, pos: int, size: int, cur: Slot, value: Reg,
                     st_imm: bool) -> None:
        if size == 8:
            if value.is_scalar and st_imm and value.var.const == 0:
                frame.stack[slot] = Slot((ZERO,) * 8)
            else:
                frame.stack[slot] = Slot((SPILL,) * 8, value, 8)
            return
        kinds = list(cur.kinds)
        if cur.spill is not None and any(kinds[i] == SPILL for i in range(pos, pos + size)) \
                or (cur.spill is not None and cur.spill.is_pointer):
            kinds = [MISC if k == SPILL else k for k in kinds]
        elif cur.spill is not None and pos == 0:
            kinds = [MISC if k == SPILL else k for k in kinds]
        if value.is_pointer:
            raise StackAccessError("invalid size of register spill",
                                   hint="pointers can only be spilled to the stack as 8 bytes")
        if pos == 0 and value.is_scalar and (not st_imm or value.var.const != 0):
            trunc = _truncate(value, size)
            for i in range(size):
                kinds[i] = SPILL
            frame.stack[slot] = Slot(tuple(kinds), trunc, size)
            return
        is_zero = value.is_scalar and value.var.is_const and value.var.const & (
            (1 << (8 * size)) - 1) == 0
        for i in range(pos, pos + size):
            kinds[i] = ZERO if is_zero else MISC
        keep = cur.spill if (cur.spill is not None and SPILL in kinds) else None
        frame.stack[slot] = Slot(tuple(kinds), keep, cur.spill_size if keep else 0)

    def _stack_read(self, regno: int, addr: int, slot: int, pos: int, size: int, cur: Slot,
                    sign: bool) -> Reg:
        kinds = cur.kinds[pos:pos + size]
        if SPILL in kinds and cur.spill is not None:
            spill = cur.spill
            if spill.is_pointer:
                if size == 8:
                    return spill
                raise StackAccessError("invalid size of register fill",
                                       hint=f"the slot at fp{addr} holds a spilled pointer; "
                                            "read it back with an 8-byte load")
            if pos == 0 and size == cur.spill_size and kinds.count(SPILL) == len(kinds):
                if sign and size < 8:
                    return scalar(B.sign_extend(spill.var, 8 * size))
                return spill
        if kinds.count(ZERO) == len(kinds):
            return const_scalar(0)
        if INVALID in kinds and not self.opt.privileged:
            raise StackAccessError(f"invalid read from stack off {addr}+0 size {size}",
                                   hint="the stack bytes were never written on this path")
        return _loaded_scalar(size, sign)

    # --- calls -----------------------------------------------------------------------------
    def _call(self, st: State, insn: Instruction, pc: int) -> list[State]:
        if insn.is_pseudo_call:
            return self._bpf_call(st, insn, pc)
        if insn.is_kfunc_call and insn.ref in VOID_KFUNCS:
            if st.lock is not None:
                raise HelperCallError("function calls are not allowed while holding a lock")
            for r in range(6):
                st.regs[r] = NOT_INIT
            st.pc = pc + 1
            return [st]
        if insn.is_kfunc_call:
            raise UnsupportedFeatureError(
                f"pybpf does not verify kfunc calls ({insn.ref or f'btf id {insn.imm}'})")
        return self._helper_call(st, insn.imm, pc)

    def _bpf_call(self, st: State, insn: Instruction, pc: int) -> list[State]:
        fn = (self.opt.global_funcs or {}).get(pc + 1 + insn.imm)
        if fn is not None:
            return self._global_call(st, fn, pc)
        if st.lock is not None:
            raise HelperCallError("function calls are not allowed while holding a lock")
        if len(st.frames) >= MAX_CALL_FRAMES:
            raise ProgramStructureError(
                f"the call stack of {len(st.frames) + 1} frames is too deep ! "
                f"(the kernel allows {MAX_CALL_FRAMES})")
        target = pc + 1 + insn.imm
        self.call_edges.add((st.frame.subprog, target))
        frame = fresh_frame(pc, target, len(st.frames))
        for r in range(1, 6):
            frame.regs[r] = st.regs[r]
        frame.regs[10] = Reg(RegType.PTR_TO_STACK, B.ZERO, frame=frame.frameno)
        st.frames.append(frame)
        st.pc = target
        return [st]

    # --- global functions ------------------------------------------------------------------
    def _explore_global(self, fn: GlobalFunc) -> None:
        """Verify global function ``fn`` once, from its prototype-typed entry state; a rejection
        inside it says that the callers' actual arguments played no part."""
        try:
            self._explore()
        except ProgramRejected as exc:
            note = (f"found while verifying global function {fn.describe()} on its own: like the "
                    "kernel, pybpf assumes only what its BTF prototype says about its arguments")
            exc.hint = f"{exc.hint}; {note}" if exc.hint else note
            exc._refresh()
            raise

    def _global_entry_state(self, fn: GlobalFunc) -> State:
        """Frame 0 of a global function: r1-r5 typed from its prototype, its own stack."""
        frame = fresh_frame(-1, fn.start, 0)
        st = State([frame], pc=fn.start)
        for i, arg in enumerate(fn.args):
            frame.regs[i + 1] = self._global_arg_reg(st, arg)
        frame.regs[10] = Reg(RegType.PTR_TO_STACK, B.ZERO, frame=0)
        return st

    @staticmethod
    def _global_arg_reg(st: State, arg: GlobalArg) -> Reg:
        if arg.kind == CTX:
            return Reg(RegType.PTR_TO_CTX, B.ZERO)
        if arg.kind == SCALAR:
            return UNKNOWN_SCALAR
        if arg.nullable:                       # the function must NULL-check it first
            return Reg(RegType.PTR_TO_MEM_OR_NULL, B.ZERO, id=st.new_id(), range=arg.size)
        return Reg(RegType.PTR_TO_MEM, B.ZERO, range=arg.size)

    def _static_callback(self, target: int) -> None:
        fn = (self.opt.global_funcs or {}).get(target)
        if fn is not None:
            raise HelperCallError(
                "callback function not static",
                hint=f"{fn.name}() is a global function; callbacks (bpf_loop, "
                     "bpf_for_each_map_elem...) must be static functions")

    def _global_call(self, st: State, fn: GlobalFunc, pc: int) -> list[State]:
        """A call to a global function: check the arguments against its prototype, mark it for
        verification on its own, and continue with r0 an unknown scalar (the kernel assumes
        nothing else about the call, so pybpf may not either)."""
        if st.lock is not None:
            raise HelperCallError(
                "global function calls are not allowed while holding a lock",
                hint=f"release the lock before calling {fn.name}()")
        if fn.problem:
            err = UnsupportedFeatureError if fn.unsupported else HelperCallError
            raise err(fn.problem, hint=f"Caller passes invalid args into func#{fn.index} "
                                       f"('{fn.name}'): the kernel cannot type a global function "
                                       "with this prototype; make it static or change it")
        for i, arg in enumerate(fn.args):
            try:
                self._global_arg_check(st, fn, i, arg)
            except ProgramRejected as exc:
                note = (f"Caller passes invalid args into func#{fn.index} ('{fn.name}'): arguments "
                        f"of a global function must match its prototype {fn.describe()}")
                exc.hint = f"{exc.hint}; {note}" if exc.hint else note
                exc._refresh()
                raise
        self.call_edges.add((st.frame.subprog, fn.start))
        self.global_calls.setdefault(fn.start, pc)
        if fn.changes_packet:
            self._invalidate_packet_pointers(st)
        for r in range(1, 6):
            st.regs[r] = NOT_INIT
        st.regs[0] = UNKNOWN_SCALAR
        st.pc = pc + 1
        return [st]

    def _global_arg_check(self, st: State, fn: GlobalFunc, i: int, arg: GlobalArg) -> None:
        """btf_check_func_arg_match for one argument."""
        regno = i + 1
        reg = st.regs[regno]
        if arg.kind == SCALAR:
            if not reg.is_scalar:
                held = "nothing" if reg.type is RegType.NOT_INIT else f"a {reg.type.value} pointer"
                raise HelperCallError(f"R{regno} is not a scalar",
                                      hint=f"{fn.name}() takes an integer {arg.name}; R{regno} "
                                           f"holds {held}")
            return
        if arg.kind == CTX:
            if reg.type is RegType.PTR_TO_CTX and not reg.var.is_const:
                raise HelperCallError(f"variable ctx access var_off={reg.var.var} disallowed")
            if reg.type is RegType.PTR_TO_CTX and (reg.off or reg.var.const):
                raise HelperCallError(
                    f"dereference of modified ctx ptr R{regno} off={reg.off + reg.var.sconst} "
                    "disallowed", hint="pass the context pointer the program received, unmodified")
            if reg.type is not RegType.PTR_TO_CTX:
                raise HelperCallError(f"arg#{i} expects pointer to ctx",
                                      hint=f"{fn.name}() takes the program's context as "
                                           f"{arg.name}; R{regno} holds {reg.describe()}")
            return
        self._global_mem_arg(st, fn, regno, reg, arg)

    def _global_mem_arg(self, st: State, fn: GlobalFunc, regno: int, reg: Reg,
                        arg: GlobalArg) -> None:
        """A pointer argument: NULL, or ``arg.size`` bytes the function may read and write (the
        bytes are checked both ways, and the caller forgets what its stack bytes held)."""
        if reg.is_scalar and reg.var.is_const and reg.var.const == 0:
            if not arg.nullable:
                # The kernel lets a constant NULL through here, but the function dereferences
                # an arg:nonnull argument without a check: pybpf refuses it.
                raise NullPointerError(
                    f"arg#{regno - 1} is expected to be non-NULL",
                    hint=f"{fn.name}() dereferences {arg.name} (arg:nonnull) without a NULL check")
            return
        checked = reg.with_(type=OR_NULL[reg.type]) if reg.type in OR_NULL else reg
        if checked.type in PACKET_TYPES and fn.changes_packet:
            raise PacketBoundsError(
                f"R{regno} packet pointer passed to {fn.name}(), which may change packet data",
                hint=f"{fn.name}() calls a helper that moves or reallocates the packet (or a "
                     f"tail call), after which its {arg.name} would point to stale memory; pass "
                     "a copy on the stack")
        name = f"{fn.name}()"
        self._helper_pkt_access = True
        self._helper_mem(st, regno, checked, arg.size, write=False, name=name)
        self._helper_mem(st, regno, checked, arg.size, write=True, name=name)
        if checked.type is RegType.PTR_TO_STACK and not checked.var.is_const:
            self._forget_stack_bytes(st, checked, arg.size)
        if reg.type in OR_NULL and not arg.nullable:
            raise NullPointerError(f"arg#{regno - 1} is expected to be non-NULL",
                                   hint=f"null-check R{regno} before passing it as {fn.name}()'s "
                                        f"arg:nonnull {arg.name}")

    def _forget_stack_bytes(self, st: State, reg: Reg, size: int) -> None:
        """Every stack byte a variable-offset pointer argument may reach becomes unknown data."""
        frame = st.frames[reg.frame]
        for addr in range(reg.off + reg.var.smin, reg.off + reg.var.smax + size):
            slot, pos = _slot_of(addr)
            cur = frame.stack.get(slot, EMPTY_SLOT)
            if cur.spill is not None:
                frame.stack[slot] = Slot(tuple(MISC if k == SPILL else k for k in cur.kinds))
            self._set_byte(frame, slot, pos, MISC)

    def _exit(self, st: State) -> list[State]:
        r0 = st.regs[0]
        if r0.type is RegType.NOT_INIT:
            raise UninitializedRegisterError(
                "R0 !read_ok: the function exits without setting its return value in r0")
        if len(st.frames) > 1:
            callee = st.frames[-1]
            if r0.type is RegType.PTR_TO_STACK:       # the kernel refuses even the caller's own
                raise ProgramRejected("cannot return stack pointer to the caller")
            if callee.frameno in st.callback_of:
                if r0.is_pointer or r0.var.smin < 0 or r0.var.smax > 1:
                    raise ReturnValueError(
                        f"At callback return the register R0 has {r0.describe()} should have "
                        "been in [0, 1]")
                self._check_refs(st, "callback")
                return []
            st.frames.pop()
            caller = st.frames[-1]
            caller.regs[0] = r0
            for r in range(1, 6):
                caller.regs[r] = NOT_INIT
            st.pc = callee.callsite + 1
            return [st]
        if st.lock is not None:
            raise ReferenceLeakError("bpf_spin_unlock is missing",
                                     hint="release the spin lock on every path before exit")
        self._check_refs(st, "program")
        if st.frame.subprog:                   # a global function, verified on its own
            if not r0.is_scalar:
                raise ReturnValueError(
                    f"At subprogram exit the register R0 is not a scalar value ({r0.type.value})",
                    hint="a global function returns an int to its callers, never a pointer")
            return []
        rng = RETURN_RANGES.get(self.prog_type)  # type: ignore[call-overload]
        if rng is not None:
            lo, hi = rng
            if self.prog_type == ProgramType.CGROUP_SKB and \
                    self.opt.expected_attach_type == 1:
                hi = 3
            if not r0.is_scalar:
                raise ReturnValueError(
                    f"At program exit the register R0 is not a known value ({r0.type.value})")
            if r0.var.smin < lo or r0.var.smax > hi:
                raise ReturnValueError(
                    f"At program exit the register R0 has smin={r0.var.smin} smax={r0.var.smax} "
                    f"should have been in [{lo}, {hi}]")
        return []

    def _check_refs(self, st: State, where: str) -> None:
        if st.refs:
            ref, at = st.refs[0]
            raise ReferenceLeakError(
                f"Unreleased reference id={ref} alloc_insn={at}",
                hint=f"the ring buffer record reserved at insn {at} is neither submitted nor "
                     f"discarded on this path to the {where}'s exit")

    def _helper_call(self, st: State, func_id: int, pc: int) -> list[State]:
        name = helper_name(func_id)
        proto = H.PROTOS.get(func_id)
        if proto is None:
            raise UnsupportedFeatureError(
                f"pybpf has no prototype for helper {name}#{func_id}; it cannot check the call")
        if not H.allowed(proto, self.prog_type):
            raise HelperCallError(f"program of this type cannot use helper {name}#{func_id}")
        if st.lock is not None and proto.name not in ("spin_unlock",):
            raise HelperCallError("function calls are not allowed while holding a lock",
                                  hint="call bpf_spin_unlock first")
        regs = st.regs
        self._helper_pkt_access = proto.pkt_access
        map_info: MapInfo | None = None
        mem_arg: tuple[int, Reg, bool] | None = None
        callback: int | None = None
        callback_ctx: Reg | None = None
        release: Reg | None = None
        alloc_size = 0
        key_type: RegType | None = None
        for i, kind in enumerate(proto.args):
            regno = i + 1
            reg = regs[regno]
            if reg.type is RegType.NOT_INIT:
                raise UninitializedRegisterError(
                    f"R{regno} !read_ok: argument {regno} of {name} is not set")
            if kind == H.ANY:
                continue
            if kind == H.MAP:
                if reg.type is not RegType.CONST_PTR_TO_MAP:
                    raise HelperCallError(
                        f"R{regno} type={reg.type.value} expected=map_ptr",
                        hint=f"argument {regno} of {name} must be a map loaded with ld_imm64")
                map_info = reg.map
                assert map_info is not None
                if proto.map_types is not None and map_info.type not in proto.map_types:
                    raise HelperCallError(
                        f"cannot pass map_type {map_info.type} into func {name}#{func_id}")
            elif kind == H.CTX:
                if reg.type is not RegType.PTR_TO_CTX:
                    raise HelperCallError(f"R{regno} type={reg.type.value} expected=ctx")
                if reg.off or not reg.var.is_const or reg.var.const:
                    raise HelperCallError(
                        f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
            elif kind in (H.KEY, H.VALUE):
                assert map_info is not None
                size = map_info.key_size if kind == H.KEY else map_info.value_size
                self._helper_mem(st, regno, reg, size, write=False, name=name,
                                 map_types_ok=True)
                if kind == H.KEY:
                    key_type = reg.type
            elif kind in (H.MEM, H.MEM_OR_NULL, H.UNINIT_MEM, H.CONST_STR):
                mem_arg = (regno, reg, kind == H.UNINIT_MEM)
                null_ok = kind == H.MEM_OR_NULL and reg.is_scalar and reg.var.is_const \
                    and reg.var.const == 0
                if not null_ok and reg.type not in _MEM_ARG_TYPES:
                    if reg.type in OR_NULL:
                        raise NullPointerError(
                            f"R{regno} type={reg.type.value} expected=fp, pkt, pkt_meta, map_key, "
                            "map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                            hint=f"null-check R{regno} first")
                    raise HelperCallError(
                        f"R{regno} type={reg.type.value} expected=fp, pkt, pkt_meta, map_key, "
                        "map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                        hint=f"argument {regno} of {name} must point to memory")
                if kind == H.CONST_STR:
                    if reg.type is not RegType.PTR_TO_MAP_VALUE or not reg.readonly:
                        raise HelperCallError(
                            f"R{regno} does not point to a readonly map'",
                            hint="format strings must live in .rodata")
                    mem_arg = None
                elif kind == H.MEM_OR_NULL and reg.is_scalar and reg.var.is_const \
                        and reg.var.const == 0:
                    mem_arg = None
            elif kind == H.OUT_LONG:
                if reg.type not in _MEM_ARG_TYPES:
                    raise HelperCallError(
                        f"R{regno} type={reg.type.value} expected=fp, pkt, pkt_meta, map_key, "
                        "map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                        hint=f"argument {regno} of {name} must point to 8 writable bytes")
                if reg.var.is_const:           # MEM_ALIGNED: strict alignment (packets: +NET_IP_ALIGN)
                    start = reg.off + reg.var.sconst + (2 if reg.type in PACKET_TYPES else 0)
                    if start % 8:
                        raise InvalidMemoryAccessError(
                            f"misaligned {reg.type.value} access off {reg.off + reg.var.sconst} "
                            f"size 8", hint=f"{name} writes a long: pass an 8-byte aligned slot")
                self._helper_mem(st, regno, reg, 8, write=True, name=name)
            elif kind in (H.SIZE, H.SIZE0):
                if not reg.is_scalar:
                    raise HelperCallError(f"R{regno} type={reg.type.value} expected=scalar")
                v = reg.var
                if v.smin < 0:
                    raise HelperCallError(
                        f"R{regno} min value is negative, either use unsigned or 'var &= const'")
                if v.umax >= MAX_VAR_OFF:
                    raise HelperCallError(
                        f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < "
                        "const)'", hint=f"bound the size in R{regno}")
                if kind == H.SIZE and v.umin == 0:
                    raise HelperCallError(
                        f"R{regno} invalid zero-sized read: u64=[{v.umin},{v.umax}]",
                        hint=f"R{regno} (a size) may be 0 here; check it is at least 1")
                if mem_arg is not None:
                    mregno, mreg, out = mem_arg
                    self._helper_mem(st, mregno, mreg, v.umax, write=out, name=name)
                    mem_arg = None
            elif kind == H.FUNC:
                if reg.type is not RegType.PTR_TO_FUNC:
                    raise HelperCallError(f"R{regno} type={reg.type.value} expected=func")
                callback = reg.target
            elif kind == H.STACK_OR_NULL:
                if reg.type is RegType.PTR_TO_STACK or (reg.is_scalar and reg.var.is_const
                                                        and reg.var.const == 0):
                    callback_ctx = reg
                else:
                    raise HelperCallError(f"R{regno} type={reg.type.value} expected=fp")
            elif kind == H.ALLOC_SIZE:
                if not reg.is_scalar or not reg.var.is_const:
                    raise HelperCallError(f"R{regno} is not a known constant'",
                                          hint="ring buffer reservations need a constant size")
                alloc_size = reg.var.const
            elif kind == H.RINGBUF_MEM:
                if reg.type is RegType.PTR_TO_MEM_OR_NULL:
                    raise HelperCallError(
                        f"R{regno} type=ringbuf_mem_or_null expected=ringbuf_mem",
                        hint="check the reserved record against NULL first")
                if reg.type is not RegType.PTR_TO_MEM or not reg.ref:
                    raise HelperCallError(
                        f"R{regno} type={reg.type.value} expected=ringbuf_mem",
                        hint="pass the pointer returned by bpf_ringbuf_reserve")
                if reg.off or not reg.var.is_const or reg.var.const:
                    raise HelperCallError(
                        f"R{regno} must have zero offset when passed to release func")
                if all(r != reg.ref for r, _ in st.refs):
                    raise HelperCallError(f"R{regno} must be referenced when passed to release "
                                          "function (already released)")
                release = reg
            elif kind == H.SPIN_LOCK:
                if reg.type is not RegType.PTR_TO_MAP_VALUE or not reg.var.is_const:
                    raise HelperCallError(f"R{regno} type={reg.type.value} expected=map_value")
                key = (reg.map.name if reg.map else "", reg.off)
                if proto.name == "spin_lock":
                    if st.lock is not None:
                        raise HelperCallError("Locking two bpf_spin_locks are not allowed")
                    st.lock = key
                else:
                    if st.lock is None:
                        raise HelperCallError("bpf_spin_unlock without taking a lock")
                    if st.lock != key:
                        raise HelperCallError("bpf_spin_unlock of different lock")
                    st.lock = None
        if map_info is not None:
            self.map_calls.setdefault(pc, set()).add((map_info.type, key_type))
        known_key = None
        if proto.name == "map_lookup_elem" and map_info is not None and \
                map_info.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            known_key = self._constant_key(st, regs[2], map_info.key_size)
        if proto.name == "tail_call" and st.refs:
            raise ReferenceLeakError("tail_call would lead to reference leak")
        out: list[State] = []
        if callback is not None:
            out.append(self._callback_state(st, proto, callback, callback_ctx, map_info, pc))
            if callback_ctx is not None and callback_ctx.type is RegType.PTR_TO_STACK:
                self._scrub_stack(st.frames[callback_ctx.frame])
        if release is not None:
            self._release(st, release.ref)
        if proto.changes_packet:
            self._invalidate_packet_pointers(st)
        for r in range(1, 6):
            regs[r] = NOT_INIT
        if proto.ret == H.VOID:
            regs[0] = NOT_INIT
        elif proto.ret == H.MAP_VALUE_OR_NULL:
            assert map_info is not None
            if map_info.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                if map_info.inner is None:
                    raise UnsupportedFeatureError(
                        f"map-in-map {map_info.name!r} has no inner map description")
                regs[0] = Reg(RegType.CONST_PTR_TO_MAP_OR_NULL, B.ZERO, id=st.new_id(),
                              map=map_info.inner)
            elif proto.name == "map_lookup_elem" and known_key is not None \
                    and known_key < map_info.max_entries:
                regs[0] = Reg(RegType.PTR_TO_MAP_VALUE, B.ZERO, map=map_info)
            else:
                regs[0] = Reg(RegType.PTR_TO_MAP_VALUE_OR_NULL, B.ZERO, id=st.new_id(),
                              map=map_info)
        elif proto.ret == H.RINGBUF_MEM_OR_NULL:
            ref = st.new_id()
            st.refs = st.refs + ((ref, pc),)
            regs[0] = Reg(RegType.PTR_TO_MEM_OR_NULL, B.ZERO, id=ref, ref=ref, range=alloc_size)
        elif proto.ret == H.BTF_PTR:
            regs[0] = Reg(RegType.PTR_TO_BTF_ID, B.ZERO)
        else:
            regs[0] = UNKNOWN_SCALAR
        st.pc = pc + 1
        return [st, *out]

    @staticmethod
    def _constant_key(st: State, reg: Reg, key_size: int) -> int | None:
        """The array index a stack key holds when the kernel can tell (zeroed bytes or a spilled
        constant of exactly the key's size): such lookups cannot return NULL when in range."""
        if reg.type is not RegType.PTR_TO_STACK or not reg.var.is_const:
            return None
        addr = reg.off + reg.var.sconst
        if addr % 8 + key_size > 8 and addr % 8 != 0:
            return None
        slot, pos = _slot_of(addr)
        cur = st.frames[reg.frame].stack.get(slot, EMPTY_SLOT)
        kinds = cur.kinds[pos:pos + key_size]
        if len(kinds) == key_size and all(k == ZERO for k in kinds):
            return 0
        spill = cur.spill
        if spill is not None and spill.is_scalar and spill.var.is_const and pos == 0 \
                and cur.spill_size == key_size and all(k == SPILL for k in kinds):
            return spill.var.const
        return None

    def _helper_mem(self, st: State, regno: int, reg: Reg, size: int, *, write: bool, name: str,
                    map_types_ok: bool = False) -> None:
        t = reg.type
        if t in PACKET_TYPES and not self._helper_pkt_access:
            raise PacketBoundsError("helper access to the packet is not allowed",
                                    hint=f"{name} cannot read or write packet memory directly")
        if t is RegType.PTR_TO_STACK:
            frame = st.frames[reg.frame]
            lo = reg.off + reg.var.smin
            hi = reg.off + reg.var.smax + size
            if reg.var.smin <= -MAX_VAR_OFF or lo < -MAX_STACK or hi > 0:
                raise StackAccessError(
                    f"invalid {'write to' if write else 'read from'} stack R{regno} "
                    f"off={reg.off} size={size}",
                    hint=f"{name} would touch bytes outside the 512-byte stack frame")
            self._note_depth(frame, -lo)
            for addr in range(lo, hi):
                slot, pos = _slot_of(addr)
                cur = frame.stack.get(slot, EMPTY_SLOT)
                if write:
                    if reg.var.is_const:
                        if cur.spill is not None:
                            frame.stack[slot] = Slot(tuple(MISC if k == SPILL else k
                                                           for k in cur.kinds))
                        self._set_byte(frame, slot, pos, MISC)
                elif cur.kinds[pos] == INVALID and not self.opt.privileged:
                    raise StackAccessError(
                        f"invalid indirect read from stack R{regno} off {addr}+0 size {size}",
                        hint=f"initialise the buffer before passing it to {name}")
            return
        if t is RegType.PTR_TO_MAP_VALUE:
            assert reg.map is not None
            if write and reg.readonly:
                raise MapValueBoundsError("write into map forbidden")
            self._region_check(regno, reg, 0, size, reg.map.value_size, "map value",
                               MapValueBoundsError, "value_size")
            return
        if t is RegType.PTR_TO_MEM:
            self._region_check(regno, reg, 0, size, reg.range, "memory", MemoryBoundsError,
                               "mem_size")
            return
        if t is RegType.PTR_TO_MAP_KEY and reg.map is not None:
            if write:
                raise HelperCallError(f"R{regno} points to a map key, which is read-only")
            self._region_check(regno, reg, 0, size, reg.map.key_size, "map key",
                               MapValueBoundsError, "key_size")
            return
        if t in PACKET_TYPES:
            if write and self.prog_type not in PACKET_WRITE_TYPES:
                raise PacketBoundsError("cannot write into packet")
            if reg.off < 0 or reg.off + size > reg.range or reg.var.smin < 0:
                raise PacketBoundsError(
                    f"invalid access to packet, off={reg.off} size={size}, "
                    f"R{regno}(id={reg.id},off={reg.off},r={reg.range})",
                    hint=f"prove pkt + {reg.off + size} <= data_end before calling {name}")
            return
        if t in OR_NULL:
            raise NullPointerError(
                f"R{regno} type={t.value} expected=fp, pkt, pkt_meta, map_key, map_value, mem, "
                "ringbuf_mem, buf, trusted_ptr_", hint=f"null-check R{regno} first")
        raise HelperCallError(
            f"R{regno} type={t.value} expected=fp, pkt, pkt_meta, map_key, map_value, mem, "
            "ringbuf_mem, buf, trusted_ptr_",
            hint=f"argument {regno} of {name} must point to memory")

    def _callback_state(self, st: State, proto: H.Proto, target: int, ctx: Reg | None,
                        map_info: MapInfo | None, pc: int) -> State:
        if len(st.frames) >= MAX_CALL_FRAMES:
            raise ProgramStructureError(f"the call stack of {len(st.frames) + 1} frames is too deep !")
        cb = st.fork()
        self.call_edges.add((st.frame.subprog, target))
        frame = fresh_frame(pc, target, len(cb.frames))
        ctx_reg = ctx if ctx is not None else const_scalar(0)
        if proto.name == "loop":
            frame.regs[1] = scalar(B.unsigned_range(0, U32))
            frame.regs[2] = ctx_reg
        else:
            assert map_info is not None
            frame.regs[1] = Reg(RegType.CONST_PTR_TO_MAP, B.ZERO, map=map_info)
            frame.regs[2] = Reg(RegType.PTR_TO_MAP_KEY, B.ZERO, map=map_info)
            frame.regs[3] = Reg(RegType.PTR_TO_MAP_VALUE, B.ZERO, map=map_info)
            frame.regs[4] = ctx_reg
        frame.regs[10] = Reg(RegType.PTR_TO_STACK, B.ZERO, frame=frame.frameno)
        cb.frames.append(frame)
        cb.callback_of.append(frame.frameno)
        cb.pc = target
        cb.refs = ()            # the callback must not release the caller's references
        return cb

    @staticmethod
    def _scrub_stack(frame: Frame) -> None:
        """The callback (verified once) may have written any byte it could reach: forget values."""
        for slot, cur in list(frame.stack.items()):
            kinds = tuple(MISC if k in (SPILL, ZERO) else k for k in cur.kinds)
            frame.stack[slot] = Slot(kinds)

    # --- reference and pointer bookkeeping ------------------------------------------------
    def _all_regs(self, st: State):  # noqa: ANN202
        """Yield (frame, setter, reg) for every register and spilled register of every frame."""
        for frame in st.frames:
            for r in range(11):
                yield frame, ("reg", r), frame.regs[r]
            for slot, s in list(frame.stack.items()):
                if s.spill is not None:
                    yield frame, ("slot", slot), s.spill

    @staticmethod
    def _set(frame: Frame, where: tuple[str, int], reg: Reg) -> None:
        if where[0] == "reg":
            frame.regs[where[1]] = reg
        else:
            s = frame.stack[where[1]]
            frame.stack[where[1]] = s._replace(spill=reg)

    def _release(self, st: State, ref: int) -> None:
        st.refs = tuple(r for r in st.refs if r[0] != ref)
        for frame, where, reg in list(self._all_regs(st)):
            if reg.ref == ref:
                self._set(frame, where, UNKNOWN_SCALAR)

    def _invalidate_packet_pointers(self, st: State) -> None:
        for frame, where, reg in list(self._all_regs(st)):
            if reg.type in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META,
                            RegType.PTR_TO_PACKET_END):
                self._set(frame, where, UNKNOWN_SCALAR)

    # --- conditional jumps -----------------------------------------------------------------
    def _cond_jump(self, st: State, insn: Instruction, pc: int) -> list[State]:
        is32 = insn.cls == Class.JMP32
        op = _JMP_OPS.get(insn.jump_op)
        if op is None:
            raise UnsupportedFeatureError(
                f"pybpf does not model jump opcode {insn.opcode:#04x} (may_goto / JCOND)")
        d = self.read(st, insn.dst)
        if insn.source:
            s = self.read(st, insn.src)
        else:
            s = const_scalar(insn.imm & U32 if is32 else insn.imm & U64)
        taken_pc, fall_pc = pc + 1 + insn.off, pc + 1
        if d.is_scalar and s.is_scalar:
            return self._scalar_branch(st, insn, d, s, op, is32, taken_pc, fall_pc)
        outcome = self._pointer_branch_outcome(d, s, op, is32)
        if outcome is not None:
            st.pc = taken_pc if outcome else fall_pc
            return [st]
        if not self.opt.privileged:
            raise PointerArithmeticError(f"R{insn.dst} pointer comparison prohibited")
        taken = st.fork()
        taken.pc, st.pc = taken_pc, fall_pc
        if not is32:
            self._null_check(taken, st, insn, d, s, op)
            self._packet_check(taken, insn, d, s, op)
            self._packet_check(st, insn, d, s, B.NEGATE[op])
        return [st, taken]

    @staticmethod
    def _pointer_branch_outcome(d: Reg, s: Reg, op: str, is32: bool) -> bool | None:
        """Comparing a never-NULL pointer against 0 has a known result."""
        if is32 or op not in ("==", "!="):
            return None
        for p, other in ((d, s), (s, d)):
            # the kernel's reg_not_null(): only these pointer types are known to be non-NULL
            if p.type in (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MEM) \
                    and other.is_scalar and other.var.is_const and other.var.const == 0:
                return op == "!="
        return None

    def _null_check(self, taken: State, fall: State, insn: Instruction, d: Reg, s: Reg,
                    op: str) -> None:
        # Like the kernel, only ``if rX ==/!= 0`` with an immediate 0 and the maybe-NULL pointer
        # in the destination register counts as a NULL check.
        if op not in ("==", "!=") or insn.source or insn.imm != 0 or d.type not in OR_NULL:
            return
        ptr = d
        null_state, ok_state = (taken, fall) if op == "==" else (fall, taken)
        self._mark_null(null_state, ptr, is_null=True)
        self._mark_null(ok_state, ptr, is_null=False)

    def _mark_null(self, st: State, ptr: Reg, is_null: bool) -> None:
        if is_null and ptr.ref:
            st.refs = tuple(r for r in st.refs if r[0] != ptr.ref)
        for frame, where, reg in list(self._all_regs(st)):
            if reg.type in OR_NULL and reg.id == ptr.id:
                if is_null:
                    self._set(frame, where, const_scalar(0))
                else:
                    base = OR_NULL[reg.type]
                    new_id = reg.id if base is RegType.PTR_TO_MEM else 0
                    self._set(frame, where, reg.with_(type=base, id=new_id))

    def _packet_check(self, st: State, insn: Instruction, d: Reg, s: Reg, op: str) -> None:
        """Record what ``d <op> s`` proves about packet ranges in ``st``."""
        if op in (">", ">="):
            lo, hi = s, d                    # lo <= hi (or <)
        elif op in ("<", "<="):
            lo, hi = d, s
        else:
            return
        strict = op in (">", "<")
        if lo.type is RegType.PTR_TO_PACKET and hi.type is RegType.PTR_TO_PACKET_END:
            good = lo
        elif lo.type is RegType.PTR_TO_PACKET_META and hi.type is RegType.PTR_TO_PACKET \
                and hi.off == 0 and hi.var.is_const and hi.var.const == 0 and hi.id == 0:
            good = lo
        else:
            return
        if good.off < 0 or (good.off == 0 and strict) or good.var.umax > MAX_PACKET_OFF or \
                good.var.umax + good.off > MAX_PACKET_OFF:
            return
        new_range = good.off + 1 if strict else good.off
        for frame, where, reg in list(self._all_regs(st)):
            if reg.type is good.type and reg.id == good.id and reg.range < new_range:
                self._set(frame, where, reg.with_(range=new_range))

    def _scalar_branch(self, st: State, insn: Instruction, d: Reg, s: Reg, op: str, is32: bool,
                       taken_pc: int, fall_pc: int) -> list[State]:
        # Which directions exist is decided by the kernel's own rules (is_branch_taken), so that
        # pybpf never skips a path the kernel explores; refinement then narrows each side (or,
        # if our tighter domain finds a side empty, leaves it unrefined).
        decided = _kernel_branch_taken(d.var, s.var, op, is32)
        out: list[State] = []
        taken = None
        if decided is not False:
            yes = _refine(d.var, s.var, op, is32)
            taken = st.fork() if decided is None else st
            if yes is not None:
                self._apply_refinement(taken, insn, d, s, yes)
            taken.pc = taken_pc
        if decided is not True:
            no = _refine(d.var, s.var, B.NEGATE[op], is32)
            if no is not None:
                self._apply_refinement(st, insn, d, s, no)
            st.pc = fall_pc
            out.append(st)
        if taken is not None:
            out.append(taken)
        return out

    def _apply_refinement(self, st: State, insn: Instruction, d: Reg, s: Reg,
                          res: tuple[Bounds, Bounds]) -> None:
        self._set_linked(st, insn.dst, d.with_(var=res[0]))
        if insn.source:
            self._set_linked(st, insn.src, s.with_(var=res[1]))

    def _set_linked(self, st: State, regno: int, reg: Reg) -> None:
        st.regs[regno] = reg
        if reg.id:
            for frame, where, other in list(self._all_regs(st)):
                if other.is_scalar and other.id == reg.id:
                    self._set(frame, where, reg)

    # --- whole-program checks after exploration --------------------------------------------
    def check_stack_depths(self) -> None:
        def rounded(start: int) -> int:
            d = self.stack_depth.get(start, 0)
            return (max(d, 1) + 31) // 32 * 32

        edges: dict[int, set[int]] = {}
        for a, b in self.call_edges:
            edges.setdefault(a, set()).add(b)

        def walk(node: int, total: int, depth: int, chain: tuple[int, ...]) -> None:
            if depth > MAX_CALL_FRAMES:       # reachable through global calls, not followed
                raise ProgramStructureError(     # (the kernel counts frames from 0 here)
                    f"the call stack of {depth - 1} frames is too deep !",
                    hint=f"the call chain {' -> '.join(f'insn {c}' for c in chain + (node,))} "
                         f"nests {depth} functions; the kernel allows {MAX_CALL_FRAMES}", pc=node)
            total += rounded(node)
            if total > MAX_STACK:
                raise ProgramStructureError(
                    f"combined stack size of {depth} calls is {total}. Too large "
                    f"(limit {MAX_STACK} bytes across the call chain "
                    f"{' -> '.join(f'insn {c}' for c in chain + (node,))})", pc=node)
            for nxt in edges.get(node, ()):
                if nxt not in chain:
                    walk(nxt, total, depth + 1, chain + (node,))

        walk(0, 0, 1, ())

    # instruction class -> handler of the classes that go on to the next instruction (jumps are
    # handled by _jump): one dict lookup instead of a chain of Class.X comparisons in step
    _HANDLERS = {Class.ALU: _alu, Class.ALU64: _alu, Class.LDX: _ldx, Class.ST: _store,
                 Class.STX: _store, Class.LD: _ld}


def _alu_op(op: int, a: Bounds, b: Bounds, bits: int, off: int) -> Bounds:
    if op == ALUOp.ADD:
        return B.add(a, b)
    if op == ALUOp.SUB:
        return B.sub(a, b)
    if op == ALUOp.MUL:
        return B.mul(a, b)
    if op in (ALUOp.DIV, ALUOp.MOD):
        # The kernel does not track ranges through division (constants only); neither may we,
        # or we would accept programs it rejects.
        if a.is_const and b.is_const and b.const and not off:
            return B.div(a, b, False) if op == ALUOp.DIV else B.mod(a, b, False)
        return B.UNKNOWN
    if op == ALUOp.OR:
        return B.or_(a, b)
    if op == ALUOp.AND:
        return B.and_(a, b)
    if op == ALUOp.XOR:
        return B.xor(a, b)
    if op in (ALUOp.LSH, ALUOp.RSH, ALUOp.ARSH):
        if not b.is_const or b.const >= bits:
            return B.UNKNOWN                # the kernel only tracks shifts by known amounts
        if op == ALUOp.LSH:
            return B.lshift(a, b, bits)
        if op == ALUOp.RSH:
            return B.rshift(a, b)
        return B.arshift(a, b, bits)
    return B.UNKNOWN


def _kernel_branch_taken(a: Bounds, b: Bounds, op: str, is32: bool) -> bool | None:
    """The kernel's is_scalar_branch_taken(): True/False when ranges or known bits decide."""
    if is32:
        view = B.sext32 if op.startswith("s") else B.low32
        a, b = view(a), view(b)
    if op in ("==", "!="):
        if a.is_const and b.is_const:
            equal: bool | None = a.const == b.const
        elif (a.umin > b.umax or a.umax < b.umin or a.smin > b.smax or a.smax < b.smin
              or T.intersect(a.var, b.var) is None):
            equal = False
        else:
            equal = None
        return equal if op == "==" or equal is None else not equal
    if op == "&":
        if not b.is_const:
            if not a.is_const:
                return None
            a, b = b, a
        if a.var.value & b.const:
            return True
        if not (a.var.value | a.var.mask) & b.const:
            return False
        return None
    if op in ("<", "<=", "s<", "s<="):
        a, b = b, a
        op = {"<": ">", "<=": ">=", "s<": "s>", "s<=": "s>="}[op]
    if op == ">":
        return True if a.umin > b.umax else False if a.umax <= b.umin else None
    if op == ">=":
        return True if a.umin >= b.umax else False if a.umax < b.umin else None
    if op == "s>":
        return True if a.smin > b.smax else False if a.smax <= b.smin else None
    return True if a.smin >= b.smax else False if a.smax < b.smin else None


def _refine(a: Bounds, b: Bounds, op: str, is32: bool) -> tuple[Bounds, Bounds] | None:
    """Refine both operands of a 64- or 32-bit comparison assumed true; None if impossible."""
    if not is32:
        return B.refine(a, b, op)
    signed = op.startswith("s")
    view = B.sext32 if signed else B.low32
    res = B.refine(view(a), view(b), op)
    if res is None:
        return None
    na, nb = B.merge32(a, res[0], signed), B.merge32(b, res[1], signed)
    if na is None or nb is None:
        return None
    return na, nb


def _serial(cp: Checkpoint) -> int:
    return cp.serial


def _slot_of(addr: int) -> tuple[int, int]:
    slot = (-addr - 1) // 8
    return slot, addr + 8 * (slot + 1)


def _loaded_scalar(size: int, sign: bool) -> Reg:
    if size == 8:
        return UNKNOWN_SCALAR
    bits = 8 * size
    if sign:
        return scalar(B.signed_range(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
    return scalar(B.unsigned_range(0, (1 << bits) - 1))


def _truncate(value: Reg, size: int) -> Reg:
    if size == 8:
        return value
    limit = (1 << (8 * size)) - 1
    v = value.var
    if 0 <= v.smin and v.umax <= limit:
        return value
    if v.is_const:
        return const_scalar(v.const & limit)
    return scalar(B.unsigned_range(0, limit))


def _prog_name(prog_type: int) -> str:
    try:
        return ProgramType(prog_type).name.lower()
    except ValueError:
        return f"type {prog_type}"


__all__ = ["Analyzer", "Options", "MapType", "PKT_PROG_TYPES"]
