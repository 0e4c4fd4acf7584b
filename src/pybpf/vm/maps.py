"""VM maps: array, hash, LRU, per-CPU, LPM trie, queue/stack, prog array and map-of-maps, in VM memory.

Values live in regions of the VM's :class:`~pybpf.vm.memory.Memory`, so a program's
``bpf_map_lookup_elem`` gets a real (simulated) pointer and writes through it show up in the map. Each
class implements pybpf.obj.mapapi.Map for Python and a small errno-returning API for helpers; it never
runs program code.
"""
from __future__ import annotations

import errno
import functools
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ..errors import MapError
from ..isa.uapi import MapType
from ..obj.mapapi import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, Codec, Map
from .memory import Memory, Region

BPF_F_NO_PREALLOC = 1 << 0
BPF_F_RDONLY_PROG = 1 << 7
MAX_POOL_BYTES = 1 << 31


def map_error(message: str, code: int = errno.EINVAL) -> MapError:
    """A MapError carrying the errno the kernel would have returned (``.errno``)."""
    err = MapError(message)
    err.errno = code                                # type: ignore[attr-defined]
    return err


def possible_cpus() -> int:
    """Number of possible CPUs of this machine (what per-CPU values are sized by)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
        count = 0
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            count += (int(hi) if hi else int(lo)) - int(lo) + 1
        return count
    except (OSError, ValueError):
        return os.cpu_count() or 1


def _round8(n: int) -> int:
    return (n + 7) & ~7


class VMMap(Map):
    """Common state: memory, CPUs, and the helper-facing API (errno results, pointers)."""

    handle: int | None = None

    def __init__(self, *, memory: Memory, cpus: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.memory = memory
        self._cpus = cpus or possible_cpus()
        if self.type != MapType.RINGBUF and self.max_entries <= 0:
            raise MapError(f"map {self.name!r}: max_entries must be positive")

    @property
    def num_cpus(self) -> int:
        return self._cpus

    # helper-facing API; subclasses override what they support
    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        return 0

    def update_elem(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        return -errno.EINVAL

    def delete_elem(self, key: bytes) -> int:
        return -errno.EINVAL

    def push_elem(self, value: bytes, flags: int = BPF_ANY) -> int:
        return -errno.EINVAL

    def pop_elem(self, *, delete: bool) -> bytes | None:
        return None

    def entries_for_iteration(self) -> Iterator[tuple[bytes, int]]:
        """(key bytes, value address for the current CPU) of every element, for for_each_map_elem."""
        return iter(())

    def close(self) -> None:
        pass

    def _check_flags(self, flags: int) -> int | None:
        if flags & ~(BPF_NOEXIST | BPF_EXIST | BPF_F_LOCK) or (flags & 3) == 3:
            return -errno.EINVAL
        return None

    def _raise(self, code: int, what: str) -> None:
        if code < 0:
            name = errno.errorcode.get(-code, str(-code))
            err = MapError(f"map {self.name!r}: {what} failed: {name} ({os.strerror(-code)})")
            err.errno = -code                       # type: ignore[attr-defined]
            raise err


class _ValuePool:
    """A fixed region of ``entries`` value slots (``cpus`` copies each), like a preallocated map."""

    def __init__(self, memory: Memory, name: str, entries: int, value_size: int, cpus: int,
                 writable: bool = True) -> None:
        self.stride = _round8(value_size) if value_size else 8
        self.cpus = cpus
        self.value_size = value_size
        size = entries * cpus * self.stride
        if size > MAX_POOL_BYTES:
            raise MapError(f"map {name!r}: {entries} entries of {value_size} bytes need "
                           f"{size} bytes of VM memory (limit {MAX_POOL_BYTES})")
        self.region: Region = memory.new(f"map:{name}", size, kind="map_value", writable=writable)
        self.region.owner = self

    def address(self, slot: int, cpu: int = 0) -> int:
        return self.region.base + (slot * self.cpus + cpu) * self.stride

    def read_all(self, slot: int) -> bytes:
        start = slot * self.cpus * self.stride
        if self.cpus == 1:
            return bytes(self.region.buf[start:start + self.value_size])
        return bytes(self.region.buf[start:start + self.cpus * self.stride])

    def write_all(self, slot: int, data: bytes) -> None:
        """Python-side write: one value, or per-CPU values concatenated at the 8-byte stride."""
        start = slot * self.cpus * self.stride
        if self.cpus == 1:
            self.region.buf[start:start + self.value_size] = data[:self.value_size]
        else:
            self.region.buf[start:start + self.cpus * self.stride] = data.ljust(
                self.cpus * self.stride, b"\0")[:self.cpus * self.stride]

    def write_cpu(self, slot: int, cpu: int, data: bytes, *, zero_others: bool) -> None:
        if zero_others:
            self.clear(slot)
        start = (slot * self.cpus + cpu) * self.stride
        self.region.buf[start:start + self.value_size] = data[:self.value_size]

    def clear(self, slot: int) -> None:
        start = slot * self.cpus * self.stride
        n = self.cpus * self.stride
        self.region.buf[start:start + n] = bytes(n)


# --- arrays --------------------------------------------------------------------------------------
class ArrayMap(VMMap):
    """BPF_MAP_TYPE_ARRAY / PERCPU_ARRAY: every index exists; values zero-initialised; no delete."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        if self.key_size != 4:
            raise MapError(f"array map {self.name!r}: key_size must be 4, not {self.key_size}")
        cpus = self.num_cpus if self.is_percpu else 1
        self.pool = _ValuePool(self.memory, self.name, self.max_entries, self.value_size, cpus,
                               writable=not self.flags & BPF_F_RDONLY_PROG)

    def _index(self, key: bytes | None) -> int | None:
        if key is None or len(key) != 4:
            return None
        index = int.from_bytes(key, "little")
        return index if index < self.max_entries else None

    def direct_value_address(self, offset: int) -> int:
        """Address of byte ``offset`` of element 0 (global variables: LDDW MAP_VALUE)."""
        if self.is_percpu or offset >= max(self.value_size, 1):
            raise MapError(f"map {self.name!r}: no direct value at offset {offset}")
        return self.pool.address(0) + offset

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        index = self._index(key)
        return None if index is None else self.pool.read_all(index)

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self._raise(self._update_all(key, value, flags), "update")

    def _writable_index(self, key: bytes | None, flags: int) -> tuple[int | None, int]:
        """(element index, 0) for an update with ``flags``, or (None, -errno) as the kernel refuses."""
        bad = self._check_flags(flags)
        if bad is not None:
            return None, bad
        index = self._index(key)
        if index is None:
            return None, -errno.E2BIG
        if flags & 3 == BPF_NOEXIST:
            return None, -errno.EEXIST
        return index, 0

    def _update_all(self, key: bytes | None, value: bytes, flags: int) -> int:
        index, err = self._writable_index(key, flags)
        if index is None:
            return err
        self.pool.write_all(index, value)
        return 0

    def _delete(self, key: bytes) -> bool:
        raise map_error(f"map {self.name!r}: array elements cannot be deleted (EINVAL)")

    def _next_key(self, key: bytes | None) -> bytes | None:
        index = self._index(key)
        nxt = 0 if index is None else index + 1
        return nxt.to_bytes(4, "little") if nxt < self.max_entries else None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        raise map_error(f"map {self.name!r}: lookup_and_delete is not supported on arrays (EINVAL)")

    def __len__(self) -> int:
        return self.max_entries

    # helper API
    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        index = self._index(key)
        if index is None:
            return 0
        return self.pool.address(index, cpu if self.is_percpu else 0)

    def update_elem(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        if not self.is_percpu:
            return self._update_all(key, value, flags)
        index, err = self._writable_index(key, flags)
        if index is None:
            return err
        self.pool.write_cpu(index, cpu, value, zero_others=False)
        return 0

    def entries_for_iteration(self) -> Iterator[tuple[bytes, int]]:
        for index in range(self.max_entries):
            yield index.to_bytes(4, "little"), self.pool.address(index)


class SlotArrayMap(ArrayMap):
    """DEVMAP / CPUMAP / XSKMAP / SOCKMAP / CGROUP_ARRAY stored as raw values (ifindex, cgroup id...):
    a zero slot is empty, as an unset slot is in the kernel (lookups miss, delete clears)."""

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        raw = super()._lookup(key, flags)
        return raw if raw is not None and any(raw) else None

    def _delete(self, key: bytes) -> bool:
        index = self._index(key)
        if index is None or self._lookup(key) is None:
            return False
        self.pool.clear(index)
        return True

    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        return super().lookup_ptr(key, cpu) if self._lookup(key) is not None else 0

    def delete_elem(self, key: bytes) -> int:
        return 0 if self._delete(key) else -errno.ENOENT


# --- hash maps -----------------------------------------------------------------------------------
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _settled(method: _Method) -> _Method:
    """Run the map's ``settle`` hook (side effects native code made) before ``method``."""
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.settle is not None:
            self.settle()
        return method(self, *args, **kwargs)
    return run  # type: ignore[return-value]


class HashMap(VMMap):
    """HASH / PERCPU_HASH / LRU_HASH / LRU_PERCPU_HASH over a preallocated value pool."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        cpus = self.num_cpus if self.is_percpu else 1
        self.pool = _ValuePool(self.memory, self.name, self.max_entries, self.value_size, cpus)
        self.slots: OrderedDict[bytes, int] = OrderedDict()     # key -> pool slot, oldest first
        self.free = list(range(self.max_entries - 1, -1, -1))
        self.lru = self.type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
        self.evictions = 0
        # Set by a native mirror of this map (the JIT's HashIndex): applies what native code did
        # (inserts, LRU touches) to ``slots``/``free``. Every operation runs it first.
        self.settle: Callable[[], None] | None = None

    def _key(self, key: bytes | None) -> bytes:
        if key is None or len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key must be {self.key_size} bytes")
        return bytes(key)

    def _touch(self, key: bytes) -> None:
        if self.lru:
            self.slots.move_to_end(key)

    def _insert_slot(self, key: bytes) -> int:
        if self.free:
            slot = self.free.pop()
        elif self.lru:                       # evict the least recently used element
            _, slot = self.slots.popitem(last=False)
            self.evictions += 1
        else:
            return -1
        self.slots[key] = slot
        self.pool.clear(slot)
        return slot

    @_settled
    def _store(self, key: bytes, value: bytes, flags: int, cpu: int | None) -> int:
        bad = self._check_flags(flags)
        if bad is not None:
            return bad
        slot = self.slots.get(key)
        if slot is None and flags & 3 == BPF_EXIST:
            return -errno.ENOENT
        if slot is not None and flags & 3 == BPF_NOEXIST:
            return -errno.EEXIST
        if slot is None:
            slot = self._insert_slot(key)
            if slot < 0:
                return -errno.E2BIG
        else:
            self._touch(key)
        if cpu is None:
            self.pool.write_all(slot, value)
        else:
            self.pool.write_cpu(slot, cpu, value, zero_others=False)
        return 0

    @_settled
    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        slot = self.slots.get(self._key(key))
        return None if slot is None else self.pool.read_all(slot)

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self._raise(self._store(self._key(key), value, flags, None), "update")

    @_settled
    def _delete(self, key: bytes) -> bool:
        slot = self.slots.pop(self._key(key), None)
        if slot is None:
            return False
        self.free.append(slot)
        return True

    @_settled
    def _next_key(self, key: bytes | None) -> bytes | None:
        keys = list(self.slots)
        if key is None or bytes(key) not in self.slots:
            return keys[0] if keys else None
        i = keys.index(bytes(key))
        return keys[i + 1] if i + 1 < len(keys) else None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        value = self._lookup(key)
        if value is not None:
            self._delete(self._key(key))
        return value

    @_settled
    def raw_keys(self) -> Iterator[bytes]:
        """All keys in one pass (``_next_key`` alone would make iteration quadratic)."""
        yield from list(self.slots)

    @_settled
    def __len__(self) -> int:
        return len(self.slots)

    # helper API
    @_settled
    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        slot = self.slots.get(key)
        if slot is None:
            return 0
        self._touch(key)
        return self.pool.address(slot, cpu if self.is_percpu else 0)

    def update_elem(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        return self._store(key, value, flags, cpu if self.is_percpu else None)

    def delete_elem(self, key: bytes) -> int:
        return 0 if self._delete(key) else -errno.ENOENT

    @_settled
    def entries_for_iteration(self) -> Iterator[tuple[bytes, int]]:
        for key, slot in list(self.slots.items()):
            if self.slots.get(key) == slot:
                yield key, self.pool.address(slot)


# --- LPM trie ------------------------------------------------------------------------------------
class LPMTrieMap(VMMap):
    """LPM_TRIE: keys are ``u32 prefixlen`` + address bytes; lookups find the longest matching prefix."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        if self.key_size <= 4:
            raise MapError(f"LPM trie {self.name!r}: key_size must be 4 + address bytes")
        self.max_prefix = (self.key_size - 4) * 8
        self.pool = _ValuePool(self.memory, self.name, self.max_entries, self.value_size, 1)
        self.entries: dict[tuple[int, int], int] = {}   # (prefixlen, masked int) -> slot
        self.stored_keys: dict[tuple[int, int], bytes] = {}   # the key as given (host bits kept)
        self.free = list(range(self.max_entries - 1, -1, -1))

    def _parse(self, key: bytes | None) -> tuple[int, int] | None:
        if key is None or len(key) != self.key_size:
            return None
        plen = int.from_bytes(key[:4], "little")
        if plen > self.max_prefix:
            return None
        data = int.from_bytes(key[4:], "big")
        return plen, self._mask(data, plen)

    def _mask(self, data: int, plen: int) -> int:
        return data >> (self.max_prefix - plen) << (self.max_prefix - plen) if plen else 0

    def _encode(self, plen: int, data: int) -> bytes:
        return plen.to_bytes(4, "little") + data.to_bytes(self.key_size - 4, "big")

    def _match(self, key: bytes | None) -> int | None:
        parsed = self._parse(key)
        if parsed is None:
            return None
        plen, _ = parsed
        data = int.from_bytes(key[4:], "big")          # type: ignore[index]
        for length in range(plen, -1, -1):
            slot = self.entries.get((length, self._mask(data, length)))
            if slot is not None:
                return slot
        return None

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        slot = self._match(key)
        return None if slot is None else self.pool.read_all(slot)

    def _store(self, key: bytes | None, value: bytes, flags: int) -> int:
        if flags > BPF_EXIST:                         # trie_update_elem: no BPF_F_LOCK
            return -errno.EINVAL
        bad = self._check_flags(flags)
        if bad is not None:
            return bad
        parsed = self._parse(key)
        if parsed is None:
            return -errno.EINVAL
        slot = self.entries.get(parsed)
        if slot is None and flags & 3 == BPF_EXIST:
            return -errno.ENOENT
        if slot is not None and flags & 3 == BPF_NOEXIST:
            return -errno.EEXIST
        if slot is None:
            if not self.free:
                return -errno.ENOSPC
            slot = self.free.pop()
            self.entries[parsed] = slot
        self.stored_keys[parsed] = bytes(key)            # type: ignore[arg-type]
        self.pool.write_all(slot, value)
        return 0

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self._raise(self._store(key, value, flags), "update")

    def _delete(self, key: bytes) -> bool:
        parsed = self._parse(key)
        slot = self.entries.pop(parsed, None) if parsed else None
        if slot is None:
            return False
        self.stored_keys.pop(parsed, None)               # type: ignore[arg-type]
        self.free.append(slot)
        return True

    def _next_key(self, key: bytes | None) -> bytes | None:
        ordered = sorted(self.entries, key=lambda e: (-e[0], e[1]))
        parsed = self._parse(key)
        if parsed is None or parsed not in self.entries:
            return self.stored_keys[ordered[0]] if ordered else None
        i = ordered.index(parsed)
        return self.stored_keys[ordered[i + 1]] if i + 1 < len(ordered) else None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        raise map_error(f"map {self.name!r}: lookup_and_delete is not supported on LPM tries (EINVAL)")

    def raw_keys(self) -> Iterator[bytes]:
        ordered = sorted(self.entries, key=lambda e: (-e[0], e[1]))
        yield from [self.stored_keys[e] for e in ordered]

    def __len__(self) -> int:
        return len(self.entries)

    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        slot = self._match(key)
        return 0 if slot is None else self.pool.address(slot)

    def update_elem(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        return self._store(key, value, flags)

    def delete_elem(self, key: bytes) -> int:
        if self._parse(key) is None:                  # trie_delete_elem: prefixlen > max: EINVAL
            return -errno.EINVAL
        return 0 if self._delete(key) else -errno.ENOENT


# --- queue and stack -----------------------------------------------------------------------------
class QueueStackMap(VMMap):
    """QUEUE (FIFO) and STACK (LIFO): keyless; push with BPF_EXIST overwrites the oldest when full."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        if self.key_size != 0:
            raise MapError(f"{self.type.name.lower()} map {self.name!r}: key_size must be 0")
        self.items_: deque[bytes] = deque()

    def push_elem(self, value: bytes, flags: int = BPF_ANY) -> int:
        if flags & ~BPF_EXIST:
            return -errno.EINVAL
        if len(self.items_) >= self.max_entries:
            if not flags & BPF_EXIST:
                return -errno.E2BIG
            self.items_.popleft()
        self.items_.append(bytes(value[:self.value_size]))
        return 0

    def pop_elem(self, *, delete: bool) -> bytes | None:
        if not self.items_:
            return None
        if self.type == MapType.QUEUE:
            return self.items_.popleft() if delete else self.items_[0]
        return self.items_.pop() if delete else self.items_[-1]

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        return self.pop_elem(delete=False)

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self._raise(self.push_elem(value, flags), "push")

    def _delete(self, key: bytes) -> bool:
        raise map_error(f"map {self.name!r}: delete is not supported on queues/stacks (EINVAL)")

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        return self.pop_elem(delete=True)

    def __len__(self) -> int:
        return len(self.items_)


# --- maps whose values are other objects -----------------------------------------------------------
class ObjectArrayMap(VMMap):
    """PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS: slots hold programs or maps (set by object or fd)."""

    def __init__(self, *, resolver: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.objects: dict[bytes, Any] = {}
        self.resolver = resolver            # callable(int fd or name) -> object, set by Collection
        self.is_array = self.type in (MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS)

    def _check_key(self, key: bytes | None) -> bytes:
        if key is None or len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key must be {self.key_size} bytes")
        if self.is_array and int.from_bytes(key, "little") >= self.max_entries:
            raise MapError(f"map {self.name!r}: index {int.from_bytes(key, 'little')} out of range (E2BIG)")
        return bytes(key)

    def encode_value(self, value: Any) -> bytes:
        obj = self._resolve(value)
        return int(getattr(obj, "fd", 0)).to_bytes(4, "little")

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, (int, str, bytes)) and self.resolver is not None:
            if isinstance(value, bytes):
                value = int.from_bytes(value, "little")
            obj = self.resolver(value)
            if obj is None:
                raise MapError(f"map {self.name!r}: no program or map {value!r}")
            return obj
        return value

    def set(self, key: Any, obj: Any) -> None:
        """Store a program (prog array) or map (map-of-maps) object directly."""
        self.objects[self._check_key(self.encode_key(key))] = self._resolve(obj)

    def update(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        self.set(key, value)

    def _lookup(self, key: bytes | None, flags: int = 0) -> bytes | None:
        obj = self.objects.get(self._check_key(key))
        return None if obj is None else int(getattr(obj, "fd", 0)).to_bytes(4, "little")

    def decode_value(self, data: bytes) -> Any:
        return int.from_bytes(data, "little")

    def get_object(self, key: bytes) -> Any:
        return self.objects.get(bytes(key))

    def _update(self, key: bytes | None, value: bytes, flags: int = BPF_ANY) -> None:
        self.objects[self._check_key(key)] = self._resolve(int.from_bytes(value, "little"))

    def _delete(self, key: bytes) -> bool:
        return self.objects.pop(self._check_key(key), None) is not None

    def _next_key(self, key: bytes | None) -> bytes | None:
        keys = sorted(self.objects) if self.is_array else list(self.objects)
        if key is None or bytes(key) not in self.objects:
            return keys[0] if keys else None
        i = keys.index(bytes(key))
        return keys[i + 1] if i + 1 < len(keys) else None

    def _lookup_and_delete(self, key: bytes | None) -> bytes | None:
        raise MapError(f"map {self.name!r}: lookup_and_delete is not supported")

    def lookup_ptr(self, key: bytes, cpu: int = 0) -> int:
        obj = self.objects.get(bytes(key))
        return int(getattr(obj, "handle", 0) or 0) if obj is not None and self.type != MapType.PROG_ARRAY else 0

    def delete_elem(self, key: bytes) -> int:
        return 0 if self.objects.pop(bytes(key), None) is not None else -errno.ENOENT


# Map types the VM stores as plain arrays/hashes of their raw values (ifindex, cgroup id, ...):
# redirect and cgroup helpers read those values; there is no device, socket or cgroup behind them.
STORAGE_AS_ARRAY = frozenset({MapType.DEVMAP, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP,
                              MapType.CGROUP_ARRAY})
STORAGE_AS_HASH = frozenset({MapType.DEVMAP_HASH, MapType.SOCKHASH})


def create_map(*, memory: Memory, name: str, type: MapType | int, key_size: int, value_size: int,
               max_entries: int, flags: int = 0, cpus: int | None = None,
               key_codec: Codec | None = None, value_codec: Codec | None = None,
               resolver: Any = None) -> VMMap:
    """Create the VM map class for ``type`` (NotSupportedError-style MapError for the rest)."""
    from .ringbuf import PerfEventArray, RingBufMap
    map_type = MapType(type)
    kw: dict[str, Any] = dict(memory=memory, name=name, type=map_type, key_size=key_size,
                              value_size=value_size, max_entries=max_entries, flags=flags, cpus=cpus,
                              key_codec=key_codec, value_codec=value_codec)
    if map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
        return ArrayMap(**kw)
    if map_type in STORAGE_AS_ARRAY:
        return SlotArrayMap(**kw)
    if map_type in (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH) \
            or map_type in STORAGE_AS_HASH:
        return HashMap(**kw)
    if map_type == MapType.LPM_TRIE:
        return LPMTrieMap(**kw)
    if map_type in (MapType.QUEUE, MapType.STACK):
        return QueueStackMap(**kw)
    if map_type in (MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        return ObjectArrayMap(resolver=resolver, **kw)
    if map_type == MapType.RINGBUF:
        return RingBufMap(**kw)
    if map_type == MapType.PERF_EVENT_ARRAY:
        return PerfEventArray(**kw)
    raise MapError(f"map {name!r}: type {map_type.name} is not supported by the VM")


__all__ = ["VMMap", "ArrayMap", "HashMap", "LPMTrieMap", "QueueStackMap", "ObjectArrayMap",
           "create_map", "possible_cpus"]
