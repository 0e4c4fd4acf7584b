"""``JITMachine``: the VM's Machine with programs compiled to native code by LLVM.

Same memory, maps, helpers and error types as the interpreter (which stays the semantic oracle and
the fallback for nothing: every instruction is compiled). Never lets native code see anything but
the region table and the buffers it maps; every Python exception raised inside a helper callback is
carried back to the caller, never swallowed by ctypes.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import (BPFError, HelperError, InstructionLimitError, JITError, MemoryAccessError,
                       VMError)
from ...isa.codec import encode
from ...isa.instruction import Instruction
from ...isa.uapi import HELPER_IDS, MapType, helper_name
from ..context import XdpContext
from ..helpers import real_clock
from ..interpreter import CompiledProgram
from ..machine import (CORE_POISON, DEFAULT_BUDGET, MAX_CALL_FRAMES, MAX_TAIL_CALLS, STACK_SIZE,
                       Machine, RunState)
from . import layout as L
from . import native_env, native_queue, native_ringbuf
from .codegen import generate, lddw_slots
from .engine import compile_ir
from .native_foreach import ForEachKeys, snapshot_words
from .native_lock import NativeLockSet
from .proof import NO_PROOF, Proof, proof_of
from .table import TableMemory

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
_U64 = ctypes.c_uint64
_MAIN = ctypes.CFUNCTYPE(_U64, ctypes.c_void_p, ctypes.c_void_p, _U64)
_REPEAT = ctypes.CFUNCTYPE(_U64, ctypes.c_void_p, ctypes.c_void_p, _U64, ctypes.c_void_p)
_CALLBACK = ctypes.CFUNCTYPE(_U64, _U64)
_CLOCK_GETTIME = ctypes.cast(ctypes.CDLL(None).clock_gettime, ctypes.c_void_p).value or 0


# helpers that never move packet bounds or rewritten ctx fields (regions they map or unmap update
# the native table directly): no table refresh after them
_NO_SYNC = frozenset(HELPER_IDS[n] for n in (
    "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem", "map_pop_elem",
    "map_peek_elem", "ktime_get_ns", "ktime_get_boot_ns", "get_prandom_u32",
    "get_smp_processor_id", "get_current_pid_tgid", "get_current_uid_gid", "get_current_comm",
    "trace_printk", "ringbuf_output", "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard",
    "csum_diff", "probe_read_kernel", "probe_read_user", "probe_read_kernel_str",
    "probe_read_user_str", "spin_lock", "spin_unlock") if n in HELPER_IDS) | \
    {L.PSEUDO_FOREACH_SNAPSHOT}


# hash map types looked up in native code through a mirrored key index (hashindex)
_NATIVE_HASH_KINDS = {MapType.HASH: L.MAP_KIND_HASH, MapType.PERCPU_HASH: L.MAP_KIND_PERCPU_HASH,
                      MapType.LRU_HASH: L.MAP_KIND_LRU_HASH,
                      MapType.LRU_PERCPU_HASH: L.MAP_KIND_LRU_PERCPU_HASH}


def _native_helper_bits() -> tuple[tuple[int, int, Any], ...]:
    """(helper id, NATIVE_* bit, pybpf's implementation) of every helper with a native fast path:
    the fast path runs only while the machine's table still holds that implementation."""
    from ..helpers import HELPERS
    bits = {**native_env.NATIVE_BITS, **native_ringbuf.NATIVE_BITS, **L.NATIVE_GATED}
    return tuple((hid, bit, HELPERS[hid]) for hid, bit in sorted(bits.items()) if hid in HELPERS)


_NATIVE_HELPERS = _native_helper_bits()


class _HelperTable(dict):
    """The machine's helper table: counts its changes, so the native-helper mask (which helpers
    still have pybpf's implementation) is recomputed only after one."""

    version = 0

    def _changed(self) -> None:
        self.version += 1

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._changed()

    def __ior__(self, other: Any) -> "_HelperTable":
        self.update(other)
        return self

    def update(self, *args: Any, **kw: Any) -> None:
        super().update(*args, **kw)
        self._changed()

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> Any:
        self._changed()
        return super().popitem()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def clear(self) -> None:
        super().clear()
        self._changed()


class _TailCall(Exception):
    """Raised by JITMachine.tail_call inside a helper: the callback reports ST_TAIL_CALL."""


class _ExitZero(Exception):
    """LD_ABS/LD_IND out of bounds: the program ends with r0 = 0."""


@dataclass(eq=False)
class NativeProgram:
    """Entry points of one compiled program plus its runtime constants (LDDW values)."""

    main: Any
    repeat: Any
    consts: Any
    consts_addr: int
    key: str


def program_key(insns: Sequence[Instruction], proof: Proof = NO_PROOF) -> bytes:
    """Cache key: the encoded instructions and what the verifier proved (the checks compiled
    out). Map LDDWs read their values at run time, so the machine's map layout is not part of
    the code."""
    return hashlib.sha256(b"pybpf-jit-v2" + encode(list(insns), validate=False)
                          + proof.key()).digest()


class JITMachine(Machine):
    """A Machine whose ``load`` also compiles to native code and whose ``run`` executes it."""

    runs_repeat_natively = True

    def __init__(self, *, helpers: dict[int, Any] | None = None, budget: int = DEFAULT_BUDGET,
                 memory: TableMemory | None = None) -> None:
        self.rt = (_U64 * L.RT_SIZE)()
        self.xdp = (_U64 * L.XDP_WORDS)()
        self.rt[L.RT_XDP] = ctypes.addressof(self.xdp)
        self._foreach_keys = ForEachKeys()            # native for_each key regions (on first use)
        self.rt[L.RT_FOREACH_KEYS] = self._foreach_keys.address
        mem = memory or TableMemory()
        super().__init__(memory=mem, helpers=helpers, budget=budget)
        mem.on_resize = self._table_moved
        self._table_moved()
        self._stack_tops = (_U64 * MAX_CALL_FRAMES)(*self.stack_tops)
        self._stack_host = (_U64 * MAX_CALL_FRAMES)(
            *(mem.rows[(s.base >> 32) * L.ROW_WORDS] + STACK_SIZE for s in self.stacks))
        self._callback = _CALLBACK(self._on_helper)
        rt = self.rt
        rt[L.RT_STACK_TOPS] = ctypes.addressof(self._stack_tops)
        rt[L.RT_STACK_HOST] = ctypes.addressof(self._stack_host)
        rt[L.RT_HELPER] = ctypes.cast(self._callback, ctypes.c_void_p).value or 0
        rt[L.RT_CLOCK] = _CLOCK_GETTIME
        self._python_ns = 0              # tail calls continued from Python during this run
        self.python_calls: dict[int, int] = {}   # helper id -> calls that went to Python (tests)
        self.repeat = 1
        self._pending: BaseException | None = None
        self._tail: tuple[CompiledProgram, int] | None = None
        self._tail_calls = 0
        self._running: CompiledProgram | None = None
        self.last_duration_ns = 0
        self._synced_once = False
        self._xdp_context: XdpContext | None = None

    @property
    def python_helper_calls(self) -> int:
        """Callbacks into Python so far, all helpers together (tests: fast paths make none)."""
        return sum(self.python_calls.values())

    @property
    def helpers(self) -> dict[int, Any]:
        return self._helpers

    @helpers.setter
    def helpers(self, table: dict[int, Any]) -> None:
        self._helpers = table if isinstance(table, _HelperTable) else _HelperTable(table)
        self._native_key: tuple[Any, ...] | None = None

    def _publish_env(self) -> None:
        """Tell native code which helpers it may run itself (the table holds pybpf's own) and
        where the SimEnv's clock/PRNG cells are; read once per run (recomputed on changes)."""
        helpers, rt, env = self._helpers, self.rt, self.env
        clock, hz, cells = env.clock_ns, env.hz, env.cells
        seen = self._native_key
        if seen is not None and seen[0] == helpers.version and seen[1] is helpers and \
                seen[2] is env and seen[3] is clock and seen[4] == hz and seen[5] is cells:
            return
        self._native_key = (helpers.version, helpers, env, clock, hz, cells)
        mask = 0
        for hid, bit, impl in _NATIVE_HELPERS:
            if helpers.get(hid) is impl:
                mask |= bit
        if not (isinstance(hz, int) and 0 < hz < (1 << 32)):
            mask &= ~L.NATIVE_JIFFIES
        rt[L.RT_CLOCK_MODE] = (L.CLOCK_SIMULATED if clock is None else
                               L.CLOCK_REAL if clock is real_clock else L.CLOCK_PYTHON)
        rt[L.RT_ENV_CELLS] = env.cells_address
        rt[L.RT_HZ] = hz if mask & L.NATIVE_JIFFIES else 0
        rt[L.RT_NATIVE] = mask

    @property                                        # type: ignore[override]
    def held_locks(self) -> NativeLockSet:
        """The held spin locks, shared with native bpf_spin_lock/unlock (see native_lock)."""
        return self._held_locks

    @held_locks.setter
    def held_locks(self, value: Any) -> None:
        locks = self.__dict__.get("_held_locks")
        if locks is None:
            locks = self._held_locks = NativeLockSet()
            self.rt[L.RT_LOCKS] = locks.address
        if value is not locks:
            items = list(value)
            locks.clear()
            for item in items:
                locks.add(item)

    def _table_moved(self) -> None:
        mem: TableMemory = self.mem                               # type: ignore[assignment]
        self.rt[L.RT_TABLE] = ctypes.addressof(mem.rows)
        self.rt[L.RT_MAP_ROWS] = ctypes.addressof(mem.map_rows)
        self.rt[L.RT_TABLE_LEN] = mem.capacity

    def register_map(self, vm_map: Any, *, name: str | None = None, fd: int | None = None) -> int:
        """Also describe arrays, hash maps, LPM tries (lookups) and queues/stacks
        (push/pop/peek) to native code, so those helpers run without Python."""
        handle = super().register_map(vm_map, name=name, fd=fd)
        from ..maps import ArrayMap, HashMap, LPMTrieMap, QueueStackMap, SlotArrayMap
        from ..ringbuf import RingBufMap
        mem: TableMemory = self.mem                               # type: ignore[assignment]
        if isinstance(vm_map, QueueStackMap) and native_queue.fits(vm_map):
            mem.set_map_row(handle >> 32, native_queue.map_row(vm_map, native_queue.install(vm_map)))
        if isinstance(vm_map, ArrayMap) and not isinstance(vm_map, SlotArrayMap):
            pool = vm_map.pool
            kind = L.MAP_KIND_PERCPU_ARRAY if vm_map.is_percpu else L.MAP_KIND_ARRAY
            mem.set_map_row(handle >> 32, [kind | (pool.cpus << 8), vm_map.max_entries,
                                           pool.stride, pool.region.base, vm_map.value_size])
        elif isinstance(vm_map, RingBufMap) and vm_map.memory is mem:
            ctl = ctypes.addressof(vm_map.ctl)          # rings of another memory: Python only
            mem.set_map_row(handle >> 32, [L.MAP_KIND_RINGBUF, ctl])
            mem.set_map_row(vm_map.region.base >> 32, [L.MAP_KIND_RINGBUF_DATA, ctl])
        elif isinstance(vm_map, HashMap) and vm_map.type in _NATIVE_HASH_KINDS \
                and vm_map.key_size > 0:
            from .hashindex import HashIndex
            index = getattr(vm_map, "_jit_index", None)
            if index is None:
                index = HashIndex(vm_map)
                vm_map._jit_index = index                         # type: ignore[attr-defined]
            pool = vm_map.pool
            kind = _NATIVE_HASH_KINDS[vm_map.type]
            mem.set_map_row(handle >> 32, [kind | (pool.cpus << 8), vm_map.max_entries,
                                           pool.stride, pool.region.base, vm_map.key_size,
                                           index.mask, index.index_address, index.keys_address,
                                           index.log_address, index.free_address,
                                           vm_map.value_size])
        elif isinstance(vm_map, LPMTrieMap):
            from . import native_lpm
            pool = vm_map.pool
            mem.set_map_row(handle >> 32, [L.MAP_KIND_LPM_TRIE, vm_map.max_entries, pool.stride,
                                           pool.region.base, vm_map.key_size,
                                           *native_lpm.install(vm_map).row()])
        return handle

    # --- loading ---------------------------------------------------------------------------------
    def load(self, name: str, instructions: Sequence[Instruction], *, spec: Any = None,
             source_lines: dict[int, str] | None = None, verified: Any = None) -> CompiledProgram:
        prog = super().load(name, instructions, spec=spec, source_lines=source_lines,
                            verified=verified)
        if any(i.is_helper_call and i.imm == L.HELPER_FOR_EACH_MAP_ELEM
               for i in prog.instructions):
            self._foreach_keys.allocate(self.mem)     # key regions native for_each writes
        prog.native = None                  # compiled on first run (programs never run cost nothing)
        return prog

    def native(self, prog: CompiledProgram) -> NativeProgram:
        """The program's native code, compiled (or fetched from the process cache) on first use."""
        native = getattr(prog, "native", None)
        if native is None:
            if prog.ops is None or not hasattr(prog, "native"):
                raise JITError(f"{prog.name}: program was not loaded by this JIT machine")
            native = prog.native = self._compile(prog)          # type: ignore[attr-defined]
        return native

    def _compile(self, prog: CompiledProgram) -> NativeProgram:
        insns = prog.instructions
        proof = proof_of(prog)
        key = program_key(insns, proof)
        fname = "bpf_" + key.hex()[:32]
        try:
            addrs = compile_ir(key, lambda: generate(insns, prog.slot_to_index, fname, proof)[0],
                               [fname, fname + "_repeat"])
        except JITError as exc:
            raise JITError(f"{prog.name}: {exc}") from None
        slots = lddw_slots(insns, prog.slot_to_index)
        consts = (_U64 * max(len(slots), 1))()
        for i, slot in enumerate(slots):
            regs = [0] * 11
            prog.ops[slot](regs)                  # the interpreter's resolved LDDW value
            consts[i] = regs[insns[prog.slot_to_index[slot]].dst] & M64
        return NativeProgram(_MAIN(addrs[fname]), _REPEAT(addrs[fname + "_repeat"]), consts,
                             ctypes.addressof(consts), fname)

    # --- running ---------------------------------------------------------------------------------
    def run(self, prog: CompiledProgram, *args: int, budget: int | None = None) -> int:
        native = self.native(prog)
        if self._running is not None:
            raise VMError("JIT machine is already running a program (runs do not nest)")
        rt = self.rt
        limit = self.budget if budget is None else budget
        regs = (_U64 * 11)()
        for i, value in enumerate(args[:5]):
            regs[1 + i] = value & M64
        regs[10] = self.stack_tops[0]
        self.stacks[0].buf[:] = bytes(STACK_SIZE)
        rt[L.RT_DEPTH] = 0
        rt[L.RT_BUDGET] = limit
        rt[L.RT_MAY_GOTO] = self.may_goto_limit
        rt[L.RT_ITER] = 0
        rt[L.RT_CPU] = self.cpu
        self._publish_env()
        self._tail_calls = 0
        self._foreach_keys.close_all(self.mem)       # a failed earlier run may have left one open
        self.state = RunState(prog, budget=limit, may_goto=self.may_goto_limit)
        self._xdp_context = self.context if isinstance(self.context, XdpContext) else None
        self.xdp[L.XDP_VALID] = 0
        self._sync(full=not self._synced_once)     # rows follow map/unmap; later only packet/ctx
        self._synced_once = True
        repeat = max(self.repeat, 1)
        self._running = prog
        rt[L.RT_DURATION] = 0
        self._python_ns = 0
        try:
            status = self._enter(native, prog, regs, repeat, limit)
            while status == L.ST_TAIL_CALL:
                prog, native, status = self._follow_tail(regs)
            if status != L.ST_OK:
                raise self._error(status, prog)
            return regs[0]
        finally:
            self._pull_xdp()
            self._foreach_keys.pull(self.mem)
            self._xdp_context = None
            self.xdp[L.XDP_VALID] = 0
            used = limit - ctypes.c_int64(rt[L.RT_BUDGET]).value
            self.last_executed = max(used, 0)
            self.last_duration_ns = rt[L.RT_DURATION] + self._python_ns
            self.state = None
            self._running = None

    def _enter(self, native: NativeProgram, prog: CompiledProgram, regs: Any, repeat: int,
               limit: int) -> int:
        rt = self.rt
        rt[L.RT_CONSTS] = native.consts_addr
        rt[L.RT_CODE_BASE] = prog.code_base
        tmpl = (_U64 * 13)(*regs, limit & M64, self.may_goto_limit)
        status = native.repeat(ctypes.addressof(rt), ctypes.addressof(regs), repeat,
                               ctypes.addressof(tmpl))
        while status == L.ST_TAIL_CALL:              # finish this run in Python, then go on
            prog2, native2, status = self._follow_tail(regs)
            if status != L.ST_OK:
                return status
            done = rt[L.RT_ITER] + 1
            if done >= repeat:
                return L.ST_OK
            rt[L.RT_CONSTS] = native.consts_addr
            rt[L.RT_CODE_BASE] = prog.code_base
            self._tail_calls = 0
            status = native.repeat(ctypes.addressof(rt), ctypes.addressof(regs), repeat - done,
                                   ctypes.addressof(tmpl))
        return status

    def _follow_tail(self, regs: Any) -> tuple[CompiledProgram, NativeProgram, int]:
        assert self._tail is not None
        start = time.perf_counter_ns()
        target, ctx = self._tail
        self._tail = None
        native = self.native(target)
        regs[1] = ctx & M64
        rt = self.rt
        rt[L.RT_CONSTS] = native.consts_addr
        rt[L.RT_CODE_BASE] = target.code_base
        status = native.main(ctypes.addressof(rt), ctypes.addressof(regs), 0)
        self._python_ns += time.perf_counter_ns() - start
        return target, native, status

    def call_function(self, code_addr: int, *args: int) -> int:
        """Run the subprogram at ``code_addr`` natively as a callback (bpf_loop, for_each...)."""
        if self._running is None:
            raise VMError("callback invoked outside a running program")
        prog, pc = self._code_target(code_addr)
        native = self.native(prog)
        rt = self.rt
        depth = rt[L.RT_DEPTH] + 1
        if depth >= MAX_CALL_FRAMES:
            raise VMError(f"call depth exceeds {MAX_CALL_FRAMES} frames (stack overflow)")
        saved = (rt[L.RT_DEPTH], rt[L.RT_PC], rt[L.RT_CONSTS], rt[L.RT_CODE_BASE])
        regs = (_U64 * 11)()
        for i, value in enumerate(args[:5]):
            regs[1 + i] = value & M64
        regs[10] = self.stack_tops[depth]
        rt[L.RT_DEPTH] = depth
        rt[L.RT_CONSTS] = native.consts_addr
        rt[L.RT_CODE_BASE] = prog.code_base
        ctx, xdp = self._xdp_context, self.xdp
        if ctx is not None and xdp[L.XDP_VALID]:  # native code continues from the context's state
            xdp[L.XDP_DATA], xdp[L.XDP_META], xdp[L.XDP_END] = ctx.data, ctx.meta, ctx.end
        try:
            status = native.main(ctypes.addressof(rt), ctypes.addressof(regs), pc)
        finally:
            self._pull_xdp()                      # ...and so may the callback's native code
            rt[L.RT_DEPTH], rt[L.RT_PC], rt[L.RT_CONSTS], rt[L.RT_CODE_BASE] = saved
        if status == L.ST_TAIL_CALL:
            status = L.ST_TAIL_IN_SUBPROG
        if status != L.ST_OK:
            raise self._error(status, prog)
        return regs[0]

    def tail_call(self, target: Any, ctx: int) -> int:
        compiled = getattr(target, "compiled", target)
        if self._running is None or self._tail_calls >= MAX_TAIL_CALLS or \
                not hasattr(compiled, "native"):
            return (-errno.ENOENT) & M64
        self._tail_calls += 1
        self._tail = (compiled, ctx)
        raise _TailCall

    # --- the helper callback (runs inside native code) ----------------------------------------
    def _on_helper(self, helper_id: int) -> int:
        rt = self.rt
        try:
            args = (rt[17], rt[18], rt[19], rt[20], rt[21])
            self._foreach_keys.pull(self.mem)      # native for_each key regions open or closed
            self.python_calls[helper_id] = self.python_calls.get(helper_id, 0) + 1
            if helper_id not in _NO_SYNC:
                self._pull_xdp()
            if helper_id < (1 << 32):
                impl = self.helpers.get(helper_id)
                if impl is None:
                    if helper_id == CORE_POISON:
                        raise VMError("reached an instruction poisoned by a failed CO-RE relocation "
                                      "(the field or type does not exist in the target BTF)")
                    raise HelperError(f"helper {helper_name(helper_id)} (id {helper_id}) is not "
                                      f"supported by the VM")
                r0 = impl(self, *args)
            elif helper_id == L.PSEUDO_CALLX:
                r0 = self._callx(rt[L.RT_ARGS], args)
            elif helper_id == L.PSEUDO_FOREACH_SNAPSHOT:
                r0 = self._foreach_snapshot(args[0])
            elif helper_id & ~M32 == L.PSEUDO_KFUNC:
                r0 = self._kfunc(helper_id & M32)(self, *args)
            elif helper_id & ~0xFF == L.PSEUDO_LD_ABS:
                r0 = self._legacy_load(args[0], helper_id & 0xFF)
            else:
                raise JITError(f"unknown pseudo helper {helper_id:#x}")
            rt[L.RT_ARGS] = r0 & M64
            if helper_id not in _NO_SYNC:
                self._sync()
            return L.ST_OK
        except _TailCall:
            return L.ST_TAIL_CALL
        except _ExitZero:
            self._sync()
            return L.ST_EXIT_ZERO
        except BaseException as exc:             # noqa: BLE001 - carried back to the caller
            self._pending = exc
            return L.ST_PYERROR

    def _foreach_snapshot(self, handle: int) -> int:
        """Native for_each over a hash map: its iteration snapshot, kept alive for this depth."""
        words = snapshot_words(self.map_from_handle(handle, "bpf_for_each_map_elem"))
        self._foreach_keys.snapshots[min(self.rt[L.RT_DEPTH] + 1, L.FOREACH_DEPTHS - 1)] = words
        return ctypes.addressof(words)

    def _kfunc(self, slot: int) -> Any:
        prog = self.code_regions.get(self.rt[L.RT_CODE_BASE])
        insn = prog.instructions[prog.slot_to_index[slot]] if prog is not None else None
        impl = self.kfuncs.get(insn.ref or "") if insn is not None else None
        if impl is None:
            raise HelperError(f"kfunc call at slot {slot} is not supported by the VM")
        return impl

    def _callx(self, value: int, args: tuple[int, ...]) -> int:
        if value in self.helpers:
            return self.helpers[value](self, *args)
        return self.call_function(value, *args)

    def _legacy_load(self, offset: int, size: int) -> int:
        data = self.legacy_packet()
        if data is None:
            raise VMError("legacy packet load (LD_ABS/LD_IND) needs a socket buffer context")
        offset = offset - (1 << 64) if offset >> 63 else offset
        if offset < 0 or offset + size > len(data):
            raise _ExitZero
        return int.from_bytes(data[offset:offset + size], "big")

    def _sync(self, full: bool = False) -> None:
        """Python side -> native side: region rows, rewritten ctx fields, XDP packet state."""
        mem: TableMemory = self.mem                               # type: ignore[assignment]
        mem.sync(full)
        self.rt[L.RT_HOOKS] = ctypes.addressof(mem.hooks)
        self.rt[L.RT_HOOKS_LEN] = mem.hook_count
        ctx = getattr(self, "_xdp_context", None)
        if ctx is not None:
            self._push_xdp(ctx, mem)

    def _push_xdp(self, ctx: XdpContext, mem: TableMemory) -> None:
        """Publish the XDP context's packet offsets for native bpf_xdp_adjust_head."""
        xdp = self.xdp
        xdp[L.XDP_VALID] = 0
        ctx_slot, hooks = ctx.ctx.base >> 32, mem.hooks
        where = {}
        for i in range(mem.hook_count):
            if hooks[i * 4] == ctx_slot:
                where[(hooks[i * 4 + 1], hooks[i * 4 + 2])] = i
        if (0, 4) not in where or (8, 4) not in where:
            return
        xdp[L.XDP_DATA], xdp[L.XDP_META], xdp[L.XDP_END] = ctx.data, ctx.meta, ctx.end
        xdp[L.XDP_ROW], xdp[L.XDP_BASE] = ctx.pkt.base >> 32, ctx.pkt.base
        xdp[L.XDP_HOOK_DATA], xdp[L.XDP_HOOK_META] = where[(0, 4)], where[(8, 4)]
        xdp[L.XDP_VALID] = 1

    def _pull_xdp(self) -> None:
        """Native side -> Python XdpContext (offsets native adjust_head may have moved)."""
        ctx = getattr(self, "_xdp_context", None)
        xdp = self.xdp
        if ctx is not None and xdp[L.XDP_VALID]:
            ctx.data, ctx.meta = xdp[L.XDP_DATA], xdp[L.XDP_META]
            ctx._sync()

    # --- statuses to exceptions -------------------------------------------------------------------
    def _error(self, status: int, prog: CompiledProgram) -> BaseException:
        rt = self.rt
        pc = rt[L.RT_PC]
        if status == L.ST_PYERROR:
            exc, self._pending = self._pending, None
            if isinstance(exc, BPFError):
                return self._locate(exc, prog, pc)
            return exc if exc is not None else VMError("native code reported a lost error")
        if status == L.ST_FAULT:
            addr, info = rt[L.RT_FAULT_ADDR], rt[L.RT_FAULT_INFO]
            size, write = info & M32, bool(info & L.FAULT_WRITE)
            err: BPFError
            try:
                self.mem.resolve(addr, size, write=write)
                err = MemoryAccessError(f"invalid {'write' if write else 'read'} of {size} "
                                        f"byte(s) at {addr:#x}")
            except MemoryAccessError as exc:
                err = exc
            return self._locate(err, prog, pc)
        if status == L.ST_BUDGET:
            return self._locate(InstructionLimitError(
                f"instruction budget exhausted after about {self.budget} instructions "
                f"(infinite loop?)"), prog, pc)
        if status == L.ST_DEPTH:
            return self._locate(VMError(f"call depth exceeds {MAX_CALL_FRAMES} frames "
                                        f"(stack overflow)"), prog, pc)
        if status == L.ST_FELL_OFF:
            return self._locate(VMError(f"execution fell off the end of {prog.name!r} or returned "
                                        f"to an unknown call site"), prog, pc)
        if status == L.ST_TAIL_IN_SUBPROG:
            return self._locate(VMError("bpf_tail_call from a bpf-to-bpf subprogram or callback is "
                                        "not supported by the JIT"), prog, pc)
        return self._locate(VMError(f"native code returned unknown status {status}"), prog, pc)


def make_machine(*, helpers: dict[int, Any] | None = None, budget: int = DEFAULT_BUDGET) -> JITMachine:
    """A JIT machine with the given helper table (what pybpf.vm.conformance asks for)."""
    return JITMachine(helpers=helpers, budget=budget)


__all__ = ["JITMachine", "NativeProgram", "make_machine", "program_key"]
