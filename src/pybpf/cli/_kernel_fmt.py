"""Shared formatting for the kernel CLI verbs (bpftool-like one-line summaries, value rendering).

Pure formatting of info records and decoded values; never opens kernel objects itself.
"""
from __future__ import annotations

from typing import Any

from ..isa.uapi import MapType, ProgramType


def type_name(enum: type, value: int) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return f"type {value}"


def prog_line(info: Any) -> str:
    text = f"{info.id}: {type_name(ProgramType, info.type)}  name {info.name}  tag {info.tag}"
    if info.map_ids:
        text += f"\n\tmap_ids {','.join(str(i) for i in info.map_ids)}"
    if info.btf_id:
        text += f"\n\tbtf_id {info.btf_id}"
    return text


def map_line(info: Any) -> str:
    text = (f"{info.id}: {type_name(MapType, info.type)}  name {info.name}  flags {info.flags:#x}\n"
            f"\tkey {info.key_size}B  value {info.value_size}B  max_entries {info.max_entries}")
    if info.btf_id:
        text += f"  btf_id {info.btf_id}"
    return text


def render(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return [f"0x{b:02x}" for b in value]
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if hasattr(value, "_asdict"):
        return {k: jsonable(v) for k, v in value._asdict().items()}
    return value
