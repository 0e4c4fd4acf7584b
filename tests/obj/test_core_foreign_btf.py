"""CO-RE against a hand-built target BTF: moved fields, bitfields, missing fields and types, enum
values, flavors -- every expected immediate is computed by hand from the layout built here."""
from __future__ import annotations

import pytest

from pybpf.btf import BTF
from pybpf.errors import CORERelocationError
from pybpf.isa.opcodes import CALL
from pybpf.obj import CORERelocKind as K
from pybpf.obj import load_object
from pybpf.obj.core import POISON_IMM, essential_name, relocate


def _target_btf(*, with_pid: bool = True, sid_value: int = 3) -> BTF:
    btf = BTF()
    u32 = btf.add_int("unsigned int", 4)
    s32 = btf.add_int("int", 4, signed=True)
    u64 = btf.add_int("long long unsigned int", 8)
    char = btf.add_int("char", 1, signed=True, char=True)
    pid_t = btf.add_typedef("pid_t", s32)
    se = btf.add_struct("sched_entity", 16, [("sum_exec_runtime", u64, 0), ("vruntime", u64, 64)])
    fwd = btf.add_fwd("task_struct")
    parent_ptr = btf.add_ptr(fwd)
    comm = btf.add_array(char, 16)
    ulong = btf.add_int("long unsigned int", 8)
    # mm_struct { long pad; struct { long a; long b; unsigned long start_stack; }; } -> 8+16
    anon = btf.add_struct("", 24, [("a", ulong, 0), ("b", ulong, 64), ("start_stack", ulong, 128)])
    mm = btf.add_struct("mm_struct", 32, [("pad", ulong, 0), ("", anon, 64)])
    rlimit = btf.add_struct("rlimit", 16, [("rlim_cur", ulong, 0), ("rlim_max", ulong, 64)])
    rlim = btf.add_array(rlimit, 16)
    # signal_struct { int x; int nr_threads; long y; struct rlimit rlim[16]; } -> rlim at 16
    signal = btf.add_struct("signal_struct", 16 + 256, [("x", s32, 0), ("nr_threads", s32, 32),
                                                        ("y", ulong, 64), ("rlim", rlim, 128)])
    members = [
        ("se", se, 16 * 8),                    # moved from 0 to 16
        ("in_execve", u32, 64 * 8 + 5, 1),      # bitfield bit 517
        ("frozen", u32, 64 * 8 + 9, 1),         # bitfield bit 521
        ("tgid", pid_t, 104 * 8),
        ("real_parent", parent_ptr, 112 * 8),
        ("comm", comm, 120 * 8),
        ("mm", btf.add_ptr(mm), 136 * 8),
        ("signal", btf.add_ptr(signal), 144 * 8),
    ]
    if with_pid:
        members.insert(3, ("pid", pid_t, 100 * 8))
    btf.add_struct("task_struct", 200, members)
    btf.add_enum("pid_type", {"PIDTYPE_PID": 0, "PIDTYPE_TGID": 1, "PIDTYPE_SID": sid_value})
    return btf


def _values(result):
    return {(o.kind, o.local.split(" (")[0].split("] ", 1)[1]): o for o in result.outcomes}


@pytest.fixture(scope="module")
def fields_spec(corpus_object):
    return load_object(corpus_object("core_fields.bpf.c"))


def test_moved_fields_get_the_target_offsets(fields_spec):
    result = relocate(fields_spec.programs["read_task_fields"], _target_btf())
    got = {o.local.split(" (")[0].split("] ", 1)[1]: o.new_value for o in result.outcomes
           if o.kind == K.FIELD_BYTE_OFFSET}
    assert got == {"struct task_struct.pid": 100, "struct task_struct.tgid": 104,
                   "struct task_struct.real_parent": 112,
                   "struct task_struct.se.vruntime": 16 + 8,
                   "struct task_struct.comm[1]": 121, "struct task_struct.comm[15]": 135,
                   "struct task_struct.mm": 136, "struct task_struct.signal": 144,
                   "struct mm_struct.start_stack": 8 + 16,               # through the anon struct
                   "struct signal_struct.rlim[7].rlim_cur": 16 + 7 * 16,
                   "struct signal_struct.nr_threads": 4}


def test_relocated_immediates_are_written_into_the_instructions(fields_spec):
    program = fields_spec.programs["read_task_fields"]
    result = relocate(program, _target_btf())
    for outcome in result.outcomes:
        insn = result.instructions[outcome.index]
        written = insn.off if insn.cls in (1, 2, 3) else insn.imm
        assert written == outcome.new_value
    assert [i for i, (a, b) in enumerate(zip(program.instructions, result.instructions))
            if (a.opcode, a.off, a.imm) != (b.opcode, b.off, b.imm)] == sorted(
        o.index for o in result.outcomes if o.orig_value != o.new_value)


def test_missing_field_reports_exists_zero(fields_spec):
    btf = _target_btf()
    # drop task_struct.mm from the target
    task = btf.find_one("task_struct", __import__("pybpf.btf", fromlist=["Kind"]).Kind.STRUCT)
    from dataclasses import replace
    btf[task.id] = replace(task, members=tuple(m for m in task.members if m.name != "mm"))
    result = relocate(fields_spec.programs["read_task_fields"], btf)
    (mm,) = [o for o in result.outcomes if o.kind == K.FIELD_EXISTS]
    assert (mm.orig_value, mm.new_value, mm.poisoned) == (1, 0, False)


def test_bitfield_relocations_use_target_bit_position(fields_spec):
    result = relocate(fields_spec.programs["read_task_bitfields"], _target_btf())
    by = {}
    for o in result.outcomes:
        field = o.local.split(".")[1].split(" ")[0]
        by[(field, o.kind)] = o.new_value
    # in_execve: bit 517, 1 bit, unsigned int -> 4-byte window at byte 64
    assert by[("in_execve", K.FIELD_BYTE_OFFSET)] == 64
    assert by[("in_execve", K.FIELD_BYTE_SIZE)] == 4
    assert by[("in_execve", K.FIELD_LSHIFT_U64)] == 64 - (517 + 1 - 64 * 8)
    assert by[("in_execve", K.FIELD_RSHIFT_U64)] == 63
    assert by[("in_execve", K.FIELD_SIGNED)] == 0
    assert by[("frozen", K.FIELD_LSHIFT_U64)] == 64 - (521 + 1 - 64 * 8)


def test_unresolvable_field_read_is_poisoned_like_libbpf(fields_spec):
    result = relocate(fields_spec.programs["read_task_fields"], _target_btf(with_pid=False))
    poisoned = [o for o in result.outcomes if o.poisoned]
    assert poisoned and all("task_struct.pid" in o.local for o in poisoned)
    for o in poisoned:
        insn = result.instructions[o.index]
        assert (insn.opcode, insn.src, insn.imm) == (CALL, 0, POISON_IMM)
        assert "no candidate for struct 'task_struct'" in o.reason
        assert o.source.startswith("core_fields.bpf.c:")     # file:line of the failing insn
    assert "POISONED" in result.report()


def test_relocation_against_a_btf_without_the_type_says_so(fields_spec):
    btf = BTF()
    btf.add_int("int", 4, signed=True)
    result = relocate(fields_spec.programs["read_task_fields"], btf)
    assert result.poisoned
    assert all(o.reason == "the target BTF has no struct 'task_struct'"
               for o in result.poisoned if "task_struct." in o.local)


def test_type_and_enum_relocations_against_foreign_btf(corpus_object):
    spec = load_object(corpus_object("core_types.bpf.c"))
    result = relocate(spec.programs["read_type_info"], _target_btf(sid_value=7))
    by = {(o.kind, o.local.split(" (")[0].split(" = ")[0].split("] ", 1)[1]): o
          for o in result.outcomes}
    assert by[(K.TYPE_SIZE, "struct task_struct")].new_value == 200
    assert by[(K.TYPE_EXISTS, "struct pybpf_no_such_type")].new_value == 0
    assert by[(K.ENUMVAL_VALUE, "enum pid_type::PIDTYPE_SID")].new_value == 7
    assert by[(K.ENUMVAL_EXISTS, "enum pid_type___fake::PIDTYPE_BOGUS___fake")].new_value == 0
    # the flavor struct task_struct___old resolves to the target's task_struct
    assert by[(K.FIELD_BYTE_OFFSET, "struct task_struct___old.pid")].new_value == 100
    assert by[(K.FIELD_EXISTS, "struct task_struct___old.pybpf_no_such_field")].new_value == 0
    # sched_entity in the target is 16 bytes
    assert by[(K.TYPE_SIZE, "struct sched_entity")].new_value == 16


def test_poisoned_64bit_load_keeps_slot_count(corpus_object):
    spec = load_object(corpus_object("core_types.bpf.c"))
    btf = _target_btf()
    # no enum pid_type at all: ENUMVAL_VALUE on an LDDW cannot be resolved
    program = spec.programs["read_type_info"]
    target = BTF()
    target.add_int("int", 4, signed=True)
    result = relocate(program, target)
    enum_value = [o for o in result.outcomes if o.kind == K.ENUMVAL_VALUE]
    assert enum_value and enum_value[0].poisoned
    assert sum(i.slots for i in result.instructions) == sum(i.slots for i in program.instructions)
    first = enum_value[0].index
    assert [i.imm for i in result.instructions[first:first + 2]] == [POISON_IMM, POISON_IMM]
    assert relocate(program, btf).poisoned == []


def test_relocation_without_local_btf_is_a_clear_error(fields_spec):
    program = fields_spec.programs["read_task_fields"]
    from dataclasses import replace
    bare = replace(program, btf=None)
    with pytest.raises(CORERelocationError, match="no local BTF"):
        relocate(bare, _target_btf())


@pytest.mark.parametrize("name,essential", [
    ("task_struct___old", "task_struct"), ("task_struct", "task_struct"),
    ("a___b___c", "a___b"), ("x____y", "x____y"), ("___x", "___x"), ("foo___", "foo___"),
])
def test_essential_name_strips_only_a_well_formed_flavor(name, essential):
    # libbpf: X___Y where X and Y are not underscores
    assert essential_name(name) == essential


def test_direct_load_of_a_resized_signed_field_is_poisoned(corpus_object):
    """libbpf refuses to resize a signed load (fail_memsz_adjust): the LDX becomes a bad call."""
    spec = load_object(corpus_object("core_externs.bpf.c"))
    btf = BTF()
    s64 = btf.add_int("long int", 8, signed=True)
    s32 = btf.add_int("int", 4, signed=True)
    btf.add_struct("task_struct", 64, [("pid", s64, 0), ("tgid", s32, 8 * 8)])
    result = relocate(spec.programs["on_switch"], btf)
    by = {o.local.split(" (")[0].split("] ", 1)[1]: o for o in result.outcomes}
    assert by["struct task_struct.pid"].poisoned
    assert "incompatible size" in by["struct task_struct.pid"].reason
    tgid = by["struct task_struct.tgid"]
    assert not tgid.poisoned and result.instructions[tgid.index].off == 8


def test_unsigned_field_shrink_narrows_the_load(corpus_object):
    """An unsigned field that shrank from 8 to 4 bytes: libbpf rewrites the load size."""
    spec = load_object(corpus_object("core_externs.bpf.c"))
    program = spec.programs["on_switch"]
    btf = BTF()
    u32 = btf.add_int("unsigned int", 4)
    s32 = btf.add_int("int", 4, signed=True)
    rlimit = btf.add_struct("rlimit", 8, [("rlim_cur", u32, 0), ("rlim_max", u32, 32)])
    signal = btf.add_struct("signal_struct", 8 + 16 * 8,
                            [("nr_threads", s32, 0), ("rlim", btf.add_array(rlimit, 16), 64)])
    btf.add_struct("task_struct", 64, [("pid", s32, 0), ("tgid", s32, 32),
                                       ("signal", btf.add_ptr(signal), 64)])
    result = relocate(program, btf)
    by = {o.local.split(" (")[0].split("] ", 1)[1]: o for o in result.outcomes}
    cur = by["struct signal_struct.rlim[7].rlim_cur"]
    insn = result.instructions[cur.index]
    assert not cur.poisoned
    assert (insn.off, insn.size_bytes) == (8 + 7 * 8, 4)      # was an 8-byte load
    original = program.instructions[cur.index]
    assert original.size_bytes == 8


def test_self_containing_anonymous_member_is_a_clear_error(fields_spec):
    """A malformed target whose struct embeds itself through an anonymous member."""
    from dataclasses import replace

    from pybpf.btf import Kind, Member
    btf = BTF()
    s32 = btf.add_int("int", 4, signed=True)
    loop = btf.add_struct("task_struct", 8, [("tgid", s32, 0)])
    t = btf[loop]
    btf[loop] = replace(t, members=(Member("", loop, 0), *t.members))
    assert btf.find_one("task_struct", Kind.STRUCT).members[0].type_id == loop
    with pytest.raises(CORERelocationError):
        relocate(fields_spec.programs["read_task_fields"], btf)
