"""The LLVM IR types and constant helpers every JIT emitter uses (one definition for all).

Pure values: it never builds functions or touches runtime state.
"""
from __future__ import annotations

from llvmlite import ir

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
P64 = I64.as_pointer()
M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
HASH_ABSENT = 1 << 63                # hash_find: key absent, low bits = insert position
LIKELY = 1 << 20                     # branch weight of the path that does not fault / fall back


def c64(v: int) -> ir.Constant:
    """An i64 constant (any Python int, taken modulo 2**64)."""
    return ir.Constant(I64, v & M64)


def c32(v: int) -> ir.Constant:
    return ir.Constant(I32, v & M32)


__all__ = ["I1", "I8", "I16", "I32", "I64", "P64", "M64", "M32", "HASH_ABSENT", "LIKELY", "c64",
           "c32"]
