"""The one Python map interface that kernel maps and VM maps share (dict-like, BTF-aware).

Backends implement five raw byte-level primitives; everything users call (``m[key]``, ``items()``,
``batch_update``...) is built here once, so tests that use a map don't care where it lives.
Never imports a backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ..errors import KeyNotFoundError, MapError
from ..isa.uapi import MapType

# Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK)
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4

PERCPU_TYPES = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                          MapType.PERCPU_CGROUP_STORAGE})
KEYLESS_TYPES = frozenset({MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.USER_RINGBUF,
                           MapType.BLOOM_FILTER})


class Codec(Protocol):
    """Converts between Python values and the fixed-size bytes a map stores."""

    size: int

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


class BytesCodec:
    """Default codec: bytes in, bytes out; ints are accepted and packed little-endian."""

    def __init__(self, size: int) -> None:
        self.size = size

    def encode(self, value: Any) -> bytes:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            try:
                return value.to_bytes(self.size, "little", signed=value < 0)
            except OverflowError:
                raise MapError(f"integer {value} does not fit in {self.size} bytes") from None
        if hasattr(value, "to_bytes") and not isinstance(value, (bytes, bytearray, memoryview)):
            value = value.to_bytes()
        data = bytes(value)
        if len(data) != self.size:
            raise MapError(f"expected {self.size} bytes, got {len(data)}")
        return data

    def decode(self, data: bytes) -> Any:
        return bytes(data)


class IntCodec(BytesCodec):
    """Decodes to an unsigned (or signed) little-endian integer."""

    def __init__(self, size: int, *, signed: bool = False) -> None:
        super().__init__(size)
        self.signed = signed

    def decode(self, data: bytes) -> int:
        return int.from_bytes(data, "little", signed=self.signed)


class Map(ABC):
    """A BPF map, in the kernel or in the VM. Keys/values go through ``key_codec``/``value_codec``.

    Per-CPU maps take and return a list with one value per possible CPU.
    """

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int

    def __init__(self, *, name: str, type: MapType | int, key_size: int, value_size: int,
                 max_entries: int, flags: int = 0, key_codec: Codec | None = None,
                 value_codec: Codec | None = None) -> None:
        self.name = name
        self.type = MapType(type)
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags
        self.key_codec: Codec = key_codec or BytesCodec(key_size)
        self.value_codec: Codec = value_codec or BytesCodec(value_size)

    # --- what a backend implements (raw bytes; per-CPU values are concatenated, 8-byte aligned) --
    @abstractmethod
    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        """Value bytes for ``key`` or None when absent (key None for keyless maps: peek)."""

    @abstractmethod
    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        """Insert/replace (key None for keyless maps: push)."""

    @abstractmethod
    def _delete(self, key: bytes) -> bool:
        """Delete ``key``; False when it was absent."""

    @abstractmethod
    def _next_key(self, key: bytes | None) -> bytes | None:
        """The key after ``key`` (first key for None), or None at the end."""

    @abstractmethod
    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        """Atomically read and remove (key None for queue/stack pop)."""

    @property
    @abstractmethod
    def num_cpus(self) -> int:
        """Number of possible CPUs (slots of a per-CPU value)."""

    def close(self) -> None:
        """Release backend resources (a kernel fd). Idempotent."""

    def __enter__(self) -> "Map":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- value (de)serialisation -------------------------------------------------------------
    @property
    def is_percpu(self) -> bool:
        return self.type in PERCPU_TYPES

    @property
    def percpu_stride(self) -> int:
        return (self.value_size + 7) & ~7

    def encode_key(self, key: Any) -> bytes:
        return self.key_codec.encode(key)

    def encode_value(self, value: Any) -> bytes:
        if not self.is_percpu:
            return self.value_codec.encode(value)
        values = list(value) if isinstance(value, (list, tuple)) else [value] * self.num_cpus
        if len(values) != self.num_cpus:
            raise MapError(f"map {self.name!r}: per-CPU value needs {self.num_cpus} entries, "
                           f"got {len(values)}")
        pad = b"\0" * (self.percpu_stride - self.value_size)
        return b"".join(self.value_codec.encode(v) + pad for v in values)

    def decode_value(self, data: bytes) -> Any:
        if not self.is_percpu:
            return self.value_codec.decode(data)
        s = self.percpu_stride
        return [self.value_codec.decode(data[i * s:i * s + self.value_size])
                for i in range(self.num_cpus)]

    # --- the user-facing interface ----------------------------------------------------------
    def lookup(self, key: Any, default: Any = None, *, flags: int = 0) -> Any:
        raw = self._lookup(self.encode_key(key), flags)
        return default if raw is None else self.decode_value(raw)

    def __getitem__(self, key: Any) -> Any:
        raw = self._lookup(self.encode_key(key))
        if raw is None:
            raise KeyNotFoundError(f"map {self.name!r}: key {key!r} not found")
        return self.decode_value(raw)

    def update(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        self._update(self.encode_key(key), self.encode_value(value), flags)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.update(key, value)

    def delete(self, key: Any) -> None:
        if not self._delete(self.encode_key(key)):
            raise KeyNotFoundError(f"map {self.name!r}: key {key!r} not found")

    def __delitem__(self, key: Any) -> None:
        self.delete(key)

    def __contains__(self, key: Any) -> bool:
        return self._lookup(self.encode_key(key)) is not None

    def lookup_and_delete(self, key: Any) -> Any:
        raw = self._lookup_and_delete(self.encode_key(key))
        if raw is None:
            raise KeyNotFoundError(f"map {self.name!r}: key {key!r} not found")
        return self.decode_value(raw)

    def raw_keys(self) -> Iterator[bytes]:
        key = self._next_key(None)
        while key is not None:
            yield key
            key = self._next_key(key)

    def keys(self) -> Iterator[Any]:
        for raw in self.raw_keys():
            yield self.key_codec.decode(raw)

    __iter__ = keys

    def items(self) -> Iterator[tuple[Any, Any]]:
        for raw in self.raw_keys():
            value = self._lookup(raw)
            if value is not None:          # deleted while iterating
                yield self.key_codec.decode(raw), self.decode_value(value)

    def values(self) -> Iterator[Any]:
        for _, value in self.items():
            yield value

    def __len__(self) -> int:
        return sum(1 for _ in self.raw_keys())

    def clear(self) -> None:
        """Delete every key (arrays cannot delete: their values are zeroed instead)."""
        if self.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            zero = self.encode_value([bytes(self.value_size)] * self.num_cpus
                                     if self.is_percpu else bytes(self.value_size))
            for raw in list(self.raw_keys()):
                self._update(raw, zero)
            return
        for raw in list(self.raw_keys()):
            self._delete(raw)

    # --- keyless maps (queue, stack) ----------------------------------------------------------
    def push(self, value: Any, flags: int = BPF_ANY) -> None:
        self._update(None, self.encode_value(value), flags)

    def pop(self) -> Any:
        raw = self._lookup_and_delete(None)
        if raw is None:
            raise KeyNotFoundError(f"map {self.name!r} is empty")
        return self.decode_value(raw)

    def peek(self) -> Any:
        raw = self._lookup(None)
        if raw is None:
            raise KeyNotFoundError(f"map {self.name!r} is empty")
        return self.decode_value(raw)

    # --- batch operations (backends with a native batch path override these) -------------------
    def batch_lookup(self) -> list[tuple[Any, Any]]:
        return list(self.items())

    def batch_update(self, items: Iterable[tuple[Any, Any]], flags: int = BPF_ANY) -> int:
        count = 0
        for key, value in items:
            self.update(key, value, flags)
            count += 1
        return count

    def batch_delete(self, keys: Iterable[Any]) -> int:
        count = 0
        for key in keys:
            self.delete(key)
            count += 1
        return count

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} {self.type.name} key={self.key_size} "
                f"value={self.value_size} max_entries={self.max_entries}>")
