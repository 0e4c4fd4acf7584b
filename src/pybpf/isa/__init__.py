"""pybpf.isa: eBPF instructions (RFC 9669) — encode/decode, assembler, disassembler, builder.

Pure functions over bytes and Instruction values; never touches the kernel or the filesystem.
"""
from .asm import assemble
from .codec import check, decode, encode, encode_one, slot_offsets
from .disasm import disassemble, format_instruction
from .instruction import Instruction
from .opcodes import (
    ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, PseudoSrc, Size, Source,
)

__all__ = [
    "Instruction", "decode", "encode", "encode_one", "check", "slot_offsets", "assemble",
    "disassemble", "format_instruction",
    "ALUOp", "AtomicOp", "CallSrc", "Class", "JumpOp", "Mode", "PseudoSrc", "Size", "Source",
]
