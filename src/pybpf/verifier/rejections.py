"""Why pybpf's verifier rejects a program: VerifierError subclasses carrying pc, reason and path.

Each names the instruction (slot index, as the kernel and llvm-objdump count), the source line when
known, a one-sentence reason, and the path of instructions with register states that led there.
Never decides anything itself.
"""
from __future__ import annotations

from ..errors import VerifierError


class ProgramRejected(VerifierError):
    """Base class of pybpf verifier rejections."""

    kernel_hint = ""   # the kernel log phrase this rejection corresponds to (documentation)

    def __init__(self, reason: str, *, pc: int | None = None, source_line: str | None = None,
                 path: list[str] | None = None, program: str | None = None,
                 hint: str = "") -> None:
        self.pc = pc
        self.reason = reason
        self.path = list(path or [])
        self.hint = hint
        super().__init__(reason, log="", program=program, insn=pc, source_line=source_line)
        self._refresh()

    def _refresh(self) -> None:
        self.log = self.explain()
        self.args = (self.headline(),)

    def headline(self) -> str:
        where = f"insn {self.pc}: " if self.pc is not None else ""
        prog = f"{self.program}: " if self.program else ""
        return f"{prog}{where}{self.reason}" + (f" ({self.hint})" if self.hint else "")

    def explain(self) -> str:
        lines = [self.headline()]
        if self.source_line:
            lines.append(f"  source: {self.source_line}")
        if self.path:
            lines.append("  path (instruction: register state before it):")
            lines.extend(f"    {p}" for p in self.path)
        return "\n".join(lines)

    def attach(self, *, path: list[str] | None = None, source_line: str | None = None,
               program: str | None = None) -> "ProgramRejected":
        if path is not None:
            self.path = path
        if source_line is not None:
            self.source_line = source_line
        if program is not None:
            self.program = program
        self._refresh()
        return self

    def __str__(self) -> str:
        return self.explain()


class ProgramStructureError(ProgramRejected):
    """Bad control flow: unreachable code, jumps out of range, falling off the end, call depth."""


class InvalidInstructionError(ProgramStructureError):
    """An opcode or operand the kernel does not accept."""


class InvalidRegisterError(ProgramRejected):
    """Writing r10 (read-only frame pointer) or naming a register beyond r10."""


class UninitializedRegisterError(ProgramRejected):
    """Reading a register no path has written (kernel: ``R%d !read_ok``)."""


class InvalidMemoryAccessError(ProgramRejected):
    """A load or store through something that is not a valid pointer for it."""


class NullPointerError(InvalidMemoryAccessError):
    """Dereferencing a pointer that may be NULL (``map_value_or_null``, ``mem_or_null``)."""


class PacketBoundsError(InvalidMemoryAccessError):
    """Packet access beyond what a ``data + N <= data_end`` check proved."""


class MapValueBoundsError(InvalidMemoryAccessError):
    """Access outside a map value (``invalid access to map value``)."""


class StackAccessError(InvalidMemoryAccessError):
    """Stack access outside [-512, 0) or a bad spill/fill."""


class ContextAccessError(InvalidMemoryAccessError):
    """Context access not allowed for the program type (``invalid bpf_context access``)."""


class MemoryBoundsError(InvalidMemoryAccessError):
    """Access outside a PTR_TO_MEM region such as a ring buffer record."""


class PointerArithmeticError(ProgramRejected):
    """Arithmetic the kernel forbids on pointers."""


class HelperCallError(ProgramRejected):
    """A helper call with wrong arguments, or one this program type may not use; a global
    function call whose arguments do not match its BTF prototype (or with an unusable one)."""


class ReferenceLeakError(ProgramRejected):
    """An acquired reference (ring buffer record) or a spin lock not released on some path."""


class ReturnValueError(ProgramRejected):
    """The program's return value is not allowed for its type."""


class InfiniteLoopError(ProgramRejected):
    """A loop that returns to an identical state: it can never terminate."""


class ComplexityLimitError(ProgramRejected):
    """Too many instructions processed (the kernel's 1M limit) or too many states."""


class UnsupportedFeatureError(ProgramRejected):
    """Something pybpf's verifier does not model (kfuncs, some helpers): it refuses to guess."""
