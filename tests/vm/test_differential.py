"""Differential testing: hypothesis-generated XDP programs run in the kernel and in the VM must agree.

Programs mix ALU/ALU32 (incl. sdiv/smod, movsx, bswap), forward branches (JMP/JMP32, gotol), stack,
packet and map-value loads/stores (incl. sign-extending loads), atomics, map helper calls and
bpf-to-bpf calls into a subprogram that clobbers r6-r9 and its own stack. The
kernel verifier decides what is valid (a rejected example is skipped); the kernel's
BPF_PROG_TEST_RUN result is the truth for retval, packet out and map contents.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pybpf
from pybpf.errors import KernelError
from pybpf.isa.instruction import Instruction
from pybpf.isa.uapi import MapType, ProgramType
from pybpf.obj.spec import MapSpec, ObjectSpec, ProgramSpec
from vm_support import on_cpu0

pytestmark = pytest.mark.kernel

PKT_LEN = 128
DUMP_REGS = (0, 2, 3, 4, 5, 8, 9)             # scalar registers dumped into the packet at the end
SCALARS = list(DUMP_REGS)
VALUE_SIZE = 16
I = Instruction

ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]
SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
ATOMICS = [0x00, 0x40, 0x50, 0xA0, 0x01, 0x41, 0x51, 0xA1, 0xE1, 0xF1]

imm32 = st.one_of(st.integers(-4, 70), st.sampled_from([-1, 0x7FFFFFFF, -0x80000000, 0xFFFF, 255]),
                  st.integers(-(1 << 31), (1 << 31) - 1))
scalar = st.sampled_from(SCALARS)


@st.composite
def alu(draw) -> list[Instruction]:
    wide = draw(st.booleans())
    cls = 0x07 if wide else 0x04
    dst = draw(scalar)
    kind = draw(st.sampled_from(["imm", "reg", "reg", "neg", "movsx", "swap", "sdiv"]))
    if kind == "neg":
        return [I(cls | 0x80, dst)]
    if kind == "movsx":
        widths = [8, 16, 32] if wide else [8, 16]
        return [I(cls | 0xB0 | 0x08, dst, draw(scalar), draw(st.sampled_from(widths)))]
    if kind == "swap":
        code = draw(st.sampled_from([0xD4, 0xDC, 0xD7]))
        return [I(code, dst, 0, 0, draw(st.sampled_from([16, 32, 64])))]
    if kind == "sdiv":
        op = draw(st.sampled_from([0x30, 0x90]))
        if draw(st.booleans()):
            return [I(cls | op | 0x08, dst, draw(scalar), 1)]
        return [I(cls | op, dst, 0, 1, draw(imm32))]
    op = draw(st.sampled_from(ALU_OPS))
    if kind == "imm":
        imm = draw(imm32)
        if op in (0x60, 0x70, 0xC0):
            imm = draw(st.integers(0, 63 if wide else 31))
        return [I(cls | op, dst, 0, 0, imm)]
    return [I(cls | op | 0x08, dst, draw(scalar))]


@st.composite
def memory(draw) -> list[Instruction]:
    size = draw(st.sampled_from([1, 2, 4, 8]))
    where = draw(st.sampled_from(["stack", "packet", "value"]))
    kind = draw(st.sampled_from(["load", "load", "loadsx", "store", "storeimm"]))
    if where == "stack":
        base, off = 10, -draw(st.integers(1, 64 // size)) * size
    elif where == "packet":
        base, off = 6, draw(st.integers(88 // size, PKT_LEN // size - 1)) * size
        if kind.startswith("load"):
            off = draw(st.integers(0, PKT_LEN // size - 1)) * size
    else:
        base, off = 7, draw(st.integers(0, VALUE_SIZE // size - 1)) * size
    if kind == "load":
        return [I(0x61 | SIZES[size], draw(scalar), base, off)]
    if kind == "loadsx" and size != 8:
        return [I(0x81 | SIZES[size], draw(scalar), base, off)]
    if kind == "storeimm":
        return [I(0x62 | SIZES[size], base, 0, off, draw(imm32))]
    return [I(0x63 | SIZES[size], base, draw(scalar), off)]


@st.composite
def atomic(draw) -> list[Instruction]:
    size = draw(st.sampled_from([4, 8]))
    base, off = draw(st.sampled_from([(10, -8 * draw(st.integers(1, 8))),
                                      (7, draw(st.sampled_from([0, 8])))]))
    op = draw(st.sampled_from(ATOMICS))
    src = draw(st.sampled_from([2, 3, 4, 5, 8, 9]))
    return [I(0xC3 | SIZES[size], base, src, off, op)]


@st.composite
def map_update(draw) -> list[Instruction]:
    """bpf_map_update_elem(&m, r10-8 as key, r10-24 as value, BPF_ANY) with key = slot & 3."""
    return [I(0x79, 1, 10, -8), I(0x57, 1, 0, 0, 3), I(0x7B, 10, 1, -32),
            I(0x18, 1, 1, 0, 0, ref="m"), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -32),
            I(0xBF, 3, 10), I(0x07, 3, 0, 0, -24), I(0xB7, 4, 0, 0, draw(st.sampled_from([0, 1, 2]))),
            I(0x85, 0, 0, 0, 2), I(0xB7, 2, 0, 0, 2), I(0xB7, 3, 0, 0, 3), I(0xB7, 4, 0, 0, 4),
            I(0xB7, 5, 0, 0, 5)]


@st.composite
def local_call(draw) -> list[Instruction]:
    """r1..r5 = scalars; call the generated subprogram (patched later); r2..r5 re-initialised."""
    args = [I(0xBF, r, draw(scalar)) for r in range(1, 6)]
    return args + [I(0x85, 0, 1, 0, 0, ref="sub")] + [I(0xB7, r, 0, 0, r) for r in (2, 3, 4, 5)]


@st.composite
def subprogram(draw) -> list[Instruction]:
    """Clobbers r6-r9 (the caller's must survive) and its own stack frame; returns a scalar."""
    regs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    body = [I(0xBF, 0, 1)] + [I(0xB7, r, 0, 0, draw(imm32)) for r in (6, 7, 8, 9)]
    body += [I(0x7B, 10, draw(st.sampled_from(regs)), -8 * k) for k in range(1, 5)]
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(ALU_OPS))
        cls = draw(st.sampled_from([0x07, 0x04]))
        if op in (0x60, 0x70, 0xC0):
            body.append(I(cls | op, draw(st.sampled_from(regs)), 0, 0, draw(st.integers(0, 31))))
        else:
            body.append(I(cls | op | 0x08, draw(st.sampled_from(regs)), draw(st.sampled_from(regs))))
        if draw(st.booleans()):
            body.append(I(0x79, draw(st.sampled_from(regs)), 10, -8 * draw(st.integers(1, 4))))
    return body + [I(0x95)]


@st.composite
def block(draw) -> list[Instruction]:
    return draw(st.one_of(alu(), alu(), alu(), memory(), memory(), atomic(), map_update(),
                          local_call()))


@st.composite
def program(draw) -> list[Instruction]:
    prologue = [
        I(0x61, 6, 1, 0), I(0x61, 9, 1, 4),                 # r6 = data, r9 = data_end
        I(0xBF, 2, 6), I(0x07, 2, 0, 0, PKT_LEN),
        I(0x2D, 2, 9, 1),                                   # if r2 > r9 goto out (+1)
        I(0x05, 0, 0, 2),                                   # goto body (+2)
        I(0xB7, 0, 0, 0, 1), I(0x95),                       # out: return XDP_DROP
    ]
    init = []
    for slot in range(1, 9):                                # initialise 64 bytes of stack
        init.append(I(0x7A, 10, 0, -8 * slot, draw(imm32)))
    init += [I(0x62, 10, 0, -8, draw(st.integers(0, 5)))]   # key slot: usually 0..3
    init += [I(0x18, 1, 1, 0, 0, ref="m"), I(0xBF, 2, 10), I(0x07, 2, 0, 0, -8),
             I(0x85, 0, 0, 0, 1),                           # r0 = lookup(&m, r10-8)
             I(0x55, 0, 0, 0, 0) ]                          # patched below: if r0 != 0 goto +N
    lookup_branch = len(init) - 1
    regs = []
    for r in SCALARS + [1]:
        regs.append(I(0x18, r, 0, 0, draw(st.integers(0, (1 << 64) - 1))))
    init_len = len(init)
    null_path = [I(0xB7, 0, 0, 0, 3), I(0x95)]              # lookup failed: return XDP_TX
    init += null_path
    init[lookup_branch] = I(0x55, 0, 0, len(null_path), 0)
    init += [I(0xBF, 7, 0)] + regs                          # r7 = map value pointer

    blocks = draw(st.lists(block(), min_size=1, max_size=24))
    body: list[Instruction] = []
    sizes = [sum(i.slots for i in b) for b in blocks]
    for index, b in enumerate(blocks):
        if draw(st.integers(0, 4)) == 0 and index + 1 < len(blocks):   # forward branch over blocks
            skip = draw(st.integers(1, min(3, len(blocks) - index - 1)))
            distance = sum(sizes[index + 1:index + 1 + skip]) + len(b) * 0
            distance = sum(sizes[index:index + skip])
            if draw(st.integers(0, 5)) == 0:
                body.append(I(0x06, 0, 0, 0, distance))    # gotol
            else:
                cls = draw(st.sampled_from([0x05, 0x06]))
                op = draw(st.sampled_from(JMP_OPS))
                if draw(st.booleans()):
                    body.append(I(cls | op | 0x08, draw(scalar), draw(scalar), distance))
                else:
                    body.append(I(cls | op, draw(scalar), 0, distance, draw(imm32)))
        body += b
    epilogue = []
    for i, r in enumerate(DUMP_REGS):                        # dump scalars into the packet
        epilogue.append(I(0x7B, 6, r, 8 * i))
    epilogue += [I(0x57, 0, 0, 0, 3), I(0x95)]              # return r0 & 3
    insns = prologue + init + body + epilogue
    if not any(i.ref == "sub" for i in insns):
        return insns
    sub_start = sum(i.slots for i in insns)
    insns += draw(subprogram())
    slot, patched = 0, []
    for insn in insns:
        if insn.ref == "sub":
            insn = I(0x85, 0, 1, 0, sub_start - slot - 1)
        patched.append(insn)
        slot += insn.slots
    return patched


def make_spec(insns: list[Instruction]) -> ObjectSpec:
    prog = ProgramSpec(name="gen", section="xdp", type=ProgramType.XDP, expected_attach_type=None,
                       attach_to="", instructions=insns, license="GPL")
    m = MapSpec(name="m", type=MapType.ARRAY, key_size=4, value_size=VALUE_SIZE, max_entries=4)
    return ObjectSpec(path="<generated>", programs={"gen": prog}, maps={"m": m}, license="GPL")




def run(spec: ObjectSpec, backend: str, packet: bytes, seed_values: list[bytes]):
    with pybpf.Collection(spec, backend=backend) as coll:
        for k, v in enumerate(seed_values):
            coll.maps["m"].update(k, v)
        result = coll.programs["gen"].test_run(packet)
        return result.retval, result.data_out, sorted(coll.maps["m"].items())


@settings(max_examples=int(os.environ.get("PYBPF_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(insns=program(), packet=st.binary(min_size=PKT_LEN, max_size=PKT_LEN + 16),
       values=st.lists(st.binary(min_size=VALUE_SIZE, max_size=VALUE_SIZE), min_size=4, max_size=4))
def test_generated_program_behaves_the_same_in_vm_and_kernel(insns, packet, values) -> None:
    spec = make_spec(insns)
    with on_cpu0():
        try:
            kernel = run(spec, "kernel", packet, values)
        except KernelError:
            assume(False)               # the verifier rejected it: not a valid program
            return
    vm = run(make_spec(insns), "vm", packet, values)
    assert vm == kernel
