"""Translates one eBPF program (RFC 9669, the interpreter's semantics) into an LLVM IR module.

Produces IR text only: it never compiles, never runs code and never touches VM memory. Every memory
access in the generated code goes through the region table (bounds and writability checked) except
fixed-offset accesses through an unmodified r10, which are proven inside the 512-byte frame, and
accesses the verifier's ``Proof`` places inside one region (host address from the row, no bounds
checks).

Generated function: ``u64 bpf_<key>(u64 *rt, u64 *regs, u64 entry_pc)`` — registers in/out through
``regs[0..10]``, status code returned (see layout), ``entry_pc`` selects a function entry (0, a
bpf-to-bpf call target or a callback).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llvmlite import ir

from ...errors import JITError
from ...isa.instruction import Instruction
from ...isa.opcodes import LDDW, ALUOp, AtomicOp, Class, JumpOp, Mode, PseudoSrc, Source
from ..context import ETH_HLEN, XDP_FRAME_STRUCT
from . import layout as L
from .irtypes import (I1, I8, I16, I32, I64, P64, M64, M32, HASH_ABSENT, LIKELY, c64 as _c64,
                      c32 as _c32)
from . import native_env, native_lookup, native_ringbuf
from .native_csum import emit_csum_diff
from .native_foreach import emit_for_each
from .native_lock import emit_spin_lock, emit_spin_unlock
from .native_queue import emit_peek_elem, emit_pop_elem, emit_push
from .proof import ALWAYS_WRITABLE, NO_PROOF, Proof

MAX_FRAMES = 8
FRAME_WORDS = 6                       # return pc, r6..r9, r10
STACK_SIZE = 512
MAX_LOOPS = 1 << 23                    # bpf_loop's limit (BPF_MAX_LOOPS)
_INT = {1: I8, 2: I16, 4: I32, 8: I64}
_CB_TYPE = ir.FunctionType(I64, [I64])
_HOOK_RESULT = ir.LiteralStructType([I1, I64])       # hook_lookup: (found, value)

_CMP_UNSIGNED = {JumpOp.JEQ: "==", JumpOp.JNE: "!=", JumpOp.JGT: ">", JumpOp.JGE: ">=",
                 JumpOp.JLT: "<", JumpOp.JLE: "<="}
_CMP_SIGNED = {JumpOp.JSGT: ">", JumpOp.JSGE: ">=", JumpOp.JSLT: "<", JumpOp.JSLE: "<="}
_RMW = {AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor"}
JCOND = 0xE0
# helpers emitted by their own modules: emit(gen, done) leaves gen.b at the Python fallback
_NATIVE_B = {L.HELPER_FOR_EACH_MAP_ELEM: emit_for_each, L.HELPER_CSUM_DIFF: emit_csum_diff,
             L.HELPER_SPIN_LOCK: emit_spin_lock, L.HELPER_SPIN_UNLOCK: emit_spin_unlock,
             L.HELPER_MAP_PUSH: emit_push, L.HELPER_MAP_POP: emit_pop_elem,
             L.HELPER_MAP_PEEK: emit_peek_elem}


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


def _writes_r10(insn: Instruction) -> bool:
    cls = insn.cls
    if cls in (Class.ALU, Class.ALU64, Class.LDX) or insn.opcode == LDDW:
        return insn.dst == 10
    if insn.is_atomic and insn.imm & AtomicOp.FETCH:
        return insn.src == 10
    return False


class _Gen:
    def __init__(self, insns: Sequence[Instruction], slot_to_index: dict[int, int], fname: str,
                 proof: Proof) -> None:
        self.insns = insns
        self.proof = proof
        self.slots = slot_to_index
        self.total = sum(i.slots for i in insns)
        self.module = ir.Module(name=fname)
        self.module.triple = ""
        fnty = ir.FunctionType(I64, [P64, P64, I64])
        self.fn = ir.Function(self.module, fnty, name=fname)
        self.rt, self.regs_io, self.entry_pc = self.fn.args
        self.fp_fixed = not any(_writes_r10(i) for i in insns)
        self.hook_fn = self._hook_lookup_fn()
        self.lddw_index: dict[int, int] = {}
        n = 0
        for slot, index in sorted(slot_to_index.items()):
            insn = insns[index]
            if insn.opcode == LDDW and insn.src != PseudoSrc.IMM64:
                self.lddw_index[slot] = n
            if insn.opcode == LDDW:
                n += 1
        self.lddw_count = n

    # --- small IR helpers ---------------------------------------------------------------------
    def tbaa(self, kind: str) -> ir.MDValue:
        """TBAA access tag: "vm" (program memory), "table" (region rows), "rt" (runtime block).
        The three never overlap (program accesses are bounds-checked into VM regions, separate
        buffers), so LLVM may keep region rows and rt words across program stores."""
        tags = self.__dict__.setdefault("_tbaa", {})
        if kind not in tags:
            if "" not in tags:
                tags[""] = self.module.add_metadata(["pybpf tbaa"])
            node = self.module.add_metadata([kind, tags[""], ir.Constant(I64, 0)])
            tags[kind] = self.module.add_metadata([node, node, ir.Constant(I64, 0)])
        return tags[kind]

    def rt_ptr(self, b: ir.IRBuilder, index: int) -> ir.Value:
        return b.gep(self.rt, [_c64(index)])

    def rt_load(self, b: ir.IRBuilder, index: int) -> ir.Value:
        value = b.load(self.rt_ptr(b, index))
        value.set_metadata("tbaa", self.tbaa("rt"))
        return value

    def rt_store(self, b: ir.IRBuilder, index: int, value: ir.Value) -> None:
        b.store(value, self.rt_ptr(b, index)).set_metadata("tbaa", self.tbaa("rt"))

    def reg(self, r: int) -> ir.Value:
        return self.b.load(self.R[r])

    def set_reg(self, r: int, v: ir.Value) -> None:
        self.b.store(v, self.R[r])

    def _hook_lookup_fn(self) -> ir.Function:
        """{i1 found, u64 value} hook(u64 *rt, u64 slot, u64 off, u64 size): a rewritten ctx
        field's value. It only reads memory (declared so), so row and value loads the program
        made before a ctx load stay valid after it."""
        fn = ir.Function(self.module, ir.FunctionType(_HOOK_RESULT, [P64, I64, I64, I64]),
                         name="hook_lookup")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        fn.attributes.add("cold")
        fn.attributes.add("readonly")
        fn.attributes.add("nounwind")
        rt, slot, off, size = fn.args
        entry, head, body, found, next_, miss = (fn.append_basic_block(n) for n in
                                                 ("entry", "head", "body", "found", "next", "miss"))
        b = ir.IRBuilder(entry)
        hooks = b.inttoptr(b.load(b.gep(rt, [_c64(L.RT_HOOKS)])), P64)
        count = b.load(b.gep(rt, [_c64(L.RT_HOOKS_LEN)]))
        b.branch(head)
        b = ir.IRBuilder(head)
        i = b.phi(I64)
        i.add_incoming(_c64(0), entry)
        b.cbranch(b.icmp_unsigned("<", i, count), body, miss)
        b = ir.IRBuilder(body)
        row = b.mul(i, _c64(4))
        eq = b.and_(b.icmp_unsigned("==", b.load(b.gep(hooks, [row])), slot),
                    b.and_(b.icmp_unsigned("==", b.load(b.gep(hooks, [b.add(row, _c64(1))])), off),
                           b.icmp_unsigned("==", b.load(b.gep(hooks, [b.add(row, _c64(2))])), size)))
        b.cbranch(eq, found, next_)
        b = ir.IRBuilder(found)
        value = b.load(b.gep(hooks, [b.add(row, _c64(3))]))
        b.ret(b.insert_value(ir.Constant(_HOOK_RESULT, [ir.Constant(I1, 1), _c64(0)]), value, 1))
        b = ir.IRBuilder(next_)
        nxt = b.add(i, _c64(1))
        i.add_incoming(nxt, next_)
        b.branch(head)
        b = ir.IRBuilder(miss)
        b.ret(ir.Constant(_HOOK_RESULT, [ir.Constant(I1, 0), _c64(0)]))
        return fn

    # --- function skeleton ---------------------------------------------------------------------
    def leaders(self) -> tuple[set[int], set[int], set[int]]:
        """(block starts, function entries, call return sites)."""
        starts, entries, returns = {0}, {0}, set()
        for slot, index in self.slots.items():
            insn = self.insns[index]
            nxt = slot + insn.slots
            if insn.is_pseudo_func:
                entries.add(slot + _s32(insn.imm) + 1)
            if not insn.is_jump:
                continue
            op = insn.jump_op
            if op == JumpOp.CALL:
                if insn.is_pseudo_call:
                    entries.add(slot + insn.imm + 1)
                returns.add(nxt)
                starts.add(nxt)
            elif op == JumpOp.EXIT:
                starts.add(nxt)
            else:
                starts.add(slot + insn.jump_offset + 1 if op != JCOND else slot + insn.off + 1)
                starts.add(nxt)
        starts |= entries
        return ({s for s in starts if s in self.slots or s == self.total}, entries, returns)

    def build(self) -> ir.Module:
        starts, entries, returns = self.leaders()
        self.entries = {e for e in entries if e in self.slots and e != 0}
        self.returns = sorted(r for r in returns if r in self.slots)
        fn = self.fn
        entry = fn.append_basic_block("entry")
        self.blocks = {s: fn.append_basic_block(f"pc{s}") for s in sorted(starts) if s in self.slots}
        self.fell_off = fn.append_basic_block("fell_off")
        self.ret_block = fn.append_basic_block("ret")
        b = self.b = ir.IRBuilder(entry)
        self.R = [b.alloca(I64, name=f"r{i}") for i in range(11)]
        self.frames = b.alloca(I64, size=MAX_FRAMES * FRAME_WORDS, name="frames")
        self.lf = b.alloca(I64, name="lf")
        self.cb_regs = b.alloca(I64, size=11, name="callback_regs")
        self.tmp = b.alloca(I64, name="tmp")
        self.depth0 = self.rt_load(b, L.RT_DEPTH)
        b.store(_c64(0), self.lf)
        for i in range(11):
            b.store(b.load(b.gep(self.regs_io, [_c64(i)])), self.R[i])
        self.fp_host = None
        if self.fp_fixed:
            self.fp_host = b.alloca(I64, name="fp_host")
            self._set_fp_host(b)
        # return block
        rb = ir.IRBuilder(self.ret_block)
        self.status = rb.phi(I64, name="status")
        self.rt_store(rb, L.RT_DEPTH, self.depth0)
        for i in range(11):
            rb.store(rb.load(self.R[i]), rb.gep(self.regs_io, [_c64(i)]))
        rb.ret(self.status)
        self.fault_exit = fn.append_basic_block("fault_exit")
        self._leave(ir.IRBuilder(self.fault_exit), L.ST_FAULT, None)
        # entry dispatch
        sw = b.switch(self.entry_pc, self.fell_off)
        for e in sorted(entries):
            if e in self.blocks:
                sw.add_case(_c64(e), self.blocks[e])
        fb = ir.IRBuilder(self.fell_off)
        self._leave(fb, L.ST_FELL_OFF, pc=None)
        # bodies
        order = sorted(self.slots)
        current: int | None = None
        for slot in order:
            if slot in self.blocks:
                if current is not None and not self.b.block.is_terminated:
                    self.b.branch(self.blocks[slot])
                self.b = ir.IRBuilder(self.blocks[slot])
                current = slot
            if self.b.block.is_terminated:
                continue                      # unreachable code after a jump (no label)
            self.pc = slot
            self.emit(self.insns[self.slots[slot]], slot)
        if not self.b.block.is_terminated:
            self.b.branch(self.fell_off)
        return self.module

    def _set_fp_host(self, b: ir.IRBuilder) -> None:
        tops = b.inttoptr(self.rt_load(b, L.RT_STACK_HOST), P64)
        depth = self.rt_load(b, L.RT_DEPTH)
        b.store(b.load(b.gep(tops, [depth])), self.fp_host)

    def site_fault(self, addr: ir.Value, info: ir.Value) -> ir.Block:
        """A cold block of this access site that records the fault (address, size/write, pc)
        and leaves. Per site rather than one shared block with phis: a phi would keep every
        site's address alive in a stack slot on the hot path."""
        block = self.new_block("fault_at")
        fb = ir.IRBuilder(block)
        self.rt_store(fb, L.RT_FAULT_ADDR, addr)
        self.rt_store(fb, L.RT_FAULT_INFO, info)
        self.rt_store(fb, L.RT_PC, _c64(self.pc))
        fb.branch(self.fault_exit)
        return block

    def _leave(self, b: ir.IRBuilder, status: int | ir.Value, pc: int | None) -> None:
        if pc is not None:
            self.rt_store(b, L.RT_PC, _c64(pc))
        self.status.add_incoming(_c64(status) if isinstance(status, int) else status, b.block)
        b.branch(self.ret_block)

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(f"{name}{self.pc}")

    def leave_if(self, cond: ir.Value, status: int, name: str) -> None:
        """Branch to a status return when ``cond`` holds; continue building in the other edge."""
        bad, ok = self.new_block(name), self.new_block("ok")
        self.b.cbranch(cond, bad, ok)
        self._leave(ir.IRBuilder(bad), status, self.pc)
        self.b = ir.IRBuilder(ok)

    # --- memory --------------------------------------------------------------------------------
    def address(self, base_reg: int, off: int, size: int, write: bool, *, hook_value: bool = False,
                ) -> tuple[ir.Value, ir.Value | None]:
        """Host pointer (as i64) for ``[base_reg + off]`` after the region checks; for loads from
        a hooked region also a flag block result (see load)."""
        b = self.b
        if self.fp_fixed and base_reg == 10 and -STACK_SIZE <= off and off + size <= 0:
            return b.add(b.load(self.fp_host), _c64(off)), None
        base = self.reg(base_reg)
        addr = b.add(base, _c64(off))
        kinds = self.proof.in_region(self.pc)
        if kinds is not None and self.pc in self.proof.base_in_region:
            # the base names the region: accesses through one register value share its row
            slot, offset = b.lshr(base, _c64(32)), b.add(b.and_(base, _c64(M32)), _c64(off))
        else:
            slot, offset = b.lshr(addr, _c64(32)), b.and_(addr, _c64(M32))
        if kinds is not None:
            return self.proven_address(addr, slot, offset, size, write and
                                       not kinds <= ALWAYS_WRITABLE), None
        table_len = self.rt_load(b, L.RT_TABLE_LEN)
        in_table = b.icmp_unsigned("<", slot, table_len)
        check = self.new_block("check")
        info = _c64(size | (L.FAULT_WRITE if write else 0))
        fault = self.site_fault(addr, info)
        b.cbranch(in_table, check, fault).set_weights([LIKELY, 1])
        b = self.b = ir.IRBuilder(check)
        table = b.inttoptr(self.rt_load(b, L.RT_TABLE), P64)
        row = b.mul(slot, _c64(L.ROW_WORDS))
        host, lo, hi, flags = (b.load(b.gep(table, [b.add(row, _c64(i))])) for i in range(4))
        for word in (host, lo, hi, flags):
            word.set_metadata("tbaa", self.tbaa("table"))
        badness = b.or_(b.icmp_unsigned("<", offset, lo),
                        b.icmp_unsigned(">", b.add(offset, _c64(size)), hi))
        if write:
            badness = b.or_(badness, b.icmp_unsigned("==", b.and_(flags, _c64(L.FLAG_WRITABLE)),
                                                     _c64(0)))
        ok = self.new_block("inbounds")
        b.cbranch(badness, fault, ok).set_weights([1, LIKELY])
        self.b = ir.IRBuilder(ok)
        hooked = None
        if hook_value:
            hooked = (slot, offset, flags)
        return self.b.add(host, offset), hooked        # type: ignore[return-value]

    def proven_address(self, addr: ir.Value, slot: ir.Value, offset: ir.Value, size: int,
                       check_writable: bool) -> ir.Value:
        """Host address of an access the verifier proved inside its region: the row's host base
        plus the offset, with no bounds checks (only writability, where asked)."""
        b = self.b
        table = b.inttoptr(self.rt_load(b, L.RT_TABLE), P64)
        row = b.mul(slot, _c64(L.ROW_WORDS))
        host = b.load(b.gep(table, [row]))
        host.set_metadata("tbaa", self.tbaa("table"))
        if check_writable:
            flags = b.load(b.gep(table, [b.add(row, _c64(3))]))
            flags.set_metadata("tbaa", self.tbaa("table"))
            readonly = b.icmp_unsigned("==", b.and_(flags, _c64(L.FLAG_WRITABLE)), _c64(0))
            ok = self.new_block("writable")
            fault = self.site_fault(addr, _c64(size | L.FAULT_WRITE))
            b.cbranch(readonly, fault, ok).set_weights([1, LIKELY])
            self.b = ir.IRBuilder(ok)
        return self.b.add(host, offset)

    def load(self, base_reg: int, off: int, size: int) -> ir.Value:
        """Zero-extended i64 loaded from VM memory (rewritten ctx fields give their full value)."""
        word = self.proof.xdp_field(self.pc, off, size)
        if word is not None:
            return self.xdp_field_load(base_reg, off, size, word)
        return self.checked_load(base_reg, off, size)

    def xdp_field_load(self, base_reg: int, off: int, size: int, word: int) -> ir.Value:
        """xdp_md->data / data_end / data_meta, proven a load from the run's context: the packet
        base plus the published XDP state word (what the rewritten field holds), while that
        state is published; otherwise the checked load through the field table."""
        b = self.b
        xdp = b.inttoptr(self.rt_load(b, L.RT_XDP), P64)

        def state(bb: ir.IRBuilder, i: int) -> ir.Value:
            value = bb.load(bb.gep(xdp, [_c64(i)]))
            value.set_metadata("tbaa", self.tbaa("rt"))
            return value

        fast, slow, join = (self.new_block(n) for n in ("xdp_field", "ctx_field", "field_done"))
        b.cbranch(b.icmp_unsigned("!=", state(b, L.XDP_VALID), _c64(0)), fast,
                  slow).set_weights([LIKELY, 1])
        fb = ir.IRBuilder(fast)
        value = fb.add(state(fb, L.XDP_BASE), state(fb, word))
        fb.branch(join)
        self.b = ir.IRBuilder(slow)
        checked = self.checked_load(base_reg, off, size)
        checked_block = self.b.block
        self.b.branch(join)
        self.b = ir.IRBuilder(join)
        phi = self.b.phi(I64)
        phi.add_incoming(value, fast)
        phi.add_incoming(checked, checked_block)
        return phi

    def checked_load(self, base_reg: int, off: int, size: int) -> ir.Value:
        """A load through the region table (hooked context fields answered by hook_lookup)."""
        hostaddr, hooked = self.address(base_reg, off, size, False, hook_value=True)
        b = self.b
        ty = _INT[size]
        if hooked is None:
            v = b.load(b.inttoptr(hostaddr, ty.as_pointer()), align=1)
            v.set_metadata("tbaa", self.tbaa("vm"))
            return v if size == 8 else b.zext(v, I64)
        slot, offset, flags = hooked
        is_hooked = b.icmp_unsigned("!=", b.and_(flags, _c64(L.FLAG_HOOKED)), _c64(0))
        hook_blk, plain_blk, join = (self.new_block(n) for n in ("hook", "plain", "join"))
        b.cbranch(is_hooked, hook_blk, plain_blk).set_weights([1, LIKELY])   # ctx fields only
        hb = ir.IRBuilder(hook_blk)
        result = hb.call(self.hook_fn, [self.rt, slot, offset, _c64(size)])
        found = hb.extract_value(result, 0)
        found_blk = self.new_block("hooked")
        hb.cbranch(found, found_blk, plain_blk)
        fb = ir.IRBuilder(found_blk)
        hv = fb.extract_value(result, 1)
        fb.branch(join)
        pb = ir.IRBuilder(plain_blk)
        v = pb.load(pb.inttoptr(hostaddr, ty.as_pointer()), align=1)
        v.set_metadata("tbaa", self.tbaa("vm"))
        v = v if size == 8 else pb.zext(v, I64)
        pb.branch(join)
        self.b = ir.IRBuilder(join)
        phi = self.b.phi(I64)
        phi.add_incoming(hv, found_blk)
        phi.add_incoming(v, plain_blk)
        return phi

    def store(self, base_reg: int, off: int, size: int, value: ir.Value) -> None:
        hostaddr, _ = self.address(base_reg, off, size, True)
        b = self.b
        v = value if size == 8 else b.trunc(value, _INT[size])
        b.store(v, b.inttoptr(hostaddr, _INT[size].as_pointer()), align=1).set_metadata(
            "tbaa", self.tbaa("vm"))

    # --- instructions ---------------------------------------------------------------------------
    def emit(self, insn: Instruction, pc: int) -> None:
        cls = insn.cls
        if cls in (Class.ALU, Class.ALU64):
            self.alu(insn)
        elif cls in (Class.JMP, Class.JMP32):
            self.jump(insn, pc)
        elif cls == Class.LDX:
            v = self.load(insn.src, insn.off, insn.size_bytes)
            if insn.mode == Mode.MEMSX and insn.size_bytes < 8:
                v = self.b.sext(self.b.trunc(v, _INT[insn.size_bytes]), I64)
            self.set_reg(insn.dst, v)
        elif cls == Class.ST:
            self.store(insn.dst, insn.off, insn.size_bytes, _c64(insn.imm))
        elif cls == Class.STX:
            if insn.mode == Mode.ATOMIC:
                self.atomic(insn)
            else:
                self.store(insn.dst, insn.off, insn.size_bytes, self.reg(insn.src))
        elif cls == Class.LD:
            if insn.opcode == LDDW:
                self.lddw(insn, pc)
            else:
                self.legacy_load(insn)
        else:                                    # pragma: no cover - every class handled
            raise JITError(f"unknown instruction class at slot {pc}")

    def lddw(self, insn: Instruction, pc: int) -> None:
        b = self.b
        if insn.src == PseudoSrc.IMM64:
            self.set_reg(insn.dst, _c64(insn.imm64))
            return
        consts = b.inttoptr(self.rt_load(b, L.RT_CONSTS), P64)
        self.set_reg(insn.dst, b.load(b.gep(consts, [_c64(self.lddw_index[pc])])))

    def alu(self, insn: Instruction) -> None:
        b = self.b
        wide = insn.cls == Class.ALU64
        ty = I64 if wide else I32
        bits = 64 if wide else 32
        op, d, s = insn.alu_op, insn.dst, insn.src
        a64 = self.reg(d)
        a = a64 if wide else b.trunc(a64, I32)
        if insn.source == Source.X:
            bv = self.reg(s) if wide else b.trunc(self.reg(s), I32)
        else:
            bv = _c64(insn.imm) if wide else _c32(insn.imm)
        zero, one, minus1 = ir.Constant(ty, 0), ir.Constant(ty, 1), ir.Constant(ty, -1)
        if op == ALUOp.ADD:
            r = b.add(a, bv)
        elif op == ALUOp.SUB:
            r = b.sub(a, bv)
        elif op == ALUOp.MUL:
            r = b.mul(a, bv)
        elif op == ALUOp.OR:
            r = b.or_(a, bv)
        elif op == ALUOp.AND:
            r = b.and_(a, bv)
        elif op == ALUOp.XOR:
            r = b.xor(a, bv)
        elif op == ALUOp.NEG:
            r = b.neg(a)
        elif op in (ALUOp.LSH, ALUOp.RSH, ALUOp.ARSH):
            count = b.and_(bv, ir.Constant(ty, bits - 1))
            r = {ALUOp.LSH: b.shl, ALUOp.RSH: b.lshr, ALUOp.ARSH: b.ashr}[ALUOp(op)](a, count)
        elif op in (ALUOp.DIV, ALUOp.MOD):
            is_zero = b.icmp_unsigned("==", bv, zero)
            if insn.off == 1:                      # sdiv / smod
                is_m1 = b.icmp_unsigned("==", bv, minus1)
                safe = b.select(b.or_(is_zero, is_m1), one, bv)
                if op == ALUOp.DIV:
                    r = b.select(is_zero, zero, b.select(is_m1, b.neg(a), b.sdiv(a, safe)))
                else:
                    r = b.select(is_zero, a, b.select(is_m1, zero, b.srem(a, safe)))
            else:
                safe = b.select(is_zero, one, bv)
                if op == ALUOp.DIV:
                    r = b.select(is_zero, zero, b.udiv(a, safe))
                else:
                    r = b.select(is_zero, a, b.urem(a, safe))
        elif op == ALUOp.MOV:
            if insn.source == Source.X and insn.off:
                w = ir.IntType(insn.off)
                r = b.sext(b.trunc(self.reg(s), w), ty) if insn.off < bits else self.reg(s)
            else:
                r = bv
        elif op == ALUOp.END:
            self.endian(insn)
            return
        else:
            raise JITError(f"unknown ALU operation {insn.opcode:#04x} at slot {self.pc}")
        self.set_reg(d, r if wide else b.zext(r, I64))

    def endian(self, insn: Instruction) -> None:
        b = self.b
        width = insn.imm
        if width not in (16, 32, 64):
            raise JITError(f"byte swap of width {width} at slot {self.pc}")
        v = self.reg(insn.dst)
        if insn.cls == Class.ALU and insn.source == Source.K:       # to little endian: truncate
            if width < 64:
                v = b.and_(v, _c64((1 << width) - 1))
            self.set_reg(insn.dst, v)
            return
        ty = ir.IntType(width)
        t = v if width == 64 else b.trunc(v, ty)
        swapped = b.call(self.module.declare_intrinsic("llvm.bswap", [ty]), [t])
        self.set_reg(insn.dst, swapped if width == 64 else b.zext(swapped, I64))

    def charge(self, pc: int, target: int) -> None:
        """Back-edge: take the loop body's length from the instruction budget."""
        if target > pc:
            return
        b = self.b
        left = b.sub(self.rt_load(b, L.RT_BUDGET), _c64(pc - target + 1))
        self.rt_store(b, L.RT_BUDGET, left)
        self.leave_if(b.icmp_signed("<", left, _c64(0)), L.ST_BUDGET, "budget")

    def jump(self, insn: Instruction, pc: int) -> None:
        op = insn.jump_op
        nxt = pc + 1
        if op == JumpOp.EXIT:
            self.exit()
            return
        if op == JumpOp.CALL:
            self.call(insn, pc)
            return
        b = self.b
        if op == JCOND:                                   # may_goto
            target = pc + insn.off + 1
            left = self.rt_load(b, L.RT_MAY_GOTO)
            exhausted = b.icmp_signed("<=", left, _c64(0))
            go_on = self.new_block("may_goto_dec")
            b.cbranch(exhausted, self.target_block(target), go_on)
            gb = ir.IRBuilder(go_on)
            self.rt_store(gb, L.RT_MAY_GOTO, gb.sub(left, _c64(1)))
            gb.branch(self.target_block(nxt))
            return
        target = pc + insn.jump_offset + 1
        if op == JumpOp.JA:
            self.charge(pc, target)
            self.b.branch(self.target_block(target))
            return
        wide = insn.cls == Class.JMP
        a = self.reg(insn.dst)
        if insn.source == Source.X:
            c = self.reg(insn.src)
        else:
            c = _c64(insn.imm)
        if not wide:
            a, c = b.trunc(a, I32), b.trunc(c, I32)
        if op == JumpOp.JSET:
            cond = b.icmp_unsigned("!=", b.and_(a, c), ir.Constant(a.type, 0))
        elif op in _CMP_SIGNED:
            cond = b.icmp_signed(_CMP_SIGNED[JumpOp(op)], a, c)
        elif op in _CMP_UNSIGNED:
            cond = b.icmp_unsigned(_CMP_UNSIGNED[JumpOp(op)], a, c)
        else:
            raise JITError(f"unknown jump operation {insn.opcode:#04x} at slot {pc}")
        if target <= pc:
            taken = self.new_block("backedge")
            b.cbranch(cond, taken, self.target_block(nxt))
            self.b = ir.IRBuilder(taken)
            self.charge(pc, target)
            self.b.branch(self.target_block(target))
        else:
            b.cbranch(cond, self.target_block(target), self.target_block(nxt))

    def target_block(self, slot: int) -> ir.Block:
        return self.blocks.get(slot, self.fell_off)

    # --- calls and exits -----------------------------------------------------------------------
    def frame_ptr(self, b: ir.IRBuilder, lf: ir.Value, word: int) -> ir.Value:
        return b.gep(self.frames, [b.add(b.mul(lf, _c64(FRAME_WORDS)), _c64(word))])

    def exit(self) -> None:
        b = self.b
        lf = b.load(self.lf)
        outer, pop = self.new_block("exit_outer"), self.new_block("exit_pop")
        b.cbranch(b.icmp_unsigned("==", lf, _c64(0)), outer, pop)
        self._leave(ir.IRBuilder(outer), L.ST_OK, None)
        b = self.b = ir.IRBuilder(pop)
        lf1 = b.sub(lf, _c64(1))
        b.store(lf1, self.lf)
        for k, r in enumerate((6, 7, 8, 9, 10), start=1):
            b.store(b.load(self.frame_ptr(b, lf1, k)), self.R[r])
        self.rt_store(b, L.RT_DEPTH, b.sub(self.rt_load(b, L.RT_DEPTH), _c64(1)))
        if self.fp_host is not None:
            self._set_fp_host(b)
        site = b.load(self.frame_ptr(b, lf1, 0))
        sw = b.switch(site, self.fell_off)
        for r in self.returns:
            sw.add_case(_c64(r), self.blocks[r])

    def call(self, insn: Instruction, pc: int) -> None:
        nxt = pc + 1
        if insn.is_pseudo_call:
            self.local_call(pc + insn.imm + 1, nxt)
            return
        if insn.is_kfunc_call:
            self.helper(L.PSEUDO_KFUNC | pc, nxt)
            return
        if insn.source == Source.X:
            reg = insn.dst if insn.dst else (insn.imm if 0 <= insn.imm <= 10 else 0)
            self.rt_store(self.b, L.RT_ARGS, self.reg(reg))
            self.helper(L.PSEUDO_CALLX, nxt)
            return
        self.helper(insn.imm & M32 if insn.imm >= 0 else insn.imm & M64, nxt)

    def local_call(self, target: int, nxt: int) -> None:
        b = self.b
        depth = b.add(self.rt_load(b, L.RT_DEPTH), _c64(1))
        self.leave_if(b.icmp_unsigned(">=", depth, _c64(MAX_FRAMES)), L.ST_DEPTH, "depth")
        b = self.b
        self.rt_store(b, L.RT_DEPTH, depth)
        lf = b.load(self.lf)
        b.store(_c64(nxt), self.frame_ptr(b, lf, 0))
        for k, r in enumerate((6, 7, 8, 9, 10), start=1):
            b.store(b.load(self.R[r]), self.frame_ptr(b, lf, k))
        b.store(b.add(lf, _c64(1)), self.lf)
        tops = b.inttoptr(self.rt_load(b, L.RT_STACK_TOPS), P64)
        b.store(b.load(b.gep(tops, [depth])), self.R[10])
        if self.fp_host is not None:
            self._set_fp_host(b)
        b.branch(self.target_block(target))

    def native_adjust_head(self, done: ir.Block) -> None:
        """bpf_xdp_adjust_head(ctx, delta) on the published XDP state (layout.XDP_*), with the VM's
        limits (data >= XDP_FRAME_STRUCT, data <= end - ETH_HLEN, else -EINVAL): moves data and
        meta, the packet row's lo and the rewritten data/data_meta fields. No published state or
        metadata present (it would have to move): the Python helper does it."""
        b = self.b
        xdp = b.inttoptr(self.rt_load(b, L.RT_XDP), P64)
        word = lambda bb, i: bb.gep(xdp, [_c64(i)])          # noqa: E731
        data, meta, end = (b.load(word(b, i)) for i in (L.XDP_DATA, L.XDP_META, L.XDP_END))
        fast, apply, einval, slow = (self.new_block(n) for n in
                                     ("adjust_head", "adjust_apply", "adjust_einval",
                                      "python_adjust"))
        valid = b.icmp_unsigned("!=", b.load(word(b, L.XDP_VALID)), _c64(0))
        delta = b.sext(b.trunc(self.reg(2), I32), I64)
        b.cbranch(b.and_(valid, b.icmp_unsigned("==", data, meta)), fast,
                  slow).set_weights([LIKELY, 1])
        fb = ir.IRBuilder(fast)
        moved = fb.add(data, delta)
        bad = fb.or_(fb.icmp_signed("<", moved, _c64(XDP_FRAME_STRUCT)),
                     fb.icmp_signed(">", moved, fb.sub(end, _c64(ETH_HLEN))))
        fb.cbranch(bad, einval, apply)
        eb = ir.IRBuilder(einval)
        eb.store(_c64(-22), self.R[0])                         # -EINVAL
        eb.branch(done)
        ab = ir.IRBuilder(apply)
        ab.store(moved, word(ab, L.XDP_DATA))
        ab.store(moved, word(ab, L.XDP_META))
        table = ab.inttoptr(self.rt_load(ab, L.RT_TABLE), P64)
        row = ab.mul(ab.load(word(ab, L.XDP_ROW)), _c64(L.ROW_WORDS))
        ab.store(moved, ab.gep(table, [ab.add(row, _c64(1))]))
        hooks = ab.inttoptr(self.rt_load(ab, L.RT_HOOKS), P64)
        pointer = ab.add(ab.load(word(ab, L.XDP_BASE)), moved)
        for which in (L.XDP_HOOK_DATA, L.XDP_HOOK_META):
            at = ab.add(ab.mul(ab.load(word(ab, which)), _c64(4)), _c64(3))
            ab.store(pointer, ab.gep(hooks, [at]))
        ab.store(_c64(0), self.R[0])
        ab.branch(done)
        self.b = ir.IRBuilder(slow)

    def map_row(self, b: ir.IRBuilder, handle: ir.Value, probe: ir.Block,
                slow: ir.Block) -> Any:
        """Branch from ``b`` to ``probe`` when ``handle`` is a map handle inside the table, else
        to ``slow``; returns ``word(builder, i)``, a load of word i of the map's row (layout
        MAP_ROW_WORDS), for blocks ``probe`` dominates."""
        slot = b.lshr(handle, _c64(32))
        ok = b.and_(b.icmp_unsigned("<", slot, self.rt_load(b, L.RT_TABLE_LEN)),
                    b.icmp_unsigned("==", b.and_(handle, _c64(M32)), _c64(0)))
        b.cbranch(ok, probe, slow).set_weights([LIKELY, 1])
        pb = ir.IRBuilder(probe)
        rows = pb.inttoptr(self.rt_load(pb, L.RT_MAP_ROWS), P64)
        row = pb.mul(slot, _c64(L.MAP_ROW_WORDS))
        return lambda bb, i: bb.load(bb.gep(rows, [bb.add(row, _c64(i))]))

    def native_array_update(self, done: ir.Block) -> None:
        """bpf_map_update_elem on (per-CPU) arrays in native code with the VM map's checks and
        errnos (flags -> EINVAL, index -> E2BIG, NOEXIST -> EEXIST); other maps go to Python."""
        probe, array, slow = (self.new_block(n) for n in ("urow", "array_update", "python_update"))
        word = self.map_row(self.b, self.reg(1), probe, slow)
        pb = ir.IRBuilder(probe)
        kind_word = word(pb, 0)
        kind = pb.and_(kind_word, _c64(0xFF))
        hashed = self.new_block("hash_update")
        sw = pb.switch(kind, slow)
        sw.add_case(_c64(L.MAP_KIND_ARRAY), array)
        sw.add_case(_c64(L.MAP_KIND_PERCPU_ARRAY), array)
        for k in (L.MAP_KIND_HASH, L.MAP_KIND_PERCPU_HASH, L.MAP_KIND_LRU_HASH,
                  L.MAP_KIND_LRU_PERCPU_HASH):
            sw.add_case(_c64(k), hashed)
        self.b = ir.IRBuilder(hashed)
        self.native_hash_update(word, kind_word, done, slow)
        self.b = ir.IRBuilder(array)
        key = self.load(2, 0, 4)
        value_size = word(self.b, 4)
        src = self.address_dynamic(self.reg(3), value_size)
        b = self.b
        flags = self.reg(4)
        einval = b.or_(b.icmp_unsigned("!=", b.and_(flags, _c64(~7 & M64)), _c64(0)),
                       b.icmp_unsigned("==", b.and_(flags, _c64(3)), _c64(3)))
        e2big = b.icmp_unsigned(">=", key, word(b, 1))
        eexist = b.icmp_unsigned("==", b.and_(flags, _c64(3)), _c64(1))
        errno_value = b.select(einval, _c64(-22), b.select(e2big, _c64(-7), _c64(-17)))
        failed = b.or_(einval, b.or_(e2big, eexist))
        fail_blk, copy_blk = self.new_block("update_errno"), self.new_block("update_copy")
        b.cbranch(failed, fail_blk, copy_blk)
        fb = ir.IRBuilder(fail_blk)
        fb.store(errno_value, self.R[0])
        fb.branch(done)
        cb = ir.IRBuilder(copy_blk)
        cpus = cb.lshr(kind_word, _c64(8))
        percpu = cb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_ARRAY))
        element = cb.select(percpu, cb.add(cb.mul(key, cpus), self.rt_load(cb, L.RT_CPU)), key)
        dest_vm = cb.add(word(cb, 3), cb.mul(element, word(cb, 2)))
        table = cb.inttoptr(self.rt_load(cb, L.RT_TABLE), P64)
        pool_row = cb.mul(cb.lshr(dest_vm, _c64(32)), _c64(L.ROW_WORDS))
        dest = cb.add(cb.load(cb.gep(table, [pool_row])), cb.and_(dest_vm, _c64(M32)))
        self.copy(cb, dest, src, value_size)
        cb.store(_c64(0), self.R[0])
        cb.branch(done)
        self.b = ir.IRBuilder(slow)

    def native_hash_update(self, word: Any, kind_word: ir.Value, done: ir.Block,
                           slow: ir.Block) -> None:
        """bpf_map_update_elem on (LRU, per-CPU) hash maps as HashMap._store does it: an existing
        key's value is overwritten in place (LRU: the hit is logged), an absent key takes the top
        of the free-slot stack (key bytes, index entry, zeroed value, logged as an insert); flags
        give EEXIST / ENOENT. Other flags, a full map (LRU eviction, E2BIG) or a full op log go to
        the Python helper."""
        b = self.b
        kind = b.and_(kind_word, _c64(0xFF))
        flags = self.reg(4)
        mode = b.and_(flags, _c64(3))
        plain = b.and_(b.icmp_unsigned("==", b.and_(flags, _c64(~3 & M64)), _c64(0)),
                       b.icmp_unsigned("!=", mode, _c64(3)))
        log = b.inttoptr(word(b, 8), I32.as_pointer())
        count = b.load(log)
        room = b.icmp_unsigned("<", count, b.load(b.gep(log, [_c64(1)])))
        go = self.new_block("hupd")
        b.cbranch(b.and_(plain, room), go, slow).set_weights([LIKELY, 1])
        self.b = ir.IRBuilder(go)
        key_size = word(self.b, 4)
        key_host = self.address_dynamic(self.reg(2), key_size)
        value_size = word(self.b, 10)
        src = self.address_dynamic(self.reg(3), value_size)
        b = self.b
        found = b.call(self.hash_find_fn(), [key_host, key_size, word(b, 5), word(b, 6), word(b, 7)])
        present = b.and_(b.icmp_unsigned("!=", found, _c64(0)),
                         b.icmp_unsigned("<", found, _c64(HASH_ABSENT)))
        absent = b.icmp_unsigned(">=", found, _c64(HASH_ABSENT))
        exists_blk, absent_blk, errno_blk, write_blk = (
            self.new_block(n) for n in ("hupd_exists", "hupd_absent", "hupd_errno", "hupd_write"))
        is_lru = b.icmp_unsigned(">=", kind, _c64(L.MAP_KIND_LRU_HASH))
        check_absent = self.new_block("hupd_check")
        b.cbranch(present, exists_blk, check_absent)
        ir.IRBuilder(check_absent).cbranch(absent, absent_blk, slow).set_weights([LIKELY, 1])
        # present: NOEXIST -> EEXIST; LRU logs the hit
        eb = ir.IRBuilder(exists_blk)
        fail = eb.icmp_unsigned("==", mode, _c64(1))
        touch = self.new_block("hupd_touch")
        eb.cbranch(fail, errno_blk, touch)
        tb = ir.IRBuilder(touch)
        slot_present = tb.sub(found, _c64(1))
        log_hit = self.new_block("hupd_loghit")
        tb.cbranch(is_lru, log_hit, write_blk)
        lb = ir.IRBuilder(log_hit)
        lb.store(lb.trunc(slot_present, I32), lb.gep(log, [lb.add(lb.zext(count, I64), _c64(2))]))
        lb.store(lb.add(count, _c32(1)), log)
        lb.branch(write_blk)
        # absent: EXIST -> ENOENT; no free slot -> Python (eviction / E2BIG)
        ab = ir.IRBuilder(absent_blk)
        missing = ab.icmp_unsigned("==", mode, _c64(2))
        take = self.new_block("hupd_take")
        has_free = self.new_block("hupd_free")
        ab.cbranch(missing, errno_blk, has_free)
        fb = ir.IRBuilder(has_free)
        free = fb.inttoptr(word(fb, 9), I32.as_pointer())
        nfree = fb.load(free)
        fb.cbranch(fb.icmp_unsigned("==", nfree, _c32(0)), slow, take).set_weights([1, LIKELY])
        kb = ir.IRBuilder(take)
        slot_new = kb.zext(kb.load(kb.gep(free, [kb.zext(nfree, I64)])), I64)
        kb.store(kb.sub(nfree, _c32(1)), free)
        self.copy(kb, kb.add(word(kb, 7), kb.mul(slot_new, key_size)), key_host, key_size)
        index = kb.inttoptr(word(kb, 6), I32.as_pointer())
        position = kb.and_(found, _c64(HASH_ABSENT - 1))
        kb.store(kb.trunc(kb.add(slot_new, _c64(1)), I32), kb.gep(index, [position]))
        kb.store(kb.trunc(kb.or_(slot_new, _c64(L.OP_INSERT)), I32),
                 kb.gep(log, [kb.add(kb.zext(count, I64), _c64(2))]))
        kb.store(kb.add(count, _c32(1)), log)
        cpus = kb.lshr(kind_word, _c64(8))
        stride = word(kb, 2)
        whole_slot = kb.add(word(kb, 3), kb.mul(kb.mul(slot_new, cpus), stride))
        self.zero(kb, self.host_of(kb, whole_slot), kb.mul(cpus, stride))
        kb.branch(write_blk)
        # errno results
        rb = ir.IRBuilder(errno_blk)
        rb.store(rb.select(rb.icmp_unsigned("==", mode, _c64(1)), _c64(-17), _c64(-2)), self.R[0])
        rb.branch(done)
        # write the value (per-CPU maps: this CPU's copy only)
        wb = ir.IRBuilder(write_blk)
        slot = wb.phi(I64)
        slot.add_incoming(slot_present, touch)
        slot.add_incoming(slot_present, log_hit)
        slot.add_incoming(slot_new, take)
        cpus = wb.lshr(kind_word, _c64(8))
        percpu = wb.or_(wb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_PERCPU_HASH)),
                        wb.icmp_unsigned("==", kind, _c64(L.MAP_KIND_LRU_PERCPU_HASH)))
        element = wb.select(percpu, wb.add(wb.mul(slot, cpus), self.rt_load(wb, L.RT_CPU)),
                            wb.mul(slot, cpus))
        dest = self.host_of(wb, wb.add(word(wb, 3), wb.mul(element, word(wb, 2))))
        self.copy(wb, dest, src, value_size)
        wb.store(_c64(0), self.R[0])
        wb.branch(done)

    def host_of(self, b: ir.IRBuilder, vm_addr: ir.Value) -> ir.Value:
        """Host address of a VM address inside a map's value pool (mapped, never checked: the
        pool is the map's own region and the element index was bounded by the caller)."""
        table = b.inttoptr(self.rt_load(b, L.RT_TABLE), P64)
        row = b.mul(b.lshr(vm_addr, _c64(32)), _c64(L.ROW_WORDS))
        return b.add(b.load(b.gep(table, [row])), b.and_(vm_addr, _c64(M32)))

    def zero(self, b: ir.IRBuilder, dst: ir.Value, n: ir.Value) -> None:
        """Clear n bytes at a host address already checked (llvm.memset)."""
        p8 = I8.as_pointer()
        memset = self.module.declare_intrinsic("llvm.memset", [p8, I64])
        b.call(memset, [b.inttoptr(dst, p8), ir.Constant(I8, 0), n, ir.Constant(I1, 0)])

    def copy(self, b: ir.IRBuilder, dst: ir.Value, src: ir.Value, n: ir.Value) -> None:
        """Copy n bytes between host addresses already checked (llvm.memmove: they may overlap,
        e.g. a map value updated from itself)."""
        p8 = I8.as_pointer()
        memmove = self.module.declare_intrinsic("llvm.memmove", [p8, p8, I64])
        b.call(memmove, [b.inttoptr(dst, p8), b.inttoptr(src, p8), n, ir.Constant(I1, 0)])

    def call_callback(self, b: ir.IRBuilder, pc: ir.Value, depth: ir.Value, args: list[ir.Value],
                      more: ir.Block, failed: ir.Block) -> None:
        """Run this program's code at ``pc`` natively as a callback (bpf_loop, for_each): r1.. =
        ``args``, r10 = the stack of frame ``depth``, other registers 0. Goes on in ``more`` (its
        r0 in cb_regs[0]); any other status leaves through ``failed`` (a tail call there is
        ST_TAIL_IN_SUBPROG)."""
        regs = self.cb_regs
        for k in range(11):
            b.store(_c64(0), b.gep(regs, [_c64(k)]))
        for k, value in enumerate(args, start=1):
            b.store(value, b.gep(regs, [_c64(k)]))
        tops = b.inttoptr(self.rt_load(b, L.RT_STACK_TOPS), P64)
        b.store(b.load(b.gep(tops, [depth])), b.gep(regs, [_c64(10)]))
        self.rt_store(b, L.RT_DEPTH, depth)
        status = b.call(self.fn, [self.rt, regs, pc])
        self.rt_store(b, L.RT_DEPTH, b.sub(depth, _c64(1)))
        b.cbranch(b.icmp_unsigned("==", status, _c64(0)), more, failed)
        fb = ir.IRBuilder(failed)
        is_tail = fb.icmp_unsigned("==", status, _c64(L.ST_TAIL_CALL))
        self._leave(fb, fb.select(is_tail, _c64(L.ST_TAIL_IN_SUBPROG), status), None)

    def native_loop(self, done: ir.Block) -> None:
        """bpf_loop(nr, callback, ctx, 0) with a callback in this program: the callback runs as a
        native call of this function at its entry (own frame and stack, depth checked); anything
        unusual (flags, too many loops, a foreign callback, depth) goes to the Python helper."""
        b = self.b
        nr, callback, ctx, flags = self.reg(1), self.reg(2), self.reg(3), self.reg(4)
        offset = b.sub(callback, self.rt_load(b, L.RT_CODE_BASE))
        pc = b.lshr(offset, _c64(3))
        is_entry = ir.Constant(I1, 0)
        for e in sorted(self.entries):
            is_entry = b.or_(is_entry, b.icmp_unsigned("==", pc, _c64(e)))
        depth = b.add(self.rt_load(b, L.RT_DEPTH), _c64(1))
        native = b.and_(b.and_(is_entry, b.icmp_unsigned("==", b.and_(offset, _c64(7)), _c64(0))),
                        b.and_(b.icmp_unsigned("==", flags, _c64(0)),
                               b.and_(b.icmp_unsigned("<=", nr, _c64(MAX_LOOPS)),
                                      b.icmp_unsigned("<", depth, _c64(MAX_FRAMES)))))
        head, body, more, failed, slow = (self.new_block(n) for n in
                                          ("loop_head", "loop_body", "loop_more", "loop_failed",
                                           "loop_python"))
        start = b.block
        b.cbranch(native, head, slow).set_weights([LIKELY, 1])
        hb = ir.IRBuilder(head)
        i = hb.phi(I64)
        i.add_incoming(_c64(0), start)
        finished = hb.icmp_unsigned(">=", i, nr)
        hb.store(nr, self.R[0])
        hb.cbranch(finished, done, body)
        self.call_callback(ir.IRBuilder(body), pc, depth, [i, ctx], more, failed)
        regs = self.cb_regs
        mb = ir.IRBuilder(more)
        nxt = mb.add(i, _c64(1))
        i.add_incoming(nxt, more)
        stop = mb.icmp_unsigned("==", mb.load(mb.gep(regs, [_c64(0)])), _c64(1))
        stop_blk = self.new_block("loop_stop")
        mb.cbranch(stop, stop_blk, head)
        sb = ir.IRBuilder(stop_blk)
        sb.store(nxt, self.R[0])
        sb.branch(done)
        self.b = ir.IRBuilder(slow)

    def address_dynamic(self, addr: ir.Value, size: ir.Value, *, write: bool = False) -> ir.Value:
        """Host address of ``size`` (run-time value) readable (or writable) bytes at VM address
        ``addr``, else a fault as Memory.read/write reports it."""
        b = self.b
        slot = b.lshr(addr, _c64(32))
        offset = b.and_(addr, _c64(M32))
        check, ok = self.new_block("dcheck"), self.new_block("dinbounds")
        fault = self.site_fault(addr, b.or_(size, _c64(L.FAULT_WRITE)) if write else size)
        b.cbranch(b.icmp_unsigned("<", slot, self.rt_load(b, L.RT_TABLE_LEN)), check,
                  fault).set_weights([LIKELY, 1])
        b = ir.IRBuilder(check)
        table = b.inttoptr(self.rt_load(b, L.RT_TABLE), P64)
        row = b.mul(slot, _c64(L.ROW_WORDS))
        host = b.load(b.gep(table, [row]))
        lo = b.load(b.gep(table, [b.add(row, _c64(1))]))
        hi = b.load(b.gep(table, [b.add(row, _c64(2))]))
        bad = b.or_(b.icmp_unsigned("<", offset, lo), b.icmp_unsigned(">", b.add(offset, size), hi))
        if write:
            flags = b.load(b.gep(table, [b.add(row, _c64(3))]))
            bad = b.or_(bad, b.icmp_unsigned("==", b.and_(flags, _c64(L.FLAG_WRITABLE)), _c64(0)))
        b.cbranch(bad, fault, ok).set_weights([1, LIKELY])
        self.b = ir.IRBuilder(ok)
        return self.b.add(host, offset)

    def hash_find_fn(self) -> ir.Function:
        """u64 hash_find(key_host, key_size, mask, index_host, keys_host): slot + 1 when the key
        is present; absent: HASH_ABSENT | the index position an insert takes (the first tombstone
        or the empty entry ending the probe); 0 if the probe found neither (hashindex.key_hash of
        the key, linear probing; same scheme as hashindex.HashIndex)."""
        existing = self.module.globals.get("hash_find")
        if existing is not None:
            return existing
        fn = ir.Function(self.module, ir.FunctionType(I64, [I64, I64, I64, I64, I64]), name="hash_find")
        fn.linkage = "internal"
        key, ksize, mask, index, keys = fn.args
        names = ("entry", "wloop", "wbody", "bloop", "bbody", "probe", "check", "live", "cmp",
                 "cmpw", "cmpwbody", "cmpb", "cmpbbody", "tomb", "next", "hit", "miss", "absent")
        bl = {n: fn.append_basic_block(n) for n in names}
        p8, p64 = I8.as_pointer(), I64.as_pointer()
        prime = _c64(0x100000001B3)
        whole = None
        b = ir.IRBuilder(bl["entry"])
        whole = b.and_(ksize, _c64(~7 & M64))
        b.branch(bl["wloop"])
        # 8-byte words
        b = ir.IRBuilder(bl["wloop"])
        i = b.phi(I64)
        h = b.phi(I64)
        i.add_incoming(_c64(0), bl["entry"])
        h.add_incoming(_c64(0xCBF29CE484222325), bl["entry"])
        b.cbranch(b.icmp_unsigned("<", i, whole), bl["wbody"], bl["bloop"])
        b = ir.IRBuilder(bl["wbody"])
        w = b.load(b.inttoptr(b.add(key, i), p64), align=1)
        i.add_incoming(b.add(i, _c64(8)), bl["wbody"])
        h.add_incoming(b.mul(b.xor(h, w), prime), bl["wbody"])
        b.branch(bl["wloop"])
        # trailing bytes
        b = ir.IRBuilder(bl["bloop"])
        j = b.phi(I64)
        g = b.phi(I64)
        j.add_incoming(i, bl["wloop"])
        g.add_incoming(h, bl["wloop"])
        b.cbranch(b.icmp_unsigned("<", j, ksize), bl["bbody"], bl["probe"])
        b = ir.IRBuilder(bl["bbody"])
        byte = b.zext(b.load(b.inttoptr(b.add(key, j), p8)), I64)
        j.add_incoming(b.add(j, _c64(1)), bl["bbody"])
        g.add_incoming(b.mul(b.xor(g, byte), prime), bl["bbody"])
        b.branch(bl["bloop"])
        # final mix, then linear probing
        b = ir.IRBuilder(bl["probe"])
        m = b.mul(b.xor(g, b.lshr(g, _c64(32))), prime)
        m = b.xor(m, b.lshr(m, _c64(29)))
        start = b.and_(m, mask)
        b.branch(bl["check"])
        b = ir.IRBuilder(bl["check"])
        pos = b.phi(I64)
        tries = b.phi(I64)
        tomb = b.phi(I64)                       # first tombstone position seen, or all ones
        pos.add_incoming(start, bl["probe"])
        tries.add_incoming(_c64(0), bl["probe"])
        tomb.add_incoming(_c64(M64), bl["probe"])
        entry = b.zext(b.load(b.inttoptr(b.add(index, b.mul(pos, _c64(4))), I32.as_pointer())), I64)
        b.cbranch(b.icmp_unsigned(">", tries, mask), bl["miss"], bl["live"])
        b = ir.IRBuilder(bl["live"])
        is_empty = b.icmp_unsigned("==", entry, _c64(0))
        not_empty = fn.append_basic_block("notempty")
        b.cbranch(is_empty, bl["absent"], not_empty)
        b = ir.IRBuilder(not_empty)
        b.cbranch(b.icmp_unsigned("==", entry, _c64(0xFFFFFFFF)), bl["tomb"], bl["cmp"])
        b = ir.IRBuilder(bl["tomb"])
        first_tomb = b.select(b.icmp_unsigned("==", tomb, _c64(M64)), pos, tomb)
        b.branch(bl["next"])
        b = ir.IRBuilder(bl["cmp"])
        stored = b.add(keys, b.mul(b.sub(entry, _c64(1)), ksize))
        b.branch(bl["cmpw"])
        b = ir.IRBuilder(bl["cmpw"])
        k = b.phi(I64)
        k.add_incoming(_c64(0), bl["cmp"])
        b.cbranch(b.icmp_unsigned("<", k, whole), bl["cmpwbody"], bl["cmpb"])
        b = ir.IRBuilder(bl["cmpwbody"])
        x = b.load(b.inttoptr(b.add(key, k), p64), align=1)
        y = b.load(b.inttoptr(b.add(stored, k), p64), align=1)
        k.add_incoming(b.add(k, _c64(8)), bl["cmpwbody"])
        b.cbranch(b.icmp_unsigned("==", x, y), bl["cmpw"], bl["next"])
        b = ir.IRBuilder(bl["cmpb"])
        n = b.phi(I64)
        n.add_incoming(k, bl["cmpw"])
        byte_blk = fn.append_basic_block("cmpbyte")
        b.cbranch(b.icmp_unsigned("<", n, ksize), byte_blk, bl["hit"])
        b = ir.IRBuilder(byte_blk)
        x = b.load(b.inttoptr(b.add(key, n), p8))
        y = b.load(b.inttoptr(b.add(stored, n), p8))
        n.add_incoming(b.add(n, _c64(1)), byte_blk)
        b.cbranch(b.icmp_unsigned("==", x, y), bl["cmpb"], bl["next"])
        ir.IRBuilder(bl["cmpbbody"]).unreachable()
        b = ir.IRBuilder(bl["next"])
        seen = b.phi(I64)
        seen.add_incoming(first_tomb, bl["tomb"])
        seen.add_incoming(tomb, bl["cmpwbody"])
        seen.add_incoming(tomb, byte_blk)
        tomb.add_incoming(seen, bl["next"])
        pos.add_incoming(b.and_(b.add(pos, _c64(1)), mask), bl["next"])
        tries.add_incoming(b.add(tries, _c64(1)), bl["next"])
        b.branch(bl["check"])
        ir.IRBuilder(bl["hit"]).ret(entry)
        ir.IRBuilder(bl["miss"]).ret(_c64(0))
        b = ir.IRBuilder(bl["absent"])
        where = b.select(b.icmp_unsigned("==", tomb, _c64(M64)), pos, tomb)
        b.ret(b.or_(where, _c64(HASH_ABSENT)))
        return fn

    def native_emitter(self, helper_id: int) -> tuple[str, Callable[[ir.Block], None]] | None:
        """(name of the join block, ``emit(done)``) of the helper's native fast path, if it has
        one here: ``emit`` ends its results in ``done`` and leaves ``self.b`` in the block that
        goes on to the Python helper."""
        if helper_id == L.HELPER_MAP_LOOKUP:
            array_kind = self.proof.array_lookup(self.pc)
            hash_kind = self.proof.hash_lookup(self.pc)
            if array_kind is not None:
                return "lookup_done", lambda done: native_lookup.emit_array_lookup(
                    self, done, array_kind)
            if hash_kind is not None:
                return "lookup_done", lambda done: native_lookup.emit_hash_lookup(
                    self, done, hash_kind)
            return "lookup_done", lambda done: native_lookup.emit_lookup(self, done)
        if helper_id == L.HELPER_MAP_UPDATE:
            return "update_done", self.native_array_update
        if helper_id == L.HELPER_XDP_ADJUST_HEAD:
            return "adjust_done", self.native_adjust_head
        if helper_id == L.HELPER_LOOP and self.entries:
            return "loop_done", self.native_loop
        if helper_id in _NATIVE_B:                     # native_foreach/_csum/_lock/_queue
            return "native_done", lambda done: _NATIVE_B[helper_id](self, done)
        if helper_id in native_env.HELPERS:
            return "env_done", lambda done: native_env.emit(self, helper_id, done)
        if helper_id in native_ringbuf.HELPERS:
            return "ringbuf_done", lambda done: native_ringbuf.emit(self, helper_id, done)
        return None

    def helper(self, helper_id: int, nxt: int) -> None:
        """Call the Python helper callback: r1..r5 in, r0 out, status checked; helpers with a
        native fast path run it first while rt[RT_NATIVE] says the machine's table holds pybpf's
        own implementation (layout.NATIVE_GATED here; native_env / native_ringbuf test their
        bits themselves), else they call the table's implementation like every other helper."""
        done = None
        native = self.native_emitter(helper_id)
        if native is not None:
            name, emit = native
            done = self.new_block(name)
            bit = L.NATIVE_GATED.get(helper_id)
            if bit is None:
                emit(done)
            else:
                b = self.b
                fast, python = self.new_block("native_helper"), self.new_block("python_helper")
                enabled = b.and_(self.rt_load(b, L.RT_NATIVE), _c64(bit))
                b.cbranch(b.icmp_unsigned("!=", enabled, _c64(0)), fast,
                          python).set_weights([LIKELY, 1])
                self.b = ir.IRBuilder(fast)
                emit(done)                    # its fallback joins the table's helper call: only
                self.b.branch(python)         # registers (allocas) and rt words are read there
                self.b = ir.IRBuilder(python)
        b = self.b
        for r in range(1, 6):
            self.rt_store(b, L.RT_ARGS + r, self.reg(r))
        self.rt_store(b, L.RT_PC, _c64(self.pc))
        cb = b.inttoptr(self.rt_load(b, L.RT_HELPER), _CB_TYPE.as_pointer())
        status = b.call(cb, [_c64(helper_id)])
        ok, not_ok = self.new_block("helper_ok"), self.new_block("helper_status")
        b.cbranch(b.icmp_unsigned("==", status, _c64(0)), ok, not_ok).set_weights([LIKELY, 1])
        sb = ir.IRBuilder(not_ok)
        exit0, other = self.new_block("exit_zero"), self.new_block("helper_fail")
        sb.cbranch(sb.icmp_unsigned("==", status, _c64(L.ST_EXIT_ZERO)), exit0, other)
        eb = ir.IRBuilder(exit0)
        eb.store(_c64(0), self.R[0])
        self._leave(eb, L.ST_OK, None)
        ob = ir.IRBuilder(other)
        in_sub = ob.icmp_unsigned("!=", ob.load(self.lf), _c64(0))
        is_tail = ob.icmp_unsigned("==", status, _c64(L.ST_TAIL_CALL))
        final = ob.select(ob.and_(in_sub, is_tail), _c64(L.ST_TAIL_IN_SUBPROG), status)
        self._leave(ob, final, None)
        self.b = ir.IRBuilder(ok)
        self.set_reg(0, self.rt_load(self.b, L.RT_ARGS))
        if done is not None:
            self.b.branch(done)
            self.b = ir.IRBuilder(done)

    def legacy_load(self, insn: Instruction) -> None:
        """LD_ABS / LD_IND through the callback (big-endian packet read; out of bounds exits 0)."""
        b = self.b
        offset = _c64(insn.imm)
        if insn.mode == Mode.IND:
            offset = b.add(offset, b.sext(b.trunc(self.reg(insn.src), I32), I64))
        saved1 = self.reg(1)
        self.set_reg(1, offset)
        self.helper(L.PSEUDO_LD_ABS | insn.size_bytes, self.pc + 1)
        self.set_reg(1, saved1)

    def atomic(self, insn: Instruction) -> None:
        size, code = insn.size_bytes, insn.imm
        if size not in (4, 8):
            raise JITError(f"atomic operation of {size} bytes at slot {self.pc}")
        hostaddr, _ = self.address(insn.dst, insn.off, size, True)
        b = self.b
        ty = _INT[size]
        src = self.reg(insn.src)
        val = src if size == 8 else b.trunc(src, ty)
        r0 = self.reg(0)
        expected = r0 if size == 8 else b.trunc(r0, ty)
        aligned = b.icmp_unsigned("==", b.and_(hostaddr, _c64(size - 1)), _c64(0))
        atom, plain, join = (self.new_block(n) for n in ("atomic", "unaligned", "atomic_done"))
        b.cbranch(aligned, atom, plain)
        ab, pb = ir.IRBuilder(atom), ir.IRBuilder(plain)
        pa, pp = ab.inttoptr(hostaddr, ty.as_pointer()), pb.inttoptr(hostaddr, ty.as_pointer())
        old_p = pb.load(pp, align=1)
        if code == AtomicOp.CMPXCHG:
            pair = ab.cmpxchg(pa, expected, val, "seq_cst", "seq_cst")
            old_a = ab.extract_value(pair, 0)
            pb.store(pb.select(pb.icmp_unsigned("==", old_p, expected), val, old_p), pp, align=1)
            dest = 0
        elif code == AtomicOp.XCHG:
            old_a = ab.atomic_rmw("xchg", pa, val, "seq_cst")
            pb.store(val, pp, align=1)
            dest = insn.src
        else:
            base = code & ~AtomicOp.FETCH
            name = _RMW.get(AtomicOp(base)) if base in _RMW else None
            if name is None:
                raise JITError(f"unknown atomic operation {code:#x} at slot {self.pc}")
            old_a = ab.atomic_rmw(name, pa, val, "seq_cst")
            combine = {"add": pb.add, "or": pb.or_, "and": pb.and_, "xor": pb.xor}[name]
            pb.store(combine(old_p, val), pp, align=1)
            dest = insn.src if code & AtomicOp.FETCH else None
        ab.branch(join)
        pb.branch(join)
        self.b = ir.IRBuilder(join)
        old = self.b.phi(ty)
        old.add_incoming(old_a, atom)
        old.add_incoming(old_p, plain)
        if dest is not None:
            self.set_reg(dest, old if size == 8 else self.b.zext(old, I64))


_CLOCK_TYPE = ir.FunctionType(I32, [I32, P64])
CLOCK_MONOTONIC = 1


def _now_ns(b: ir.IRBuilder, rt: ir.Value, ts: ir.Value) -> ir.Value:
    """CLOCK_MONOTONIC in ns through the clock_gettime whose address is rt[RT_CLOCK]."""
    clock = b.inttoptr(b.load(b.gep(rt, [_c64(L.RT_CLOCK)])), _CLOCK_TYPE.as_pointer())
    b.call(clock, [ir.Constant(I32, CLOCK_MONOTONIC), ts])
    sec, nsec = b.load(ts), b.load(b.gep(ts, [_c64(1)]))
    return b.add(b.mul(sec, _c64(1_000_000_000)), nsec)


def _repeat_function(module: ir.Module, main: ir.Function) -> None:
    """``u64 <main>_repeat(u64 *rt, u64 *regs, u64 n, u64 *tmpl)``: run ``main`` n times, each run
    from the registers tmpl[0..10] with budget tmpl[11] and may_goto allowance tmpl[12]; stops at
    the first non-zero status (returned; RT_ITER says how many runs finished). Adds the loop's
    wall time to rt[RT_DURATION], measured around the loop like BPF_PROG_TEST_RUN's duration."""
    fn = ir.Function(module, ir.FunctionType(I64, [P64, P64, I64, P64]), name=main.name + "_repeat")
    rt, regs, n, tmpl = fn.args
    entry, head, body, cont, done, failed = (fn.append_basic_block(x) for x in
                                             ("entry", "head", "body", "cont", "done", "failed"))
    b = ir.IRBuilder(entry)
    ts = b.alloca(I64, size=2)
    start = _now_ns(b, rt, ts)
    b.branch(head)
    b = ir.IRBuilder(head)
    i = b.phi(I64)
    i.add_incoming(_c64(0), entry)
    b.cbranch(b.icmp_unsigned("<", i, n), body, done)
    b = ir.IRBuilder(body)
    for k in range(11):
        b.store(b.load(b.gep(tmpl, [_c64(k)])), b.gep(regs, [_c64(k)]))
    b.store(b.load(b.gep(tmpl, [_c64(11)])), b.gep(rt, [_c64(L.RT_BUDGET)]))
    b.store(b.load(b.gep(tmpl, [_c64(12)])), b.gep(rt, [_c64(L.RT_MAY_GOTO)]))
    status = b.call(main, [rt, regs, _c64(0)])
    b.store(i, b.gep(rt, [_c64(L.RT_ITER)]))
    b.cbranch(b.icmp_unsigned("==", status, _c64(0)), cont, failed)
    b = ir.IRBuilder(cont)
    nxt = b.add(i, _c64(1))
    b.store(nxt, b.gep(rt, [_c64(L.RT_ITER)]))
    i.add_incoming(nxt, cont)
    b.branch(head)
    for block, result in ((done, _c64(0)), (failed, status)):
        b = ir.IRBuilder(block)
        spent = b.sub(_now_ns(b, rt, ts), start)
        total = b.gep(rt, [_c64(L.RT_DURATION)])
        b.store(b.add(b.load(total), spent), total)
        b.ret(result)


def generate(insns: Sequence[Instruction], slot_to_index: dict[int, int], fname: str,
             proof: Proof = NO_PROOF) -> tuple[str, int]:
    """(LLVM IR text of the module with ``fname`` and ``fname``_repeat, number of LDDW constants).
    ``proof``: what the verifier proved (the run-time checks it makes unnecessary)."""
    gen = _Gen(insns, slot_to_index, fname, proof)
    module = gen.build()
    _repeat_function(module, gen.fn)
    return str(module), gen.lddw_count


def lddw_slots(insns: Sequence[Instruction], slot_to_index: dict[int, int]) -> list[int]:
    """Slots of every LDDW in program order (the order of the runtime constants array)."""
    return [slot for slot, index in sorted(slot_to_index.items()) if insns[index].opcode == LDDW]


__all__ = ["generate", "lddw_slots"]
