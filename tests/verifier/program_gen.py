"""Hypothesis strategies that build small XDP programs, safe or deliberately unsafe, from gadgets.

Each gadget exercises one safety rule (packet bounds, NULL checks, map value ranges, stack bounds,
context layout, loops, ring buffer references) with parameters drawn around the boundary between
safe and unsafe. Test support only; the kernel and pybpf judge the results.
"""
from __future__ import annotations

from hypothesis import strategies as st

SIZES = {1: "b", 2: "h", 4: "w", 8: "dw"}


def _packet(draw, n: int) -> str:
    size = draw(st.sampled_from([1, 2, 4, 8]))
    bound = draw(st.integers(0, 40))
    off = draw(st.integers(-2, 40))
    checked = draw(st.booleans())
    op = draw(st.sampled_from(["jgt", "jge", "jsgt"]))
    if draw(st.booleans()):                         # steer half of them into the safe region
        checked, op, off = True, draw(st.sampled_from(["jgt", "jge"])), abs(off)
        bound = max(bound, off + size)
    write = draw(st.booleans())
    access = (f"st{SIZES[size]} [%r2{off:+d}], 7" if write else f"ldx{SIZES[size]} %r0, [%r2{off:+d}]")
    check = f"mov %r4, %r2\nadd %r4, {bound}\n{op} %r4, %r3, out{n}\n" if checked else ""
    return f"ldxw %r2, [%r6]\nldxw %r3, [%r6+4]\n{check}{access}\nout{n}:\n"


def _map_value(draw, n: int) -> str:
    checked = draw(st.booleans())
    off = draw(st.integers(-2, 18))
    size = draw(st.sampled_from([1, 2, 4, 8]))
    write = draw(st.booleans())
    m = draw(st.sampled_from(["hash", "arr"]))
    key = draw(st.sampled_from(["stw [%r10-4], 0", "stw [%r10-4], 2", "stw [%r10-4], 9"]))
    if draw(st.booleans()):
        checked, off = True, min(abs(off), 16 - size)
    access = (f"st{SIZES[size]} [%r0{off:+d}], 1" if write else f"ldx{SIZES[size]} %r1, [%r0{off:+d}]")
    check = f"jeq %r0, 0, out{n}\n" if checked else ""
    return (f"{key}\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, {m}\ncall 1\n{check}{access}\n"
            f"out{n}:\n")


def _var_index(draw, n: int) -> str:
    mask = draw(st.sampled_from([0, 1, 3, 7, 8, 15, 16, 31, 255]))
    size = draw(st.sampled_from([1, 2, 4, 8]))
    style = draw(st.sampled_from(["and", "jgt", "jge32", "none"]))
    bound = draw(st.integers(0, 20))
    if draw(st.booleans()):
        style = draw(st.sampled_from(["and", "jgt", "jge32"]))
        mask = min(mask, 16 - size)
        bound = min(bound, 16 - size)
    if style == "and":
        limit = f"and %r7, {mask}\n"
    elif style == "jgt":
        limit = f"jgt %r7, {bound}, out{n}\n"
    elif style == "jge32":
        limit = f"jge32 %r7, {bound}, out{n}\n"
    else:
        limit = ""
    return ("stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, hash\ncall 1\n"
            f"jeq %r0, 0, out{n}\nmov %r8, %r0\ncall 7\nmov %r7, %r0\n{limit}"
            f"add %r8, %r7\nldx{SIZES[size]} %r1, [%r8]\nout{n}:\n")


def _stack(draw, n: int) -> str:
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.sampled_from([-520, -516, -512, -511, -264, -16, -12, -9, -8, -4, -2, -1, 0, 4]))
    write = draw(st.booleans())
    if draw(st.booleans()):
        off = -size * draw(st.integers(1, 512 // size))
    if write:
        return f"st{SIZES[size]} [%r10{off:+d}], 3\n"
    return f"ldx{SIZES[size]} %r1, [%r10{off:+d}]\n"


def _context(draw, n: int) -> str:
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.integers(-4, 28))
    write = draw(st.booleans())
    if draw(st.booleans()):
        size, off, write = 4, 4 * draw(st.integers(0, 5)), False
    if write:
        return f"st{SIZES[size]} [%r6{off:+d}], 0\n"
    return f"ldx{SIZES[size]} %r1, [%r6{off:+d}]\n"


def _loop(draw, n: int) -> str:
    bound = draw(st.integers(0, 40))
    step = draw(st.sampled_from([0, 1, 1, 2, 3]))
    op = draw(st.sampled_from(["jlt", "jne", "jslt", "jlt32"]))
    if op == "jne" and step > 1:       # would count past the bound: the kernel needs 1M insns
        op = "jlt"
    return f"mov %r7, 0\nloop{n}:\nadd %r7, {step}\n{op} %r7, {bound}, loop{n}\n"


def _ringbuf(draw, n: int) -> str:
    size = draw(st.sampled_from([8, 16]))
    checked = draw(st.booleans())
    release = draw(st.sampled_from(["submit", "discard", "none", "one_path"]))
    off = draw(st.integers(0, 16))
    if draw(st.booleans()):
        checked, release, off = True, draw(st.sampled_from(["submit", "discard"])), min(off, size - 1)
    check = f"jeq %r0, 0, out{n}\n" if checked else ""
    body = f"mov %r7, %r0\nstb [%r0{off:+d}], 1\n" if checked else "mov %r7, %r0\n"
    if release == "none":
        tail = ""
    elif release == "one_path":
        tail = f"call 7\njeq %r0, 0, out{n}\nmov %r1, %r7\nmov %r2, 0\ncall 132\n"
    else:
        tail = f"mov %r1, %r7\nmov %r2, 0\ncall {132 if release == 'submit' else 133}\n"
    return f"ldmap %r1, rb\nmov %r2, {size}\nmov %r3, 0\ncall 131\n{check}{body}{tail}out{n}:\n"


def _alu_then_index(draw, n: int) -> str:
    ops = draw(st.lists(st.tuples(st.sampled_from(["add", "sub", "mul", "and", "or", "rsh", "lsh",
                                                   "xor", "mod", "div", "add32", "and32", "rsh32"]),
                                  st.integers(0, 40)), min_size=1, max_size=4))
    lines = ["call 7", "mov %r7, %r0"]
    for op, imm in ops:
        if op.startswith(("rsh", "lsh")):
            imm %= 32
        if op.startswith(("mod", "div")) and imm == 0:
            imm = 1
        lines.append(f"{op} %r7, {imm}")
    lines += ["stw [%r10-4], 1", "mov %r2, %r10", "add %r2, -4", "ldmap %r1, hash", "call 1",
              f"jeq %r0, 0, out{n}", "add %r0, %r7", "ldxb %r1, [%r0]", f"out{n}:"]
    return "\n".join(lines) + "\n"


def _join(draw, n: int) -> str:
    """Two paths give a register different values, meet, then use it: pruning must keep both."""
    k1, k2 = draw(st.integers(0, 20)), draw(st.integers(0, 20))
    via_stack = draw(st.booleans())
    spill = f"stxdw [%r10-16], %r7\nmov %r7, 0\n" if via_stack else ""
    fill = "ldxdw %r7, [%r10-16]\n" if via_stack else ""
    return (f"call 7\njeq %r0, 0, a{n}\nmov %r7, {k1}\nja b{n}\na{n}:\nmov %r7, {k2}\nb{n}:\n{spill}"
            "stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nldmap %r1, hash\ncall 1\n"
            f"jeq %r0, 0, out{n}\n{fill}add %r0, %r7\nldxb %r1, [%r0]\nout{n}:\n")


GADGETS = [_join, _packet, _map_value, _var_index, _stack, _context, _loop, _ringbuf, _alu_then_index]


@st.composite
def xdp_programs(draw) -> str:
    """An XDP program of one to three gadgets; r6 keeps the context throughout."""
    count = draw(st.integers(1, 3))
    parts = ["mov %r6, %r1"]
    for n in range(count):
        parts.append(draw(st.sampled_from(GADGETS))(draw, n))
    parts.append("mov %r0, 2\nexit")
    return "\n".join(parts)


POINTER_PROLOGUE = """mov %r6, %r1
stw [%r10-4], 1
mov %r2, %r10
add %r2, -4
ldmap %r1, hash
call 1
jeq %r0, 0, out
mov %r7, %r0
call 7
mov %r9, %r0
and %r9, {mask}
ldxw %r2, [%r6]
ldxw %r3, [%r6+4]
mov %r4, %r2
add %r4, 32
jgt %r4, %r3, out
mov %r8, %r10
add %r8, -64
mov %r0, 0
mov %r5, 5
"""
_POOL = [0, 2, 3, 4, 5, 7, 8, 9]


@st.composite
def _pointer_op(draw) -> str:
    kind = draw(st.sampled_from(["alu_imm", "alu_reg", "ld", "st", "stx", "jmp", "mov"]))
    d, s = draw(st.sampled_from(_POOL)), draw(st.sampled_from(_POOL))
    imm = draw(st.sampled_from([0, 1, 4, 8, 15, 16, 31, 32, -1, -8, 64]))
    op = draw(st.sampled_from(["add", "sub", "and", "or", "lsh", "rsh", "mul", "add32", "xor",
                               "arsh"]))
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.sampled_from([-8, -1, 0, 1, 4, 8, 12, 16, 24, 28, 31, 32]))
    if kind == "alu_imm":
        if op in ("lsh", "rsh", "arsh") and not 0 <= imm < 32:
            imm = 3
        return f"{op} %r{d}, {imm}"
    if kind == "alu_reg":
        return f"{op} %r{d}, %r{s}"
    if kind == "mov":
        return f"mov %r{d}, %r{s}"
    if kind == "ld":
        return f"ldx{SIZES[size]} %r{d}, [%r{s}{off:+d}]"
    if kind == "st":
        return f"st{SIZES[size]} [%r{d}{off:+d}], {imm}"
    if kind == "stx":
        return f"stx{SIZES[size]} [%r{d}{off:+d}], %r{s}"
    jump = draw(st.sampled_from(["jgt", "jlt", "jsgt", "jeq", "jne", "jle", "jge32", "jlt32"]))
    return f"{jump} %r{d}, %r{s}, +1" if draw(st.booleans()) else f"{jump} %r{d}, {imm}, +1"


@st.composite
def pointer_programs(draw) -> str:
    """XDP programs that mix a packet pointer (32 bytes proven), a map value, a stack pointer and a
    bounded scalar through random ALU, load, store and branch instructions."""
    mask = draw(st.sampled_from([7, 15, 31, 63, 255]))
    ops = draw(st.lists(_pointer_op(), min_size=1, max_size=8))
    return POINTER_PROLOGUE.format(mask=mask) + "\n".join(ops) + "\nout:\nmov %r0, 2\nexit"


@st.composite
def call_programs(draw) -> str:
    """Chains of one to nine bpf-to-bpf calls passing stack pointers down, with stack use per frame,
    reads/writes through the argument and various return values."""
    depth = draw(st.integers(1, 9))
    lines: list[str] = []
    for i in range(depth + 1):
        if i:
            lines.append(f"f{i}:")
        lines.append(f"stdw [%r10-{draw(st.sampled_from([8, 64, 128, 256, 300, 400]))}], 0")
        act = draw(st.sampled_from(["none", "write_arg", "read_arg", "ret_arg", "ret_own"]))
        off = draw(st.sampled_from([-8, -16, 0, 8, -520]))
        if i and act == "write_arg":
            lines.append(f"stdw [%r1{off:+d}], 1")
        if i and act == "read_arg":
            lines.append(f"ldxdw %r0, [%r1{off:+d}]")
        if i < depth:
            lines += ["mov %r1, %r10", f"add %r1, {draw(st.sampled_from([-8, -64, -16]))}",
                      f"call local f{i + 1}"]
            if draw(st.booleans()):
                lines.append("ldxdw %r0, [%r10-8]")
        if act == "ret_own":
            lines.append("mov %r0, %r10")
        elif act == "ret_arg" and i:
            lines.append("mov %r0, %r1")
        else:
            lines.append("mov %r0, 0")
        lines.append("exit")
    return "\n".join(lines)


_SCALAR_ALU = ["add", "sub", "mul", "and", "or", "xor", "lsh", "rsh", "arsh", "mov", "add32",
               "sub32", "mul32", "and32", "or32", "xor32", "lsh32", "rsh32", "arsh32", "mov32"]
_SCALAR_UNARY = ["neg", "neg32", "le16", "be16", "be32", "le32"]
_SCALAR_JMP = ["jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jeq", "jne", "jset",
               "jgt32", "jge32", "jlt32", "jle32", "jsgt32", "jsge32", "jslt32", "jsle32", "jeq32",
               "jne32", "jset32"]
_SCALAR_IMMS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 255, -1, -2, -16, 0x7FFFFFFF, -0x80000000, 1 << 20]


@st.composite
def _scalar_op(draw) -> str:
    r, s = draw(st.sampled_from([6, 7, 8])), draw(st.sampled_from([6, 7, 8]))
    if draw(st.booleans()):
        op = draw(st.sampled_from(_SCALAR_ALU + _SCALAR_UNARY))
        if op in _SCALAR_UNARY:
            return f"{op} %r{r}"
        if draw(st.booleans()):
            return f"{op} %r{r}, %r{s}"
        imm = draw(st.integers(0, 31)) if op.startswith(("lsh", "rsh", "arsh")) \
            else draw(st.sampled_from(_SCALAR_IMMS))
        return f"{op} %r{r}, {imm}"
    jump = draw(st.sampled_from(_SCALAR_JMP))
    if draw(st.booleans()):
        return f"{jump} %r{r}, %r{s}, out"
    return f"{jump} %r{r}, {draw(st.sampled_from(_SCALAR_IMMS))}, out"


@st.composite
def scalar_programs(draw) -> str:
    """Random scalar arithmetic and comparisons (64- and 32-bit) on unknown, masked and constant
    values, then one of them used as an index into a 4 KiB map value: agreement here means the
    range tracking is never more optimistic than the kernel's."""
    ops = draw(st.lists(_scalar_op(), min_size=1, max_size=7))
    mask = draw(st.sampled_from([15, 255, 4095, 65535, -1]))
    const = draw(st.sampled_from([0, 5, 100, 4095, -3]))
    idx = draw(st.sampled_from([6, 7, 8]))
    return (f"call 7\nmov %r6, %r0\ncall 7\nmov %r7, %r0\nand %r7, {mask}\nmov %r8, {const}\n"
            + "\n".join(ops) + "\nstw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\n"
            "ldmap %r1, big\ncall 1\njeq %r0, 0, out\n"
            f"add %r0, %r{idx}\nldxb %r1, [%r0]\nout:\nmov %r0, 2\nexit")


HELPER_PROLOGUE = """mov %r6, %r1
stdw [%r10-8], 0
stdw [%r10-16], 0
stdw [%r10-24], 0
stdw [%r10-32], 0
stw [%r10-36], 1
mov %r2, %r10
add %r2, -36
ldmap %r1, hash
call 1
jeq %r0, 0, out
mov %r7, %r0
{packet}
"""
_PACKET = {6: "ldxw %r8, [%r6]\nldxw %r9, [%r6+4]\nmov %r4, %r8\nadd %r4, 16\njgt %r4, %r9, out",
           3: "ldxw %r8, [%r6+76]\nldxw %r9, [%r6+80]\nmov %r4, %r8\nadd %r4, 16\njgt %r4, %r9, out",
           5: "mov %r8, %r10\nadd %r8, -64\nmov %r9, %r10"}
_ARG_VALUES = {
    "ctx": "mov %r{r}, %r6", "fp8": "mov %r{r}, %r10\nadd %r{r}, -8",
    "fp32": "mov %r{r}, %r10\nadd %r{r}, -32", "fp4": "mov %r{r}, %r10\nadd %r{r}, -4",
    "fp_bad": "mov %r{r}, %r10\nadd %r{r}, 8", "mapv": "mov %r{r}, %r7",
    "mapv12": "mov %r{r}, %r7\nadd %r{r}, 12", "pkt": "mov %r{r}, %r8", "pkt_end": "mov %r{r}, %r9",
    "pkt12": "mov %r{r}, %r8\nadd %r{r}, 12", "k0": "mov %r{r}, 0", "k4": "mov %r{r}, 4",
    "k8": "mov %r{r}, 8", "k16": "mov %r{r}, 16", "k64": "mov %r{r}, 64", "kneg": "mov %r{r}, -1",
    "map_hash": "ldmap %r{r}, hash", "map_arr": "ldmap %r{r}, arr", "map_rb": "ldmap %r{r}, rb",
    "map_perf": "ldmap %r{r}, perf", "map_progs": "ldmap %r{r}, progs", "ro": "ldmap %r{r}, ro + 0",
}
_UNKNOWN_ARGS = {"unk": "call 7", "unk15": "call 7\nand %r0, 15"}
_HELPERS = [1, 2, 3, 4, 5, 6, 12, 14, 16, 23, 25, 28, 44, 51, 65, 113, 130]


@st.composite
def helper_programs(draw) -> tuple[str, int]:
    """(program, type): one helper call with each argument drawn from pointers of every kind,
    constants, bounded and unknown scalars, in XDP, tc or tracepoint programs."""
    prog_type = draw(st.sampled_from([6, 3, 5]))
    helper = draw(st.sampled_from(_HELPERS))
    args = [draw(st.sampled_from(sorted(_ARG_VALUES) + sorted(_UNKNOWN_ARGS)))
            for _ in range(draw(st.integers(0, 5)))]
    lines = []
    for i, a in enumerate(args):              # helper calls clobber r1-r5: compute these first
        if a in _UNKNOWN_ARGS:
            lines += [_UNKNOWN_ARGS[a], f"stxdw [%r10-{48 + 8 * i}], %r0"]
    for i, a in enumerate(args):
        lines.append(f"ldxdw %r{i + 1}, [%r10-{48 + 8 * i}]" if a in _UNKNOWN_ARGS
                     else _ARG_VALUES[a].format(r=i + 1))
    text = (HELPER_PROLOGUE.format(packet=_PACKET[prog_type]) + "\n".join(lines)
            + f"\ncall {helper}\nout:\nmov %r0, 2\nexit")
    return text, prog_type
