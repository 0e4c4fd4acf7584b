"""``pybpf.vm.Collection``: an ObjectSpec loaded into the userspace VM (maps, programs, test_run).

Mirrors pybpf.kernel.Collection's shape (``.programs``, ``.maps``, ``test_run``) so a test switches
backends by one word; it never calls bpf(2) and never needs root.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any

from ..errors import BPFError, MapError, ObjectError
from ..isa.uapi import MapType, ProgramType
from ..obj import runtime
from .context import (Context, PtRegsContext, RawContext, RawTracepointContext, SkbContext,
                      TracepointContext, XdpContext)
from .helpers import HELPERS, SimEnv
from .machine import DEFAULT_BUDGET, Machine
from .maps import VMMap, create_map, possible_cpus

_NO_BTF_KV = frozenset({MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
                        MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.PROG_ARRAY})
_L2_SKB = frozenset({ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.LWT_XMIT})
_L3_SKB = frozenset({ProgramType.SOCKET_FILTER, ProgramType.CGROUP_SKB, ProgramType.LWT_IN,
                     ProgramType.LWT_OUT, ProgramType.SK_SKB})
_fds = itertools.count(1000)
_VERIFIED: dict[tuple[Any, ...], Any] = {}     # verification results by program shape


def _codec(btf: Any, type_id: int | None, size: int) -> Any:
    if btf is None or not type_id or not size:
        return None
    try:
        from ..btf.codec import codec_for
        codec = codec_for(btf, type_id)
    except Exception:  # noqa: BLE001 - an undecodable type falls back to raw bytes
        return None
    return codec if getattr(codec, "size", None) == size else None


class VMProgram(runtime.LoadedProgram):
    """One program loaded into a VM collection."""

    def __init__(self, collection: "Collection", spec: Any, compiled: Any) -> None:
        self.collection = collection
        self.spec = spec
        self.name = spec.name
        self.type = ProgramType(spec.type)
        self.compiled = compiled
        self.fd = next(_fds)
        self.handle = 0

    @property
    def machine(self) -> Machine:
        return self.collection.machine

    # --- BPF_PROG_TEST_RUN semantics ---------------------------------------------------------
    def test_run(self, data_in: bytes = b"", *, ctx_in: bytes | None = None, repeat: int = 1,
                 data_size_out: int | None = None, flags: int = 0, cpu: int = 0) -> runtime.TestRunResult:
        """Run like BPF_PROG_TEST_RUN: XDP gets xdp_md over data_in, tc/socket filters __sk_buff,
        raw tracepoints ``ctx_in`` as their u64 args, other types ``ctx_in`` (or data_in) as raw ctx."""
        result = self.run(self._test_context(bytes(data_in), ctx_in), cpu=cpu, repeat=repeat)
        if data_size_out is not None and len(result.data_out) > data_size_out:
            result.data_out = result.data_out[:data_size_out]
        return result

    def _test_context(self, data_in: bytes, ctx_in: bytes | None) -> Context:
        if self.type == ProgramType.XDP:
            ifindex, queue = 1, 0
            if ctx_in:
                raw = bytes(ctx_in).ljust(24, b"\0")
                ifindex = int.from_bytes(raw[12:16], "little") or 1
                queue = int.from_bytes(raw[16:20], "little")
            return XdpContext(data_in, ingress_ifindex=ifindex, rx_queue_index=queue,
                              ctx_given=bool(ctx_in))
        if self.type in _L2_SKB or self.type in _L3_SKB:
            return SkbContext(data_in, l2=self.type in _L2_SKB, ctx_in=ctx_in)
        if self.type == ProgramType.RAW_TRACEPOINT:
            return RawContext(bytes(ctx_in or b""), writable=False)
        return RawContext(bytes(ctx_in if ctx_in is not None else data_in))

    # --- the VM's own entry point: any context ---------------------------------------------------
    def run(self, context: Context | bytes | None = None, *, cpu: int = 0,
            budget: int | None = None, repeat: int = 1) -> runtime.TestRunResult:
        """Run with a context object (XdpContext, TracepointContext, PtRegsContext...). With
        ``repeat`` > 1 the program runs again on the same context, as BPF_PROG_TEST_RUN does
        (packet changes accumulate); duration_ns is the average, retval the last run's. The
        interpreter's duration is the Python loop's; the JIT's is its native loop's (helpers that
        call back into Python included), measured like BPF_PROG_TEST_RUN's."""
        machine = self.machine
        if context is None or isinstance(context, (bytes, bytearray)):
            context = RawContext(bytes(context or b""))
        if not 0 <= cpu < machine_cpus(self.collection):
            raise BPFError(f"cpu {cpu} is not a possible CPU of this VM "
                           f"(0..{machine_cpus(self.collection) - 1})")
        trace_start = len(machine.env.trace)
        machine.cpu = cpu
        machine.redirect = None
        machine.held_locks.clear()
        machine.context = context
        try:
            r1 = context.setup(machine)
            runs = max(repeat, 1)
            if getattr(machine, "runs_repeat_natively", False):
                machine.repeat = runs                # the JIT loops inside native code
                try:
                    retval = machine.run(self.compiled, r1, budget=budget)
                finally:
                    machine.repeat = 1
                # and times that loop itself, like the kernel's duration: the Python call into
                # the engine and the context set-up are outside it
                duration = machine.last_duration_ns // runs
            else:
                start = time.perf_counter_ns()
                for _ in range(runs):
                    retval = machine.run(self.compiled, r1, budget=budget)
                duration = (time.perf_counter_ns() - start) // runs
            return runtime.TestRunResult(
                retval=retval & 0xFFFFFFFF if self.type != ProgramType.SYSCALL else retval,
                data_out=context.data_out(), ctx_out=context.ctx_out(), duration_ns=duration,
                repeat=runs,
                extra={"instructions": machine.last_executed,
                       "trace": machine.env.trace[trace_start:], "redirect": machine.redirect,
                       "retval64": retval})
        finally:
            machine.context = None
            context.release(machine)

    def run_tracepoint(self, **values: Any) -> runtime.TestRunResult:
        """Run a ``tracepoint/<category>/<name>`` program on a record with these field values."""
        category, _, name = self.spec.attach_to.partition("/")
        return self.run(TracepointContext(category, name, values))

    def run_raw_tracepoint(self, *args: Any) -> runtime.TestRunResult:
        return self.run(RawTracepointContext(args))

    def run_probe(self, **regs: Any) -> runtime.TestRunResult:
        """Run a kprobe/uprobe program on pt_regs (``parm1=...``, ``di=...``, strings to user memory)."""
        return self.run(PtRegsContext(regs))

    def __repr__(self) -> str:
        return f"<VMProgram {self.name!r} {self.type.name}>"


def _kernel_version_code() -> int:
    """KERNEL_VERSION(a, b, c) of this machine's release, as libbpf fills LINUX_KERNEL_VERSION."""
    import platform
    import re
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", platform.release())
    if not match:
        return 0
    a, b, c = (int(x or 0) for x in match.groups())
    return (a << 16) + (b << 8) + min(c, 255)


def machine_cpus(collection: "Collection") -> int:
    return collection.cpus


class Collection(runtime.Collection):
    """Maps and programs of one ObjectSpec in the VM.

    btf: target BTF for CO-RE and for laying out simulated kernel objects: None/"local" (default)
    uses the object's own BTF (no relocation needed), "vmlinux" this machine's kernel BTF, or any
    pybpf.btf.BTF (e.g. another kernel's, to test portability); kconfig: .kconfig extern values;
    env: a SimEnv (simulated process, clock, fib_lookup); cpus: possible CPUs for per-CPU maps;
    budget: instruction budget per run; programs: names to load (default all).

    Every program is first checked by pybpf's static verifier (pybpf.verifier, kernel rules) and a
    rejected one raises its pybpf.verifier ProgramRejected with the verifier's explanation;
    ``.verified[name]`` holds each VerifierResult. ``unsafe=True`` skips the verifier (run-time
    checks still apply), for deliberately unsafe programs. ``verify=`` is a deprecated alias
    (``verify=False`` means ``unsafe=True``).
    """

    def __init__(self, spec: Any, *, btf: Any = None, engine: str = "interp",
                 kconfig: Mapping[str, Any] | None = None, env: SimEnv | None = None,
                 cpus: int | None = None, budget: int = DEFAULT_BUDGET,
                 programs: list[str] | None = None, unsafe: bool = False,
                 verify: bool | None = None) -> None:
        if engine not in ("interp", "jit"):
            from .conformance import make_machine
            make_machine(engine)                  # raises NotSupportedError for unknown engines
        if not hasattr(spec, "programs"):
            from ..obj import load_object
            spec = load_object(spec)
        self.spec = spec
        if verify is not None:
            import warnings
            warnings.warn("pybpf.vm.Collection(verify=...) is deprecated: programs are verified by "
                          "default; pass unsafe=True to skip the verifier", DeprecationWarning,
                          stacklevel=2)
            unsafe = not verify
        self.unsafe = unsafe
        self.verify = not unsafe
        self.verified: dict[str, Any] = {}       # program name -> pybpf.verifier VerifierResult
        self.cpus = cpus or possible_cpus()
        if engine == "jit":
            from .jit import JITMachine
            self.machine = JITMachine(helpers=HELPERS, budget=budget)
        else:
            self.machine = Machine(helpers=HELPERS, budget=budget)
        if env is not None:
            self.machine.env = env
        self.maps: dict[str, VMMap] = {}
        self.programs: dict[str, VMProgram] = {}
        self._kconfig = dict(getattr(spec, "kconfig", {}) or {})
        self._kconfig.update(kconfig or {})
        if isinstance(btf, str) and btf in ("vmlinux", "kernel"):
            from ..btf import load_vmlinux
            btf = load_vmlinux()
        self._target_btf = btf
        self.machine.task_btf = btf if btf not in (None, "local") else getattr(spec, "btf", None)  # type: ignore[attr-defined]
        for name, mspec in spec.maps.items():
            self.maps[name] = self._create_map(name, mspec)
        wanted = programs if programs is not None else list(spec.programs)
        for name in wanted:
            if name not in spec.programs:
                raise ObjectError(f"no program {name!r} in {getattr(spec, 'path', 'object')}")
            self.programs[name] = self._load_program(spec.programs[name])
        self._fill_references()

    @property
    def env(self) -> SimEnv:
        return self.machine.env

    def kernel_object(self, type_name: str, values: dict[str, Any]) -> int:
        """Lay out a simulated kernel object (``struct type_name``) from the collection's BTF and
        return its address, e.g. to pass a task_struct pointer to a tp_btf/raw_tp program."""
        from .kernel_objects import layout_object
        btf = self.machine.task_btf                               # type: ignore[attr-defined]
        if btf is None:
            raise ObjectError("no BTF to lay out kernel objects: give the Collection btf=...")
        return layout_object(self.machine, btf, type_name, values).base

    @property
    def trace(self) -> list[str]:
        """Lines printed by bpf_trace_printk so far."""
        return self.machine.env.trace

    # --- maps ----------------------------------------------------------------------------------
    def _create_map(self, name: str, mspec: Any, *, register: bool = True) -> VMMap:
        mtype = MapType(mspec.type)
        max_entries = mspec.max_entries or (self.cpus if mtype == MapType.PERF_EVENT_ARRAY else 0)
        btf = getattr(self.spec, "btf", None)
        kc = _codec(btf, getattr(mspec, "key_type", None), mspec.key_size)
        vc = None if mtype in _NO_BTF_KV else _codec(btf, getattr(mspec, "value_type", None),
                                                     mspec.value_size)
        vm_map = create_map(memory=self.machine.mem, name=name, type=mtype,
                            key_size=mspec.key_size, value_size=mspec.value_size,
                            max_entries=max_entries, flags=mspec.flags, cpus=self.cpus,
                            key_codec=kc, value_codec=vc, resolver=self._resolve)
        vm_map.fd = next(_fds)                                         # type: ignore[attr-defined]
        if register:
            self.machine.register_map(vm_map, name=name, fd=vm_map.fd)  # type: ignore[attr-defined]
        else:
            self.machine.register_map(vm_map, name=f"{name} (inner)", fd=vm_map.fd)  # type: ignore[attr-defined]
        if getattr(mspec, "section", "").startswith(".kconfig"):
            self._fill_kconfig(vm_map, mspec)
            return vm_map
        for key, value in getattr(mspec, "contents", []) or []:
            if isinstance(value, str):
                continue                       # program / map names: after loading
            kbytes = key if isinstance(key, bytes) else int(key).to_bytes(vm_map.key_size, "little")
            vbytes = value if isinstance(value, bytes) else vm_map.encode_value(value)
            vm_map._update(kbytes, bytes(vbytes))
        return vm_map

    def _fill_kconfig(self, vm_map: VMMap, mspec: Any) -> None:
        data = bytearray(mspec.contents[0][1]) if mspec.contents else bytearray(vm_map.value_size)
        for name, ext in getattr(self.spec, "kconfig_externs", {}).items():
            value = self._kconfig.get(name)
            if value is None and name == "LINUX_KERNEL_VERSION":
                value = _kernel_version_code()
            if value is None:
                if getattr(ext, "weak", False):
                    continue
                raise ObjectError(f"extern {name!r} (.kconfig) has no value in the VM: pass "
                                  f"kconfig={{{name!r}: ...}}")
            if isinstance(value, str) and value in ("y", "m", "n"):
                value = {"y": 1, "m": 2, "n": 0}[value]
            if isinstance(value, str):
                raw = value.encode()[:ext.size - 1]
                data[ext.offset:ext.offset + ext.size] = raw + bytes(ext.size - len(raw))
                continue
            data[ext.offset:ext.offset + ext.size] = int(value).to_bytes(
                ext.size, "little", signed=int(value) < 0)
        vm_map._update(bytes(4), bytes(data))

    def _resolve(self, ref: Any) -> Any:
        """A program or map by fd (int) or name (str), for prog arrays and map-of-maps."""
        for obj in itertools.chain(self.programs.values(), self.maps.values()):
            if (isinstance(ref, int) and getattr(obj, "fd", None) == ref) or \
                    (isinstance(ref, str) and obj.name == ref):
                return obj
        return None

    def _fill_references(self) -> None:
        for name, mspec in self.spec.maps.items():
            vm_map = self.maps[name]
            for key, value in getattr(mspec, "contents", []) or []:
                if not isinstance(value, str):
                    continue
                target = self.programs.get(value) if vm_map.type == MapType.PROG_ARRAY \
                    else self.maps.get(value)
                if target is None:
                    if vm_map.type == MapType.PROG_ARRAY and value in self.spec.programs:
                        continue
                    raise MapError(f"map {name!r}: initial entry {key} refers to {value!r}, "
                                   f"which is not in this collection")
                vm_map.set(int(key), target)                # type: ignore[attr-defined]

    # --- programs ------------------------------------------------------------------------------
    def _instructions(self, pspec: Any) -> list[Any]:
        insns = list(pspec.instructions)
        if not getattr(pspec, "core_relos", None) or self._target_btf in (None, "local"):
            return insns             # CO-RE against the object's own BTF: offsets already local
        try:
            from ..obj import core
        except ImportError:
            raise ObjectError(f"program {pspec.name!r} needs CO-RE relocation but pybpf.obj.core "
                              f"is not available") from None
        relocated = core.relocate(pspec, self._target_btf, self.spec.btf)
        return list(getattr(relocated, "instructions", relocated))

    def _verify(self, pspec: Any, insns: list[Any]) -> Any:
        """Run pybpf's static verifier on the program exactly as it will run (after CO-RE).

        By default the VM runs only programs the verifier accepts; ``Collection(..., unsafe=True)``
        skips this. Run-time checks apply either way. Results are cached per program shape.
        """
        from ..isa import encode
        from ..verifier import verify_program
        eat = getattr(pspec, "expected_attach_type", None)
        maps = self.spec.maps
        key = (encode(insns), int(pspec.type), None if eat is None else int(eat),
               tuple(sorted((n, int(m.type), m.key_size, m.value_size, m.max_entries, m.flags)
                            for n, m in maps.items())), self._global_funcs_key(pspec))
        cached = _VERIFIED.get(key)
        if cached is not None:
            return cached
        btf = self._target_btf if self._target_btf not in (None, "local") else None
        try:                # verify_program relocates CO-RE exactly as _instructions does
            result = verify_program(pspec, self.spec, target_btf=btf)
        except BPFError as exc:
            exc.add_note(f"pybpf.vm.Collection runs only programs pybpf's verifier accepts; with "
                         f"Collection(..., unsafe=True) {pspec.name!r} runs with run-time checks only")
            raise
        if len(_VERIFIED) > 512:
            _VERIFIED.clear()
        _VERIFIED[key] = result
        return result

    def _global_funcs_key(self, pspec: Any) -> tuple:
        """The global functions' prototypes, which verification depends on besides the code."""
        from ..verifier.global_funcs import prototypes
        btf = getattr(pspec, "btf", None) or getattr(self.spec, "btf", None)
        if not getattr(pspec, "func_info", None) or btf is None:
            return ()
        try:
            return tuple(sorted(prototypes(btf, pspec.func_info, int(pspec.type)).items()))
        except BPFError:            # bad func_info: verification rejects it, nothing is cached
            return ("unusable func_info",)

    def _load_program(self, pspec: Any) -> VMProgram:
        lines: dict[int, str] = {}
        for rec in getattr(pspec, "line_info", []) or []:
            where = f"{rec.file_name.rsplit('/', 1)[-1]}:{rec.line}" if rec.file_name else f"line {rec.line}"
            lines[rec.index] = f"{where}: {rec.source.strip()}" if rec.source else where
        insns = self._instructions(pspec)
        if self.verify:
            self.verified[pspec.name] = self._verify(pspec, insns)
        compiled = self.machine.load(pspec.name, insns, spec=pspec, source_lines=lines,
                                     verified=self.verified.get(pspec.name))
        prog = VMProgram(self, pspec, compiled)
        prog.handle = compiled.code_base
        return prog

    def close(self) -> None:
        for m in self.maps.values():
            m.close()

    def __repr__(self) -> str:
        return f"<pybpf.vm.Collection programs={list(self.programs)} maps={list(self.maps)}>"


__all__ = ["Collection", "VMProgram"]
