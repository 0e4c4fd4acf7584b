""".BTF.ext: per-section func_info, line_info and CO-RE relocation records; parse, write, source lines.

Reads strings through the matching .BTF; never resolves CO-RE relocations (pybpf.obj does that),
and every malformed record raises BTFError naming the subsection and byte offset.
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import BTFError
from .btf import BTF

EXT_MAGIC = 0xEB9F
EXT_HEADER_MIN = 24          # up to line_info_len
EXT_HEADER_CORE = 32         # with core_relo_off/len
FUNC_INFO_SIZE = 8
LINE_INFO_SIZE = 16
CORE_RELO_SIZE = 16
INSN_SIZE = 8


class CoreReloKind(IntEnum):
    """enum bpf_core_relo_kind."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class FuncInfo:
    """A function starting at byte ``insn_off`` of its section, typed by FUNC ``type_id``."""

    insn_off: int
    type_id: int

    @property
    def insn(self) -> int:
        return self.insn_off // INSN_SIZE


@dataclass(frozen=True)
class LineInfo:
    """Source position of the instruction at byte ``insn_off``; ``text`` is the source line."""

    insn_off: int
    file_name: str
    text: str
    line: int
    column: int
    file_name_off: int = field(default=0, compare=False, repr=False)
    line_off: int = field(default=0, compare=False, repr=False)

    @property
    def insn(self) -> int:
        return self.insn_off // INSN_SIZE


@dataclass(frozen=True)
class CoreRelo:
    """A CO-RE relocation: instruction at byte ``insn_off``, local root ``type_id``, access
    string like ``"0:1:2"`` and relocation ``kind``."""

    insn_off: int
    type_id: int
    access_str: str
    kind: CoreReloKind | int
    access_str_off: int = field(default=0, compare=False, repr=False)

    @property
    def insn(self) -> int:
        return self.insn_off // INSN_SIZE

    @property
    def access_path(self) -> list[int]:
        """The access string as integers (``"0:1:2"`` -> [0, 1, 2])."""
        try:
            return [int(x) for x in self.access_str.split(":")] if self.access_str else []
        except ValueError:
            raise BTFError(f"CO-RE relocation at insn {self.insn}: bad access string "
                           f"{self.access_str!r}") from None


@dataclass(frozen=True)
class SourceLine:
    """What an error message shows for one instruction."""

    file: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.text.strip()}" if self.text else where


class SourceMap:
    """Maps an instruction index of one section (or program) to its source line."""

    def __init__(self, line_infos: list[LineInfo], *, insn_base: int = 0) -> None:
        """``insn_base`` is subtracted from record indices (for a program at a section offset)."""
        ordered = sorted(line_infos, key=lambda li: li.insn_off)
        self._insns = [li.insn - insn_base for li in ordered]
        self._records = ordered

    def lookup(self, insn: int) -> SourceLine | None:
        """The line of the last record at or before ``insn`` (None before the first)."""
        i = bisect.bisect_right(self._insns, insn) - 1
        if i < 0:
            return None
        li = self._records[i]
        return SourceLine(li.file_name, li.line, li.column, li.text)

    def __len__(self) -> int:
        return len(self._records)


@dataclass
class BTFExt:
    """Parsed .BTF.ext: ordered dicts of section name -> records."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = FUNC_INFO_SIZE
    line_info_rec_size: int = LINE_INFO_SIZE
    core_relo_rec_size: int = CORE_RELO_SIZE
    flags: int = 0
    hdr_len: int = EXT_HEADER_CORE
    endian: str = "<"

    @classmethod
    def parse(cls, data: bytes | memoryview, btf: BTF) -> BTFExt:
        data = bytes(data)
        if len(data) < 8:
            raise BTFError(f".BTF.ext too short for its header ({len(data)} bytes)")
        if data[:2] == b"\x9f\xeb":
            e = "<"
        elif data[:2] == b"\xeb\x9f":
            e = ">"
        else:
            raise BTFError(f".BTF.ext: bad magic 0x{data[0]:02x}{data[1]:02x} (expected 0xeb9f)")
        version, flags, hdr_len = struct.unpack_from(e + "BBI", data, 2)
        if version != 1:
            raise BTFError(f".BTF.ext: unsupported version {version}")
        if hdr_len < EXT_HEADER_MIN or hdr_len > len(data):
            raise BTFError(f".BTF.ext: bad header length {hdr_len} ({len(data)} bytes of data)")
        func_off, func_len, line_off, line_len = struct.unpack_from(e + "IIII", data, 8)
        core_off = core_len = 0
        if hdr_len >= EXT_HEADER_CORE:
            core_off, core_len = struct.unpack_from(e + "II", data, 24)
        ext = cls(flags=flags, hdr_len=hdr_len, endian=e)
        body = data[hdr_len:]

        def strings(off: int, what: str) -> str:
            try:
                return btf.string_at(off)
            except (BTFError, ValueError):
                raise BTFError(f".BTF.ext {what}: string offset {off} is outside the .BTF "
                               "string table") from None

        def func(rec: bytes, sec: str) -> FuncInfo:
            return FuncInfo(*struct.unpack_from(e + "II", rec))

        def line(rec: bytes, sec: str) -> LineInfo:
            insn_off, file_off, line_off_, line_col = struct.unpack_from(e + "IIII", rec)
            return LineInfo(insn_off, strings(file_off, f"line_info of {sec}"),
                            strings(line_off_, f"line_info of {sec}"), line_col >> 10,
                            line_col & 0x3FF, file_off, line_off_)

        def core(rec: bytes, sec: str) -> CoreRelo:
            insn_off, type_id, access_off, kind = struct.unpack_from(e + "IIII", rec)
            try:
                kind_value: CoreReloKind | int = CoreReloKind(kind)
            except ValueError:
                kind_value = kind
            return CoreRelo(insn_off, type_id, strings(access_off, f"core_relo of {sec}"),
                            kind_value, access_off)

        for name, off, length, min_size, decode, target, size_attr in (
                ("func_info", func_off, func_len, FUNC_INFO_SIZE, func, ext.func_info,
                 "func_info_rec_size"),
                ("line_info", line_off, line_len, LINE_INFO_SIZE, line, ext.line_info,
                 "line_info_rec_size"),
                ("core_relo", core_off, core_len, CORE_RELO_SIZE, core, ext.core_relos,
                 "core_relo_rec_size")):
            if not length:
                continue
            if off + length > len(body):
                raise BTFError(f".BTF.ext {name} subsection [{off}, {off + length}) runs past "
                               f"the end of the data ({len(body)} bytes after the header)")
            rec_size = _parse_subsection(body[off:off + length], e, name, min_size, decode,
                                         target, btf)
            setattr(ext, size_attr, rec_size)
        return ext

    @classmethod
    def from_elf(cls, data: bytes, btf: BTF | None = None, source: str = "<ELF>") -> BTFExt | None:
        """The .BTF.ext of an ELF object (None when it has none)."""
        from .elf import find_btf_section
        raw = find_btf_section(data, source, ".BTF.ext")
        if raw is None:
            return None
        if btf is None:
            btf_raw = find_btf_section(data, source, ".BTF")
            if btf_raw is None:
                raise BTFError(f"{source}: .BTF.ext without .BTF")
            btf = BTF.parse(btf_raw, source=source)
        return cls.parse(raw, btf)

    def sections(self) -> list[str]:
        names: dict[str, None] = {}
        for d in (self.func_info, self.line_info, self.core_relos):
            names.update(dict.fromkeys(d))
        return list(names)

    def source_map(self, section: str, *, insn_base: int = 0) -> SourceMap:
        """A SourceMap over ``section``'s line_info (empty when it has none)."""
        return SourceMap(self.line_info.get(section, []), insn_base=insn_base)

    def source_line(self, section: str, insn: int) -> SourceLine | None:
        """The source line of instruction ``insn`` (index within ``section``), if known."""
        cache = self.__dict__.setdefault("_source_maps", {})
        if section not in cache:
            cache[section] = self.source_map(section)
        return cache[section].lookup(insn)

    def to_bytes(self, btf: BTF) -> bytes:
        """Serialize; strings are looked up in (or added to) ``btf``'s string table."""
        e = self.endian

        def offset_of(s: str, hint: int) -> int:
            if hint:
                try:
                    if btf.string_at(hint) == s:
                        return hint
                except BTFError:
                    pass
            return btf.add_string(s)

        def section_blob(records: dict, rec_size: int, pack) -> bytes:  # type: ignore[type-arg]
            if not records:
                return b""
            parts = [struct.pack(e + "I", rec_size)]
            for sec, recs in records.items():
                parts.append(struct.pack(e + "II", btf.add_string(sec), len(recs)))
                for r in recs:
                    rec = pack(r)
                    parts.append(rec + b"\0" * (rec_size - len(rec)))
            return b"".join(parts)

        func = section_blob(self.func_info, self.func_info_rec_size,
                            lambda r: struct.pack(e + "II", r.insn_off, r.type_id))
        line = section_blob(self.line_info, self.line_info_rec_size, lambda r: struct.pack(
            e + "IIII", r.insn_off, offset_of(r.file_name, r.file_name_off),
            offset_of(r.text, r.line_off), (r.line << 10) | (r.column & 0x3FF)))
        core = section_blob(self.core_relos, self.core_relo_rec_size, lambda r: struct.pack(
            e + "IIII", r.insn_off, r.type_id, offset_of(r.access_str, r.access_str_off),
            int(r.kind)))
        hdr_len = max(self.hdr_len, EXT_HEADER_CORE if core else EXT_HEADER_MIN)
        # subsections follow the header back to back: func_info, line_info, core_relo
        fields = [0, len(func), len(func), len(line), len(func) + len(line), len(core)]
        header = struct.pack(e + "HBBI", EXT_MAGIC, 1, self.flags, hdr_len)
        header += struct.pack(e + "IIII", *fields[:4])
        if hdr_len >= EXT_HEADER_CORE:
            header += struct.pack(e + "II", *fields[4:])
        header += b"\0" * (hdr_len - len(header))
        return header + func + line + core


def _parse_subsection(blob: bytes, e: str, name: str, min_size: int, decode, target: dict,
                      btf: BTF) -> int:  # type: ignore[type-arg]
    if len(blob) < 4:
        raise BTFError(f".BTF.ext {name}: subsection too short for its record size")
    (rec_size,) = struct.unpack_from(e + "I", blob, 0)
    if rec_size < min_size or rec_size % 4 or rec_size > 1 << 16:
        raise BTFError(f".BTF.ext {name}: bad record size {rec_size} (need >= {min_size}, "
                       "multiple of 4)")
    pos = 4
    while pos < len(blob):
        if pos + 8 > len(blob):
            raise BTFError(f".BTF.ext {name}: truncated section header at byte {pos}")
        sec_off, count = struct.unpack_from(e + "II", blob, pos)
        try:
            sec = btf.string_at(sec_off)
        except (BTFError, ValueError):
            raise BTFError(f".BTF.ext {name}: section name offset {sec_off} at byte {pos} is "
                           "outside the .BTF string table") from None
        pos += 8
        if count == 0:
            raise BTFError(f".BTF.ext {name}: section {sec!r} has zero records")
        end = pos + count * rec_size
        if end > len(blob):
            raise BTFError(f".BTF.ext {name}: section {sec!r} claims {count} records of "
                           f"{rec_size} bytes, past the end of the subsection")
        records = target.setdefault(sec, [])
        for i in range(count):
            records.append(decode(blob[pos + i * rec_size: pos + (i + 1) * rec_size], sec))
        pos = end
    return rec_size


def pack_func_infos(records: list[FuncInfo], *, insn_base: int = 0, endian: str = "<") -> bytes:
    """Kernel ``struct bpf_func_info`` array (insn_off in instructions, relative to insn_base)."""
    return b"".join(struct.pack(endian + "II", r.insn - insn_base, r.type_id) for r in records)


def pack_line_infos(records: list[LineInfo], *, insn_base: int = 0, endian: str = "<") -> bytes:
    """Kernel ``struct bpf_line_info`` array (insn_off in instructions, relative to insn_base);
    string offsets are those of the .BTF the records were parsed with."""
    return b"".join(struct.pack(endian + "IIII", r.insn - insn_base, r.file_name_off, r.line_off,
                                (r.line << 10) | (r.column & 0x3FF)) for r in records)
