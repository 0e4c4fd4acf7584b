"""The contract between generated code and the Python side: runtime-block slots, table rows, statuses.

Pure constants; it never allocates memory or generates code.

Runtime block: an array of u64 the native code reads and writes by index (``RT_*``). Region table:
one row of four u64 per VM memory slot (``host, lo, hi, flags``), indexed by ``address >> 32``;
unmapped slots have ``lo = 1, hi = 0`` so every access to them fails the bounds check.
"""
from __future__ import annotations

RT_TABLE = 0          # address of the region table
RT_TABLE_LEN = 1      # rows in the table
RT_BUDGET = 2         # remaining instruction budget (signed; charged on back-edges)
RT_PC = 3             # slot of the faulting / calling instruction
RT_FAULT_ADDR = 4
RT_FAULT_INFO = 5     # access size | FAULT_WRITE for writes
RT_DEPTH = 6          # call frames in use (shared by nested callbacks)
RT_STACK_TOPS = 7     # address of u64[MAX_CALL_FRAMES]: VM address of each frame's stack top
RT_HELPER = 8         # address of the helper callback: u64 cb(u64 id) (args in RT_ARGS)
RT_CONSTS = 9         # address of u64[]: each LDDW's resolved value, in program order
RT_HOOKS = 10         # address of u64[4 * n]: (slot, offset, size, value) of rewritten ctx fields
RT_HOOKS_LEN = 11
RT_MAY_GOTO = 12      # may_goto allowance left in this run
RT_CODE_BASE = 13     # VM address of this program's code (callx targets)
RT_STACK_HOST = 14    # address of u64[MAX_CALL_FRAMES]: host address of each frame's stack top
RT_MAP_ROWS = 22      # address of u64[8 * TABLE_LEN]: map rows, see MAP_ROW_WORDS
RT_CPU = 23           # the simulated CPU of this run (per-CPU array lookups)
RT_ITER = 15          # runs finished by a native repeat loop
RT_ARGS = 16          # u64[6]: r0..r5 exchanged with the helper callback
RT_XDP = 24           # address of u64[XDP_WORDS]: the running XDP context's packet state
RT_CLOCK = 25         # address of libc clock_gettime (the repeat loop times itself, as the kernel does)
RT_DURATION = 26      # ns spent in native repeat loops since the machine last cleared it

# XDP packet state shared with native bpf_xdp_adjust_head (valid = 0: every call goes to Python).
# While a run is in native code these words are the truth; the Python XdpContext is refreshed
# from them before any helper that may read it and after the run.
XDP_VALID = 0
XDP_DATA = 1          # offsets into the packet buffer (XdpContext.data / meta / end)
XDP_META = 2
XDP_END = 3
XDP_ROW = 4           # region-table slot of the packet (its row's lo is meta)
XDP_BASE = 5          # VM address of the packet buffer (rewritten ctx field = base + offset)
XDP_HOOK_DATA = 6     # index of the (ctx, 0, 4) data field in the hooks table
XDP_HOOK_META = 7     # index of the (ctx, 8, 4) data_meta field in the hooks table
XDP_WORDS = 8

MAP_KIND_ARRAY = 1    # map rows: lookups done natively (index < max_entries -> base + index * stride)
MAP_KIND_PERCPU_ARRAY = 2
MAP_KIND_HASH = 3     # hash and per-CPU hash maps: looked up through a native key index
MAP_KIND_PERCPU_HASH = 4
MAP_KIND_LRU_HASH = 5  # LRU (per-CPU) hash: as hash, and each native hit is appended to a touch log
MAP_KIND_LRU_PERCPU_HASH = 6
# map row (one per handle slot): kind | cpus << 8, max_entries, stride, value base (VM address),
# key_size (arrays: value_size), index mask, host address of u32 index[mask + 1], host
# address of key bytes, host address of the op log (u32 count, u32 capacity, u32 entries[]:
# slot for an LRU hit, slot | OP_INSERT for an insert), host address of the free-slot stack
# (u32 count, u32 slots[]), value_size
MAP_ROW_WORDS = 11
OP_INSERT = 1 << 31
HELPER_MAP_LOOKUP = 1
HELPER_MAP_UPDATE = 2
HELPER_LOOP = 181
HELPER_XDP_ADJUST_HEAD = 44

ROW_WORDS = 4
FAULT_WRITE = 1 << 32
FLAG_WRITABLE = 1
FLAG_HOOKED = 2

# status returned by generated code
ST_OK = 0
ST_FAULT = 1
ST_BUDGET = 2
ST_PYERROR = 3        # the Python side stored an exception
ST_DEPTH = 4
ST_TAIL_CALL = 5      # the callback asked for a tail call: continue in another program
ST_FELL_OFF = 6
ST_BAD_CALLX = 7
ST_EXIT_ZERO = 8      # helper status: end the program with r0 = 0 (LD_ABS out of bounds)
ST_TAIL_IN_SUBPROG = 9

# pseudo helper ids the callback understands besides real helper ids (all >= 2**32)
PSEUDO_LD_ABS = 1 << 32          # | size; r1 = offset; r0 = big-endian value
PSEUDO_CALLX = 2 << 32           # r1..r5 args, RT_ARGS[0] on entry = target address
PSEUDO_POISON = 3 << 32
PSEUDO_KFUNC = 4 << 32           # | slot of the call; the kfunc is named by that instruction's ref


# --- native for_each_map_elem, csum_diff, spin_lock/unlock, queue/stack push/pop/peek (jit-b) ---
# (RT slots and map kinds taken above the last ones found, with a gap; renumber freely on merge)
RT_FOREACH_KEYS = 30  # address of u64[FOREACH_WORDS]: per callback depth (VM address, host address)
                      # of a read-only for_each key region, then the count of key regions open
RT_LOCKS = 31         # address of u64[1 + LOCKS_NATIVE]: held spin locks (count, lock addresses)
FOREACH_DEPTHS = 8    # entries (VM address, host address) indexed by the callback's call depth
FOREACH_OPEN = 2 * FOREACH_DEPTHS   # word: key regions currently readable (row hi = key size)
FOREACH_WORDS = FOREACH_OPEN + 1
LOCKS_NATIVE = 8      # held locks native code tracks; more go to a Python set (native code defers)
HELPER_FOR_EACH_MAP_ELEM = 164
HELPER_CSUM_DIFF = 28
HELPER_SPIN_LOCK = 93
HELPER_SPIN_UNLOCK = 94
HELPER_MAP_PUSH = 87
HELPER_MAP_POP = 88
HELPER_MAP_PEEK = 89
PSEUDO_FOREACH_SNAPSHOT = 16 << 32   # r1 = hash map; r0 = host address of its for_each snapshot
MAP_KIND_QUEUE = 16   # map rows of queue / stack maps: kind, max_entries, value_size, host address
MAP_KIND_STACK = 17   # of their native_queue.NativeRing (u64 head, count, short items, 0; slots)

# --- jit-a: native time, randomness, CPU id and ring buffers (native_env.py, native_ringbuf.py) ---
# Runtime-block slots (taken from 32 up, a gap above the slots other branches add; RT_SIZE raised).
RT_NATIVE = 32        # bitmask NATIVE_*: helpers whose machine implementation is pybpf's own
                      # (HELPERS[id]); a native fast path runs only while its bit is set
RT_ENV_CELLS = 33     # address of the running SimEnv's u64 cells (helpers.ENV_*: clock, PRNG)
RT_CLOCK_MODE = 34    # CLOCK_PYTHON / CLOCK_SIMULATED / CLOCK_REAL: how ktime helpers read time
RT_HZ = 35            # SimEnv.hz for bpf_jiffies64 (NATIVE_JIFFIES only when 0 < hz < 2**32)
RT_SIZE = 40          # words in the runtime block (every RT_* slot above is below this)
CLOCK_PYTHON = 0      # a custom SimEnv.clock_ns: every time helper calls Python
CLOCK_SIMULATED = 1   # clock_ns None: cells[ENV_NOW] += 1000 per read
CLOCK_REAL = 2        # clock_ns is helpers.real_clock: clock_gettime(CLOCK_MONOTONIC)
NATIVE_KTIME = 1 << 0
NATIVE_KTIME_BOOT = 1 << 1
NATIVE_KTIME_COARSE = 1 << 2
NATIVE_KTIME_TAI = 1 << 3
NATIVE_JIFFIES = 1 << 4
NATIVE_PRANDOM = 1 << 5
NATIVE_CPU_ID = 1 << 6
NATIVE_RB_OUTPUT = 1 << 7
NATIVE_RB_RESERVE = 1 << 8
NATIVE_RB_SUBMIT = 1 << 9
NATIVE_RB_DISCARD = 1 << 10
NATIVE_RB_QUERY = 1 << 11
# the other native fast paths (codegen.helper tests the bit once, before the emitter's fast path;
# native_env / native_ringbuf test theirs themselves): lookups (array, hash, LRU, LPM; inline or
# map_lookup), updates, adjust_head, bpf_loop, for_each, csum_diff, spin locks, queue/stack
NATIVE_MAP_LOOKUP = 1 << 12
NATIVE_MAP_UPDATE = 1 << 13
NATIVE_XDP_ADJUST_HEAD = 1 << 14
NATIVE_LOOP = 1 << 15
NATIVE_FOR_EACH = 1 << 16
NATIVE_CSUM_DIFF = 1 << 17
NATIVE_SPIN_LOCK = 1 << 18
NATIVE_SPIN_UNLOCK = 1 << 19
NATIVE_MAP_PUSH = 1 << 20
NATIVE_MAP_POP = 1 << 21
NATIVE_MAP_PEEK = 1 << 22
# helper id -> its NATIVE_* bit, for the fast paths codegen.helper gates
NATIVE_GATED = {HELPER_MAP_LOOKUP: NATIVE_MAP_LOOKUP, HELPER_MAP_UPDATE: NATIVE_MAP_UPDATE,
                HELPER_XDP_ADJUST_HEAD: NATIVE_XDP_ADJUST_HEAD, HELPER_LOOP: NATIVE_LOOP,
                HELPER_FOR_EACH_MAP_ELEM: NATIVE_FOR_EACH, HELPER_CSUM_DIFF: NATIVE_CSUM_DIFF,
                HELPER_SPIN_LOCK: NATIVE_SPIN_LOCK, HELPER_SPIN_UNLOCK: NATIVE_SPIN_UNLOCK,
                HELPER_MAP_PUSH: NATIVE_MAP_PUSH, HELPER_MAP_POP: NATIVE_MAP_POP,
                HELPER_MAP_PEEK: NATIVE_MAP_PEEK}
MAP_KIND_RINGBUF = 18       # map row of a ring's handle: kind, control words address (ringbuf.RB_*)
MAP_KIND_RINGBUF_DATA = 19  # map row of a ring's data region slot: kind, control words address

# --- native LPM trie lookups (native_lpm.py) ---
MAP_KIND_LPM_TRIE = 20  # map row: kind, max_entries, stride, value base (VM address), key_size,
                        # table mask, host addresses of the prefix table (u32[mask + 1]), the
                        # per-slot records (masked keys) and the lengths present (native_lpm)

__all__ = [n for n in dir() if n.isupper()]
