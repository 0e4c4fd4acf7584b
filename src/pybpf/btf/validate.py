"""BTF consistency checks, each one a rule the kernel's BTF verifier also enforces.

Never stricter than the kernel (whatever BPF_BTF_LOAD accepts passes here) so loaders can call it
for a readable error before the syscall; never modifies the BTF.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import BTFError
from .types import (INT_BOOL, INT_CHAR, INT_SIGNED, MODIFIER_KINDS, Array, Composite, Datasec,
                    EnumBase, Func, FuncProto, Int, Kind, Ptr, referenced_ids)

if TYPE_CHECKING:
    from .btf import BTF

MAX_INT_BITS = 128
# The kernel's identifier rule (btf_name_valid_identifier) also admits '.' anywhere, first
# character included: typedef ".c" loads.
IDENTIFIER = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*\Z")
NOT_IDENTIFIER = "is not an identifier (letters, digits, '_' and '.'; no leading digit)"
UNNAMED_KINDS = frozenset({Kind.PTR, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.ARRAY,
                           Kind.FUNC_PROTO})
ENUM_SIZES = frozenset({1, 2, 4, 8})


def validate(btf: BTF) -> None:
    from .btf import describe
    count = len(btf)
    where = btf._source
    for t in btf:
        def fail(why: str) -> BTFError:
            return BTFError(f"{where}: {describe(t)}: {why}")

        for ref in referenced_ids(t):
            if not 0 <= ref < count:
                raise fail(f"refers to missing type id {ref}")
        if t.kind in MODIFIER_KINDS or isinstance(t, Ptr):
            btf._skip(t, MODIFIER_KINDS | {Kind.PTR})          # raises on loops
        if t.kind in UNNAMED_KINDS and t.name:
            raise fail(f"a {t.kind.name} cannot have a name ({t.name!r})")
        if t.kind == Kind.TYPEDEF and not IDENTIFIER.match(t.name):
            raise fail(f"typedef name {t.name!r} {NOT_IDENTIFIER}")
        if isinstance(t, Int):
            if t.bits > MAX_INT_BITS or t.bit_offset + t.bits > t.size * 8:
                raise fail(f"{t.bits} bits at offset {t.bit_offset} do not fit in {t.size} bytes")
            if t.encoding not in (0, INT_SIGNED, INT_CHAR, INT_BOOL):
                raise fail(f"integer encoding {t.encoding:#x} mixes signed/char/bool")
        elif isinstance(t, EnumBase):
            if t.size not in ENUM_SIZES:
                raise fail(f"enum size {t.size} (must be 1, 2, 4 or 8)")
            for v in t.values:
                if not IDENTIFIER.match(v.name):
                    raise fail(f"enumerator name {v.name!r} {NOT_IDENTIFIER}")
        elif isinstance(t, Func):
            if not isinstance(btf[t.type_id], FuncProto):
                raise fail("a FUNC must point at a FUNC_PROTO")
        elif isinstance(t, Datasec):
            end = 0
            for v in t.vars:
                if v.offset < end:
                    raise fail(f"variable at offset {v.offset} overlaps the previous one")
                end = v.offset + v.size
                if end > t.size:
                    raise fail(f"variable [{v.offset}, {end}) lies outside the {t.size}-byte "
                               "section")
        elif isinstance(t, Composite):
            for m in t.members:
                if m.name and not IDENTIFIER.match(m.name):
                    raise fail(f"member name {m.name!r} {NOT_IDENTIFIER}")
                if m.bitfield_size:
                    end = m.bit_offset + m.bitfield_size
                else:
                    member = btf.resolve(m.type_id)
                    if isinstance(member, Array) and member.nelems == 0:
                        end = m.bit_offset
                    elif isinstance(member, Int):
                        # Like the kernel, an integer member occupies its bits (rounded out to
                        # whole bytes), not its declared size.
                        start = m.bit_offset + member.bit_offset
                        end = 8 * (start // 8) + 8 * -(-(member.bits + start % 8) // 8)
                    else:
                        end = m.bit_offset + 8 * btf.size_of(m.type_id)
                if end > 8 * t.size:
                    raise fail(f"member {m.name!r} ends at bit {end}, past the {t.size}-byte size")
