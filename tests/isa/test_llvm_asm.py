"""The assembler's llvm-objdump syntax, checked against llvm-mc-19 assembling the same text,
and its errors (line and column).
Runs llvm-mc in temporary directories only; never touches the kernel."""
from __future__ import annotations

import re

import pytest

from pybpf.errors import AssemblerError
from pybpf.isa import Instruction, encode
from pybpf.isa.asm import assemble

from isa_llvm_tools import llvm_assemble

# Every instruction form of llvm's BPF syntax, written the way a person would (decimal, odd spacing).
LLVM_FORMS = """\
r1 = *(u64 *)(r2 - 0x8000)
w1 = *(u8 *)(r2 + 7)
r1 = *(u32 *)(r2 + 0x7fff)
r1 = *(s16 *)(r2 + 7)
r1 = *(s8 *)(r2 - 1)
r1 = *(s32 *)(r2 + 0)
*(u8 *)(r10 - 1) = w3
*(u32 *)(r10 - 1) = r3
*(u64 *)(r10 - 8) = r9
*(u16 *)(r10 - 2) = -5
*(u64 *)(r1 + 0) = 0x7fffffff
lock *(u32 *)(r1 + 4) += w2
lock *(u32 *)(r1 + 4) += r2
lock *(u64 *)(r1 + 4) |= r2
lock *(u64 *)(r1 - 4) &= r2
lock *(u32 *)(r1 + 4) ^= w2
w2 = atomic_fetch_or((u32 *)(r1 + 4), w2)
r2 = atomic_fetch_add((u64 *)(r1 + 4), r2)
r2 = atomic_fetch_xor((u64 *)(r1 + 4), r2)
w2 = atomic_fetch_and((u32 *)(r1 + 4), w2)
w0 = cmpxchg32_32(r1 + 4, w0, w2)
r0 = cmpxchg_64(r1 - 4, r0, r2)
r2 = xchg_64(r1 + 4, r2)
w2 = xchg32_32(r1 + 4, w2)
r1 = addr_space_cast(r2, 0x0, 0x1)
r3 = addr_space_cast(r4, 1, 0)
r1 = (s32)r2
r1 = (s8)r2
w1 = (s16)w2
w1 = (s8)w2
w1 s%= -3
r1 s/= r2
w1 s/= 7
r1 %= r2
w1 /= w2
r1 s>>= r3
w1 s>>= 3
r1 <<= 63
w1 >>= w2
r1 ^= -1
r1 |= 0x10
w1 &= 0xffff
r1 += -0x80000000
w1 -= w9
r1 *= 1000003
r1 = bswap64 r1
r1 = bswap16 r1
r1 = le16 r1
r1 = be32 r1
r1 = be64 r1
w1 = -w1
r1 = -r1
r1 = r10
w1 = w2
w3 = 0xffffffff
r3 = 0xffffffff
r3 = 2147483648
if w1 s< -7 goto -1
if r1 & r2 goto +0x7fff
if r1 == 0 goto +0
if r1 != r2 goto -32768
if w1 > w2 goto +1
if w1 >= 5 goto +1
if r1 < 5 goto +1
if r1 <= r2 goto +1
if r1 s> r2 goto +1
if w1 s>= -1 goto +1
if r1 s<= 0x7fffffff goto +1
goto +1
goto -1
gotol +1000
gotol -1
may_goto +3
r0 = *(u16 *)skb[r3]
r0 = *(u8 *)skb[0x10]
r0 = *(u32 *)skb[-4]
r0 = 0x8000000000000000 ll
r9 = -1 ll
ld_pseudo r1, 2, 7
ld_pseudo r1, 1, -1
call 5
call 0x83
callx r3
exit"""


@pytest.mark.parametrize("line", LLVM_FORMS.splitlines())
def test_instruction_assembles_like_llvm_mc(line):
    assert encode(assemble(line)).hex() == llvm_assemble(line).hex()


def test_a_whole_program_with_labels_assembles_like_llvm_mc():
    text = """\
entry:
  r0 = 0
  if r1 == 0 goto done
loop:
  r0 += r1
  r1 += -1
  if r1 != 0 goto loop
  call sub
  gotol done
done:
  exit
sub:
  w0 = 7
  exit"""
    assert encode(assemble(text)) == llvm_assemble(text)


def test_call_to_a_label_is_a_bpf_to_bpf_call():
    insns = assemble("call f\nexit\nf:\nexit")
    assert insns[0] == Instruction(0x85, src=1, imm=1)


def test_lossless_call_spellings_read_back():
    assert assemble("call pc+0x3")[0] == Instruction(0x85, src=1, imm=3)
    assert assemble("call pc-0x1")[0] == Instruction(0x85, src=1, imm=-1)
    assert assemble("call kfunc 0x4d2")[0] == Instruction(0x85, src=2, imm=1234)
    assert assemble("call kfunc 0x4d2, 0x3")[0] == Instruction(0x85, src=2, off=3, imm=1234)
    assert assemble("ld_pseudo\tr1, 0x2, 0x5, 0x7")[0] == Instruction(0x18, 1, 2, 0, 5 | 7 << 32)


def test_jump_target_annotations_are_ignored():
    assert assemble("goto +0x2 <f+0x70>") == assemble("goto +0x2")


def test_both_syntaxes_mix_in_one_text():
    assert assemble("mov %r0, 1\nr0 += 2\nexit") == assemble("r0 = 1\nr0 += 2\nexit")


@pytest.mark.parametrize("text,line,column,message", [
    ("r0 = 0\nr11 = 1", 2, 1, "invalid register 'r11'"),
    ("exit\n  r1 = *(u64 *)(r1 + 0x10000)", 2, 20, "offset"),
    ("if r1 == w2 goto +1", 1, 10, "expected a 64-bit (rN) register"),
    ("w1 = *(u64 *)(r1 + 0)", 1, 1, "only u8/u16/u32"),
    ("r0 = 1\nfrobnicate r1", 2, 1, "unknown mnemonic 'frobnicate'"),
    ("r1 = 0x100000000", 1, 6, "does not fit in 32 bits"),
    ("goto nowhere", 1, 6, "undefined label 'nowhere'"),
    ("r1 = atomic_fetch_add((u64 *)(r2 + 0), r3)", 1, 1, "same register"),
    ("r1 += ", 1, 1, "cannot parse"),
])
def test_errors_name_line_and_column(text, line, column, message):
    with pytest.raises(AssemblerError, match=re.escape(message)) as info:
        assemble(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(info.value)
