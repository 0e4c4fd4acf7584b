"""The verifier's state on one path: call frames (registers + byte-typed stack), references, locks.

Copy-on-fork value objects plus the subsumption test used for state pruning; never decides safety.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import NamedTuple

from .regs import NOT_INIT, Reg, RegType

MAX_STACK = 512
SLOT = 8

# Kinds of stack bytes
INVALID, MISC, ZERO, SPILL = 0, 1, 2, 3


class Slot(NamedTuple):
    """One 8-byte stack slot: the kind of each byte (lowest address first) and a spilled register."""
    kinds: tuple[int, ...]
    spill: Reg | None = None
    spill_size: int = 0


EMPTY_SLOT = Slot((INVALID,) * SLOT)


class Frame:
    """Registers r0-r10 and the stack of one call frame."""
    __slots__ = ("regs", "stack", "callsite", "subprog", "frameno")

    def __init__(self, regs: list[Reg], stack: dict[int, Slot], callsite: int, subprog: int,
                 frameno: int) -> None:
        self.regs = regs
        self.stack = stack          # key: slot index i covers bytes [-(i+1)*8, -i*8)
        self.callsite = callsite
        self.subprog = subprog
        self.frameno = frameno

    def copy(self) -> "Frame":
        return Frame(list(self.regs), dict(self.stack), self.callsite, self.subprog, self.frameno)


@dataclass
class Checkpoint:
    """A stored state at a prune point; ``branches`` counts paths from it still being explored.

    ``serial`` is its creation order: a pc's comparison list is kept in that order, so a checkpoint
    whose exploration finishes goes back to the place it would have held all along. ``depth`` is
    how many instructions its path had processed before it: a rejected path's explanation replays
    from the last checkpoint on it instead of from the program entry.
    """
    pc: int
    state: "State"
    branches: int
    parent: "Checkpoint | None"
    loop_head: bool = False
    hits: int = 0
    misses: int = 0
    serial: int = 0
    depth: int = 0


@dataclass
class State:
    frames: list[Frame]
    pc: int = 0
    refs: tuple[tuple[int, int], ...] = ()        # (ref id, pc that acquired it)
    lock: tuple[str, int] | None = None           # (map name, id) of a held bpf_spin_lock
    parent: Checkpoint | None = None
    # The pcs this path visited: ``recent`` since it last forked, before that the cons list
    # ``path`` of (array of pcs, previous) shared with its forks. An array per stretch, not a
    # tuple per pc: a million-insn path made a million objects for the garbage collector to
    # walk again and again (a quarter of the run time).
    path: tuple | None = None
    next_id: list[int] = field(default_factory=lambda: [0])   # shared id counter
    jmps: int = 0
    callback_of: list[int] = field(default_factory=list)      # frames that are callbacks
    depth: int = 0                                # instructions processed on this path
    recent: array = field(default_factory=lambda: array("i"))

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def regs(self) -> list[Reg]:
        return self.frames[-1].regs

    def fork(self) -> "State":
        return State([f.copy() for f in self.frames], self.pc, self.refs, self.lock, self.parent,
                     self.shared_path(), self.next_id, self.jmps, list(self.callback_of),
                     self.depth)

    def shared_path(self) -> tuple | None:
        """Seal the pcs visited so far into the cons list, which a fork may then share."""
        if self.recent:
            self.path = (self.recent, self.path)
            self.recent = array("i")
        return self.path

    def visited(self) -> list[int]:
        """Every pc this path visited, in order."""
        chunks = [self.recent]
        path = self.path
        while path is not None:
            chunks.append(path[0])
            path = path[1]
        return [pc for chunk in reversed(chunks) for pc in chunk]

    def new_id(self) -> int:
        self.next_id[0] += 1
        return self.next_id[0]

    def snapshot(self) -> "State":
        s = self.fork()
        s.path = None
        return s


# --- subsumption ------------------------------------------------------------------------------
class _IdMap:
    def __init__(self) -> None:
        self.map: dict[int, int] = {}

    def check(self, old: int, new: int) -> bool:
        if old == 0 and new == 0:
            return True
        if old == 0 or new == 0:
            return False
        seen = self.map.get(old)
        if seen is None:
            self.map[old] = new
            return True
        return seen == new


def reg_covers(old: Reg, new: Reg, ids: _IdMap, exact: bool) -> bool:
    """True when every concrete value ``new`` stands for is also covered by ``old``."""
    if exact:
        return old == new and ids.check(old.id, new.id)
    if old.type is RegType.NOT_INIT:
        return True
    if old.type is not new.type:
        return False
    if old.type is RegType.SCALAR:
        if not old.var.contains(new.var):
            return False
        return old.id == 0 or ids.check(old.id, new.id)
    if (old.off != new.off or old.map != new.map or old.frame != new.frame
            or old.target != new.target or old.readonly != new.readonly):
        return False
    if not old.var.contains(new.var):
        return False
    if old.type in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META):
        if new.range < old.range:
            return False
    elif old.range != new.range:
        return False
    return ids.check(old.id, new.id) and ids.check(old.ref, new.ref)


def slot_covers(old: Slot, new: Slot, ids: _IdMap, exact: bool) -> bool:
    if exact:
        return old == new
    for ko, kn in zip(old.kinds, new.kinds):
        if ko == INVALID:
            continue
        if ko == MISC:
            if kn == INVALID:
                return False
            if kn == SPILL and new.spill is not None and new.spill.is_pointer:
                return False
            continue
        if ko == ZERO:
            if kn == ZERO:
                continue
            if kn == SPILL and new.spill is not None and new.spill.is_scalar \
                    and new.spill.var.is_const and new.spill.var.const == 0:
                continue
            return False
        if kn != SPILL:
            return False
    if SPILL in old.kinds:
        if new.spill is None or old.spill_size != new.spill_size:
            return False
        return reg_covers(old.spill, new.spill, ids, False)  # type: ignore[arg-type]
    return True


def state_covers(old: State, new: State, live: list[frozenset[int]] | None, exact: bool,
                 relevant: list[frozenset[int]] | None = None) -> bool:
    """Whether ``old`` (fully explored and safe) subsumes ``new`` at the same pc."""
    if len(old.frames) != len(new.frames) or old.lock != new.lock:
        return False
    if len(old.refs) != len(new.refs):
        return False
    ids = _IdMap()
    for (oid, _), (nid, _) in zip(old.refs, new.refs):
        if not ids.check(oid, nid):
            return False
    for depth, (fo, fn) in enumerate(zip(old.frames, new.frames)):
        if fo.callsite != fn.callsite:
            return False
        innermost = depth == len(old.frames) - 1
        for r in range(11):
            if innermost and live is not None and r not in live[new.pc] and not exact:
                continue
            if not innermost and r not in (6, 7, 8, 9, 10) and not exact:
                continue
            ro, rn = fo.regs[r], fn.regs[r]
            if innermost and relevant is not None and not exact and r not in relevant[new.pc] \
                    and ro.type is RegType.SCALAR and rn.type is RegType.SCALAR:
                continue
            if not reg_covers(ro, rn, ids, exact):
                return False
        keys = set(fo.stack) | set(fn.stack)
        for k in keys:
            so = fo.stack.get(k, None)
            sn = fn.stack.get(k, None)
            if so is None:
                if exact and sn is not None and sn != EMPTY_SLOT:
                    return False
                continue
            if not slot_covers(so, sn or EMPTY_SLOT, ids, exact):
                return False
    return True


def fresh_frame(callsite: int, subprog: int, frameno: int) -> Frame:
    return Frame([NOT_INIT] * 11, {}, callsite, subprog, frameno)


def state_signature(st: State) -> tuple:
    """A hashable value equal for exactly-equal states (used to detect infinite loops)."""
    return (tuple((tuple(f.regs), tuple(sorted((k, v) for k, v in f.stack.items() if v != EMPTY_SLOT)),
                   f.callsite) for f in st.frames), st.refs, st.lock)
