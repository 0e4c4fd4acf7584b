"""Global functions: with BTF func_info, pybpf verifies them the way the kernel does.

A subprogram whose BTF FUNC has BTF_FUNC_GLOBAL linkage is verified once, on its own, with
arguments typed from its prototype; a call checks the caller's arguments against the prototype and
continues with an unknown scalar in r0. Static subprograms, and every subprogram of a program
loaded without BTF, are still followed with the caller's registers.

The kernel is the truth: each case records the kernel's verdict, checked by the ``kernel`` tests
(loading with BTF and func_info) and, without a kernel, against pybpf. Three cases are deliberately
stricter than the kernel (see STRICTER).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from asm_util import MAPS, lookup
from global_func_btf import build
from pybpf.errors import KernelVerifierError
from pybpf.isa.uapi import ProgramType
from pybpf.obj import load_object
from pybpf.verifier import (ProgramStructureError, UnsupportedFeatureError, verify,
                            verify_program)

PROGS = Path(__file__).resolve().parent / "progs"
XDP = ProgramType.XDP

# C programs of progs/global_funcs.c: (kernel accepts, what the rejection says, kernel and pybpf)
C_CASES = {
    "global_two_kinds": (False, "invalid access to memory, mem_size=4 off=4 size=4"),
    "global_ok": (True, ""),
    "global_ctx": (True, ""),
    "global_scalar": (False, "unbounded memory access"),
    "global_scalar_checked": (True, ""),
    "global_small_buffer": (False, "invalid read from stack R1 off=-16 size=32"),
    "global_unknown_return": (False, "unbounded memory access"),
}

MAIN = "int main(struct xdp_md *ctx)"
RET0 = "mov %r0, 0\nexit"
CALL_F = f"call local f\n{RET0}\nf:\n"
PKT4 = ("ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r6, %r2\nmov %r4, %r2\nadd %r4, 4\n"
        "jgt %r4, %r3, out\n")     # r6 = packet start, 4 bytes proven (else goto out)

# name -> (assembly, prototypes, program type, kernel accepts,
#          what the kernel's rejection says, what pybpf's says)
ASM_CASES: dict[str, tuple[str, list[str], int, bool, str, str]] = {
    "stack_buffer_ok": (
        f"stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\n{CALL_F}{RET0}",
        [MAIN, "int f(u64 *p)"], XDP, True, "", ""),
    "pointer_for_scalar": (
        f"mov %r1, %r10\n{CALL_F}{RET0}", [MAIN, "int f(u64 x)"], XDP, False,
        "R1 is not a scalar", "R1 is not a scalar"),
    "unset_scalar": (
        f"mov %r1, 1\n{CALL_F}{RET0}", [MAIN, "int f(u64 x, u64 y)"], XDP, False,
        "R2 is not a scalar", "R2 is not a scalar"),
    "modified_ctx": (
        f"add %r1, 8\n{CALL_F}{RET0}", [MAIN, "int f(struct xdp_md *c)"], XDP, False,
        "dereference of modified ctx ptr R1 off=8", "dereference of modified ctx ptr R1 off=8"),
    "variable_ctx": (
        f"mov %r6, %r1\ncall 7\nand %r0, 8\nmov %r1, %r6\nadd %r1, %r0\n{CALL_F}{RET0}",
        [MAIN, "int f(struct xdp_md *c)"], XDP, False, "variable ctx access",
        "variable ctx access"),
    "stack_for_ctx": (
        f"mov %r1, %r10\nadd %r1, -8\n{CALL_F}{RET0}", [MAIN, "int f(struct xdp_md *c)"], XDP,
        False, "arg#0 expects pointer to ctx", "arg#0 expects pointer to ctx"),
    "ctx_reads_fields": (
        f"{CALL_F}ldxw %r0, [%r1+12]\nexit", [MAIN, "int f(const struct xdp_md *c)"], XDP, True,
        "", ""),
    "arg_ctx_tag": (
        f"{CALL_F}ldxw %r0, [%r1+12]\nexit", [MAIN, "int f(void *c @ctx)"], XDP, True, "", ""),
    "arg_ctx_tag_given_stack": (
        f"mov %r1, %r10\nadd %r1, -8\n{CALL_F}{RET0}", [MAIN, "int f(void *c @ctx)"], XDP, False,
        "arg#0 expects pointer to ctx", "arg#0 expects pointer to ctx"),
    "perf_event_ctx": (
        f"{CALL_F}ldxdw %r0, [%r1+168]\nexit",
        ["int main(struct bpf_perf_event_data *ctx)", "int f(struct bpf_perf_event_data *c)"],
        ProgramType.PERF_EVENT, True, "", ""),
    "other_programs_ctx_is_memory": (
        f"{CALL_F}{RET0}", [MAIN, "int f(struct __sk_buff *c)"], XDP, False,
        "R1 type=ctx expected=fp", "R1 type=ctx expected=fp"),
    "maybe_null_for_nonnull": (
        lookup("hash") + f"mov %r1, %r0\n{CALL_F}ldxw %r0, [%r1+0]\nexit",
        [MAIN, "int f(u32 *p @nonnull)"], XDP, False, "arg#0 is expected to be non-NULL",
        "arg#0 is expected to be non-NULL"),
    "maybe_null_for_nullable": (
        lookup("hash") + f"mov %r1, %r0\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p)"], XDP, True,
        "", ""),
    "callee_must_check_null": (
        f"stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\n{CALL_F}ldxw %r0, [%r1+0]\nexit",
        [MAIN, "int f(u32 *p)"], XDP, False, "R1 invalid mem access 'mem_or_null'",
        "R1 invalid mem access 'mem_or_null'"),
    "scalar_for_pointer": (
        f"mov %r1, 5\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p)"], XDP, False,
        "R1 type=scalar expected=fp", "R1 type=scalar expected=fp"),
    "packet_end_for_pointer": (
        f"ldxw %r1, [%r1+4]\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p)"], XDP, False,
        "R1 type=pkt_end expected=fp", "R1 type=pkt_end expected=fp"),
    "map_for_pointer": (
        f"ldmap %r1, arr\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p)"], XDP, False,
        "R1 type=map_ptr expected=fp", "R1 type=map_ptr expected=fp"),
    "returns_pointer": (
        f"{CALL_F}mov %r0, %r1\nexit", [MAIN, "int f(struct xdp_md *c)"], XDP, False,
        "R0 is not a scalar value (ctx)", "R0 is not a scalar value (ctx)"),
    "void_prototype": (
        f"{CALL_F}{RET0}", [MAIN, "void f(struct xdp_md *c)"], XDP, False,
        "doesn't return scalar", "doesn't return scalar"),
    "void_pointer_arg": (
        f"mov %r1, %r10\nadd %r1, -8\n{CALL_F}{RET0}", [MAIN, "int f(void *p)"], XDP, False,
        "size cannot be determined", "size cannot be determined"),
    "six_args": (
        f"{CALL_F}{RET0}", [MAIN, "int f(u64 a, u64 b, u64 c, u64 d, u64 e, u64 g)"], XDP, False,
        "with 6 > 5 args", "with 6 > 5 args"),
    "struct_by_value": (
        f"{CALL_F}{RET0}", [MAIN, "int f(struct val v)"], XDP, False,
        "Arg#0 type STRUCT in f() is not supported yet", "Arg#0 type STRUCT in f()"),
    "bad_prototype_never_called": (
        f"mov %r1, 0\njeq %r1, 0, skip\ncall local f\nskip:\n{RET0}\nf:\n{RET0}",
        [MAIN, "int f(void *p)"], XDP, True, "", ""),
    "variable_stack_offset": (
        f"call 7\nand %r0, 8\nmov %r1, %r10\nadd %r1, -16\nadd %r1, %r0\n{CALL_F}{RET0}",
        [MAIN, "int f(u64 *p)"], XDP, True, "", ""),
    "misaligned_stack_buffer": (
        f"stdw [%r10-16], 0\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -13\n{CALL_F}{RET0}",
        [MAIN, "int f(u64 *p)"], XDP, True, "", ""),
    "stack_buffer_too_small": (
        f"stdw [%r10-16], 0\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -16\n{CALL_F}{RET0}",
        [MAIN, "int f(struct big *p)"], XDP, False, "invalid read from stack R1 off=-16 size=32",
        "invalid read from stack R1 off=-16 size=32"),
    "map_value_too_small": (
        lookup() + f"jeq %r0, 0, out\nmov %r1, %r0\nadd %r1, 12\ncall local f\nout:\n{RET0}\n"
        f"f:\n{RET0}", [MAIN, "int f(u64 *p)"], XDP, False,
        "R1 min value is outside of the allowed memory range",
        "invalid access to map value, value_size=16 off=12 size=8"),
    "map_value_variable_offset": (
        lookup() + "jeq %r0, 0, out\nmov %r6, %r0\ncall 7\nand %r0, 8\nmov %r1, %r6\n"
        f"add %r1, %r0\ncall local f\nout:\n{RET0}\nf:\n{RET0}", [MAIN, "int f(u64 *p)"], XDP,
        True, "", ""),
    "read_only_map_value": (
        f"ldmap %r1, ro + 0\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p)"], XDP, False,
        "write into map forbidden", "write into map forbidden"),
    "packet_pointer_ok": (
        PKT4 + f"mov %r1, %r6\ncall local f\nexit\nout:\n{RET0}\nf:\njeq %r1, 0, z\n"
        f"ldxw %r0, [%r1+0]\nexit\nz:\n{RET0}", [MAIN, "int f(u32 *p)"], XDP, True, "", ""),
    "ring_buffer_record": (
        "ldmap %r1, rb\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, out\nmov %r6, %r0\n"
        "mov %r1, %r0\ncall local f\nmov %r1, %r6\nmov %r2, 0\ncall 132\nout:\n"
        f"{RET0}\nf:\njeq %r1, 0, z\nstdw [%r1+0], 1\nz:\n{RET0}", [MAIN, "int f(u64 *p)"], XDP,
        True, "", ""),
    "unchecked_ring_buffer_record": (
        "ldmap %r1, rb\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r6, %r0\nmov %r1, %r0\n"
        "call local f\njeq %r6, 0, out\nmov %r1, %r6\nmov %r2, 0\ncall 132\nout:\n"
        f"{RET0}\nf:\n{RET0}", [MAIN, "int f(u64 *p)"], XDP, True, "", ""),
    "reference_leak_in_global": (
        f"{CALL_F}ldmap %r1, rb\nmov %r2, 8\nmov %r3, 0\ncall 131\n{RET0}",
        [MAIN, "int f(struct xdp_md *c)"], XDP, False, "Unreleased reference",
        "Unreleased reference"),
    # the caller's stack bytes a global function may write are unknown afterwards
    "passed_stack_is_forgotten": (
        "ldmap %r1, arr\nstxdw [%r10-8], %r1\nmov %r1, %r10\nadd %r1, -8\ncall local f\n"
        "ldxdw %r1, [%r10-8]\nmov %r2, %r10\nadd %r2, -16\ncall 1\n"
        f"{RET0}\nf:\n{RET0}", [MAIN, "int f(u64 *p)"], XDP, False,
        "R1 type=scalar expected=map_ptr", "R1 type=scalar expected=map_ptr"),
    # a tail call or packet-changing helper in a global function (or its static callees)
    # invalidates the caller's packet pointers
    "tail_call_in_global": (
        PKT4 + f"call local f\nldxw %r0, [%r6+0]\nexit\nout:\n{RET0}\nf:\nldmap %r2, progs\n"
        f"mov %r3, 0\ncall 12\n{RET0}", [MAIN, "int f(struct xdp_md *c)"], XDP, False,
        "R6 invalid mem access 'scalar'", "R6 invalid mem access 'scalar'"),
    "adjust_head_under_global": (
        PKT4 + f"call local f\nldxw %r0, [%r6+0]\nexit\nout:\n{RET0}\nf:\ncall local g\n"
        f"{RET0}\ng:\nmov %r2, 0\ncall 44\n{RET0}",
        [MAIN, "int f(struct xdp_md *c)", "static int g(struct xdp_md *c)"], XDP, False,
        "R6 invalid mem access 'scalar'", "R6 invalid mem access 'scalar'"),
    "global_calls_global": (
        f"{CALL_F}mov %r1, 0\ncall local g\nexit\ng:\nldxw %r0, [%r1+0]\nexit",
        [MAIN, "int f(struct xdp_md *c)", "int g(u32 *p)"], XDP, False,
        "R1 invalid mem access 'mem_or_null'", "R1 invalid mem access 'mem_or_null'"),
    "static_calls_global": (
        "call local s\nexit\ns:\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall local g\n"
        f"{RET0}\ng:\nldxdw %r0, [%r1+0]\nexit",
        [MAIN, "static int s(struct xdp_md *c)", "int g(u64 *p @nonnull)"], XDP, True, "", ""),
    "global_callback": (
        f"mov %r1, 1\nldfunc %r2, cb\nmov %r3, 0\nmov %r4, 0\ncall 181\n{RET0}\ncb:\n{RET0}",
        [MAIN, "int cb(u32 i, u64 *ctx)"], XDP, False, "callback function not static",
        "callback function not static"),
    "combined_stack_through_global": (
        f"stdw [%r10-256], 0\n{CALL_F}stdw [%r10-312], 0\n{RET0}",
        [MAIN, "int f(struct xdp_md *c)"], XDP, False, "combined stack size of 2 calls is 576",
        "combined stack size of 2 calls is 576"),
    "eight_nested_globals": (
        "".join(f"call local f{i}\nexit\nf{i}:\n" for i in range(1, 8)) + RET0,
        [MAIN] + [f"int f{i}(struct xdp_md *c)" for i in range(1, 8)], XDP, True, "", ""),
    "nine_nested_globals": (
        "".join(f"call local f{i}\nexit\nf{i}:\n" for i in range(1, 9)) + RET0,
        [MAIN] + [f"int f{i}(struct xdp_md *c)" for i in range(1, 9)], XDP, False,
        "the call stack of 8 frames is too deep", "the call stack of 8 frames is too deep"),
}

# Accepted by the kernel, refused by pybpf on purpose (pybpf never accepts what the kernel
# rejects, and may refuse more when accepting would let the program touch memory it should not).
STRICTER: dict[str, tuple[str, list[str], int, str]] = {
    # the kernel lets a constant NULL through to an arg:nonnull pointer the callee dereferences
    "null_for_nonnull": (
        f"mov %r1, 0\n{CALL_F}ldxw %r0, [%r1+0]\nexit", [MAIN, "int f(u32 *p @nonnull)"], XDP,
        "arg#0 is expected to be non-NULL"),
    # the callee's pointer into the packet survives its own bpf_xdp_adjust_head
    "packet_pointer_to_packet_changer": (
        PKT4 + f"mov %r2, %r6\ncall local f\nexit\nout:\n{RET0}\nf:\nmov %r6, %r2\nmov %r2, 0\n"
        f"call 44\njeq %r6, 0, z\nldxw %r0, [%r6+0]\nexit\nz:\n{RET0}",
        [MAIN, "int f(struct xdp_md *c, u32 *p)"], XDP, "may change packet data"),
    # cgroup_skb may not write its packet, but a global function may write what it is given
    "read_only_packet": (
        "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r1, %r2\nadd %r2, 4\njgt %r2, %r3, out\n"
        f"call local f\nout:\nmov %r0, 1\nexit\nf:\njeq %r1, 0, z\nstw [%r1+0], 0\nz:\n{RET0}",
        ["int main(struct __sk_buff *ctx)", "int f(u32 *p)"], ProgramType.CGROUP_SKB,
        "cannot write into packet"),
}


@pytest.fixture(scope="module")
def spec(compile_bpf):
    return load_object(compile_bpf(PROGS / "global_funcs.c"))


def _kernel(spec, name: str) -> tuple[bool, str]:
    from pybpf.kernel import Collection
    try:
        with Collection(spec, programs=[name]):
            return True, ""
    except KernelVerifierError as exc:
        return False, exc.log


# --- the C programs ------------------------------------------------------------------------------
def test_c_programs_really_call_global_functions(spec):
    """Guard against clang inlining or folding a call away: each program calls a subprogram that
    its func_info types with a global FUNC."""
    for name in C_CASES:
        prog = spec.programs[name]
        assert any(i.is_pseudo_call for i in prog.instructions), name
        funcs = [spec.btf[f.type_id] for f in prog.func_info[1:]]
        assert funcs and all(f.linkage == 1 for f in funcs), name


@pytest.mark.parametrize("name", sorted(C_CASES))
def test_c_program_verdict_is_the_kernels(spec, name):
    accepted, says = C_CASES[name]
    result = verify_program(spec.programs[name], spec, raise_on_reject=False)
    assert result.accepted == accepted, result.error
    if not accepted:
        assert says in result.error.reason


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(C_CASES))
def test_c_program_kernel_verdict(spec, name):
    accepted, says = C_CASES[name]
    kernel_ok, log = _kernel(spec, name)
    assert kernel_ok == accepted, log
    assert says in log


def test_global_function_rejection_names_the_function_and_its_prototype(spec):
    result = verify_program(spec.programs["global_two_kinds"], spec, raise_on_reject=False)
    err = result.error
    assert err.reason == "invalid access to memory, mem_size=4 off=4 size=4"
    assert "global_sum(p: 4 bytes of memory or NULL)" in err.hint
    # the replayed path starts at the global function's own entry, not at the caller's call
    assert "R1=mem_or_null" in err.path[0] or "R1=mem_or_null" in err.path[1]
    assert "p[1]" in (err.source_line or "")


def test_call_site_rejection_names_the_callee(spec):
    result = verify_program(spec.programs["global_small_buffer"], spec, raise_on_reject=False)
    assert "Caller passes invalid args into func#1 ('global_big')" in result.error.hint
    assert "global_big(b: 32 bytes of memory or NULL)" in result.error.hint


def test_without_func_info_every_subprogram_is_static(spec):
    """Programs loaded without BTF: the kernel follows each call like a static one, so does pybpf
    (these three are rejected only because their callee is global)."""
    for name in ("global_two_kinds", "global_scalar", "global_unknown_return"):
        prog = spec.programs[name]
        assert verify(prog.instructions, prog_type=prog.type, maps=spec.maps).accepted, name


@pytest.mark.kernel
@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_accepted_programs_run_like_in_the_kernel(spec, engine):
    import pybpf
    packets = [bytes(range(64)), bytes(14), bytes(range(1, 15))]
    out = {}
    for backend in ("kernel", "vm"):
        kw = {"engine": engine} if backend == "vm" else {}
        runs = []
        for name in ("global_ok", "global_ctx", "global_scalar_checked"):
            with pybpf.Collection(spec, backend=backend, programs=[name], **kw) as coll:
                coll.maps["vals"].update(0, (5).to_bytes(4, "little") + (9).to_bytes(4, "little"))
                runs.append([coll.programs[name].test_run(p).retval for p in packets])
                runs.append(tuple(coll.maps["vals"][0]))
        out[backend] = runs
    assert out["vm"] == out["kernel"]


# --- assembly with BTF ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ASM_CASES))
def test_asm_verdict_is_the_kernels(name):
    text, protos, prog_type, accepted, _, says = ASM_CASES[name]
    result = build(text, protos).pybpf(prog_type)
    assert result.accepted == accepted, result.error
    if not accepted:
        assert says in result.error.reason, result.error


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(ASM_CASES))
def test_asm_kernel_verdict(name):
    text, protos, prog_type, accepted, says, _ = ASM_CASES[name]
    kernel = build(text, protos).kernel(prog_type)
    assert kernel.accepted == accepted, kernel.log
    assert says in kernel.log


@pytest.mark.parametrize("name", sorted(STRICTER))
def test_pybpf_is_stricter_than_the_kernel_here(name):
    text, protos, prog_type, says = STRICTER[name]
    result = build(text, protos).pybpf(prog_type)
    assert not result.accepted and says in result.error.reason


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(STRICTER))
def test_kernel_accepts_what_pybpf_refuses_on_purpose(name):
    text, protos, prog_type, _ = STRICTER[name]
    kernel = build(text, protos).kernel(prog_type)
    assert kernel.accepted, kernel.log


@pytest.mark.parametrize("name", sorted(ASM_CASES))
def test_same_code_without_btf_is_verified_as_before(name):
    """Without func_info the new rules never apply: the verdict is the static-call one."""
    text, protos, prog_type, *_ = ASM_CASES[name]
    program = build(text, protos)
    plain = verify(program.instructions, prog_type=prog_type, maps=MAPS, raise_on_reject=False)
    static = [p if p.startswith("static") else f"static {p}" for p in protos[1:]]
    all_static = build(text, [protos[0]] + static).pybpf(prog_type)
    assert plain.accepted == all_static.accepted
    if not plain.accepted:
        assert plain.error.reason == all_static.error.reason


def test_func_info_must_describe_the_subprograms():
    program = build(f"{CALL_F}{RET0}", [MAIN, "int f(u64 *p)"])
    with pytest.raises(ProgramStructureError, match="number of funcs in func_info"):
        verify(program.instructions, prog_type=XDP, func_info=program.func_info[:1],
               prog_btf=program.btf)
    moved = [program.func_info[0], (program.func_info[1][0] + 1, program.func_info[1][1])]
    with pytest.raises(ProgramStructureError, match="doesn't match subprog layout"):
        verify(program.instructions, prog_type=XDP, func_info=moved, prog_btf=program.btf)


def test_argument_tags_pybpf_does_not_model_are_refused_not_guessed():
    program = build(f"mov %r1, 0\n{CALL_F}{RET0}", [MAIN, "int f(u32 *p @trusted)"])
    with pytest.raises(UnsupportedFeatureError, match="arg:trusted"):
        verify(program.instructions, prog_type=XDP, func_info=program.func_info,
               prog_btf=program.btf)
