"""pybpf.isa: eBPF instructions (RFC 9669) — encode/decode, assembler, disassembler, builder.

Pure functions over bytes and Instruction values; never touches the kernel or the filesystem
(except :mod:`pybpf.isa.conformance`, which reads bpf_conformance ``.data`` files on request).

* ``decode(bytes) / encode(insns) / check(insn)``: the exact binary codec (codec.py)
* ``assemble(text)``: bpf_conformance syntax and llvm-objdump syntax, mixed per line (asm.py)
* ``disassemble(insns) / format_instruction(insn)``: llvm-objdump-19 text (disasm.py);
  ``disasm_conformance.disassemble_conformance`` prints the bpf_conformance syntax
* ``builder.Program``: a Python DSL (``p.mov(R0, 1).exit().build()``)
* ``conformance.parse_case(path)``: one bpf_conformance test case
"""
from .asm import assemble
from .codec import check, decode, digest, encode, encode_one, slot_offsets
from .disasm import disassemble, format_instruction
from .instruction import Instruction
from .opcodes import (
    ALUOp, AtomicOp, CallSrc, Class, JumpOp, Mode, PseudoSrc, Size, Source,
)

__all__ = [
    "Instruction", "decode", "digest", "encode", "encode_one", "check", "slot_offsets", "assemble",
    "disassemble", "format_instruction",
    "ALUOp", "AtomicOp", "CallSrc", "Class", "JumpOp", "Mode", "PseudoSrc", "Size", "Source",
]
