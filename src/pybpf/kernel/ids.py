"""Walking the kernel's object ids (programs, maps, links, BTF) and fetching BTF blobs by id.

Read-only queries over BPF_*_GET_NEXT_ID / GET_FD_BY_ID / OBJ_GET_INFO_BY_FD; every fd it opens
is closed before returning.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import struct
from collections.abc import Iterator
from typing import Any

from ..errors import KernelError
from . import syscall as sc
from .fd import FD


def _iter_ids(cmd: sc.Cmd) -> Iterator[int]:
    current = 0
    while True:
        attr = sc.Attr(cmd, start_id=current)
        ret = sc.raw_bpf(cmd, attr.buf)
        if ret < 0:
            if -ret == _errno.ENOENT:
                return
            raise sc.error_for(cmd, -ret, f"cannot list ids ({cmd.name})")
        current = attr["next_id"]
        yield current


def prog_ids() -> Iterator[int]:
    return _iter_ids(sc.Cmd.PROG_GET_NEXT_ID)


def map_ids() -> Iterator[int]:
    return _iter_ids(sc.Cmd.MAP_GET_NEXT_ID)


def link_ids() -> Iterator[int]:
    return _iter_ids(sc.Cmd.LINK_GET_NEXT_ID)


def btf_ids() -> Iterator[int]:
    return _iter_ids(sc.Cmd.BTF_GET_NEXT_ID)


def btf_bytes_by_id(btf_id: int) -> bytes:
    """The raw BTF blob the kernel holds under ``btf_id`` (struct bpf_btf_info: btf, btf_size)."""
    attr = sc.Attr(sc.Cmd.BTF_GET_FD_BY_ID, btf_id=btf_id)
    with FD(sc.bpf(attr, what=f"no BTF with id {btf_id}"), "btf") as fd:
        info = ctypes.create_string_buffer(32)
        a = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd.number, info_len=32)
        a["info"] = ctypes.addressof(info)
        sc.bpf(a, what=f"cannot read BTF {btf_id} info")
        size = struct.unpack_from("<I", info.raw, 8)[0]
        data = ctypes.create_string_buffer(max(size, 1))
        info2 = ctypes.create_string_buffer(32)
        struct.pack_into("<QI", info2, 0, ctypes.addressof(data), size)
        a2 = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd.number, info_len=32)
        a2["info"] = ctypes.addressof(info2)
        sc.bpf(a2, what=f"cannot read BTF {btf_id} data")
        return data.raw[:size]


def btf_by_id(btf_id: int) -> Any:
    """BTF object for ``btf_id`` parsed with pybpf.btf (split over vmlinux when it is a module's)."""
    from ..btf import BTF
    data = btf_bytes_by_id(btf_id)
    try:
        return BTF.parse(data)
    except Exception:  # noqa: BLE001 - split BTF needs its base
        from .btfload import vmlinux
        try:
            return BTF.parse(data, base=vmlinux())
        except Exception as exc:  # noqa: BLE001
            raise KernelError(f"cannot parse BTF id {btf_id}: {exc}") from None


def map_with_btf_codecs(m: Any) -> Any:
    """Attach key/value codecs decoded from the map's kernel BTF (no-op when it has none)."""
    info = m.info()
    if not info.btf_id or not info.btf_value_type_id:
        return m
    try:
        from ..btf.codec import codec_for
        btf = btf_by_id(info.btf_id)
        if info.btf_key_type_id:
            kc = codec_for(btf, info.btf_key_type_id)
            if getattr(kc, "size", None) == m.key_size:
                m.key_codec = kc
        vc = codec_for(btf, info.btf_value_type_id)
        if getattr(vc, "size", None) == m.value_size:
            m.value_codec = vc
        m.btf = btf
    except Exception:  # noqa: BLE001 - undecodable: keep bytes
        pass
    return m
