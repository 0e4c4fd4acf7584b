"""Structural checks of a program before any path is explored, plus static register liveness.

Finds subprograms, jump targets, prune points and loop heads; rejects what the kernel's check_cfg
rejects (bad opcodes, jumps out of range or across subprograms, unreachable code, falling off the end).
Never tracks values.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..isa import Instruction, check
from ..isa.opcodes import Class, JumpOp, Mode
from .rejections import InvalidInstructionError, ProgramStructureError


@dataclass
class ProgramShape:
    insns: dict[int, Instruction]          # slot -> instruction
    order: list[int]                       # slots in program order
    length: int                            # total slots
    subprog_starts: list[int]              # sorted first slots of subprograms (0 first)
    subprog_of: dict[int, int]             # slot -> first slot of its subprogram
    prune_points: set[int] = field(default_factory=set)
    loop_heads: set[int] = field(default_factory=set)
    live: list[frozenset[int]] = field(default_factory=list)   # indexed by slot

    def subprog_end(self, start: int) -> int:
        idx = self.subprog_starts.index(start)
        return self.subprog_starts[idx + 1] if idx + 1 < len(self.subprog_starts) else self.length


def _successors(pc: int, insn: Instruction) -> list[int]:
    nxt = pc + insn.slots
    cls = insn.cls
    if cls in (Class.JMP, Class.JMP32):
        op = insn.jump_op
        if op == JumpOp.EXIT:
            return []
        if op == JumpOp.CALL:
            return [nxt]
        if op == JumpOp.JA:
            return [pc + 1 + insn.jump_offset]
        return [nxt, pc + 1 + insn.off]
    return [nxt]


def analyse_shape(instructions: list[Instruction]) -> ProgramShape:
    if not instructions:
        raise ProgramStructureError("the program has no instructions", pc=0)
    insns: dict[int, Instruction] = {}
    order: list[int] = []
    pc = 0
    for insn in instructions:
        problem = check(insn)
        if problem:
            raise InvalidInstructionError(f"invalid instruction {insn.opcode:#04x}: {problem}", pc=pc)
        if insn.cls == Class.LD and insn.opcode != 0x18 and insn.mode not in (Mode.ABS, Mode.IND):
            raise InvalidInstructionError(f"unknown opcode {insn.opcode:02x}", pc=pc)
        if insn.opcode == 0x8D:
            raise InvalidInstructionError("indirect call (callx) is not allowed by the kernel", pc=pc)
        insns[pc] = insn
        order.append(pc)
        pc += insn.slots
    length = pc

    starts = {0}
    for pc, insn in insns.items():
        if insn.is_pseudo_call or insn.is_pseudo_func:
            target = pc + 1 + insn.imm
            if target not in insns:
                raise ProgramStructureError(
                    f"call to invalid destination: insn {pc} targets {target}, which is not the "
                    "start of an instruction", pc=pc)
            starts.add(target)
    subprog_starts = sorted(starts)
    subprog_of: dict[int, int] = {}
    si = 0
    for pc in order:
        while si + 1 < len(subprog_starts) and pc >= subprog_starts[si + 1]:
            si += 1
        subprog_of[pc] = subprog_starts[si]

    shape = ProgramShape(insns, order, length, subprog_starts, subprog_of)
    for start in subprog_starts:
        end = shape.subprog_end(start)
        last = max(p for p in order if start <= p < end)
        lin = insns[last]
        if not (lin.is_exit or lin.is_unconditional_jump):
            raise ProgramStructureError(
                f"last insn is not an exit or jmp (insn {last} ends the "
                f"{'program' if start == 0 else f'subprogram at insn {start}'}; "
                "execution would fall off its end)", pc=last)
        for pc in order:
            if not start <= pc < end:
                continue
            insn = insns[pc]
            if insn.is_jump and insn.jump_op not in (JumpOp.CALL, JumpOp.EXIT):
                target = pc + 1 + insn.jump_offset
                if not start <= target < end:
                    raise ProgramStructureError(
                        f"jump out of range from insn {pc} to {target}", pc=pc)
                if target not in insns:
                    raise ProgramStructureError(
                        f"jump from insn {pc} into the middle of the 64-bit load at insn "
                        f"{target - 1}", pc=pc)
                shape.prune_points.add(target)
                if insn.is_conditional_jump:
                    shape.prune_points.add(pc + 1)
                if target <= pc:
                    shape.loop_heads.add(target)
            if insn.is_call:
                shape.prune_points.add(pc + 1)

    # reachability from the entry, through calls and callback references
    seen: set[int] = set()
    work = [0]
    while work:
        pc = work.pop()
        if pc in seen:
            continue
        seen.add(pc)
        insn = insns[pc]
        for nxt in _successors(pc, insn):
            if nxt not in seen and nxt in insns:
                work.append(nxt)
        if insn.is_pseudo_call or insn.is_pseudo_func:
            work.append(pc + 1 + insn.imm)
    for pc in order:
        if pc not in seen:
            raise ProgramStructureError(f"unreachable insn {pc}", pc=pc)
    shape.live = compute_liveness(shape)
    return shape


def _uses_defs(insn: Instruction) -> tuple[set[int], set[int]]:
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        op = insn.alu_op
        uses = set() if op == 0xB0 else {insn.dst}
        if insn.source and op not in (0x80, 0xD0):
            uses.add(insn.src)
        return uses, {insn.dst}
    if cls == Class.LDX:
        return {insn.src}, {insn.dst}
    if cls == Class.ST:
        return {insn.dst}, set()
    if cls == Class.STX:
        if insn.mode == Mode.ATOMIC:
            if insn.imm == 0xF1:
                return {insn.dst, insn.src, 0}, {0}
            return {insn.dst, insn.src}, ({insn.src} if insn.imm & 1 else set())
        return {insn.dst, insn.src}, set()
    if cls == Class.LD:
        if insn.opcode == 0x18:
            return set(), {insn.dst}
        uses = {6} | ({insn.src} if insn.mode == Mode.IND else set())
        return uses, {0, 1, 2, 3, 4, 5}
    op = insn.jump_op
    if op == JumpOp.EXIT:
        return {0}, set()
    if op == JumpOp.CALL:
        return {1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 5}
    if op == JumpOp.JA:
        return set(), set()
    return ({insn.dst, insn.src} if insn.source else {insn.dst}), set()


def compute_liveness(shape: ProgramShape) -> list[frozenset[int]]:
    """Registers possibly read before written from each slot on (within its subprogram)."""
    info = {pc: _uses_defs(i) for pc, i in shape.insns.items()}
    succ = {pc: [s for s in _successors(pc, i) if s in shape.insns] for pc, i in shape.insns.items()}
    live_in: dict[int, frozenset[int]] = {pc: frozenset() for pc in shape.insns}
    changed = True
    while changed:
        changed = False
        for pc in reversed(shape.order):
            uses, defs = info[pc]
            out: set[int] = set()
            for s in succ[pc]:
                out |= live_in[s]
            new = frozenset(uses | (out - defs) | {10})
            if new != live_in[pc]:
                live_in[pc] = new
                changed = True
    result = [frozenset(range(11))] * (shape.length + 1)
    for pc, regs in live_in.items():
        result[pc] = regs
    return result


def compute_relevance(shape: ProgramShape, arg_relevant: Callable[[int], set[int]],
                      exit_uses_r0: Callable[[int], bool]) -> list[frozenset[int]]:
    """Registers whose value may still decide safety from each slot on (a static stand-in for the
    kernel's precision tracking).

    A value is relevant if it may flow (through ALU ops and moves) into a memory address, a stored
    value, a conditional jump, a checked helper argument or a checked return value. Scalars that
    are not relevant at a prune point can be ignored when comparing states.
    """
    succ = {pc: [s for s in _successors(pc, i) if s in shape.insns] for pc, i in shape.insns.items()}
    may_stack = compute_may_stack(shape, succ)
    rel: dict[int, frozenset[int]] = {pc: frozenset() for pc in shape.insns}
    changed = True
    while changed:
        changed = False
        for pc in reversed(shape.order):
            insn = shape.insns[pc]
            out: set[int] = set()
            for s in succ[pc]:
                out |= rel[s]
            cls = insn.cls
            new = set(out)
            if cls in (Class.ALU, Class.ALU64):
                if insn.dst in out:
                    if insn.alu_op == 0xB0:
                        new.discard(insn.dst)
                    if insn.source and insn.alu_op not in (0x80, 0xD0):
                        new.add(insn.src)
            elif cls == Class.LDX:
                new.discard(insn.dst)
                new.add(insn.src)
            elif cls in (Class.ST, Class.STX):
                new.add(insn.dst)
                if cls == Class.STX and (insn.dst in may_stack[pc] or insn.mode == Mode.ATOMIC):
                    new.add(insn.src)
                    if insn.mode == Mode.ATOMIC and insn.imm == 0xF1:
                        new.add(0)
            elif cls == Class.LD:
                new.discard(insn.dst)
                if insn.opcode != 0x18:
                    new -= {0, 1, 2, 3, 4, 5}
                    new.add(6)
                    if insn.mode == Mode.IND:
                        new.add(insn.src)
            else:
                op = insn.jump_op
                if op == JumpOp.EXIT:
                    if exit_uses_r0(pc):
                        new.add(0)
                elif op == JumpOp.CALL:
                    new -= {0, 1, 2, 3, 4, 5}
                    if insn.is_pseudo_call:
                        new |= {1, 2, 3, 4, 5}
                    else:
                        new |= arg_relevant(insn.imm)
                elif op != JumpOp.JA:
                    new.add(insn.dst)
                    if insn.source:
                        new.add(insn.src)
            frozen = frozenset(new)
            if frozen != rel[pc]:
                rel[pc] = frozen
                changed = True
    result = [frozenset(range(11))] * (shape.length + 1)
    for pc, regs in rel.items():
        result[pc] = regs
    return result


def compute_may_stack(shape: ProgramShape, succ: dict[int, list[int]]) -> dict[int, frozenset[int]]:
    """Registers that may hold a stack pointer before each slot (forward may-analysis).

    Used so that a value stored through a register that can never point to the stack (a map
    value, the packet) is not treated as flowing into the stack.
    """
    entry = frozenset({1, 2, 3, 4, 5, 10})
    state: dict[int, frozenset[int]] = {pc: frozenset() for pc in shape.insns}
    work = list(shape.subprog_starts)
    for start in shape.subprog_starts:
        state[start] = entry if start else frozenset({10})
    seen: set[int] = set()
    while work:
        pc = work.pop()
        cur = set(state[pc]) | {10}
        insn = shape.insns[pc]
        cls = insn.cls
        if cls == Class.ALU64 and insn.alu_op in (0xB0, 0x00, 0x10):
            src_stack = insn.source and insn.src in cur
            if insn.alu_op == 0xB0:
                (cur.add if src_stack and not insn.off else cur.discard)(insn.dst)
            elif src_stack:
                cur.add(insn.dst)
        elif cls in (Class.ALU, Class.ALU64):
            cur.discard(insn.dst)
        elif cls == Class.LDX:
            (cur.add if insn.src in cur and insn.size_bytes == 8 else cur.discard)(insn.dst)
        elif cls == Class.LD:
            cur.discard(insn.dst)
            if insn.opcode != 0x18:
                cur -= {0, 1, 2, 3, 4, 5}
        elif insn.is_call:
            cur -= {0, 1, 2, 3, 4, 5}
            if insn.is_pseudo_call:
                cur.add(0)
        elif cls == Class.STX and insn.mode == Mode.ATOMIC and insn.imm & 1:
            cur.discard(0 if insn.imm == 0xF1 else insn.src)
        out = frozenset(cur)
        for s in succ[pc]:
            merged = state[s] | out
            if merged != state[s] or s not in seen:
                state[s] = merged
                seen.add(s)
                work.append(s)
    return state
