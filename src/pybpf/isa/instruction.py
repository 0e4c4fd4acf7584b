"""The Instruction value type: one logical eBPF instruction (a wide LDDW counts as one, two slots).

Holds fields exactly as encoded so that decode/encode round-trip; it never interprets semantics.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .opcodes import (
    ATOMIC_OPS, CALL, EXIT, JA32, LDDW, ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, PseudoSrc,
    SIZE_BYTES, Size, Source,
)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One eBPF instruction.

    ``imm`` is the signed 32-bit immediate, except for the wide ``LDDW`` where it holds the whole
    64-bit constant as an unsigned value (low slot's imm | next slot's imm << 32). ``off`` is the
    signed 16-bit offset. ``ref`` names the symbol a relocation points this instruction at (a map,
    a global variable, a subprogram); ``meta`` carries optional annotations (source line, CO-RE
    info) and takes no part in equality.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    ref: str | None = field(default=None, compare=False)
    meta: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    # --- field views -------------------------------------------------------------------------
    @property
    def cls(self) -> int:
        return self.opcode & 0x07

    @property
    def is_wide(self) -> bool:
        """True for the two-slot 64-bit immediate load."""
        return self.opcode == LDDW

    @property
    def slots(self) -> int:
        """Number of 8-byte slots this instruction occupies."""
        return 2 if self.opcode == LDDW else 1

    @property
    def is_alu(self) -> bool:
        return self.cls in (Class.ALU, Class.ALU64)

    @property
    def is_jump(self) -> bool:
        return self.cls in (Class.JMP, Class.JMP32)

    @property
    def alu_op(self) -> int:
        return self.opcode & 0xF0

    @property
    def jump_op(self) -> int:
        return self.opcode & 0xF0

    @property
    def source(self) -> int:
        return self.opcode & 0x08

    @property
    def size(self) -> int:
        """Access size bits (load/store classes)."""
        return self.opcode & 0x18

    @property
    def size_bytes(self) -> int:
        # Size members hash and compare as their ints: look up without building the enum
        # (the verifier asks this at every load and store it processes)
        return SIZE_BYTES[self.opcode & 0x18]

    @property
    def mode(self) -> int:
        return self.opcode & 0xE0

    @property
    def is_exit(self) -> bool:
        return self.opcode == EXIT

    @property
    def is_call(self) -> bool:
        return self.opcode == CALL

    @property
    def is_helper_call(self) -> bool:
        return self.opcode == CALL and self.src == CallSrc.HELPER

    @property
    def is_pseudo_call(self) -> bool:
        """A bpf-to-bpf call: target is pc + imm + 1."""
        return self.opcode == CALL and self.src == CallSrc.PSEUDO_CALL

    @property
    def is_kfunc_call(self) -> bool:
        return self.opcode == CALL and self.src == CallSrc.KFUNC

    @property
    def is_pseudo_func(self) -> bool:
        """An LDDW loading the address of a subprogram (callback): target is pc + imm + 1."""
        return self.opcode == LDDW and self.src == PseudoSrc.FUNC

    @property
    def is_map_load(self) -> bool:
        """An LDDW whose immediate is a map fd / index (optionally with a value offset)."""
        return self.opcode == LDDW and self.src in (
            PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE)

    @property
    def imm64(self) -> int:
        """The 64-bit constant of an LDDW as an unsigned integer."""
        return self.imm & 0xFFFFFFFFFFFFFFFF

    @property
    def is_unconditional_jump(self) -> bool:
        return self.opcode in (Class.JMP | JumpOp.JA, JA32)

    @property
    def is_conditional_jump(self) -> bool:
        return self.is_jump and self.jump_op not in (JumpOp.JA, JumpOp.CALL, JumpOp.EXIT)

    @property
    def jump_offset(self) -> int:
        """Branch displacement in slots (``imm`` for ``gotol``/``ja32``, ``off`` otherwise)."""
        return self.imm if self.opcode == JA32 else self.off

    @property
    def is_atomic(self) -> bool:
        return self.cls == Class.STX and self.mode == Mode.ATOMIC

    # --- editing -----------------------------------------------------------------------------
    def with_(self, **changes: Any) -> "Instruction":
        """Return a copy with some fields replaced (instructions are immutable)."""
        return replace(self, **changes)

    def with_meta(self, **items: Any) -> "Instruction":
        merged = dict(self.meta or {})
        merged.update(items)
        return replace(self, meta=merged)


__all__ = ["Instruction", "ALUOp", "JumpOp", "AtomicOp", "ATOMIC_OPS", "Source", "Mode"]
