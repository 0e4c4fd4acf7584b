"""Assembly programs with BTF func_info: C-like prototypes for each subprogram, global or static.

Test support for global-function verification: the kernel only treats a subprogram as global when
the program is loaded with BTF whose FUNC for it has BTF_FUNC_GLOBAL linkage, so these helpers
build that BTF from short prototypes ("int f(u32 *p, u64 n)") and give both verdicts (the
kernel's, through kernel_oracle.load, and pybpf's). Never used by the library itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from asm_util import MAPS, prog
from pybpf.btf import BTF
from pybpf.btf.types import LINKAGE_GLOBAL, LINKAGE_STATIC
from pybpf.isa import Instruction
from pybpf.isa.opcodes import PseudoSrc
from pybpf.verifier import VerifierResult, verify
from pybpf.verifier.cfg import analyse_shape

_SCALARS = {"int": (4, True), "u32": (4, False), "u64": (8, False), "long": (8, True),
            "u8": (1, False), "char": (1, True), "u16": (2, False)}
# struct name -> (size, [(member, scalar type, byte offset)])
_STRUCTS = {
    "val": (8, [("a", "u32", 0), ("b", "u32", 4)]),
    "big": (32, [("x0", "u64", 0), ("x1", "u64", 8), ("x2", "u64", 16), ("x3", "u64", 24)]),
    "xdp_md": (24, [("data", "u32", 0), ("data_end", "u32", 4), ("data_meta", "u32", 8),
                    ("ingress_ifindex", "u32", 12), ("rx_queue_index", "u32", 16),
                    ("egress_ifindex", "u32", 20)]),
    "__sk_buff": (192, [("len", "u32", 0)]),
    "bpf_perf_event_data": (184, [("sample_period", "u64", 168)]),
}
_PROTO = re.compile(r"^\s*(static\s+)?(.+?)\s*(\w+)\s*\((.*)\)\s*$")
_LDFUNC = re.compile(r"ldfunc %r(\d+), (\w+)")


@dataclass
class BTFProgram:
    """Instructions plus the BTF and func_info records (slot, FUNC type id) that type them."""
    instructions: list[Instruction]
    btf: BTF
    func_info: list[tuple[int, int]]

    def kernel(self, prog_type: int = 6, maps: dict | None = None):  # noqa: ANN201
        from kernel_oracle import load
        return load(self.instructions, prog_type, MAPS if maps is None else maps,
                    btf=self.btf.to_bytes(), func_info=self.func_info)

    def pybpf(self, prog_type: int = 6, maps: dict | None = None, **kw) -> VerifierResult:
        return verify(self.instructions, prog_type=prog_type,
                      maps=MAPS if maps is None else maps, func_info=self.func_info,
                      prog_btf=self.btf, raise_on_reject=False, **kw)


class _Types:
    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self.ids: dict[str, int] = {}

    def get(self, text: str) -> int:
        text = " ".join(text.replace("*", " * ").split())
        if text in self.ids:
            return self.ids[text]
        if text.endswith("*"):
            tid = self.btf.add_ptr(self.get(text[:-1]))
        elif text.startswith("const "):
            tid = self.btf.add_const(self.get(text[6:]))
        elif text == "void":
            return 0
        elif text == "bool":
            tid = self.btf.add_int("_Bool", 1, bool_=True, bits=8)
        elif text == "fn":
            tid = self.btf.add_func_proto(self.get("int"), [])
        elif text.startswith("enum "):
            tid = self.btf.add_enum(text[5:], {"E0": 0, "E1": 1})
        elif text.startswith("struct "):
            size, members = _STRUCTS[text[7:]]
            tid = self.btf.add_struct(text[7:], size,
                                      [(n, self.get(t), off * 8) for n, t, off in members])
        else:
            size, signed = _SCALARS[text]
            tid = self.btf.add_int(text, size, signed=signed)
        self.ids[text] = tid
        return tid


def _param(text: str) -> tuple[str, str, list[str]]:
    """'u32 *p @nonnull' -> ('u32 *', 'p', ['nonnull'])."""
    tags = re.findall(r"@(\w+)", text)
    text = re.sub(r"@\w+", "", text).strip()
    m = re.match(r"^(.*?)(\w+)$", text)
    assert m, text
    return m.group(1).strip(), m.group(2), tags


def _assemble(text: str) -> list[Instruction]:
    """prog(), plus ``ldfunc %rN, LABEL``: a callback address (LDDW src=FUNC)."""
    regs: list[int] = []

    def rep(m: re.Match) -> str:        # a 2-slot stand-in whose call imm gives the offset
        regs.append(int(m.group(1)))
        return f"call local {m.group(2)}\nja +0"

    insns = prog(_LDFUNC.sub(rep, text))
    out: list[Instruction] = []
    skip = False
    for i, insn in enumerate(insns):
        if skip:
            skip = False
            continue
        if insn.is_pseudo_call and i + 1 < len(insns) and insns[i + 1].opcode == 0x05 \
                and insns[i + 1].off == 0 and regs:
            lddw = prog(f"lddw %r{regs.pop(0)}, 0")[0]
            out.append(lddw.with_(src=PseudoSrc.FUNC, imm=insn.imm))
            skip = True
            continue
        out.append(insn)
    return out


def build(text: str, prototypes: list[str]) -> BTFProgram:
    """Assemble ``text`` and type its subprograms, in address order, with ``prototypes``
    ("int main(struct xdp_md *ctx)", "static int f(u32 x)", ...); ``@tag`` after a parameter adds
    an ``arg:tag`` decl tag; ``ldfunc %rN, LABEL`` loads a callback's address."""
    insns = _assemble(text)
    starts = analyse_shape(insns).subprog_starts
    assert len(starts) == len(prototypes), (starts, prototypes)
    btf = BTF()
    types = _Types(btf)
    info = []
    for start, proto in zip(starts, prototypes):
        m = _PROTO.match(proto)
        assert m, proto
        static, ret, name, params = m.groups()
        parsed = [_param(p) for p in params.split(",") if p.strip() and p.strip() != "void"]
        proto_id = btf.add_func_proto(types.get(ret), [(n, types.get(t)) for t, n, _ in parsed])
        func = btf.add_func(name, proto_id, LINKAGE_STATIC if static else LINKAGE_GLOBAL)
        for i, (_, _, tags) in enumerate(parsed):
            for tag in tags:
                btf.add_decl_tag(f"arg:{tag}", func, i)
        info.append((start, func))
    return BTFProgram(insns, btf, info)
