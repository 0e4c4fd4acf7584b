"""Kernel maps: ``KernelMap`` implements pybpf.obj.mapapi.Map over bpf(2) (elements, batches, mmap, pins).

Owns exactly one map fd (and any mmaps of it); never parses ELF/BTF and never closes fds it did not
create or receive.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import mmap as _mmap
import os
import re
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import KernelError, KeyNotFoundError, MapError
from ..isa.uapi import MapType
from ..obj.mapapi import BPF_ANY, BytesCodec, Codec, IntCodec, Map
from . import syscall as sc
from .cpus import num_possible_cpus
from .fd import FD, adopt_fd

BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_STACK_BUILD_ID = 1 << 5
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_CLONE = 1 << 9
BPF_F_MMAPABLE = 1 << 10
BPF_F_INNER_MAP = 1 << 12

PAGE_SIZE = _mmap.PAGESIZE
_ELEM_ATTR_SIZE = 32
_MAP_INFO = struct.Struct("<IIIIII16sIIQQIIIIQ")   # struct bpf_map_info (88 bytes)
_ELEM = struct.Struct("<IIQQQ")                    # map_fd, pad, key, value/next_key, flags
_sys = sc._syscall


class _Pinned(bytearray):
    """A bytearray whose address stays fixed: a ctypes view exports it, so it can never move."""

    __slots__ = ("view",)


def _pinned(size: int) -> tuple[bytearray, int]:
    buf = _Pinned(size)
    if not size:
        return buf, 0
    buf.view = (ctypes.c_char * size).from_buffer(buf)
    return buf, ctypes.addressof(buf.view)

FD_VALUE_TYPES = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY,
                            MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.DEVMAP,
                            MapType.SOCKMAP, MapType.SOCKHASH, MapType.XSKMAP})
NO_LOOKUP_TYPES = frozenset({MapType.RINGBUF, MapType.USER_RINGBUF, MapType.PERF_EVENT_ARRAY})


class KernelMapError(KernelError, MapError):
    """A bpf(2) map command failed (carries the command and errno name)."""


class FdValueCodec(IntCodec):
    """Values of fd-holding maps: write a KernelMap/program/int fd, read back the kernel object id."""

    def encode(self, value: Any) -> bytes:
        if hasattr(value, "fd") and not isinstance(value, int):
            value = int(value.fd)
        return super().encode(value)


@dataclass(frozen=True)
class MapInfo:
    """What BPF_OBJ_GET_INFO_BY_FD reports for a map (struct bpf_map_info)."""
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    name: str
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    map_extra: int


def sanitize_name(name: str) -> str:
    """A kernel object name: at most 15 characters of [A-Za-z0-9_.]."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)[:15]


def map_info_from_fd(fd: int) -> MapInfo:
    buf = ctypes.create_string_buffer(_MAP_INFO.size)
    attr = sc.Attr(sc.Cmd.OBJ_GET_INFO_BY_FD, bpf_fd=fd, info_len=_MAP_INFO.size)
    attr["info"] = ctypes.addressof(buf)
    sc.bpf(attr, what=f"cannot read info of map fd {fd}")
    (mtype, mid, ks, vs, me, flags, name, _ifindex, _vmlinux_vt, _netns_dev, _netns_ino, btf_id,
     bkey, bval, _vmlinux_id, extra) = _MAP_INFO.unpack(buf.raw)
    return MapInfo(mtype, mid, ks, vs, me, flags, name.split(b"\0", 1)[0].decode(errors="replace"),
                   btf_id, bkey, bval, extra)


class KernelMap(Map):
    """A map living in the kernel. Create with :meth:`create`, :meth:`from_spec`, :meth:`from_id`,
    :meth:`from_pin` or :meth:`from_fd`; close() (or ``with``) releases its fd and mmaps."""

    def __init__(self, fd: FD, *, name: str, type: MapType | int, key_size: int, value_size: int,
                 max_entries: int, flags: int = 0, key_codec: Codec | None = None,
                 value_codec: Codec | None = None, map_id: int | None = None,
                 btf: Any = None) -> None:
        mtype = MapType(type)
        if value_codec is None and mtype in FD_VALUE_TYPES and value_size == 4:
            value_codec = FdValueCodec(4)
        super().__init__(name=name, type=mtype, key_size=key_size, value_size=value_size,
                         max_entries=max_entries, flags=flags, key_codec=key_codec,
                         value_codec=value_codec)
        self._fd = fd
        self._id = map_id
        self.btf = btf
        self._mmaps: list[_mmap.mmap] = []
        self._readers: list[Any] = []
        self.pinned_path: str | None = None
        self._ncpus = num_possible_cpus() if self.is_percpu else 1
        self._value_len = self.percpu_stride * self._ncpus if self.is_percpu else value_size
        # hot-path buffers: bytearrays (cheap slice copies) with fixed addresses for the kernel
        self._key_buf, self._key_addr = _pinned(key_size)
        self._next_buf, self._next_addr = _pinned(key_size)
        self._value_buf, self._value_addr = _pinned(self._value_len)
        self._attr, self._attr_addr = _pinned(_ELEM_ATTR_SIZE)
        self._lock = threading.Lock()       # ctypes drops the GIL: the shared buffers need it

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def create(cls, type: MapType | int, key_size: int, value_size: int, max_entries: int, *,
               name: str = "", flags: int = 0, inner_map: "KernelMap | None" = None,
               numa_node: int | None = None, btf_fd: int = 0, btf_key_type_id: int = 0,
               btf_value_type_id: int = 0, btf_vmlinux_value_type_id: int = 0,
               map_extra: int = 0, key_codec: Codec | None = None,
               value_codec: Codec | None = None, btf: Any = None) -> "KernelMap":
        """BPF_MAP_CREATE. ``inner_map`` is the template for ARRAY_OF_MAPS/HASH_OF_MAPS."""
        mtype = MapType(type)
        if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS) and inner_map is None:
            raise KernelMapError(f"map {name!r}: {mtype.name} needs an inner_map template")
        attr = sc.Attr(sc.Cmd.MAP_CREATE, map_type=mtype, key_size=key_size,
                       value_size=value_size, max_entries=max_entries, map_flags=flags,
                       map_name=sanitize_name(name).encode(), map_extra=map_extra)
        if inner_map is not None:
            attr["inner_map_fd"] = inner_map.fd
        if numa_node is not None:
            attr["numa_node"] = numa_node
            attr["map_flags"] = flags | BPF_F_NUMA_NODE
        if btf_fd:
            attr["btf_fd"] = btf_fd
            attr["btf_key_type_id"] = btf_key_type_id
            attr["btf_value_type_id"] = btf_value_type_id
            attr["btf_vmlinux_value_type_id"] = btf_vmlinux_value_type_id
        try:
            fd = sc.bpf(attr, what=f"cannot create {mtype.name} map {name!r} (key {key_size}, "
                                   f"value {value_size}, max_entries {max_entries}, "
                                   f"flags {flags:#x})")
        except KernelError as exc:
            if exc.errno == _errno.EINVAL and not _type_supported(mtype):
                from ..errors import NotSupportedError
                raise NotSupportedError(f"map type {mtype.name} is not supported by this kernel",
                                        errno=exc.errno, command="BPF_MAP_CREATE") from None
            raise
        return cls(FD(fd, "map"), name=name, type=mtype, key_size=key_size,
                   value_size=value_size, max_entries=max_entries, flags=flags,
                   key_codec=key_codec, value_codec=value_codec, btf=btf)

    @classmethod
    def from_fd(cls, fd: FD | int, *, key_codec: Codec | None = None,
                value_codec: Codec | None = None) -> "KernelMap":
        """Wrap an fd this process owns (it will be closed with the map)."""
        owned, info = adopt_fd(fd, "map", "map", map_info_from_fd, KernelMapError)
        try:
            mtype = MapType(info.type)
        except ValueError:
            owned.close()
            raise KernelMapError(f"map id {info.id} has unknown type {info.type}") from None
        return cls(owned, name=info.name, type=mtype, key_size=info.key_size,
                   value_size=info.value_size, max_entries=info.max_entries, flags=info.flags,
                   key_codec=key_codec, value_codec=value_codec, map_id=info.id)

    @classmethod
    def from_id(cls, map_id: int, *, decode_btf: bool = False, **codecs: Any) -> "KernelMap":
        """BPF_MAP_GET_FD_BY_ID (needs CAP_SYS_ADMIN). ``decode_btf``: key/value codecs from the
        map's kernel BTF (when it has one)."""
        attr = sc.Attr(sc.Cmd.MAP_GET_FD_BY_ID, map_id=map_id)
        fd = sc.bpf(attr, what=f"no map with id {map_id}")
        return _maybe_btf(cls.from_fd(FD(fd, "map"), **codecs), decode_btf)

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str], *, decode_btf: bool = False,
                 **codecs: Any) -> "KernelMap":
        """BPF_OBJ_GET of a map pinned in bpffs (``decode_btf`` as in :meth:`from_id`)."""
        from .pin import obj_get
        m = cls.from_fd(obj_get(path, kind="map"), **codecs)
        m.pinned_path = os.fspath(path)
        return _maybe_btf(m, decode_btf)

    # --- identity ---------------------------------------------------------------------------
    @property
    def fd(self) -> int:
        """The map's file descriptor number (raises once closed)."""
        return self._fd.number

    @property
    def closed(self) -> bool:
        return self._fd.closed

    @property
    def id(self) -> int:
        if self._id is None:
            self._id = self.info().id
        return self._id

    def info(self) -> MapInfo:
        return map_info_from_fd(self.fd)

    @property
    def num_cpus(self) -> int:
        return self._ncpus if self.is_percpu else num_possible_cpus()

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        for m in self._mmaps:
            try:
                m.close()
            except (BufferError, ValueError):
                pass     # a memoryview still points into it; the mapping goes when it does
        self._mmaps.clear()
        self._fd.close()

    # --- raw element primitives (the hot path: reuse buffers, no Attr objects) ---------------
    def _check(self, data: bytes | None, size: int, what: str) -> None:
        if data is not None and len(data) != size:
            raise KernelMapError(f"map {self.name!r}: {what} must be {size} bytes, got {len(data)}")

    def _elem(self, cmd: int, key: bytes | None, value_ptr: int, flags: int) -> int:
        if key is not None:
            if len(key) != self.key_size:
                raise KernelMapError(f"map {self.name!r}: key must be {self.key_size} bytes, "
                                     f"got {len(key)}")
            self._key_buf[:] = key
            key_ptr = self._key_addr
        else:
            key_ptr = 0
        _ELEM.pack_into(self._attr, 0, self._fd.number, 0, key_ptr, value_ptr, flags)
        ret = _sys(sc.SYS_BPF, cmd, self._attr_addr, _ELEM_ATTR_SIZE)
        return ret if ret >= 0 else -ctypes.get_errno()

    def _fail(self, cmd: sc.Cmd, err: int) -> KernelMapError:
        return KernelMapError(f"map {self.name!r} ({self.type.name}): {cmd.name.lower()} failed",
                              errno=err, command=f"BPF_{cmd.name}")

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        with self._lock:
            ret = self._elem(1, key, self._value_addr, flags)      # BPF_MAP_LOOKUP_ELEM
            if ret >= 0:
                return bytes(self._value_buf)
        if ret == -_errno.ENOENT:
            return None
        raise self._fail(sc.Cmd.MAP_LOOKUP_ELEM, -ret)

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        if len(value) != self._value_len:
            raise KernelMapError(f"map {self.name!r}: value must be {self._value_len} bytes, "
                                 f"got {len(value)}")
        with self._lock:
            self._value_buf[:] = value
            ret = self._elem(2, key, self._value_addr, flags)      # BPF_MAP_UPDATE_ELEM
        if ret < 0:
            raise self._fail(sc.Cmd.MAP_UPDATE_ELEM, -ret)

    def _delete(self, key: bytes) -> bool:
        with self._lock:
            ret = self._elem(3, key, 0, 0)                          # BPF_MAP_DELETE_ELEM
        if ret < 0:
            if ret == -_errno.ENOENT:
                return False
            raise self._fail(sc.Cmd.MAP_DELETE_ELEM, -ret)
        return True

    def _next_key(self, key: bytes | None) -> bytes | None:
        with self._lock:
            ret = self._elem(4, key, self._next_addr, 0)            # BPF_MAP_GET_NEXT_KEY
            if ret >= 0:
                return bytes(self._next_buf)
        if ret == -_errno.ENOENT:
            return None
        raise self._fail(sc.Cmd.MAP_GET_NEXT_KEY, -ret)

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        with self._lock:
            ret = self._elem(21, key, self._value_addr, 0)          # LOOKUP_AND_DELETE_ELEM
            if ret >= 0:
                return bytes(self._value_buf)
        if ret == -_errno.ENOENT:
            return None
        raise self._fail(sc.Cmd.MAP_LOOKUP_AND_DELETE_ELEM, -ret)

    # --- native batch operations ----------------------------------------------------------
    def batch_lookup_raw(self, *, delete: bool = False, chunk: int | None = None,
                         elem_flags: int = 0) -> tuple[bytes, bytes, int]:
        """BPF_MAP_LOOKUP(_AND_DELETE)_BATCH over the whole map: (keys, values, count), concatenated."""
        cmd = sc.Cmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else sc.Cmd.MAP_LOOKUP_BATCH
        chunk = max(1, min(chunk or self.max_entries, self.max_entries, 1 << 16))
        token_size = max(self.key_size, 8)
        in_tok = ctypes.create_string_buffer(token_size)
        out_tok = ctypes.create_string_buffer(token_size)
        keys_out: list[bytes] = []
        values_out: list[bytes] = []
        total = 0
        first = True
        while True:
            keys = ctypes.create_string_buffer(self.key_size * chunk)
            values = ctypes.create_string_buffer(self._value_len * chunk)
            attr = sc.Attr(cmd, map_fd=self.fd, count=chunk, elem_flags=elem_flags)
            attr["in_batch"] = 0 if first else ctypes.addressof(in_tok)
            attr["out_batch"] = ctypes.addressof(out_tok)
            attr["keys"] = ctypes.addressof(keys)
            attr["values"] = ctypes.addressof(values)
            ret = sc.raw_bpf(cmd, attr.buf, 56)
            got = attr["count"]
            err = -ret if ret < 0 else 0
            if err == _errno.ENOSPC and got == 0:
                chunk *= 2            # a hash bucket held more entries than the chunk
                continue
            if err and err != _errno.ENOENT:
                if err == _errno.EINVAL and first and self.type in (MapType.QUEUE, MapType.STACK):
                    raise KernelMapError(f"map {self.name!r}: {self.type.name} has no batch ops",
                                         errno=err, command=f"BPF_{cmd.name}")
                raise self._fail(cmd, err)
            keys_out.append(keys.raw[:got * self.key_size])
            values_out.append(values.raw[:got * self._value_len])
            total += got
            if err == _errno.ENOENT:
                break
            ctypes.memmove(in_tok, out_tok, token_size)
            first = False
        return b"".join(keys_out), b"".join(values_out), total

    def batch_lookup(self, *, delete: bool = False) -> list[tuple[Any, Any]]:
        keys, values, count = self.batch_lookup_raw(delete=delete)
        ks, vs = self.key_size, self._value_len
        decoded_keys = _bulk_decode(self.key_codec, keys, ks, count)
        if self.is_percpu:
            decoded_values = [self.decode_value(values[i * vs:(i + 1) * vs])
                              for i in range(count)]
        else:
            decoded_values = _bulk_decode(self.value_codec, values, vs, count)
        return list(zip(decoded_keys, decoded_values))

    def batch_lookup_and_delete(self) -> list[tuple[Any, Any]]:
        return self.batch_lookup(delete=True)

    def batch_update(self, items: Iterable[tuple[Any, Any]], flags: int = BPF_ANY) -> int:
        pairs = list(items)
        if not pairs:
            return 0
        keys = b"".join(self.encode_key(k) for k, _ in pairs)
        values = b"".join(self.encode_value(v) for _, v in pairs)
        return self.batch_update_raw(keys, values, len(pairs), elem_flags=flags)

    def batch_update_raw(self, keys: bytes, values: bytes, count: int, *,
                         elem_flags: int = 0) -> int:
        self._check(keys, self.key_size * count, "batch keys")
        self._check(values, self._value_len * count, "batch values")
        kbuf = ctypes.create_string_buffer(keys, len(keys) or 1)
        vbuf = ctypes.create_string_buffer(values, len(values) or 1)
        attr = sc.Attr(sc.Cmd.MAP_UPDATE_BATCH, map_fd=self.fd, count=count,
                       elem_flags=elem_flags)
        attr["keys"] = ctypes.addressof(kbuf)
        attr["values"] = ctypes.addressof(vbuf)
        ret = sc.raw_bpf(sc.Cmd.MAP_UPDATE_BATCH, attr.buf, 56)
        if ret < 0:
            exc = self._fail(sc.Cmd.MAP_UPDATE_BATCH, -ret)
            exc.args = (f"{exc.args[0]} after {attr['count']} of {count} elements",)
            raise exc
        return attr["count"]

    def batch_delete(self, keys: Iterable[Any]) -> int:
        raw = [self.encode_key(k) for k in keys]
        if not raw:
            return 0
        kbuf = ctypes.create_string_buffer(b"".join(raw))
        attr = sc.Attr(sc.Cmd.MAP_DELETE_BATCH, map_fd=self.fd, count=len(raw))
        attr["keys"] = ctypes.addressof(kbuf)
        ret = sc.raw_bpf(sc.Cmd.MAP_DELETE_BATCH, attr.buf, 56)
        if ret < 0:
            done = attr["count"]
            if -ret == _errno.ENOENT:
                raise KeyNotFoundError(f"map {self.name!r}: key "
                                       f"{self.key_codec.decode(raw[done])!r} not found "
                                       f"(batch delete stopped after {done} of {len(raw)})")
            raise self._fail(sc.Cmd.MAP_DELETE_BATCH, -ret)
        return attr["count"]

    # --- freeze, mmap, pin -----------------------------------------------------------------
    def freeze(self) -> None:
        """BPF_MAP_FREEZE: user space can no longer write (programs still can, unless RDONLY_PROG)."""
        sc.bpf(sc.Attr(sc.Cmd.MAP_FREEZE, map_fd=self.fd), what=f"cannot freeze map {self.name!r}")

    def mmap(self, *, writable: bool = True) -> _mmap.mmap:
        """Map the values of a BPF_F_MMAPABLE array (or an arena's pages) into this process,
        shared with programs; closed with the map."""
        if not self.flags & BPF_F_MMAPABLE:
            raise KernelMapError(f"map {self.name!r} was not created with BPF_F_MMAPABLE")
        if self.type == MapType.ARENA:
            if self._mmaps:
                return self._mmaps[0]                    # an arena has one user mapping
            size = self.max_entries * PAGE_SIZE          # an arena's max_entries counts pages
        else:
            size = self.value_size * self.max_entries
        size = (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
        prot = _mmap.PROT_READ | (_mmap.PROT_WRITE if writable else 0)
        try:
            m = _mmap.mmap(self.fd, size, _mmap.MAP_SHARED, prot)
        except OSError as exc:
            raise KernelMapError(f"cannot mmap map {self.name!r}"
                                 f"{' writable (frozen?)' if writable else ''}",
                                 errno=exc.errno or 0, command="mmap") from None
        self._mmaps.append(m)
        return m

    def pin(self, path: str | os.PathLike[str]) -> None:
        from .pin import obj_pin
        obj_pin(self.fd, path)
        self.pinned_path = os.fspath(path)

    def unpin(self) -> None:
        if self.pinned_path:
            from .pin import unpin
            unpin(self.pinned_path)
            self.pinned_path = None

    # --- readers ---------------------------------------------------------------------------
    def _record_codec(self, codec: Codec | str | None) -> Codec | None:
        """A codec, or the name of a BTF type of the map's object (``"event"``, ``"struct event"``)."""
        if not isinstance(codec, str):
            return codec
        if self.btf is None:
            raise KernelMapError(f"map {self.name!r}: no BTF to look up record type {codec!r}")
        from ..btf.codec import codec_for
        name = codec.split()[-1]
        return codec_for(self.btf, self.btf.find_one(name))

    def ring_reader(self, codec: Codec | str | None = None, **options: Any) -> Any:
        """A RingBufReader on this RINGBUF map (closed with the map). ``codec`` may name a BTF
        type of the object (``ring_reader("event")``) to decode records as Records."""
        from .ringbuf import RingBufReader
        reader = RingBufReader(self, codec=self._record_codec(codec), **options)
        self._readers.append(reader)
        return reader

    def ring_writer(self, codec: Codec | str | None = None) -> Any:
        """A UserRingBufWriter on this USER_RINGBUF map (closed with the map)."""
        from .userringbuf import UserRingBufWriter
        writer = UserRingBufWriter(self, codec=self._record_codec(codec))
        self._readers.append(writer)
        return writer

    def perf_reader(self, codec: Codec | str | None = None, **options: Any) -> Any:
        """A PerfBufReader on this PERF_EVENT_ARRAY map (closed with the map)."""
        from .perfbuf import PerfBufReader
        reader = PerfBufReader(self, codec=self._record_codec(codec), **options)
        self._readers.append(reader)
        return reader


_INT_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _bulk_decode(codec: Codec, blob: bytes, size: int, count: int) -> list[Any]:
    """Decode ``count`` fixed-size items: struct.iter_unpack for plain int/bytes codecs."""
    kind = type(codec)
    if kind is IntCodec and size in _INT_FORMATS:
        fmt = "<" + (_INT_FORMATS[size].lower() if codec.signed else _INT_FORMATS[size])
        return [v for (v,) in struct.iter_unpack(fmt, blob[:size * count])]
    if kind is BytesCodec:
        return [blob[i:i + size] for i in range(0, size * count, size)]
    decode = codec.decode
    return [decode(blob[i:i + size]) for i in range(0, size * count, size)]


def _maybe_btf(m: KernelMap, decode: bool) -> KernelMap:
    if decode:
        from .ids import map_with_btf_codecs
        map_with_btf_codecs(m)
    return m



def _type_supported(mtype: MapType) -> bool:
    try:
        from .features import map_type_supported
        return map_type_supported(mtype)
    except Exception:       # noqa: BLE001 - a failed probe just means "unknown"
        return True


__all__ = ["KernelMap", "KernelMapError", "MapInfo", "FdValueCodec", "map_info_from_fd",
           "BPF_F_MMAPABLE", "BPF_F_RDONLY_PROG", "BPF_F_NO_PREALLOC", "BPF_F_INNER_MAP"]
