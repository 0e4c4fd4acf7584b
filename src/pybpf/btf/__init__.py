"""pybpf.btf: BTF type information — parse, edit, write, lazy vmlinux, .BTF.ext, C/raw dumps, codecs.

Depends only on pybpf.isa/errors; never touches the kernel beyond reading /sys/kernel/btf files.

Public API (stable; other areas build on it)
--------------------------------------------
Types (``pybpf.btf.types``): one frozen dataclass per kind, all with ``.id``, ``.kind`` (a
:class:`Kind`) and ``.name`` ("" when anonymous); other types are referenced by id:

* ``Int(name, size, encoding, bit_offset, bits)`` (``.is_signed/.is_char/.is_bool``)
* ``Ptr/Const/Volatile/Restrict/Typedef/TypeTag(name, type_id)``
* ``Array(name, type_id, index_type_id, nelems)``
* ``Struct/Union(name, size, members, kflag)`` — both subclass ``Composite``;
  ``Member(name, type_id, bit_offset, bitfield_size)``, ``.member(name)``
* ``Enum/Enum64(name, size, values, signed)`` — both subclass ``EnumBase``; ``EnumValue(name, value)``
* ``Fwd(name, is_union)``, ``Func(name, type_id, linkage)``,
  ``FuncProto(name, return_type_id, params)`` with ``Param(name, type_id)``,
  ``Var(name, type_id, linkage)``, ``Datasec(name, size, vars)`` with
  ``VarSecinfo(type_id, offset, size)``, ``Float(name, size)``,
  ``DeclTag(name, type_id, component_idx)``; ``VOID`` is id 0.

Container (:class:`BTF`):

* ``BTF.parse(data, base=None)``, ``BTF.from_file(path, base=None)`` (raw BTF or ELF ``.BTF``),
  ``load_vmlinux(path="/sys/kernel/btf/vmlinux")`` / ``load_kernel()`` (lazy, cached),
  ``load_module(name)`` (split BTF over vmlinux).
* ``btf[type_id]``, ``len(btf)`` (= libbpf ``btf__type_cnt``: ids are ``range(1, len(btf))``),
  iteration over own types, ``btf.types(kind)``, ``btf.kind_of(id)``, ``btf.string_at(off)``.
* ``btf.find(name, kind=None) -> list[Type]``, ``btf.find_one(name, kind=None)`` (BTFError if none).
* ``btf.resolve(t)`` (skip typedefs + qualifiers), ``btf.skip_qualifiers(t)``,
  ``btf.size_of(t)``, ``btf.align_of(t)``; ``t`` may be a Type or an id.
* Editing: ``BTF()`` is empty and editable; ``btf.add(type) -> id``, ``btf[id] = type``,
  ``add_int/add_ptr/add_const/add_volatile/add_restrict/add_typedef/add_array/add_struct/
  add_union/add_enum/add_fwd/add_func_proto/add_func/add_var/add_datasec/add_float/
  add_decl_tag/add_type_tag``, ``add_string``.
* ``btf.to_bytes(reencode=False)``: ``BTF.parse(btf.to_bytes()) == btf``; unmodified input gives
  identical bytes (also when ``reencode=True`` for deduplicated string tables such as vmlinux).
* The cached kernel BTF is shared and ``read_only``; ``btf.copy()`` gives an editable copy.
* ``btf.extract([ids]) -> (small_btf, old->new id map)``: a standalone BTF of those types and all
  they reach (minimal BTF for shipping, or small fixtures cut from vmlinux).

``.BTF.ext`` (:mod:`pybpf.btf.ext`): ``BTFExt.parse(data, btf)`` -> ``.func_info``,
``.line_info``, ``.core_relos`` (dicts: section name -> record list), ``.to_bytes(btf)``;
``SourceMap`` / ``BTFExt.source_map(section)``: ``lookup(insn_index) -> SourceLine(file, line,
column, text)``; shortcut ``ext.source_line(section, insn)``; ``pack_func_infos`` /
``pack_line_infos`` give the kernel's bpf_func_info/bpf_line_info arrays.

Codecs (:mod:`pybpf.btf.codec`): ``codec_for(btf, type) -> Codec`` (``size``, ``encode``,
``decode``; the mapapi Codec protocol). Ints -> int, ``_Bool`` -> bool, ``char`` -> 1-char str,
``char[N]`` -> str up to the NUL (bytes if not UTF-8), ``__u8[N]``/``unsigned char[N]`` -> bytes,
other arrays -> list, enums -> IntEnum member (plain int when unknown; encode also takes the name),
float/double -> float, pointers -> int, structs/unions/DATASECs -> ``Record`` (attribute access,
C-style access to anonymous members' fields, ``==`` with Records or dicts, hashable, readable
repr, ``_asdict()``); encode takes a Record, a dict (missing fields are zero) or raw bytes.
Bad values raise ``ValueCodecError`` (both a MapError and a BTFError). ``type_name(btf, t)`` gives
``struct foo`` / ``char[16]`` style names for messages.

Dumps: ``dump_c(btf) -> str`` (like ``bpftool btf dump ... format c``), ``dump_raw(btf) -> str``
(like ``format raw``), ``format_decl(btf, type_id, name)`` (one C declaration, for messages);
CLI ``pybpf btf dump FILE --format c|raw [--base FILE] [--type ID]``.

Checks: ``btf.validate()`` (dangling ids, modifier loops, members past the end);
``btf.fixup_datasec(name, size, {var: offset})`` fills in what clang leaves 0 in objects.
"""
from __future__ import annotations

from .btf import BTF, describe, load_kernel, load_module, load_vmlinux
from .types import (VOID, Array, Composite, Const, Datasec, DeclTag, Enum, Enum64, EnumBase,
                    EnumValue, Float, Func, FuncProto, Fwd, Int, Kind, Member, Param, Ptr,
                    Restrict, Struct, Type, Typedef, TypeTag, Union, Var, VarSecinfo, Void,
                    Volatile, INT_BOOL, INT_CHAR, INT_SIGNED, LINKAGE_EXTERN, LINKAGE_GLOBAL,
                    LINKAGE_STATIC)

__all__ = [
    "BTF", "describe", "load_kernel", "load_module", "load_vmlinux",
    "VOID", "Array", "Composite", "Const", "Datasec", "DeclTag", "Enum", "Enum64", "EnumBase",
    "EnumValue", "Float", "Func", "FuncProto", "Fwd", "Int", "Kind", "Member", "Param", "Ptr",
    "Restrict", "Struct", "Type", "Typedef", "TypeTag", "Union", "Var", "VarSecinfo", "Void",
    "Volatile", "INT_BOOL", "INT_CHAR", "INT_SIGNED", "LINKAGE_EXTERN", "LINKAGE_GLOBAL",
    "LINKAGE_STATIC",
]


def __getattr__(name: str):  # lazy re-exports of the heavier modules
    if name in ("BTFExt", "FuncInfo", "LineInfo", "CoreRelo", "CoreReloKind", "SourceMap",
                "SourceLine"):
        from . import ext
        return getattr(ext, name)
    if name in ("codec_for", "Record", "ValueCodecError", "type_name"):
        from . import codec
        return getattr(codec, name)
    if name in ("dump_c", "format_decl"):
        from . import c_dump
        return getattr(c_dump, name)
    if name == "dump_raw":
        from .raw_dump import dump_raw
        return dump_raw
    raise AttributeError(f"module 'pybpf.btf' has no attribute {name!r}")
