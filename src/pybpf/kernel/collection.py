"""``pybpf.kernel.Collection``: load an ObjectSpec into the kernel (BTF, maps, CO-RE, programs) and own it.

The libbpf lifecycle: constants already set on the spec -> BTF -> maps (pins reused, contents,
freeze) -> programs -> prog-array / map-in-map contents. Never leaks an fd: a failure half-way
closes everything created so far, and close() releases it all.
"""
from __future__ import annotations

import errno as _errno
import os
import platform
from collections.abc import Mapping
from typing import Any

from ..errors import BPFError, KernelError, KernelVerifierError, errno_name
from ..isa.uapi import MapType, ProgramType
from ..obj import runtime
from .btfload import KernelBTF, find_vmlinux_id, func_info_bytes, ksym_resolver, line_info_bytes
from .cpus import num_possible_cpus
from .maps import KernelMap, KernelMapError, sanitize_name
from .programs import KernelProgram, kfunc_patch

# Map types whose key/value cannot carry BTF (libbpf clears btf_{key,value}_type_id for them).
_NO_BTF_KV = frozenset({MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE,
                        MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.DEVMAP,
                        MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP,
                        MapType.SOCKHASH, MapType.QUEUE, MapType.STACK, MapType.RINGBUF,
                        MapType.USER_RINGBUF, MapType.PROG_ARRAY})
DEFAULT_PIN_PATH = "/sys/fs/bpf"


class NameNotFoundError(KernelError, KeyError):
    """``coll.programs[...]`` / ``coll.maps[...]`` with a name the collection does not have."""

    def __str__(self) -> str:          # KeyError's repr-quoting makes messages unreadable
        return Exception.__str__(self)


class _ByName(dict):
    """A name -> object dict whose missing keys raise a readable NameNotFoundError."""

    def __init__(self, what: str, source: str) -> None:
        super().__init__()
        self._what, self._source = what, source

    def __missing__(self, name: str) -> Any:
        raise NameNotFoundError(f"{self._source}: no {self._what} named {name!r} (have: "
                                f"{', '.join(sorted(self)) or 'none'})")


def _codec(btf: Any, type_id: int | None, size: int) -> Any:
    """A BTF value codec when pybpf.btf provides one, else None (bytes)."""
    if btf is None or not type_id or not size:
        return None
    try:
        from ..btf.codec import codec_for
    except ImportError:
        return None
    try:
        codec = codec_for(btf, type_id)
    except Exception:  # noqa: BLE001 - an undecodable type falls back to raw bytes
        return None
    return codec if getattr(codec, "size", None) == size else None


def _object_name(spec: Any) -> str:
    """libbpf's object name: the file's basename up to the first dot."""
    base = os.path.basename(str(getattr(spec, "path", "") or "obj"))
    return base.split(".", 1)[0] or "obj"


def kernel_map_name(object_name: str, map_name: str, internal: bool) -> str:
    """The kernel-visible name: libbpf's rules (via pybpf.obj.maps when available)."""
    try:
        from ..obj.maps import kernel_map_name as _name
        return _name(object_name, map_name, internal=internal)
    except ImportError:
        return sanitize_name(map_name)


class Collection(runtime.Collection):
    """Maps and programs of one ObjectSpec in the kernel. Options:

    btf: target BTF for CO-RE (default: the running kernel's); kconfig: values for .kconfig
    externs; pin_path: directory for ``LIBBPF_PIN_BY_NAME`` maps (default /sys/fs/bpf);
    log_level: verifier log level for every load (the log is kept on each program);
    programs: names to load (default all); map_replacements: name -> KernelMap to use instead.
    """

    def __init__(self, spec: Any, *, btf: Any = None, kconfig: Mapping[str, Any] | None = None,
                 pin_path: str | None = None, log_level: int = 0,
                 programs: list[str] | None = None,
                 map_replacements: Mapping[str, KernelMap] | None = None,
                 load_btf: bool = True, engine: str | None = None) -> None:
        if not hasattr(spec, "programs"):
            from ..obj import load_object
            spec = load_object(spec)
        self.spec = spec
        source = os.path.basename(str(getattr(spec, "path", "") or "object"))
        self.maps: dict[str, KernelMap] = _ByName("map", source)
        self.programs: dict[str, KernelProgram] = _ByName("program", source)
        self.warnings: list[str] = []
        self._target_btf = btf
        self._kconfig = dict(getattr(spec, "kconfig", {}) or {})
        self._kconfig.update(kconfig or {})
        self._pin_path = pin_path or DEFAULT_PIN_PATH
        self._log_level = log_level
        self._replaced = set((map_replacements or {}).keys())
        self._btf: KernelBTF | None = None
        self._object_name = _object_name(spec)
        try:
            if load_btf and getattr(spec, "btf", None) is not None:
                self._load_btf()
            for name, m in (map_replacements or {}).items():
                self.maps[name] = m
            self._create_maps()
            wanted = programs if programs is not None else list(spec.programs)
            for name in wanted:
                self.programs[name] = self._load_program(spec.program(name)
                                                         if hasattr(spec, "program")
                                                         else spec.programs[name])
            self._fill_late_contents()
        except BaseException:
            self.close()
            raise

    # --- BTF ------------------------------------------------------------------------------
    def _load_btf(self) -> None:
        try:
            self._btf = KernelBTF.load(self.spec.btf)
        except (KernelError, BPFError) as exc:
            self.warnings.append(f"object BTF not loaded (maps and programs load without it): "
                                 f"{str(exc).splitlines()[0]}")
            self._btf = None

    # --- maps -----------------------------------------------------------------------------
    def _create_maps(self) -> None:
        for name, mspec in self.spec.maps.items():
            if name in self.maps:
                continue
            self.maps[name] = self._create_map(name, mspec)

    def _map_args(self, mspec: Any) -> dict[str, Any]:
        mtype = MapType(mspec.type)
        max_entries = mspec.max_entries
        if mtype == MapType.PERF_EVENT_ARRAY and not max_entries:
            max_entries = num_possible_cpus()
        return dict(type=mtype, key_size=mspec.key_size, value_size=mspec.value_size,
                    max_entries=max_entries, flags=mspec.flags)

    def _create_map(self, name: str, mspec: Any) -> KernelMap:
        pinning = int(getattr(mspec, "pinning", 0) or 0)
        pin_file = os.path.join(self._pin_path, name) if pinning == 1 else None
        if pin_file and os.path.exists(pin_file):
            existing = KernelMap.from_pin(pin_file)
            want = self._map_args(mspec)
            mismatch = [k for k in ("type", "key_size", "value_size", "max_entries", "flags")
                        if getattr(existing, k) != want[k]]
            if mismatch:
                existing.close()
                raise KernelMapError(f"map {name!r}: pinned map at {pin_file} differs in "
                                     f"{', '.join(mismatch)}; unpin it or rename the map")
            existing.name = name
            existing.btf = getattr(self.spec, "btf", None)
            self._attach_codecs(existing, mspec)
            return existing
        m = self._create_fresh(name, mspec)
        try:
            self._fill_contents(m, mspec, early=True)
            if getattr(mspec, "frozen", False):
                m.freeze()
            if pin_file:
                m.pin(pin_file)
        except BaseException:
            m.close()
            raise
        return m

    def _create_fresh(self, name: str, mspec: Any) -> KernelMap:
        args = self._map_args(mspec)
        mtype = args["type"]
        internal = bool(getattr(mspec, "is_global_data", False))
        kname = kernel_map_name(self._object_name, name, internal)
        inner = None
        if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            if mspec.inner is None:
                raise KernelMapError(f"map {name!r}: {mtype.name} without an inner map definition")
            inner = self._create_fresh(f"{name}.inner", mspec.inner)
        btf_kw: dict[str, Any] = {}
        if self._btf is not None and mtype not in _NO_BTF_KV:
            vt = getattr(mspec, "value_type", None)
            kt = getattr(mspec, "key_type", None)
            if vt:
                btf_kw = dict(btf_fd=self._btf.fd, btf_key_type_id=kt or 0, btf_value_type_id=vt)
        try:
            try:
                m = KernelMap.create(name=kname, inner_map=inner,
                                     map_extra=getattr(mspec, "map_extra", 0) or 0,
                                     numa_node=(mspec.numa_node if getattr(mspec, "numa_node", 0)
                                                else None),
                                     btf=getattr(self.spec, "btf", None), **args, **btf_kw)
            except KernelError as exc:
                if not btf_kw or exc.errno not in (_errno.EINVAL, _errno.ENOTSUP, 524):
                    raise
                self.warnings.append(f"map {name!r} created without BTF key/value types "
                                     f"({exc.errno and errno_name(exc.errno)})")
                m = KernelMap.create(name=kname, inner_map=inner,
                                     map_extra=getattr(mspec, "map_extra", 0) or 0,
                                     btf=getattr(self.spec, "btf", None), **args)
        finally:
            if inner is not None:
                inner.close()
        m.name = name
        self._attach_codecs(m, mspec)
        if mtype == MapType.ARENA and not (getattr(mspec, "map_extra", 0) or 0):
            try:
                m.mmap()          # like libbpf: mapping it fixes the arena's user address
            except BaseException:
                m.close()
                raise
        return m

    def _attach_codecs(self, m: KernelMap, mspec: Any) -> None:
        btf = getattr(self.spec, "btf", None)
        kc = _codec(btf, getattr(mspec, "key_type", None), m.key_size)
        vc = _codec(btf, getattr(mspec, "value_type", None), m.value_size)
        if kc is not None:
            m.key_codec = kc
        if vc is not None and m.type not in _NO_BTF_KV:
            m.value_codec = vc

    def _fill_contents(self, m: KernelMap, mspec: Any, *, early: bool) -> None:
        """Global data and plain contents now; program / map references later."""
        if getattr(mspec, "section", "").startswith(".kconfig"):
            self._fill_kconfig(m, mspec)
            return
        for key, value in getattr(mspec, "contents", []) or []:
            if isinstance(value, str):
                continue           # a program or map name: resolved after loading
            kbytes = key if isinstance(key, bytes) else int(key).to_bytes(m.key_size, "little")
            vbytes = value if isinstance(value, bytes) else m.encode_value(value)
            m._update(kbytes, vbytes)

    def _fill_kconfig(self, m: KernelMap, mspec: Any) -> None:
        data = bytearray(mspec.contents[0][1]) if mspec.contents else bytearray(m.value_size)
        for name, ext in getattr(self.spec, "kconfig_externs", {}).items():
            value = self._kconfig.get(name)
            if value is None:
                value = _kconfig_default(name)
            if value is None:
                if getattr(ext, "weak", False):
                    continue
                raise KernelError(f"extern {name!r} (.kconfig) has no value: pass "
                                  f"kconfig={{{name!r}: ...}}")
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, str):
                if value in ("y", "m", "n"):
                    value = {"y": 1, "m": 2, "n": 0}[value]
                else:
                    raw = value.encode()[:ext.size - 1]
                    data[ext.offset:ext.offset + ext.size] = raw + bytes(ext.size - len(raw))
                    continue
            data[ext.offset:ext.offset + ext.size] = int(value).to_bytes(
                ext.size, "little", signed=int(value) < 0)
        m._update(bytes(4), bytes(data))

    def _fill_late_contents(self) -> None:
        for name, mspec in self.spec.maps.items():
            if name in self._replaced:
                continue
            m = self.maps[name]
            for key, value in getattr(mspec, "contents", []) or []:
                if not isinstance(value, str):
                    continue
                target: Any = self.programs.get(value) if m.type == MapType.PROG_ARRAY \
                    else self.maps.get(value)
                if target is None:
                    if m.type == MapType.PROG_ARRAY and value in self.spec.programs:
                        continue     # the program was not selected for loading
                    raise KernelMapError(f"map {name!r}: initial entry {key} refers to "
                                         f"{value!r}, which is not in this collection")
                m._update(int(key).to_bytes(m.key_size, "little"),
                          int(target.fd).to_bytes(4, "little"))

    # --- programs -------------------------------------------------------------------------
    def _target(self) -> Any:
        if self._target_btf is None:
            from .btfload import vmlinux
            self._target_btf = vmlinux()
        return self._target_btf

    def _load_program(self, pspec: Any) -> KernelProgram:
        if pspec.type == ProgramType.UNSPEC:
            raise KernelError(f"program {pspec.name!r}: section {pspec.section!r} has no known "
                              f"program type; set spec.programs[...].type before loading")
        insns = list(pspec.instructions)
        core_result = None
        if getattr(pspec, "core_relos", None):
            from ..obj import core
            core_result = core.relocate(pspec, self._target(), self.spec.btf)
            insns = list(core_result.instructions)
        fd_array: list[int] = []
        arenas = [m for m in self.maps.values() if m.type == MapType.ARENA]
        if arenas and any(i.opcode == 0xBF and i.off == 1 for i in insns):   # addr_space_cast
            fd_array = [arenas[0].fd]
        if any(i.ref and ((i.opcode == 0x85 and i.src == 2) or (i.opcode == 0x18 and i.src == 3))
               for i in insns):
            insns = kfunc_patch(insns, ksym_resolver(pspec.name), pspec.name)
        attach_btf_id = 0
        if getattr(pspec, "attach_btf", False):
            attach_btf_id = self._attach_btf_id(pspec)
        btf_fd = self._btf.fd if self._btf is not None else 0
        func_info = func_info_bytes(pspec.func_info) if btf_fd and pspec.func_info else b""
        line_info = line_info_bytes(pspec.line_info) if btf_fd and pspec.line_info else b""
        expected = pspec.expected_attach_type
        try:
            prog = self._load(pspec, insns, expected, attach_btf_id, btf_fd, func_info, line_info,
                              fd_array)
        except KernelVerifierError as exc:
            if core_result is not None and core_result.poisoned:
                exc.args = (f"{exc.args[0]}\n\nCO-RE relocations that could not be resolved "
                            f"against the kernel's BTF:\n{core_result.report()}",)
            raise
        prog.core_result = core_result
        return prog

    def _load(self, pspec: Any, insns: list, expected: Any, attach_btf_id: int, btf_fd: int,
              func_info: bytes, line_info: bytes, fd_array: list[int]) -> KernelProgram:
        return KernelProgram.load(
            insns, prog_type=pspec.type, name=pspec.name,
            license=pspec.license or getattr(self.spec, "license", "") or "GPL",
            kern_version=pspec.kern_version or getattr(self.spec, "kern_version", 0)
            or _kernel_version(),
            expected_attach_type=int(expected) if expected is not None else None,
            attach_btf_id=attach_btf_id, prog_flags=pspec.flags, btf_fd=btf_fd,
            func_info=func_info, line_info=line_info, fd_array=fd_array,
            bind_fd_array=bool(fd_array), maps=self.maps,
            log_level=self._log_level, line_records=pspec.line_info, section=pspec.section,
            attach_to=pspec.attach_to, spec=pspec)

    def _attach_btf_id(self, pspec: Any) -> int:
        prefix = pspec.section.split("/", 1)[0]
        target = pspec.attach_to
        if prefix.startswith("tp_btf"):
            return find_vmlinux_id(target, "tp_btf")
        if prefix.startswith("lsm"):
            return find_vmlinux_id("bpf_lsm_" + target, "func")
        if prefix.startswith("iter"):
            return find_vmlinux_id("bpf_iter_" + target, "func")
        if prefix.startswith("freplace"):
            raise KernelError(f"program {pspec.name!r}: freplace needs a target program; "
                              f"load it with KernelProgram.load(attach_prog_fd=...)")
        return find_vmlinux_id(target, "func")

    # --- conveniences ---------------------------------------------------------------------
    def _globals(self, kind: str) -> Any:
        from .globals import KernelGlobals
        cache = self.__dict__.setdefault("_globals_cache", {})
        if kind not in cache:
            cache[kind] = KernelGlobals(kind, getattr(self.spec, kind, None), self.maps)
        return cache[kind]

    @property
    def bss(self) -> Any:
        """``.bss`` variables by name, live through the map's mmap (``coll.bss["counter"]``)."""
        return self._globals("bss")

    @property
    def data(self) -> Any:
        """``.data`` variables by name, live through the map's mmap."""
        return self._globals("data")

    @property
    def rodata(self) -> Any:
        """``.rodata`` variables by name (read-only after load: the map is frozen)."""
        return self._globals("rodata")

    def attach_all(self) -> list[Any]:
        """Auto-attach every program whose section allows it; returns the links."""
        out = []
        for prog in self.programs.values():
            if getattr(prog.spec, "autoattach", True):
                out.append(prog.attach())
        return out

    def pin(self, directory: str) -> None:
        """Pin every map and program under ``directory`` (created on bpffs)."""
        from .pin import ensure_bpffs
        ensure_bpffs()
        os.makedirs(directory, exist_ok=True)
        for name, m in self.maps.items():
            m.pin(os.path.join(directory, name.replace("/", "_").lstrip(".") or "map"))
        for name, p in self.programs.items():
            p.pin(os.path.join(directory, name))

    def unpin(self) -> None:
        for obj in list(self.maps.values()) + list(self.programs.values()):
            obj.unpin()

    def close(self) -> None:
        for prog in self.programs.values():
            prog.close()
        for name, m in self.maps.items():
            if name not in self._replaced:
                m.close()
        if self._btf is not None:
            self._btf.close()
            self._btf = None

    def __repr__(self) -> str:
        return (f"<kernel Collection {self._object_name}: programs {list(self.programs)}, "
                f"maps {list(self.maps)}>")


def _kernel_version() -> int:
    from .features import kernel_version_code
    return kernel_version_code()


def _kconfig_default(name: str) -> Any:
    if name == "LINUX_KERNEL_VERSION":
        return _kernel_version()
    if name == "LINUX_HAS_SYSCALL_WRAPPER":
        return 1
    if name == "LINUX_HAS_BPF_COOKIE":
        return 1
    if name.startswith("CONFIG_"):
        return _kernel_config().get(name)
    return None


_CONFIG_CACHE: dict[str, Any] | None = None


def _kernel_config() -> dict[str, Any]:
    """CONFIG_* values from /proc/config.gz or /boot/config-<release> (empty when neither exists)."""
    global _CONFIG_CACHE
    if _CONFIG_CACHE is not None:
        return _CONFIG_CACHE
    text = ""
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        try:
            with open(f"/boot/config-{platform.release()}") as f:
                text = f.read()
        except OSError:
            text = ""
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            if value.startswith('"'):
                values[key] = value.strip('"')
            elif value in ("y", "m", "n"):
                values[key] = value
            else:
                try:
                    values[key] = int(value, 0)
                except ValueError:
                    values[key] = value
    _CONFIG_CACHE = values
    return values


__all__ = ["Collection"]
