"""Pre-decodes eBPF instructions (RFC 9669, kernel semantics) into one small Python function each.

Each function takes the register list ``R`` and returns the next slot index; it never touches host
memory except through :class:`pybpf.vm.memory.Memory` and never decides policy (calls, exits,
helpers and maps are provided by the machine passed in as ``env``).

Simple instructions (ALU, jumps, loads, stores) are generated as Python source, one function per
instruction, compiled once per program; the rare complex ones (atomics, calls, exit, legacy packet
loads, pseudo LDDW) are closures built by ``env``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import InstructionError, VMError
from ..isa.codec import check
from ..isa.instruction import Instruction
from ..isa.opcodes import LDDW, ALUOp, Class, JumpOp, Mode, Source

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
Op = Callable[[list[int]], int]


class Env(Protocol):
    """What the compiler needs from the machine for instructions that are not plain computation."""

    def compile_special(self, insn: Instruction, pc: int, nxt: int, prog: "CompiledProgram") -> Op: ...

    def namespace(self) -> dict[str, Any]: ...


@dataclass(eq=False)
class CompiledProgram:
    """A program ready to run: ``ops[slot]`` is the pre-decoded instruction at that slot."""

    name: str
    instructions: list[Instruction]
    ops: list[Op] = field(default_factory=list)
    slot_to_index: dict[int, int] = field(default_factory=dict)
    source_lines: dict[int, str] = field(default_factory=dict)    # instruction index -> source text
    code_base: int = 0                  # address of the program's code region (callbacks, callx)
    spec: Any = None
    verified: Any = None                # the pybpf.verifier VerifierResult that accepted it, if any

    def describe_pc(self, slot: int) -> str | None:
        index = self.slot_to_index.get(slot)
        if index is None:
            return None
        best = None
        for i in sorted(self.source_lines):
            if i <= index:
                best = self.source_lines[i]
            else:
                break
        return best


# --- arithmetic that does not fit in one expression ------------------------------------------
def sx64(v: int) -> int:
    return (v ^ 0x8000000000000000) - 0x8000000000000000


def sx32(v: int) -> int:
    return ((v & M32) ^ 0x80000000) - 0x80000000


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def sdiv64(a: int, b: int) -> int:
    """Signed 64-bit division, truncating; x/0 == 0; INT_MIN/-1 wraps to INT_MIN."""
    b = sx64(b)
    if b == 0:
        return 0
    return _trunc_div(sx64(a), b) & M64


def smod64(a: int, b: int) -> int:
    """Signed 64-bit remainder with the dividend's sign; x%0 == x."""
    sb = sx64(b)
    if sb == 0:
        return a
    sa = sx64(a)
    return (sa - _trunc_div(sa, sb) * sb) & M64


def sdiv32(a: int, b: int) -> int:
    b = sx32(b)
    if b == 0:
        return 0
    return _trunc_div(sx32(a), b) & M32


def smod32(a: int, b: int) -> int:
    sb = sx32(b)
    if sb == 0:
        return a & M32
    sa = sx32(a)
    return (sa - _trunc_div(sa, sb) * sb) & M32


def bswap(v: int, width: int) -> int:
    return int.from_bytes((v & ((1 << width) - 1)).to_bytes(width // 8, "little"), "big")


# --- source generation, one screen per instruction class ------------------------------------
_M64_TEXT = "0xFFFFFFFFFFFFFFFF"        # masks as literals: a constant load beats a global lookup
_M32_TEXT = "0xFFFFFFFF"
_ALU_SIMPLE = {ALUOp.ADD: "+", ALUOp.SUB: "-", ALUOp.MUL: "*", ALUOp.OR: "|", ALUOp.AND: "&",
               ALUOp.XOR: "^"}


def _alu(insn: Instruction) -> list[str]:
    wide = insn.cls == Class.ALU64
    op, d, s = insn.alu_op, insn.dst, insn.src
    mask = _M64_TEXT if wide else _M32_TEXT
    bits = 64 if wide else 32
    if insn.source == Source.X:
        b = f"R[{s}]" if wide else f"(R[{s}] & {_M32_TEXT})"
    else:
        b = str(insn.imm & M64) if wide else str(insn.imm & M32)
    a = f"R[{d}]" if wide else f"(R[{d}] & {_M32_TEXT})"
    sx = "sx64" if wide else "sx32"
    if op in _ALU_SIMPLE:
        sym = _ALU_SIMPLE[op]
        if sym in "|^" or (sym == "&" and wide):
            return [f"R[{d}] = {a} {sym} {b}"]
        return [f"R[{d}] = ({a} {sym} {b}) & {mask}"]
    if op == ALUOp.MOV:
        if insn.source == Source.X and insn.off:          # movsx
            w = insn.off
            sign = 1 << (w - 1)
            return [f"R[{d}] = (((R[{s}] & {(1 << w) - 1}) ^ {sign}) - {sign}) & {mask}"]
        return [f"R[{d}] = {b}"]
    if op == ALUOp.NEG:
        return [f"R[{d}] = (-{a}) & {mask}"]
    if op in (ALUOp.LSH, ALUOp.RSH, ALUOp.ARSH):
        count = f"({b} & {bits - 1})" if insn.source == Source.X else str((insn.imm & M64) & (bits - 1))
        if op == ALUOp.LSH:
            return [f"R[{d}] = ({a} << {count}) & {mask}"]
        if op == ALUOp.RSH:
            return [f"R[{d}] = {a} >> {count}"]
        return [f"R[{d}] = ({sx}(R[{d}]) >> {count}) & {mask}"]
    if op in (ALUOp.DIV, ALUOp.MOD):
        if insn.off == 1:
            fn = ("sdiv" if op == ALUOp.DIV else "smod") + str(bits)
            return [f"R[{d}] = {fn}(R[{d}], {b})"]
        if op == ALUOp.DIV:
            return [f"b = {b}", f"R[{d}] = {a} // b if b else 0"]
        return [f"b = {b}", f"R[{d}] = {a} % b if b else {a}"]
    if op == ALUOp.END:
        width = insn.imm
        if not wide and insn.source == Source.K:           # le: truncate on a little-endian machine
            return [f"R[{d}] = R[{d}] & {(1 << width) - 1}"]
        return [f"R[{d}] = bswap(R[{d}], {width})"]
    raise InstructionError(f"unknown ALU operation {insn.opcode:#04x}")


_JUMP_CMP = {JumpOp.JEQ: "==", JumpOp.JNE: "!=", JumpOp.JGT: ">", JumpOp.JGE: ">=",
             JumpOp.JLT: "<", JumpOp.JLE: "<=", JumpOp.JSGT: ">", JumpOp.JSGE: ">=",
             JumpOp.JSLT: "<", JumpOp.JSLE: "<="}
_JCOND = 0xE0                          # may_goto
_SIGNED_JUMPS = frozenset({JumpOp.JSGT, JumpOp.JSGE, JumpOp.JSLT, JumpOp.JSLE})


def _jump(insn: Instruction, pc: int, nxt: int) -> list[str]:
    op, d, s = insn.jump_op, insn.dst, insn.src
    if op == JumpOp.JA:
        return ["return tgt"]
    wide = insn.cls == Class.JMP
    target = pc + insn.off + 1
    signed = op in _SIGNED_JUMPS
    if wide:
        a = f"sx64(R[{d}])" if signed else f"R[{d}]"
        if insn.source == Source.X:
            b = f"sx64(R[{s}])" if signed else f"R[{s}]"
        else:
            b = str(insn.imm if signed else insn.imm & M64)
    else:
        a = f"sx32(R[{d}])" if signed else f"(R[{d}] & {_M32_TEXT})"
        if insn.source == Source.X:
            b = f"sx32(R[{s}])" if signed else f"(R[{s}] & {_M32_TEXT})"
        else:
            b = str(insn.imm if signed else insn.imm & M32)
    if op == JumpOp.JSET:
        cond = f"{a} & {b}"
    else:
        cond = f"{a} {_JUMP_CMP[JumpOp(op)]} {b}"
    return [f"return tgt if {cond} else nxt"]


def _load_store(insn: Instruction) -> list[str]:
    size = insn.size_bytes
    cls, d, s, off = insn.cls, insn.dst, insn.src, insn.off
    if cls == Class.LDX:
        value = f"ld{size}(R[{s}] + {off})"
        if insn.mode == Mode.MEMSX:
            sign = 1 << (size * 8 - 1)
            value = f"(({value} ^ {sign}) - {sign}) & {_M64_TEXT}"
        return [f"R[{d}] = {value}"]
    if cls == Class.ST:
        return [f"st{size}(R[{d}] + {off}, {insn.imm & M64})"]
    return [f"st{size}(R[{d}] + {off}, R[{s}])"]


def _is_special(insn: Instruction) -> bool:
    cls = insn.cls
    if cls in (Class.JMP, Class.JMP32):
        return insn.jump_op in (JumpOp.CALL, JumpOp.EXIT, _JCOND)
    if cls == Class.LD:
        return insn.opcode != LDDW or insn.src != 0
    return cls == Class.STX and insn.mode == Mode.ATOMIC


def _body(insn: Instruction, pc: int, nxt: int) -> list[str]:
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64):
        return _alu(insn) + ["return nxt"]
    if cls in (Class.JMP, Class.JMP32):
        return _jump(insn, pc, nxt)
    if cls == Class.LD:                       # plain 64-bit immediate
        return [f"R[{insn.dst}] = {insn.imm & M64}", "return nxt"]
    return _load_store(insn) + ["return nxt"]


_PURE = {"M": M64, "M32": M32, "sx64": sx64, "sx32": sx32, "sdiv64": sdiv64, "smod64": smod64,
         "sdiv32": sdiv32, "smod32": smod32, "bswap": bswap}
_ACCESSORS = ("ld1", "ld2", "ld4", "ld8", "st1", "st2", "st4", "st8")
_TEMPLATES: dict[str, Callable[..., Op]] = {}      # body source -> factory(nxt, tgt, *accessors)
_TEMPLATE_LIMIT = 1 << 16


def base_namespace(mem: Any) -> dict[str, Any]:
    """The memory accessors generated instructions call (bound to one Memory)."""
    ns: dict[str, Any] = dict(_PURE)
    for size in (1, 2, 4, 8):
        ns[f"ld{size}"] = mem.loader(size)
        ns[f"st{size}"] = mem.storer(size)
    return ns


def _factories(bodies: list[str]) -> list[Callable[..., Op]]:
    """One compiled factory per distinct instruction body (cached across programs): most programs
    repeat a few hundred shapes, so compiling each shape once keeps loading fast."""
    missing = sorted({b for b in bodies if b not in _TEMPLATES})
    if missing:
        if len(_TEMPLATES) + len(missing) > _TEMPLATE_LIMIT:
            _TEMPLATES.clear()
        params = ", ".join(("nxt", "tgt") + _ACCESSORS)
        source = "\n".join(f"def f{i}({params}):\n    def op(R):\n        "
                           + body.replace("\n", "\n        ") + "\n    return op"
                           for i, body in enumerate(missing))
        ns: dict[str, Any] = dict(_PURE)
        exec(compile(source, "<bpf instructions>", "exec"), ns)     # noqa: S102 - generated by us
        for i, body in enumerate(missing):
            _TEMPLATES[body] = ns[f"f{i}"]
    return [_TEMPLATES[b] for b in bodies]


def _bad_slot(pc: int) -> Op:
    def op(R: list[int]) -> int:
        raise VMError("jumped into the middle of a 64-bit immediate load", pc=pc)
    return op


def validate(insns: Sequence[Instruction], name: str = "program") -> dict[int, int]:
    """Check encodings and jump targets; returns slot -> instruction index."""
    if not insns:
        raise InstructionError(f"{name}: empty program")
    slot_to_index: dict[int, int] = {}
    slot = 0
    for i, insn in enumerate(insns):
        problem = check(insn)
        if problem:
            raise InstructionError(f"{name}: invalid instruction {insn.opcode:#04x} "
                                   f"at instruction {i}: {problem}")
        slot_to_index[slot] = i
        slot += insn.slots
    total = slot
    for start, i in slot_to_index.items():
        insn = insns[i]
        if insn.is_jump and insn.jump_op not in (JumpOp.CALL, JumpOp.EXIT):
            target = start + insn.jump_offset + 1
        elif insn.is_pseudo_call or insn.is_pseudo_func:
            target = start + insn.imm + 1 if insn.is_pseudo_call else start + _s32(insn.imm) + 1
        else:
            continue
        if target not in slot_to_index:
            raise InstructionError(f"{name}: instruction {i} (slot {start}) jumps to slot {target}, "
                                   f"outside the program of {total} slots or into an LDDW")
    return slot_to_index


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


def compile_program(prog: CompiledProgram, env: Env) -> CompiledProgram:
    """Fill ``prog.ops``: one function per slot (the second slot of an LDDW traps)."""
    insns = prog.instructions
    prog.slot_to_index = validate(insns, prog.name)
    ns = env.namespace()
    accessors = [ns[name] for name in _ACCESSORS]
    total = sum(i.slots for i in insns)
    ops: list[Op | None] = [None] * total
    pending: list[tuple[int, int, int, str]] = []          # slot, nxt, tgt, body
    for slot, index in prog.slot_to_index.items():
        insn = insns[index]
        nxt = slot + insn.slots
        if insn.slots == 2:
            ops[slot + 1] = _bad_slot(slot + 1)
        if _is_special(insn):
            ops[slot] = env.compile_special(insn, slot, nxt, prog)
            continue
        tgt = slot + insn.jump_offset + 1 if insn.is_jump else 0
        pending.append((slot, nxt, tgt, "\n".join(_body(insn, slot, nxt))))
    for (slot, nxt, tgt, _), factory in zip(pending, _factories([p[3] for p in pending])):
        ops[slot] = factory(nxt, tgt, *accessors)
    prog.ops = ops                     # type: ignore[assignment]
    return prog


__all__ = ["CompiledProgram", "compile_program", "validate", "sx64", "sx32", "bswap",
           "sdiv64", "sdiv32", "smod64", "smod32", "M64", "M32"]
