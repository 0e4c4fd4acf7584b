"""The one exception tree pybpf raises for bad input and unsupported features.

Every error a user can cause (malformed ELF/BTF, bad assembly, an unsafe program, a missing kernel
feature) is a subclass of :class:`BPFError`; pybpf never lets a raw ``struct.error`` escape.
"""
from __future__ import annotations

import errno as _errno
import os


class BPFError(Exception):
    """Base class of every error pybpf raises on purpose."""


# --- instruction set -------------------------------------------------------------------------
class InstructionError(BPFError):
    """An invalid instruction encoding (unknown opcode, reserved field set, truncated wide insn)."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        where = f" at byte offset {offset} (instruction {offset // 8})" if offset is not None else ""
        super().__init__(f"{message}{where}")


class AssemblerError(BPFError):
    """Bad assembly source; names the line and column."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 source: str | None = None) -> None:
        self.line, self.column, self.source = line, column, source
        where = ""
        if line is not None:
            where = f"line {line}" + (f", column {column}" if column is not None else "") + ": "
        text = f"{where}{message}"
        if source is not None:
            text += f"\n    {source}"
            if column is not None:
                text += "\n    " + " " * max(column - 1, 0) + "^"
        super().__init__(text)


# --- objects, BTF, CO-RE ---------------------------------------------------------------------
class ObjectError(BPFError):
    """A malformed or unsupported ELF object (names file, section and symbol where known)."""


class BTFError(BPFError):
    """Malformed BTF or .BTF.ext data, or a type lookup that failed."""


class CORERelocationError(ObjectError):
    """A CO-RE relocation that cannot be resolved against the target BTF."""


# --- kernel ----------------------------------------------------------------------------------
# errnos the kernel uses internally (include/linux/errno.h) that still reach bpf(2) callers, most
# often ENOTSUPP (524) from the verifier and BTF code; Python's errno module does not know them
KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                 515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
                 518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 522: "ENOTSYNC",
                 523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT",
                 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"}


def errno_name(err: int) -> str:
    """Symbolic name of an errno, kernel-internal ones included (524 -> ENOTSUPP)."""
    return _errno.errorcode.get(err) or KERNEL_ERRNOS.get(err) or str(err)


def errno_text(err: int) -> str:
    """strerror(), with a description for kernel-internal errnos libc has no text for."""
    if err in KERNEL_ERRNOS and err not in _errno.errorcode:
        return ("operation not supported by this kernel (kernel-internal errno)" if err == 524
                else "kernel-internal errno")
    return os.strerror(err)


class KernelError(BPFError):
    """A bpf(2) (or related syscall) failure: carries the command and errno name."""

    def __init__(self, message: str, *, errno: int = 0, command: str | None = None) -> None:
        self.errno = errno
        self.command = command
        parts = [message]
        if command:
            parts.append(f"[{command}]")
        if errno:
            parts.append(f"{errno_name(errno)}: {errno_text(errno)}")
        super().__init__(": ".join([parts[0], " ".join(parts[1:])]) if len(parts) > 1 else message)


class NotSupportedError(KernelError):
    """The running kernel (or this build) lacks a feature; like cilium/ebpf's ErrNotSupported."""


class VerifierError(BPFError):
    """A program was rejected by a verifier (the kernel's or pybpf's); carries the log."""

    def __init__(self, message: str, *, log: str = "", program: str | None = None,
                 insn: int | None = None, source_line: str | None = None) -> None:
        self.log = log
        self.program = program
        self.insn = insn
        self.source_line = source_line
        super().__init__(message)


class KernelVerifierError(VerifierError, KernelError):
    """The kernel's verifier refused a program (BPF_PROG_LOAD failed with a verifier log)."""

    def __init__(self, message: str, *, log: str = "", program: str | None = None,
                 insn: int | None = None, source_line: str | None = None, errno: int = 0) -> None:
        VerifierError.__init__(self, message, log=log, program=program, insn=insn,
                               source_line=source_line)
        self.errno = errno
        self.command = "BPF_PROG_LOAD"


# --- userspace VM ----------------------------------------------------------------------------
class VMError(BPFError):
    """A run-time fault in the userspace VM (bad access, budget exhausted, bad helper call)."""

    def __init__(self, message: str, *, pc: int | None = None, source_line: str | None = None) -> None:
        self.pc = pc
        self.source_line = source_line
        text = message if pc is None else f"pc {pc}: {message}"
        if source_line:
            text += f"\n    {source_line}"
        super().__init__(text)


class MemoryAccessError(VMError):
    """A load or store outside every region the program may touch."""


class InstructionLimitError(VMError):
    """The program ran past its instruction budget (e.g. an infinite loop)."""


class HelperError(VMError):
    """An unknown or unsupported helper, or a helper called with bad arguments."""


class MapError(BPFError):
    """A map operation failed (missing key, full map, bad key/value size)."""


class KeyNotFoundError(MapError, KeyError):
    """Lookup or delete of a key that is not in the map."""

    def __str__(self) -> str:  # KeyError's repr-quoting makes messages unreadable
        return Exception.__str__(self)


class JITError(BPFError):
    """The native JIT could not compile a program."""
