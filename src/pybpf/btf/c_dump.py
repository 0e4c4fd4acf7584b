"""BTF -> compilable C declarations (a vmlinux.h), ordered like libbpf's btf_dump / bpftool format c.

Types are ordered so that everything embedded by value is defined first and pointers only need
forward declarations. Text generation only: never modifies the BTF; type cycles that C cannot
express, and runaway nesting, raise BTFError instead of recursing forever.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable

from ..errors import BTFError
from .btf import BTF
from .types import (Array, Composite, Datasec, Enum, Enum64, EnumBase, Float, FuncProto, Fwd, Int,
                    Kind, Ptr, Struct, Type, Typedef, TypeTag)

HEADER = """#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
FOOTER = """#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""

_NOT, _ING, _DONE = 0, 1, 2          # ordering / emitting states
MAX_DEPTH = 400
MAX_PADDING_BITS = 1 << 19         # 64 KiB of padding members: beyond that the BTF is nonsense
POINTER_BITS = 64
_PADS = (("long", POINTER_BITS), ("int", 32), ("short", 16), ("char", 8))
_QUALIFIERS = {Kind.VOLATILE: "volatile", Kind.CONST: "const", Kind.RESTRICT: "restrict"}
_MODS = frozenset({Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
_BLOCKLISTED_TYPEDEFS = frozenset({"__builtin_va_list"})


def dump_c(btf: BTF, type_ids: Iterable[int] | None = None, *, header: bool = True) -> str:
    """C declarations for every type (base types too, for split BTF, like bpftool) or only
    ``type_ids`` and what they need."""
    dumper = CDumper(btf)
    ids = range(1, len(btf)) if type_ids is None else list(type_ids)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 20000))
    try:
        for type_id in ids:
            dumper.dump_type(type_id)
    finally:
        sys.setrecursionlimit(old_limit)
    body = "".join(dumper.out)
    return HEADER + body + FOOTER if header else body


def format_decl(btf: BTF, type_id: int, name: str = "") -> str:
    """One C declaration of ``name`` with type ``type_id`` (``struct task_struct *p``,
    ``int (*cb)(void *)``, ``char comm[16]``); anonymous structs/enums are written inline."""
    return CDumper(btf)._decl(type_id, name, 0)


def _pfx(lvl: int) -> str:
    return "\t" * lvl


class CDumper:
    """Stateful emitter: call dump_type() for each root id; text accumulates in ``out``."""

    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self.out: list[str] = []
        n = len(btf)
        self.order_state = bytearray(n)
        self.emit_state = bytearray(n)
        self.fwd_emitted = bytearray(n)
        self.referenced: bytearray | None = None       # computed on first need (lazy vmlinux)
        self.queue: list[int] = []
        self.cached_names: dict[int, str] = {}
        self.type_names: dict[str, int] = {}
        self.ident_names: dict[str, int] = {}

    def t(self, type_id: int) -> Type:
        return self.btf[type_id]

    def _is_referenced(self, type_id: int) -> bool:
        if self.referenced is None:
            self._mark_referenced()
        assert self.referenced is not None
        return bool(self.referenced[type_id])

    def _mark_referenced(self) -> None:
        ref = self.referenced = bytearray(len(self.btf))
        n = len(ref)
        for type_id in range(1, len(self.btf)):
            t = self.btf[type_id]
            if isinstance(t, (Int, EnumBase, Fwd, Float)):
                continue
            if isinstance(t, Array):
                targets = [t.index_type_id, t.type_id]
            elif isinstance(t, Composite):
                targets = [m.type_id for m in t.members]
            elif isinstance(t, FuncProto):
                targets = [p.type_id for p in t.params]
            elif isinstance(t, Datasec):
                targets = [v.type_id for v in t.vars]
            else:
                targets = [getattr(t, "type_id", 0)]
            for target in targets:
                if 0 <= target < n:
                    ref[target] = 1

    # --- naming ----------------------------------------------------------------------------------
    def _name_dups(self, names: dict[str, int], name: str) -> int:
        names[name] = names.get(name, 0) + 1
        return names[name]

    def _resolve_name(self, type_id: int, names: dict[str, int]) -> str:
        cached = self.cached_names.get(type_id)
        if cached is not None:
            return cached
        t = self.t(type_id)
        if not t.name:
            return ""
        name = t.name
        if not (isinstance(t, Fwd) or (isinstance(t, EnumBase) and not t.values)):
            dups = self._name_dups(names, name)
            if dups > 1:
                name = f"{name}___{dups}"
        self.cached_names[type_id] = name
        return name

    def type_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.type_names)

    def ident_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.ident_names)

    # --- ordering --------------------------------------------------------------------------------
    def dump_type(self, type_id: int) -> None:
        if not 0 < type_id < len(self.btf):
            raise BTFError(f"no BTF type with id {type_id} to dump")
        self.queue = []
        self._order(type_id, False, 0)
        for queued in self.queue:
            self._emit(queued, 0, 0)

    def _order(self, type_id: int, through_ptr: bool, depth: int,
               unmarked_edge: bool = False) -> bool:
        """Queue named definitions ``type_id`` needs; True when it is a strong (by-value) link."""
        if depth > MAX_DEPTH:
            raise BTFError(f"type nesting under id {type_id} is too deep to dump as C (a cycle?)")
        if not 0 <= type_id < len(self.order_state):
            raise BTFError(f"reference to missing BTF type id {type_id}")
        state = self.order_state
        if state[type_id] == _DONE:
            return True
        t = self.t(type_id)
        if state[type_id] == _ING:
            if isinstance(t, Composite) and through_ptr and t.name:
                return False
            raise BTFError(f"unsatisfiable type cycle through {t.kind.name} "
                           f"'{t.name or '(anon)'}' (id {type_id})")
        if type_id == 0 or isinstance(t, (Int, Float)):
            state[type_id] = _DONE
            return False
        if isinstance(t, Ptr):
            state[type_id] = _ING               # a pointer chain back to itself is malformed
            strong = self._order(t.type_id, True, depth + 1)
            state[type_id] = _DONE
            return strong
        if isinstance(t, Array):
            return self._order(t.type_id, False, depth + 1)
        if isinstance(t, Composite):
            if through_ptr and t.name:
                return False
            state[type_id] = _ING
            for m in t.members:
                self._order(m.type_id, False, depth + 1)
            if t.name:
                self.queue.append(type_id)
            state[type_id] = _DONE
            return True
        if isinstance(t, (EnumBase, Fwd)):
            # reached through a member/param/target (depth > 0) means referenced, like libbpf's
            # global marking (which skips func_proto return types); only a root anonymous enum,
            # or one reached as a return type, needs the whole-BTF pass
            if t.name or ((depth == 0 or unmarked_edge) and not self._is_referenced(type_id)):
                self.queue.append(type_id)
            state[type_id] = _DONE
            return True
        if isinstance(t, Typedef):
            strong = self._order(t.type_id, through_ptr, depth + 1)
            if through_ptr and not strong:
                return False
            self.queue.append(type_id)
            state[type_id] = _DONE
            return True
        if t.kind in _MODS:
            return self._order(t.type_id, through_ptr, depth + 1)  # type: ignore[attr-defined]
        if isinstance(t, FuncProto):
            strong = self._order(t.return_type_id, through_ptr, depth + 1, True)
            for p in t.params:
                strong = self._order(p.type_id, through_ptr, depth + 1) or strong
            return strong
        state[type_id] = _DONE                # func, var, datasec, decl_tag: nothing to emit
        return False

    # --- emission --------------------------------------------------------------------------------
    def _emit(self, type_id: int, cont_id: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BTFError(f"type nesting under id {type_id} is too deep to dump as C")
        if not 0 <= type_id < len(self.emit_state):
            raise BTFError(f"reference to missing BTF type id {type_id}")
        if self.emit_state[type_id] == _DONE or type_id == 0:
            return
        t = self.t(type_id)
        out = self.out
        top_level = cont_id == 0
        if self.emit_state[type_id] == _ING:
            if self.fwd_emitted[type_id]:
                return
            if isinstance(t, Composite):
                if type_id == cont_id or not t.name:
                    return
                out.append(self._struct_fwd(type_id, t) + ";\n\n")
                self.fwd_emitted[type_id] = 1
            elif isinstance(t, Typedef):
                if t.name not in _BLOCKLISTED_TYPEDEFS:
                    out.append(self._typedef_def(type_id, t, 0) + ";\n\n")
                self.fwd_emitted[type_id] = 1
            return
        if isinstance(t, (Int, Float)):
            self.emit_state[type_id] = _DONE
        elif isinstance(t, EnumBase):
            if top_level:
                out.append(self._enum_def(type_id, t, 0) + ";\n\n")
            self.emit_state[type_id] = _DONE
        elif isinstance(t, (Ptr, Array)) or t.kind in _MODS:
            self._emit(t.type_id, cont_id, depth + 1)  # type: ignore[attr-defined]
        elif isinstance(t, Fwd):
            out.append(self._fwd_def(type_id, t) + ";\n\n")
            self.emit_state[type_id] = _DONE
        elif isinstance(t, Typedef):
            self.emit_state[type_id] = _ING
            self._emit(t.type_id, type_id, depth + 1)
            if not self.fwd_emitted[type_id] and t.name not in _BLOCKLISTED_TYPEDEFS:
                out.append(self._typedef_def(type_id, t, 0) + ";\n\n")
            self.emit_state[type_id] = _DONE
        elif isinstance(t, Composite):
            self.emit_state[type_id] = _ING
            if top_level or not t.name:
                inner = cont_id if not t.name else type_id
                for m in t.members:
                    self._emit(m.type_id, inner, depth + 1)
            elif not self.fwd_emitted[type_id] and type_id != cont_id:
                out.append(self._struct_fwd(type_id, t) + ";\n\n")
                self.fwd_emitted[type_id] = 1
            if top_level:
                out.append(self._struct_def(type_id, t, 0) + ";\n\n")
                self.emit_state[type_id] = _DONE
            else:
                self.emit_state[type_id] = _NOT
        elif isinstance(t, FuncProto):
            self._emit(t.return_type_id, cont_id, depth + 1)
            for p in t.params:
                self._emit(p.type_id, cont_id, depth + 1)

    # --- definitions -----------------------------------------------------------------------------
    def _struct_fwd(self, type_id: int, t: Composite) -> str:
        return f"{'struct' if isinstance(t, Struct) else 'union'} {self.type_name(type_id)}"

    def _fwd_def(self, type_id: int, t: Fwd) -> str:
        return f"{'union' if t.is_union else 'struct'} {self.type_name(type_id)}"

    def _enum_fwd(self, type_id: int) -> str:
        return f"enum {self.type_name(type_id)}"

    def _typedef_def(self, type_id: int, t: Typedef, lvl: int) -> str:
        name = self.ident_name(type_id)
        if t.type_id == 0 and name == "__gnuc_va_list":
            return "typedef __builtin_va_list __gnuc_va_list"
        return "typedef " + self._decl(t.type_id, name, lvl)

    def _enum_def(self, type_id: int, t: EnumBase, lvl: int) -> str:
        name = self.type_name(type_id)
        parts = [f"enum{' ' if t.name else ''}{name}"]
        if not t.values:
            return parts[0]
        parts.append(" {")
        for v in t.values:
            dups = self._name_dups(self.ident_names, v.name)
            vname = f"{v.name}___{dups}" if dups > 1 else v.name
            if isinstance(t, Enum64):
                value = f"{v.value}LL" if t.signed else f"{v.value & 0xFFFFFFFFFFFFFFFF}ULL"
            else:
                value = str(v.value) if t.signed else str(v.value & 0xFFFFFFFF)
            parts.append(f"\n{_pfx(lvl + 1)}{vname} = {value},")
        parts.append(f"\n{_pfx(lvl)}}}")
        if t.size == 1:
            parts.append(" __attribute__((mode(byte)))")
        elif t.size == 2:
            parts.append(" __attribute__((mode(HI)))")   # libbpf has no case for 2-byte enums
        elif t.size == 8:
            if isinstance(t, Enum) or all(
                    (v.value & 0xFFFFFFFFFFFFFFFF) >> 32 == 0 for v in t.values):
                parts.append(" __attribute__((mode(word)))")
        return "".join(parts)

    def _struct_def(self, type_id: int, t: Composite, lvl: int) -> str:
        btf = self.btf
        is_struct = isinstance(t, Struct)
        packed = is_struct and _is_packed(btf, t)
        try:
            align = btf.align_of(t)
        except BTFError:
            align = 1
        name = self.type_name(type_id) if t.name else ""
        parts = [f"{'struct' if is_struct else 'union'}{' ' if t.name else ''}{name} {{"]
        off = 0
        prev_bitfield = False
        for m in t.members:
            m_sz, m_off = m.bitfield_size, m.bit_offset
            try:
                m_align = 1 if packed else btf.align_of(m.type_id)
            except BTFError:
                m_align = 1
            in_bitfield = m_sz != 0       # libbpf: prev_bitfield and m_sz; see _bit_padding
            parts.append(_bit_padding(off, m_off, m_align, in_bitfield, lvl + 1, packed))
            parts.append(f"\n{_pfx(lvl + 1)}{self._decl(m.type_id, m.name, lvl + 1)}")
            if m_sz:
                parts.append(f": {m_sz}")
                off = m_off + m_sz
                prev_bitfield = True
            else:
                try:
                    size = btf.size_of(m.type_id)
                except BTFError:
                    size = 0
                off = m_off + size * 8
                prev_bitfield = False
            parts.append(";")
        if is_struct:
            parts.append(_bit_padding(off, t.size * 8, align, False, lvl + 1, packed))
        if t.members or t.size:
            parts.append(f"\n{_pfx(lvl)}}}")
        else:
            parts.append("}")
        if packed:
            parts.append(" __attribute__((packed))")
        return "".join(parts)

    # --- declarators -----------------------------------------------------------------------------
    def _decl(self, type_id: int, fname: str, lvl: int) -> str:
        """``<type> <fname>`` as C declares it (arrays, function pointers, qualifiers)."""
        stack: list[int] = []
        tid = type_id
        for _ in range(MAX_DEPTH):
            stack.append(tid)
            if tid == 0:
                break
            t = self.t(tid)
            if isinstance(t, (Ptr, FuncProto, Array)) or t.kind in _MODS:
                tid = t.return_type_id if isinstance(t, FuncProto) else t.type_id  # type: ignore
                continue
            if isinstance(t, (Int, EnumBase, Fwd, Composite, Typedef, Float)):
                break
            raise BTFError(f"unexpected {t.kind.name} (id {tid}) in a C declaration")
        else:
            raise BTFError(f"declaration chain from id {type_id} is too long (a cycle?)")
        out: list[str] = []
        self._chain(stack, fname, lvl, out)
        return "".join(out)

    def _mods(self, stack: list[int], out: list[str]) -> None:
        while stack:
            t = self.t(stack[-1]) if stack[-1] else None
            if t is None or t.kind not in _QUALIFIERS:
                return
            out.append(_QUALIFIERS[t.kind] + " ")
            stack.pop()

    def _drop_mods(self, stack: list[int]) -> None:
        while stack and stack[-1] and self.t(stack[-1]).kind in _MODS:
            stack.pop()

    def _chain(self, stack: list[int], fname: str, lvl: int, out: list[str]) -> None:
        last_was_ptr = True
        while stack:
            tid = stack.pop()
            if tid == 0:
                self._mods(stack, out)
                out.append("void")
                last_was_ptr = False
                continue
            t = self.t(tid)
            kind = t.kind
            if isinstance(t, (Int, Float)):
                self._mods(stack, out)
                out.append(t.name)
            elif isinstance(t, Composite):
                self._mods(stack, out)
                if not t.name:
                    out.append(self._struct_def(tid, t, lvl))
                else:
                    out.append(self._struct_fwd(tid, t))
            elif isinstance(t, EnumBase):
                self._mods(stack, out)
                out.append(self._enum_def(tid, t, lvl) if not t.name else self._enum_fwd(tid))
            elif isinstance(t, Fwd):
                self._mods(stack, out)
                out.append(self._fwd_def(tid, t))
            elif isinstance(t, Typedef):
                self._mods(stack, out)
                out.append(self.ident_name(tid))
            elif isinstance(t, Ptr):
                out.append("*" if last_was_ptr else " *")
            elif kind in _QUALIFIERS:
                out.append(" " + _QUALIFIERS[kind])
            elif isinstance(t, TypeTag):
                self._mods(stack, out)
                out.append(f' __attribute__((btf_type_tag("{t.name}")))')
            elif isinstance(t, Array):
                self._drop_mods(stack)
                if not stack:
                    out.append((" " if fname and not last_was_ptr else "") + fname)
                    out.append(f"[{t.nelems}]")
                    return
                multidim = bool(stack[-1]) and isinstance(self.t(stack[-1]), Array)
                if fname and not last_was_ptr:
                    out.append(" ")
                if not multidim:
                    out.append("(")
                self._chain(stack, fname, lvl, out)
                if not multidim:
                    out.append(")")
                out.append(f"[{t.nelems}]")
                return
            elif isinstance(t, FuncProto):
                self._drop_mods(stack)
                if stack:
                    out.append(" (")
                    self._chain(stack, fname, lvl, out)
                    out.append(")")
                else:
                    out.append((" " if fname and not last_was_ptr else "") + fname)
                out.append("(")
                params = t.params
                if not params or (len(params) == 1 and params[0].type_id == 0):
                    out.append("void)")
                    return
                for i, p in enumerate(params):
                    if i:
                        out.append(", ")
                    if i == len(params) - 1 and p.type_id == 0:
                        out.append("...")
                        break
                    out.append(self._decl(p.type_id, p.name, lvl))
                out.append(")")
                return
            last_was_ptr = isinstance(t, Ptr)
        out.append((" " if fname and not last_was_ptr else "") + fname)


def _is_packed(btf: BTF, t: Composite) -> bool:
    max_align = 1
    for m in t.members:
        try:
            align = btf.align_of(m.type_id)
        except BTFError:
            continue
        if m.bitfield_size == 0 and m.bit_offset % (8 * align):
            return True
        max_align = max(max_align, align)
    return t.size % max_align != 0


def _bit_padding(cur_off: int, next_off: int, next_align: int, in_bitfield: bool,
                 lvl: int, packed: bool = False) -> str:
    """Explicit ``<type>: N;`` padding members so clang reproduces the BTF layout."""
    if cur_off >= next_off:
        return ""
    if next_off - cur_off > MAX_PADDING_BITS:
        raise BTFError(f"implausible {(next_off - cur_off) // 8}-byte gap between struct members "
                       f"at bit offset {cur_off}")
    out = []
    pad_type, pad_bits, new_off = "char", 8, cur_off
    for pad_type, pad_bits in _PADS:
        new_off = -(-cur_off // pad_bits) * pad_bits
        if new_off <= next_off:
            break
    if cur_off < new_off <= next_off:
        if (in_bitfield
                or (new_off == next_off and -(-cur_off // (next_align * 8)) * next_align * 8
                    != new_off)
                or (new_off != next_off and next_off - new_off <= new_off - cur_off)
                # packed structs align nothing implicitly beyond the next byte: without the
                # marker clang would start the remaining padding short (libbpf has this gap)
                or (packed and new_off > -(-cur_off // 8) * 8)):
            out.append(f"\n{_pfx(lvl)}{pad_type}: {new_off - cur_off if in_bitfield else 0};")
        cur_off = new_off
    while cur_off != next_off:
        bits = min(next_off - cur_off, pad_bits)
        if bits == pad_bits:
            out.append(f"\n{_pfx(lvl)}{pad_type}: {pad_bits};")
            cur_off += bits
            continue
        for name, width in reversed(_PADS):
            if width < bits:
                continue
            out.append(f"\n{_pfx(lvl)}{name}: {bits};")
            cur_off += bits
            break
    return "".join(out)
