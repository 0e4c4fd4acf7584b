"""Program loading and running: test_run vs bpftool, verifier errors with source lines, fd hygiene, pins."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import pybpf
from pybpf.errors import KernelError, KernelVerifierError, NotSupportedError
from pybpf.isa import Instruction as I
from pybpf.isa.uapi import AttachType, MapType, ProgramType
from pybpf.kernel import Collection, KernelMap, KernelProgram

from kernel_asm import exit_, return_imm

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"


def ipv4_frame() -> bytes:
    dst, src = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
    return dst + src + b"\x08\x00" + bytes.fromhex("450000140000000040110000") + bytes(8) + b"x" * 20


def arp_frame() -> bytes:
    return bytes.fromhex("ffffffffffff020000000002") + b"\x08\x06" + bytes(28)


@pytest.fixture(scope="module")
def swap_spec(compile_bpf):
    return pybpf.load_object(str(compile_bpf(PROGS / "xdp_swap.bpf.c")))


def bpftool_prog_run(pin: Path, data: bytes, tmp_path: Path, repeat: int) -> tuple[int, bytes]:
    data_in = tmp_path / "in.bin"
    data_out = tmp_path / "out.bin"
    data_in.write_bytes(data)
    proc = subprocess.run(["bpftool", "prog", "run", "pinned", str(pin), "data_in", str(data_in),
                           "data_out", str(data_out), "repeat", str(repeat)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"Return value: (\d+), duration( \(average\))?: (\d+)ns", proc.stdout)
    assert m, proc.stdout
    return int(m.group(1)), data_out.read_bytes()


@pytest.mark.parametrize("frame,repeat", [(ipv4_frame(), 1), (ipv4_frame(), 100),
                                          (arp_frame(), 7), (bytes(12) + b"\x08\x00", 3)],
                         ids=["ipv4", "ipv4-repeat", "arp", "bare-ethernet-header"])
def test_test_run_matches_bpftool_prog_run(swap_spec, bpffs_dir, tmp_path, frame, repeat):
    with Collection(swap_spec) as coll:
        prog = coll.programs["xdp_swap"]
        ours = prog.test_run(frame, repeat=repeat)
        prog.pin(bpffs_dir / "xdp_swap")
        retval, data_out = bpftool_prog_run(bpffs_dir / "xdp_swap", frame, tmp_path, repeat)
    assert (ours.retval, ours.data_out) == (retval, data_out)


def test_test_run_rejection_carries_command_and_errno(swap_spec):
    with Collection(swap_spec) as coll:
        with pytest.raises(KernelError) as exc:
            coll.programs["xdp_swap"].test_run(b"\x01\x02")     # shorter than an Ethernet header
    assert exc.value.command == "BPF_PROG_TEST_RUN" and "EINVAL" in str(exc.value)


def test_test_run_counts_every_repetition_in_the_map(swap_spec):
    with Collection(swap_spec) as coll:
        coll.programs["xdp_swap"].test_run(ipv4_frame(), repeat=50)
        coll.programs["xdp_swap"].test_run(arp_frame(), repeat=3)
        verdicts = coll.maps["verdicts"]
        assert verdicts[pybpf.XDP_TX] == 50          # keys/values decoded through the map's BTF
        assert verdicts[pybpf.XDP_PASS] == 3


def test_verifier_rejection_names_the_source_line(compile_bpf):
    source = PROGS / "bad_access.bpf.c"
    bad_line = next(i for i, text in enumerate(source.read_text().splitlines(), 1)
                    if "BAD LINE" in text)
    spec = pybpf.load_object(str(compile_bpf(source)))
    with pytest.raises(KernelVerifierError) as exc:
        Collection(spec)
    err = exc.value
    assert f"bad_access.bpf.c:{bad_line}" in str(err).splitlines()[0]
    assert "BAD LINE" in str(err).splitlines()[0]
    assert "outside of the packet" in str(err)
    assert "processed" in err.log            # the full log is attached
    assert err.errno and err.program == "unchecked_read"


def test_verifier_error_without_btf_still_carries_log_and_insn():
    prog = [I(0x79, 0, 1, 0, 0), exit_()]      # r0 = *(u64 *)(r1 + 0): 8-byte ctx read
    with pytest.raises(KernelVerifierError) as exc:
        KernelProgram.load(prog, prog_type=ProgramType.XDP, name="badctx")
    assert exc.value.insn == 0
    assert "invalid bpf_context access" in str(exc.value)


def test_large_verifier_log_is_collected_whole():
    # 3000 instructions at log_level 2 overflow the first 64 KiB log buffer
    prog = [I(0xB7, 0, 0, 0, 0)] + [I(0x07, 0, 0, 0, 1)] * 3000 + [exit_()]
    with KernelProgram.load(prog, prog_type=ProgramType.XDP, log_level=2) as p:
        log = p.verifier_log
        assert len(log) > 64 * 1024
        assert len(re.findall(r"^\d+: \(07\) r0 \+= 1", log, re.M)) == 3000
        assert log.rstrip().splitlines()[-1].startswith("processed 3002 insns")
        assert p.test_run(bytes(64)).retval == 3000


def test_unknown_map_reference_is_reported_by_name():
    prog = [I(0x18, 1, 1, 0, 0, ref="nowhere"), *return_imm(0)]
    with pytest.raises(KernelError, match="nowhere"):
        KernelProgram.load(prog, prog_type=ProgramType.XDP, maps={})


def test_program_info_matches_bpftool(bpftool):
    with KernelProgram.load(return_imm(2), prog_type=ProgramType.XDP, name="infoprog") as p:
        info = p.info()
        shown = bpftool("prog", "show", "id", str(info.id))
        assert (shown["type"], shown["name"], shown["tag"]) == ("xdp", "infoprog", info.tag)


def test_pinned_program_reopens_and_runs(bpffs_dir):
    with KernelProgram.load(return_imm(3), prog_type=ProgramType.XDP, name="pinprog") as p:
        p.pin(bpffs_dir / "p")
    with KernelProgram.from_pin(bpffs_dir / "p") as again:
        assert again.test_run(bytes(64)).retval == 3


def test_fd_count_unchanged_after_10000_load_close_cycles(fd_count):
    prog = [I(0x18, 1, 1, 0, 0, ref="m"), *return_imm(1)]
    before = fd_count()
    for _ in range(10_000):
        with KernelMap.create(MapType.ARRAY, 4, 4, 1) as m:
            KernelProgram.load(prog, prog_type=ProgramType.SOCKET_FILTER, maps={"m": m}).close()
    assert fd_count() == before


def test_fd_count_unchanged_after_collection_cycles_including_failures(swap_spec, compile_bpf,
                                                                       fd_count):
    bad = pybpf.load_object(str(compile_bpf(PROGS / "bad_access.bpf.c")))
    before = fd_count()
    for _ in range(100):
        with Collection(swap_spec) as coll:
            coll.programs["xdp_swap"].test_run(ipv4_frame())
        with pytest.raises(KernelVerifierError):
            Collection(bad)
    assert fd_count() == before


def test_trampoline_programs_surface_a_clear_not_supported_error():
    from pybpf.kernel.btfload import find_vmlinux_id
    target = find_vmlinux_id("do_nanosleep", "func")
    with pytest.raises((NotSupportedError, KernelVerifierError)) as exc:
        KernelProgram.load(return_imm(0), prog_type=ProgramType.TRACING,
                           expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=target,
                           name="fentry_probe")
    if isinstance(exc.value, NotSupportedError):
        assert "trampoline" in str(exc.value) and "EPERM" in str(exc.value)


def test_test_run_passes_skb_context_in_and_out():
    # r0 = skb->mark (offset 8 of struct __sk_buff); skb->priority = r0 + 1 (offset 32)
    prog = [I(0x61, 0, 1, 8, 0), I(0xBF, 2, 0), I(0x07, 2, 0, 0, 1), I(0x63, 1, 2, 32, 0),
            exit_()]
    ctx = bytearray(192)                       # sizeof(struct __sk_buff)
    ctx[8:12] = (41).to_bytes(4, "little")
    with KernelProgram.load(prog, prog_type=ProgramType.SCHED_CLS) as p:
        result = p.test_run(bytes(14) + bytes(50), ctx_in=bytes(ctx))
    assert result.retval == 41
    assert int.from_bytes(result.ctx_out[32:36], "little") == 42


def test_raw_tracepoint_test_run_takes_arguments_as_context():
    # return args[1] - args[0]
    prog = [I(0x79, 0, 1, 8, 0), I(0x79, 2, 1, 0, 0), I(0x1F, 0, 2, 0, 0), exit_()]
    args = (100).to_bytes(8, "little") + (142).to_bytes(8, "little")
    with KernelProgram.load(prog, prog_type=ProgramType.RAW_TRACEPOINT) as p:
        assert p.test_run(ctx_in=args).retval == 42
