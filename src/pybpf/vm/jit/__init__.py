"""pybpf.vm.jit: eBPF programs compiled to native code with LLVM (llvmlite), run on the VM's memory.

The JIT is a drop-in :class:`~pybpf.vm.machine.Machine` (``JITMachine``): same regions, maps,
helpers and errors as the interpreter, which stays the oracle for semantics. It never gives native
code a pointer the region table does not vouch for, and never lets a fault kill the process.

Public API
----------
- ``pybpf.vm.Collection(spec, engine="jit")`` / ``pybpf.Collection(spec, backend="jit")``;
  ``pybpf run --engine jit``; ``pybpf conformance --engine jit``.
- ``make_machine(helpers=..., budget=...)`` -> ``JITMachine`` (what pybpf.vm.conformance uses);
  ``JITMachine.load(name, insns)`` then ``.run(prog, r1, ...)`` exactly like ``Machine``.
- ``program_key(insns, proof)``: the process-wide code cache key (instruction bytes and the
  verifier's proof: map addresses are read at run time from a per-program constants array, so one
  compiled module serves every machine and map layout).

How it works
------------
- codegen: one LLVM function per program; registers are allocas (mem2reg), one basic block per jump
  target; bpf-to-bpf calls push a frame in a native frame array (own 512-byte stack per depth, the
  kernel's 8-frame limit); exits pop and switch to the return site; callbacks enter the same
  function at their entry slot. Back-edges charge the loop length to an instruction budget.
- memory (table): every access looks up ``address >> 32`` in a native copy of the VM's region table
  (host address, lo, hi, flags). Fixed-offset accesses through an r10 the program never writes
  skip the table (proven inside the frame). Accesses pybpf's verifier proved inside a stack,
  map value/key, packet or ring-buffer record on every path it explored (``proof``; programs
  loaded by ``Collection`` are verified unless ``unsafe=True``) skip the bounds checks, as in the
  kernel, and lookups it proved are on one kind of array or hash map are inlined. Everything
  else (no proof, ``unsafe=True``, ``PYBPF_JIT_CHECKS=all``, context/BTF/arena accesses, code
  the verifier never reached) is bounds/writability checked. Context fields the kernel
  rewrites (``data``, ``data_end``...) are served from a small table refreshed after helpers
  that can move them.
- helpers: ``bpf_map_lookup_elem`` on array, per-CPU array, hash, per-CPU hash and LRU (per-CPU)
  hash maps (LRU hits logged natively and replayed into the map's recency order before any
  eviction or iteration) and LPM tries (a prefix index the map updates on every insert and
  delete, native_lpm), ``bpf_map_update_elem`` on arrays and hash maps, ``bpf_xdp_adjust_head``
  (without metadata), ``bpf_loop`` with a local callback, ``bpf_for_each_map_elem``,
  ``bpf_csum_diff``, ``bpf_spin_lock/_unlock``, queue/stack ``push/pop/peek`` (native_foreach,
  _csum, _lock, _queue), the time helpers (``bpf_ktime_get_ns``, ``_boot_ns``, ``_coarse_ns``,
  ``_tai_ns``, ``bpf_jiffies64``: the simulated clock or clock_gettime for
  ``helpers.real_clock``), ``bpf_get_prandom_u32`` (splitmix64 in the SimEnv's cells),
  ``bpf_get_smp_processor_id`` and ``bpf_ringbuf_output/_reserve/_submit/_discard`` (on the
  ring's shared control words, native_ringbuf) run natively. Each fast path runs only while the
  machine's helper table (``machine.helpers``) holds pybpf's own implementation of that helper
  (``pybpf.vm.helpers.HELPERS[id]``; a bitmask in the runtime block, recomputed at the start of
  the next run after the table changes): a helper the user replaced is called like any other
  helper, through one ctypes callback into the table's Python implementation (exceptions
  carried back, located at the calling pc); ``JITMachine.python_helper_calls`` counts those
  calls. Whatever a fast path does not handle (other map types, full logs, flags...) takes the
  same callback.
- tail calls continue in the target's native code from the Python driver (not from inside a
  bpf-to-bpf subprogram or a callback: that raises VMError). ``test_run(repeat=N)`` loops in
  native code. Programs are compiled on first run; compiled code is cached per process.
"""
from .machine import JITMachine, NativeProgram, make_machine, program_key

__all__ = ["JITMachine", "NativeProgram", "make_machine", "program_key"]
