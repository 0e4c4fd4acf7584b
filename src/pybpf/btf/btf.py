"""The BTF container: lazily decoded types by id, name lookup, sizes, editing, and writing back.

Parsing indexes the blob in one pass and decodes a type only when asked for it (so vmlinux loads
fast); never touches the kernel except load_vmlinux() reading a file, and never recurses unbounded.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from functools import lru_cache

from ..errors import BTFError
from . import wire
from .builder import TypeBuilderMixin
from .elf import find_btf_section
from .types import (VOID, Array, Composite, Datasec, EnumBase, Float, Int, Kind, Ptr, Type, Var,
                    VarSecinfo, Void, MODIFIER_KINDS, QUALIFIER_KINDS)

MAX_RESOLVE_DEPTH = 32      # like libbpf: typedef/qualifier chains longer than this are cycles
POINTER_SIZE = 8            # BPF is a 64-bit target

TypeRef = Type | int


class BTF(TypeBuilderMixin):
    """A set of BTF types with ids ``first_id .. len(self) - 1`` (plus ``base``'s for split BTF).

    ``len(btf)`` counts ids like libbpf's ``btf__type_cnt``: void (id 0) and base types included,
    so valid ids are ``range(1, len(btf))``. Iterating yields this blob's own types in id order.
    """

    def __init__(self, *, base: BTF | None = None, endian: str = "<") -> None:
        """An empty, editable BTF (use ``add``/``add_*``), optionally split over ``base``."""
        self.base = base
        self.endian = endian
        self.flags = 0
        self.first_id = len(base) if base is not None else 1
        self._str_start = base._str_total() if base is not None else 0
        self._types = b""                         # the parsed type section
        self._types_view = memoryview(b"")
        self._index: wire.TypeIndex | None = None
        self._strings = b"\0" if base is None else b""   # parsed string section
        self._extra_strings = bytearray()          # strings added since parsing
        self._string_offsets: dict[str, int] | None = None
        self._str_cache: dict[int, str] = {0: ""} if base is None else {}
        self._align_cache: dict[int, int] = {}
        self._cache: dict[int, Type] = {}
        self._replaced: set[int] = set()
        self._added: list[Type] = []
        self._names: dict[int, list[int]] | None = None
        self._packed_names: bytes | None = None
        self._original: bytes | None = None
        self._source = "<BTF>"
        self.read_only = False

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, base: BTF | None = None, *,
              source: str = "<BTF>") -> BTF:
        """Parse raw BTF bytes (split BTF over ``base`` when given)."""
        data = bytes(data)
        header = wire.parse_header(data)
        btf = cls(base=base, endian=header.endian)
        btf._source = source
        btf.flags = header.flags
        body = header.hdr_len
        btf._types = data[body + header.type_off: body + header.type_off + header.type_len]
        btf._types_view = memoryview(btf._types)
        strings = data[body + header.str_off: body + header.str_off + header.str_len]
        if base is None and (not strings or strings[0] != 0):
            raise BTFError(f"{source}: BTF string section must start with a NUL byte (is this "
                           "split BTF of a kernel module? pass its base, e.g. "
                           "base=load_vmlinux())")
        if strings and strings[-1] != 0:
            raise BTFError(f"{source}: BTF string section is not NUL-terminated")
        if base is not None and base.endian != header.endian:
            raise BTFError(f"{source}: split BTF endianness differs from its base")
        btf._strings = strings
        try:
            btf._index = wire.TypeIndex(btf._types, header.endian)
        except BTFError as exc:
            raise BTFError(f"{source}: {exc}") from None
        btf._original = data
        return btf

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], base: BTF | None = None) -> BTF:
        """Load a raw BTF file, or the ``.BTF`` section of an ELF file (vmlinux, BTFHub, .o)."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise BTFError(f"{path}: cannot read BTF: {exc.strerror}") from None
        if data[:4] == b"\x7fELF":
            section = find_btf_section(data, str(path), ".BTF")
            if section is None:
                raise BTFError(f"{path}: ELF file has no .BTF section")
            data = section
        return cls.parse(data, base, source=str(path))

    # --- strings -------------------------------------------------------------------------------
    def _str_total(self) -> int:
        return self._str_start + len(self._strings) + len(self._extra_strings)

    def string_at(self, offset: int) -> str:
        """The NUL-terminated string at ``offset`` of the (base + own) string table."""
        cached = self._str_cache.get(offset)
        if cached is not None:
            return cached
        if offset < self._str_start and self.base is not None:
            return self.base.string_at(offset)
        local = offset - self._str_start
        table = self._strings
        if local < 0:
            raise BTFError(f"{self._source}: negative string offset {offset}")
        if local >= len(table):
            local -= len(table)
            table = self._extra_strings  # type: ignore[assignment]
            if not 0 <= local < len(table):
                raise BTFError(f"{self._source}: string offset {offset} is past the end of the "
                               f"BTF string table ({self._str_total()} bytes)")
        end = table.index(0, local)
        text = bytes(table[local:end]).decode("utf-8", "surrogateescape")
        if table is self._strings:
            self._str_cache[offset] = text
        return text

    def _offsets_of_strings(self) -> dict[str, int]:
        if self._string_offsets is None:
            offsets: dict[str, int] = {}
            pos = self._str_start
            for raw in self._strings.split(b"\0")[:-1] if self._strings else []:
                offsets.setdefault(raw.decode("utf-8", "surrogateescape"), pos)
                pos += len(raw) + 1
            self._string_offsets = offsets
        return self._string_offsets

    def add_string(self, s: str) -> int:
        """Offset of ``s`` in the string table, appending it when missing."""
        if s == "" and self.base is None:
            return 0
        if self.base is not None:
            found = self.base._find_string(s)
            if found is not None:
                return found
        offsets = self._offsets_of_strings()
        if s in offsets:
            return offsets[s]
        self._check_writable()
        if s == "" and not self._strings and not self._extra_strings and self.base is not None:
            return 0
        off = self._str_start + len(self._strings) + len(self._extra_strings)
        self._extra_strings += s.encode("utf-8", "surrogateescape") + b"\0"
        offsets[s] = off
        return off

    def _find_string(self, s: str) -> int | None:
        if self.base is not None:
            found = self.base._find_string(s)
            if found is not None:
                return found
        return self._offsets_of_strings().get(s)

    # --- type access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        parsed = len(self._index) if self._index is not None else 0
        return self.first_id + parsed + len(self._added)

    def __getitem__(self, type_id: int) -> Type:
        if not isinstance(type_id, int):
            raise TypeError(f"BTF ids are ints, not {type(type_id).__name__}")
        cached = self._cache.get(type_id)
        if cached is not None:
            return cached
        if type_id == 0:
            return VOID
        if type_id < self.first_id:
            if self.base is None or type_id < 0:
                raise BTFError(f"{self._source}: no BTF type with id {type_id}")
            return self.base[type_id]
        local = type_id - self.first_id
        index = self._index
        parsed = len(index) if index is not None else 0
        if local < parsed:
            assert index is not None
            t = wire.decode_type(self._types_view, index.offsets[local], self.endian, type_id,
                                 self.string_at)
            self._cache[type_id] = t
            return t
        local -= parsed
        if local < len(self._added):
            return self._added[local]
        raise BTFError(f"{self._source}: no BTF type with id {type_id} "
                       f"(ids go up to {len(self) - 1})")

    def get(self, ref: TypeRef) -> Type:
        """``ref`` itself when it is a Type, else ``self[ref]``."""
        return ref if isinstance(ref, Type) else self[ref]

    def __iter__(self) -> Iterator[Type]:
        for type_id in range(self.first_id, len(self)):
            yield self[type_id]

    def types(self, kind: Kind | None = None) -> Iterator[Type]:
        """This blob's own types (optionally only of one kind), in id order."""
        for type_id in range(self.first_id, len(self)):
            if kind is None or self.kind_of(type_id) == kind:
                yield self[type_id]

    def kind_of(self, type_id: int) -> Kind:
        """The kind of a type without decoding it."""
        if type_id == 0:
            return Kind.UNKN
        if type_id < self.first_id and self.base is not None:
            return self.base.kind_of(type_id)
        local = type_id - self.first_id
        index = self._index
        if index is not None and 0 <= local < len(index) and type_id not in self._replaced:
            return Kind((index.infos[local] >> 24) & 0x1F)
        return self[type_id].kind

    def _name_index(self) -> dict[int, list[int]]:
        if self._names is None:
            names: dict[int, list[int]] = {}
            if self._index is not None:
                first = self.first_id
                for i, off in enumerate(self._index.name_offs):
                    if off:
                        bucket = names.get(off)
                        if bucket is None:
                            names[off] = [first + i]
                        else:
                            bucket.append(first + i)
            self._names = names
        return self._names

    def _ids_named(self, name_offsets: list[int]) -> list[int]:
        """Ids of own parsed types whose name offset is one of ``name_offsets``."""
        if not name_offsets or self._index is None:
            return []
        if self._names is None and len(name_offsets) <= 32:
            # memchr-speed scans of the packed name-offset array beat building a dict index
            packed = self._packed_names
            if packed is None:
                packed = self._packed_names = self._index.name_offs.tobytes()
            ids = []
            for off in name_offsets:
                needle = off.to_bytes(4, sys.byteorder)       # array("I") is native order
                pos = packed.find(needle)
                while pos != -1:
                    if pos % 4 == 0:
                        ids.append(self.first_id + pos // 4)
                    pos = packed.find(needle, pos + 1)
            return ids
        names = self._name_index()
        return [i for off in name_offsets for i in names.get(off, ())]

    def _ids_named_all(self, name: str) -> list[int]:
        """Own parsed ids named ``name`` via the dict index (for tests and bulk lookups)."""
        needle = name.encode("utf-8", "surrogateescape") + b"\0"
        names = self._name_index()
        ids, table, pos = [], self._strings, self._strings.find(needle)
        while pos != -1:
            ids.extend(names.get(self._str_start + pos, ()))
            pos = table.find(needle, pos + 1)
        return sorted(ids)

    def find(self, name: str, kind: Kind | None = None) -> list[Type]:
        """All types called ``name`` (in base BTF too), optionally only of ``kind``."""
        found = self.base.find(name, kind) if self.base is not None else []
        if not name:
            return found
        needle = name.encode("utf-8", "surrogateescape") + b"\0"
        table = self._strings
        candidates = []
        pos = table.find(needle)
        while pos != -1:
            candidates.append(self._str_start + pos)
            pos = table.find(needle, pos + 1)
        ids = self._ids_named(candidates)
        for type_id in sorted(ids):
            if type_id in self._replaced:
                continue
            if kind is None or self.kind_of(type_id) == kind:
                found.append(self[type_id])
        for type_id in sorted(self._replaced):
            t = self[type_id]
            if t.name == name and (kind is None or t.kind == kind):
                found.append(t)
        found.extend(t for t in self._added if t.name == name and (kind is None or t.kind == kind))
        return found

    def find_one(self, name: str, kind: Kind | None = None) -> Type:
        """The single type called ``name`` (of ``kind``); BTFError when none (first when several)."""
        found = self.find(name, kind)
        if not found:
            what = f"{kind.name.lower()} " if kind is not None else ""
            raise BTFError(f"{self._source}: no BTF type {what}named {name!r}")
        return found[0]

    # --- type algebra --------------------------------------------------------------------------
    def skip_qualifiers(self, ref: TypeRef) -> Type:
        """Follow const/volatile/restrict/type_tag to the qualified type."""
        return self._skip(ref, QUALIFIER_KINDS)

    def resolve(self, ref: TypeRef) -> Type:
        """Follow typedefs and qualifiers to the underlying type (libbpf skip_mods_and_typedefs)."""
        return self._skip(ref, MODIFIER_KINDS)

    def _skip(self, ref: TypeRef, kinds: frozenset[Kind]) -> Type:
        t = self.get(ref)
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in kinds:
                return t
            t = self[t.type_id]  # type: ignore[attr-defined]
        raise BTFError(f"{self._source}: type chain from id {self.get(ref).id} is longer than "
                       f"{MAX_RESOLVE_DEPTH} (a cycle?)")

    def size_of(self, ref: TypeRef) -> int:
        """Size in bytes of a type (pointers are 8 bytes); BTFError for void/func/fwd."""
        t = self.get(ref)
        multiplier = 1
        for _ in range(MAX_RESOLVE_DEPTH):
            if isinstance(t, (Int, Composite, EnumBase, Float, Datasec)):
                return multiplier * t.size
            if isinstance(t, Ptr):
                return multiplier * POINTER_SIZE
            if isinstance(t, Array):
                multiplier *= t.nelems
                t = self[t.type_id]
            elif t.kind in MODIFIER_KINDS or isinstance(t, Var):
                t = self[t.type_id]  # type: ignore[attr-defined]
            else:
                raise BTFError(f"{self._source}: type {describe(t)} has no size")
        raise BTFError(f"{self._source}: type chain from id {self.get(ref).id} is too deep "
                       "(a cycle?)")

    def align_of(self, ref: TypeRef) -> int:
        """Natural alignment in bytes (libbpf btf__align_of semantics, packed structs give 1)."""
        return self._align_of(self.get(ref), 0)

    def _align_of(self, t: Type, depth: int) -> int:
        cached = self._align_cache.get(t.id) if t.id else None
        if cached is not None:
            return cached
        align = self._compute_align(t, depth)
        if t.id and self[t.id] is t:           # only cache types that are really ours
            self._align_cache[t.id] = align
        return align

    def _compute_align(self, t: Type, depth: int) -> int:
        if depth > MAX_RESOLVE_DEPTH:
            raise BTFError(f"{self._source}: type nesting under {describe(t)} is too deep")
        if isinstance(t, (Int, EnumBase, Float)):
            return max(1, min(t.size, POINTER_SIZE))
        if isinstance(t, Ptr):
            return POINTER_SIZE
        if isinstance(t, Array) or t.kind in MODIFIER_KINDS or isinstance(t, Var):
            return self._align_of(self[t.type_id], depth + 1)  # type: ignore[attr-defined]
        if isinstance(t, Composite):
            align = 1
            for m in t.members:
                a = self._align_of(self[m.type_id], depth + 1)
                if m.bitfield_size == 0 and m.bit_offset % (8 * a):
                    return 1            # a misaligned member: the struct is packed
                align = max(align, a)
            if t.size % align:
                return 1
            return align
        raise BTFError(f"{self._source}: type {describe(t)} has no alignment")

    def validate(self) -> None:
        """Consistency checks the kernel also makes (see pybpf.btf.validate); BTFError on the
        first problem, naming the type."""
        from .validate import validate
        validate(self)

    # --- editing -------------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise BTFError(f"{self._source}: this BTF is shared and read-only (the cached kernel "
                           "BTF); edit a copy made with .copy()")

    def copy(self) -> BTF:
        """An independent, editable copy (same base)."""
        return BTF.parse(self.to_bytes(), self.base, source=self._source)

    def add(self, t: Type) -> int:
        """Append ``t`` (its ``id`` is ignored) and return its new id."""
        from dataclasses import replace
        self._check_writable()
        if isinstance(t, Void):
            raise BTFError("void (id 0) cannot be added to BTF")
        type_id = len(self)
        self._added.append(replace(t, id=type_id))
        self._align_cache.clear()
        return type_id

    def __setitem__(self, type_id: int, t: Type) -> None:
        """Replace the type with id ``type_id`` (of this blob, not its base)."""
        from dataclasses import replace
        self._check_writable()
        if not self.first_id <= type_id < len(self):
            raise BTFError(f"cannot replace type id {type_id}: not one of this BTF's own types")
        new = replace(t, id=type_id)
        self._align_cache.clear()
        local = type_id - self.first_id - (len(self._index) if self._index else 0)
        if local >= 0:
            self._added[local] = new
        else:
            self._cache[type_id] = new
            self._replaced.add(type_id)

    def extract(self, type_ids: list[int]) -> tuple[BTF, dict[int, int]]:
        """A new standalone BTF holding ``type_ids`` and every type they reach (members, targets,
        params...), with ids renumbered; returns it and the old id -> new id mapping. Useful for
        shipping a minimal BTF (the BTFHub idea) or for small test fixtures cut from vmlinux."""
        from .types import referenced_ids
        order: list[int] = []
        seen = {0}
        stack = list(reversed(type_ids))
        while stack:
            tid = stack.pop()
            if tid in seen:
                continue
            seen.add(tid)
            order.append(tid)
            stack.extend(reversed([r for r in referenced_ids(self[tid]) if r not in seen]))
        order.sort()
        mapping = {0: 0, **{old: new for new, old in enumerate(order, start=1)}}
        out = BTF(endian=self.endian)
        for old in order:
            out.add(_remap(self[old], mapping))
        return out, mapping

    def fixup_datasec(self, name: str, size: int, var_offsets: dict[str, int]) -> Datasec:
        """Fill in a DATASEC's size and its variables' offsets (clang leaves them 0 in objects;
        libbpf takes them from the ELF section size and symbol values). Returns the new type."""
        from dataclasses import replace
        sec = self.find_one(name, Kind.DATASEC)
        assert isinstance(sec, Datasec)
        entries = []
        for v in sec.vars:
            var = self[v.type_id]
            offset = var_offsets.get(var.name, v.offset)
            if offset + v.size > size:
                raise BTFError(f"{self._source}: variable {var.name!r} [{offset}, "
                               f"{offset + v.size}) lies outside section {name} ({size} bytes)")
            entries.append(VarSecinfo(v.type_id, offset, v.size))
        new = replace(sec, size=size, vars=tuple(sorted(entries, key=lambda e: e.offset)))
        self[sec.id] = new
        return self[sec.id]  # type: ignore[return-value]

    # --- writing -------------------------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return bool(self._added or self._replaced or self._extra_strings)

    def to_bytes(self, *, reencode: bool = False) -> bytes:
        """Serialize: the original bytes when unmodified (unless ``reencode``), else re-encoded
        types over the original string table with new strings appended."""
        if self._original is not None and not self.modified and not reencode:
            return self._original
        records = []
        index = self._index
        for type_id in range(self.first_id, len(self)):
            local = type_id - self.first_id
            if (not reencode and index is not None and local < len(index)
                    and type_id not in self._replaced):
                start = index.offsets[local]
                end = index.offsets[local + 1] if local + 1 < len(index) else len(self._types)
                records.append(self._types[start:end])
            else:
                records.append(wire.encode_type(self[type_id], self.endian, self.add_string))
        types = b"".join(records)
        strings = self._strings + bytes(self._extra_strings)
        return wire.encode_header(self.endian, self.flags, len(types), len(strings)) + types + \
            strings

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BTF):
            return NotImplemented
        return (self.first_id == other.first_id and len(self) == len(other)
                and all(self[i] == other[i] for i in range(self.first_id, len(self))))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        split = f" split over {len(self.base)} base ids" if self.base is not None else ""
        return f"<BTF {self._source} types={len(self) - self.first_id}{split}>"


def _remap(t: Type, mapping: dict[int, int]) -> Type:
    """``t`` with every referenced type id translated through ``mapping``."""
    from dataclasses import replace
    from .types import FuncProto, Param
    if isinstance(t, Array):
        return replace(t, type_id=mapping[t.type_id], index_type_id=mapping[t.index_type_id])
    if isinstance(t, Composite):
        return replace(t, members=tuple(replace(m, type_id=mapping[m.type_id])
                                        for m in t.members))
    if isinstance(t, FuncProto):
        return replace(t, return_type_id=mapping[t.return_type_id],
                       params=tuple(Param(p.name, mapping[p.type_id]) for p in t.params))
    if isinstance(t, Datasec):
        return replace(t, vars=tuple(VarSecinfo(mapping[v.type_id], v.offset, v.size)
                                     for v in t.vars))
    if hasattr(t, "type_id"):
        return replace(t, type_id=mapping[t.type_id])  # type: ignore[attr-defined]
    return t


def describe(t: Type) -> str:
    """A short human name for error messages: ``struct foo (id 12)``."""
    kind = t.kind.name.lower()
    return f"{kind} {t.name or '(anon)'} (id {t.id})"


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> BTF:
    btf = BTF.from_file(path)
    btf.read_only = True          # shared by every caller: editing it would leak between them
    return btf


def load_vmlinux(path: str | os.PathLike[str] = "/sys/kernel/btf/vmlinux") -> BTF:
    """The kernel's BTF (raw or ELF), parsed lazily and cached per path and modification time.

    The cached object is shared and read-only; use ``.copy()`` for an editable one."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BTFError(f"{path}: cannot read kernel BTF: {exc.strerror}") from None
    return _load_cached(os.fspath(path), st.st_mtime_ns, st.st_size)


def load_kernel() -> BTF:
    """The running kernel's vmlinux BTF (/sys/kernel/btf/vmlinux), cached."""
    return load_vmlinux()


def load_module(name: str, base: BTF | None = None) -> BTF:
    """A kernel module's split BTF from /sys/kernel/btf/<name>, over vmlinux."""
    return BTF.from_file(f"/sys/kernel/btf/{name}", base if base is not None else load_kernel())


BTF.load_kernel = staticmethod(load_kernel)          # type: ignore[attr-defined]
BTF.load_vmlinux = staticmethod(load_vmlinux)        # type: ignore[attr-defined]
