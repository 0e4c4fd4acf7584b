"""Time, randomness and CPU id helpers run in native code with exactly the interpreter's values:
the simulated clock and the splitmix64 PRNG advance in the SimEnv's own cells, so interleaving
native reads, Python helper reads and repeated runs never makes the two engines diverge."""
from __future__ import annotations

import struct
import time

import pytest

from pybpf.errors import HelperError
from pybpf.isa.instruction import Instruction as I
from pybpf.isa.uapi import HELPER_IDS
from pybpf.vm.helpers import HELPERS, SimEnv, real_clock, splitmix64
from pybpf.vm.jit import make_machine
from pybpf.vm.machine import Machine

KTIME, BOOT, COARSE, TAI, JIFFIES = (HELPER_IDS[n] for n in (
    "ktime_get_ns", "ktime_get_boot_ns", "ktime_get_coarse_ns", "ktime_get_tai_ns", "jiffies64"))
PRANDOM, CPU = HELPER_IDS["get_prandom_u32"], HELPER_IDS["get_smp_processor_id"]
SEQUENCE = [KTIME, PRANDOM, BOOT, COARSE, PRANDOM, TAI, JIFFIES, CPU, KTIME, PRANDOM]


def recorder(ids: list[int]) -> list[I]:
    """r6 = r1 (an output buffer); each helper's r0 stored at r6 + 8 * i; r0 = 0."""
    prog = [I(0xBF, 6, 1)]
    for i, hid in enumerate(ids):
        prog += [I(0x85, 0, 0, 0, hid), I(0x7B, 6, 0, 8 * i)]
    return prog + [I(0xB7, 0, 0, 0, 0), I(0x95)]


def machine_for(engine: str, env: SimEnv | None = None, cpu: int = 0):
    machine = (make_machine(helpers=dict(HELPERS)) if engine == "jit"
               else Machine(helpers=dict(HELPERS)))
    if env is not None:
        machine.env = env
    machine.cpu = cpu
    return machine


def record(engine: str, ids: list[int], runs: int, env: SimEnv | None = None, cpu: int = 0,
           repeat: int = 1) -> tuple[list[tuple[int, ...]], object]:
    machine = machine_for(engine, env, cpu)
    out = machine.mem.new("out", 8 * len(ids), kind="ctx")
    prog = machine.load("rec", recorder(ids))
    seen = []
    for _ in range(runs):
        if engine == "jit":
            machine.repeat = repeat
            machine.run(prog, out.base)
        else:
            for _ in range(repeat):
                machine.run(prog, out.base)
        seen.append(struct.unpack(f"<{len(ids)}Q", out.buf))
    return seen, machine


def test_splitmix64_matches_the_reference_outputs() -> None:
    """Hand-checked against the published splitmix64 (seed 0: e220a8397b1dcdaf, 6e789e6aa1b965f4)."""
    state, first = splitmix64(0)
    _, second = splitmix64(state)
    assert (first, second) == (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4)
    env = SimEnv()
    assert [env.random_u32(), env.random_u32()] == [0xE220A839, 0x6E789E6A]


@pytest.mark.parametrize("seed,cpu,hz", [(0, 0, 250), (7, 1, 1000), (2**70 + 3, 3, 100)])
def test_native_env_helpers_give_the_interpreters_sequence(seed, cpu, hz) -> None:
    results, states = {}, {}
    for engine in ("interp", "jit"):
        env = SimEnv(seed=seed, hz=hz)
        results[engine], machine = record(engine, SEQUENCE, 5, env, cpu)
        states[engine] = list(env.cells)
    assert results["jit"] == results["interp"]
    assert states["jit"] == states["interp"]
    first = results["interp"][0]
    assert first[0] == 1_000_000_000 + 1000 and first[7] == cpu        # hand-checked clock, CPU
    assert first[1] == splitmix64(seed % 2**64)[1] >> 32


def test_native_env_helpers_make_no_python_calls_once_the_prng_is_seeded() -> None:
    env = SimEnv(seed=5)
    machine = machine_for("jit", env)
    out = machine.mem.new("out", 8 * len(SEQUENCE), kind="ctx")
    prog = machine.load("rec", recorder(SEQUENCE))
    machine.run(prog, out.base)
    assert machine.python_helper_calls == 1               # the first draw seeds in Python
    machine.repeat = 50
    machine.run(prog, out.base)
    assert machine.python_helper_calls == 1
    assert env.cells[0] == 1_000_000_000 + 51 * 6 * 1000   # 6 clock reads per run, all counted


def test_repeat_loop_advances_the_clock_like_repeated_interpreter_runs() -> None:
    jit, _ = record("jit", SEQUENCE, 3, SimEnv(seed=9), repeat=40)
    interp, _ = record("interp", SEQUENCE, 3, SimEnv(seed=9), repeat=40)
    assert jit == interp


def test_python_helpers_and_native_reads_share_one_clock() -> None:
    """hz out of the native range sends jiffies64 to Python between native clock reads."""
    ids = [KTIME, JIFFIES, KTIME, JIFFIES, PRANDOM, KTIME]
    results = {}
    for engine in ("interp", "jit"):
        results[engine], machine = record(engine, ids, 3, SimEnv(hz=1 << 40))
    assert results["jit"] == results["interp"]
    assert machine.python_helper_calls == 3 * 2 + 1          # jiffies twice a run, first draw


def test_custom_clock_callable_is_called_from_native_code() -> None:
    results, calls = {}, {}
    for engine in ("interp", "jit"):
        ticks = iter(range(10**12, 10**13, 7_777_777))
        env = SimEnv(clock_ns=lambda: next(ticks))
        results[engine], machine = record(engine, SEQUENCE, 4, env)
    assert results["jit"] == results["interp"]
    assert results["jit"][0][0] == 10**12
    assert machine.python_helper_calls >= 4 * 6               # every time helper went to Python


def test_real_clock_reads_clock_monotonic_natively() -> None:
    before = time.monotonic_ns()
    seen, machine = record("jit", [KTIME, BOOT, COARSE, KTIME], 3, SimEnv(clock_ns=real_clock))
    after = time.monotonic_ns()
    assert machine.python_helper_calls == 0
    flat = [v for run in seen for v in (run[0], run[1], run[3])]
    assert flat == sorted(flat) and before <= flat[0] and flat[-1] <= after
    assert all(run[2] % 4_000_000 == 0 and run[2] <= run[3] for run in seen)


def test_a_helper_the_machine_overrides_is_not_run_natively() -> None:
    helpers = dict(HELPERS)
    helpers[PRANDOM] = lambda m, *a: 42
    helpers[CPU] = lambda m, *a: 9
    machine = make_machine(helpers=helpers)
    out = machine.mem.new("out", 16, kind="ctx")
    machine.run(machine.load("rec", recorder([PRANDOM, CPU])), out.base)
    assert struct.unpack("<2Q", out.buf) == (42, 9)
    prog = machine.load("rec2", recorder([KTIME]))
    del machine.helpers[KTIME]                      # removed after load: the run must say so
    with pytest.raises(HelperError, match="not supported"):
        machine.run(prog, out.base)


def test_compiled_env_program_matches_the_interpreter_over_repeats(compile_bpf) -> None:
    from pathlib import Path

    import pybpf
    spec = pybpf.load_object(compile_bpf(Path(__file__).resolve().parent / "progs" / "jit_native.c"))
    seen = {}
    for backend in ("vm", "jit"):
        with pybpf.Collection(spec, backend=backend, env=SimEnv(seed=11)) as coll:
            prog = coll.programs["bench_env"]
            mixes = []
            for n in (1, 7, 1, 30, 2, 1, 1):
                assert prog.test_run(bytes(64), repeat=n).retval == 2          # XDP_PASS
                mixes.append(coll.maps["stats"][3])
            seen[backend] = (mixes, list(coll.env.cells))
            if backend == "jit":
                assert coll.machine.python_helper_calls == 1      # seeding the PRNG only
    assert seen["jit"] == seen["vm"]
    assert len(set(seen["jit"][0])) == 7                         # every run mixed new values


def test_changing_the_helper_table_between_runs_moves_helpers_off_native_code() -> None:
    machine = machine_for("jit", SimEnv(seed=3))
    out = machine.mem.new("out", 16, kind="ctx")
    prog = machine.load("rec", recorder([PRANDOM, CPU]))
    machine.run(prog, out.base)
    machine.run(prog, out.base)
    assert struct.unpack("<2Q", out.buf)[0] == splitmix64(splitmix64(3)[0])[1] >> 32
    calls = machine.python_helper_calls
    machine.helpers[PRANDOM] = lambda m, *a: 42
    machine.run(prog, out.base)
    assert struct.unpack("<2Q", out.buf)[0] == 42 and machine.python_helper_calls == calls + 1
    machine.helpers = dict(HELPERS)                  # a new table: native again
    machine.env = SimEnv(seed=3)                     # and a new environment: its own cells
    machine.run(prog, out.base)
    machine.run(prog, out.base)
    assert struct.unpack("<2Q", out.buf)[0] == splitmix64(splitmix64(3)[0])[1] >> 32
    assert machine.python_helper_calls == calls + 2  # the new env's first draw seeds in Python
