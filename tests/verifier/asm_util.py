"""Assembly helpers for verifier tests: conformance-syntax text plus ``ldmap %rN, NAME`` map loads.

Test support only; builds Instruction lists, never touches the kernel.
"""
from __future__ import annotations

import re

from pybpf.isa import Instruction
from pybpf.isa.asm import assemble
from pybpf.isa.opcodes import PseudoSrc

_LDMAP = re.compile(r"ldmap %r(\d+), ([\w.]+)(?:\s*\+\s*(\d+))?")
_MAGIC = 0x5EED0000

# maps every corpus program may reference: name -> (type, key_size, value_size, max_entries[, flags])
MAPS = {
    "arr": (2, 4, 16, 4),            # ARRAY, 16-byte values
    "hash": (1, 4, 16, 8),           # HASH
    "rb": (27, 0, 0, 4096),          # RINGBUF
    "progs": (3, 4, 4, 4),           # PROG_ARRAY
    "perf": (4, 4, 4, 2),            # PERF_EVENT_ARRAY
    "ro": (2, 4, 16, 1, 0x80),       # ARRAY with BPF_F_RDONLY_PROG (like .rodata)
    "big": (1, 4, 4096, 4),          # HASH with 4 KiB values
}


def prog(text: str) -> list[Instruction]:
    """Assemble ``text``; ``ldmap %rN, name`` loads a map, ``ldmap %rN, name + OFF`` a value pointer."""
    refs: dict[int, tuple[str, int | None]] = {}

    def rep(m: re.Match) -> str:
        key = _MAGIC + len(refs)
        refs[key] = (m.group(2), int(m.group(3)) if m.group(3) else None)
        return f"lddw %r{m.group(1)}, {key:#x}"

    out = []
    for insn in assemble(_LDMAP.sub(rep, text)):
        if insn.opcode == 0x18 and insn.imm64 in refs:
            name, off = refs[insn.imm64]
            if off is None:
                insn = insn.with_(src=PseudoSrc.MAP_FD, imm=0, ref=name)
            else:
                insn = insn.with_(src=PseudoSrc.MAP_VALUE, imm=off << 32, ref=name)
        out.append(insn)
    return out


LOOKUP = """
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
ldmap %r1, {map}
call 1
"""


def lookup(map_name: str = "arr") -> str:
    """Text that leaves bpf_map_lookup_elem(&map, &(u32){0}) in r0 (not yet null-checked)."""
    return LOOKUP.format(map=map_name)
