"""Compiled C programs in the VM alone (no kernel, no root), checked against scapy and hand values."""
from __future__ import annotations

import struct

import pytest
from scapy.all import IP, UDP, Ether

import pybpf
from pybpf.vm import Collection, SimEnv, SimProcess



def test_xdp_echo_swaps_addresses_and_ports_like_a_scapy_built_reply(vm_object, packets) -> None:
    with Collection(vm_object("vm_xdp")) as coll:
        result = coll.programs["xdp_parse"].test_run(packets["udp echo"])
    assert result.retval == pybpf.XDP_TX
    reply = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / \
        IP(src="10.200.0.2", dst="10.200.0.1") / UDP(sport=7, dport=1234) / b"hello"
    assert result.data_out == bytes(reply)


def test_xdp_icmp_is_dropped_and_counted_per_protocol(vm_object, packets) -> None:
    with Collection(vm_object("vm_xdp")) as coll:
        assert coll.programs["xdp_parse"].test_run(packets["icmp"]).retval == pybpf.XDP_DROP
        assert coll.programs["xdp_parse"].test_run(packets["icmp"]).retval == pybpf.XDP_DROP
        assert coll.maps["proto_count"][1] == 2
        assert coll.maps["proto_count"][17] == 0


def test_xdp_adjust_head_tail_meta_reshape_the_packet(vm_object, packets) -> None:
    frame = packets["udp echo"]
    with Collection(vm_object("vm_xdp")) as coll:
        result = coll.programs["xdp_adjust"].test_run(frame)
    assert result.retval == pybpf.XDP_PASS
    body = b"PYBPFVM!" + frame[:-4]
    assert result.data_out == struct.pack("<II", 0xABCD1234, len(body)) + body


def test_tc_dnat_rewrites_destination_with_valid_checksums(vm_object, packets) -> None:
    with Collection(vm_object("vm_skb")) as coll:
        result = coll.programs["tc_dnat"].test_run(packets["udp echo"])
        assert coll.maps["seen"][0] == len(packets["udp echo"])          # skb->len
        assert coll.maps["seen"][1] == 0x0008                            # htons(ETH_P_IP)
    out = Ether(result.data_out)
    assert out[IP].dst == "10.200.10.10"
    recomputed = Ether(result.data_out)
    del recomputed[IP].chksum
    del recomputed[UDP].chksum
    recomputed = Ether(bytes(recomputed))
    assert (out[IP].chksum, out[UDP].chksum) == (recomputed[IP].chksum, recomputed[UDP].chksum)


def test_rodata_constant_set_on_the_spec_changes_behaviour(vm_object, packets) -> None:
    spec = vm_object("vm_skb")
    spec.rodata["new_daddr"] = int.from_bytes(bytes([10, 200, 7, 7]), "little")
    with Collection(spec) as coll:
        result = coll.programs["tc_dnat"].test_run(packets["udp echo"])
    assert Ether(result.data_out)[IP].dst == "10.200.7.7"


def test_socket_filter_sees_the_network_header_at_data(vm_object, packets) -> None:
    with Collection(vm_object("vm_skb")) as coll:
        result = coll.programs["sock_len"].test_run(packets["udp dns"])
        proto_and_len = coll.maps["seen"][3]
    assert result.retval == len(packets["udp dns"]) - 14
    assert proto_and_len == (17 << 32) | (len(packets["udp dns"]) - 14)


def test_execve_tracepoint_reads_simulated_user_strings(vm_object) -> None:
    env = SimEnv(process=SimProcess(pid=77, tgid=70, uid=1234, comm="bash"))
    with Collection(vm_object("vm_trace"), env=env) as coll:
        result = coll.programs["trace_execve"].run_tracepoint(
            filename="/usr/bin/ls", argv=["ls", "-l", "/tmp", "ignored"])
        (record,) = coll.maps["events"].ring_reader().poll(0)
    assert result.retval == 0
    pid, tgid, uid, argc = struct.unpack_from("<4I", record)
    assert (pid, tgid, uid, argc) == (77, 70, 1234, 3)
    assert record[16:32].rstrip(b"\0") == b"bash"
    assert record[32:96].rstrip(b"\0") == b"/usr/bin/ls"
    assert [record[96 + 32 * i:128 + 32 * i].rstrip(b"\0") for i in range(3)] == [b"ls", b"-l", b"/tmp"]


def test_trace_printk_output_is_captured_and_formatted(vm_object) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        result = coll.programs["trace_execve_exit"].run_tracepoint(ret=-2)
        assert coll.maps["stats"][1] == 1
    assert result.extra["trace"] == ["execve returned -2"]


def test_uprobe_reads_its_string_argument_from_pt_regs(vm_object) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        result = coll.programs["probe_strlen"].run_probe(parm1="hello", parm2=99)
        assert coll.maps["stats"][2] == (6 << 32) | 99
    assert result.extra["trace"] == ["probe hello 6"]


def test_raw_tracepoint_reads_its_u64_arguments(vm_object) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        coll.programs["raw_enter"].run_raw_tracepoint(0, 59)
        assert coll.maps["stats"][3] == 590


def test_raw_tracepoint_test_run_takes_args_from_ctx_in(vm_object) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        coll.programs["raw_enter"].test_run(ctx_in=struct.pack("<QQ", 1, 7))
        assert coll.maps["stats"][3] == 70


def test_full_ring_buffer_drops_and_counts(vm_object) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        prog = coll.programs["trace_execve"]
        record = 8 + ((4 * 4 + 16 + 64 + 96 + 7) & ~7)       # header + rounded event size
        fits = 4096 // record
        results = [prog.run_tracepoint(filename="f", argv=[]).retval for _ in range(fits + 2)]
        ring = coll.maps["events"]
        assert results == [0] * fits + [1, 1]
        assert ring.dropped == 2
        assert len(ring.ring_reader().poll(0)) == fits
        assert prog.run_tracepoint(filename="f", argv=[]).retval == 0    # space is back


def test_simulated_task_struct_fields_come_from_btf_layout(compile_bpf) -> None:
    spec = pybpf.load_object(compile_bpf(__import__("pathlib").Path(__file__).parents[2] /
                                         "bpf" / "execsnoop.bpf.c"))
    env = SimEnv(process=SimProcess(pid=77, tgid=70, uid=0, comm="bash",
                                    task={"real_parent": {"tgid": 1234}}))
    with Collection(spec, env=env) as coll:
        coll.programs["execsnoop_enter_execve"].run_tracepoint(filename="/bin/true", argv=["true"])
        coll.programs["execsnoop_exit_execve"].run_tracepoint(ret=0)
        (event,) = coll.maps["events"].ring_reader().poll(0)
    raw = event if isinstance(event, bytes) else event.to_bytes()
    assert struct.unpack_from("<II", raw, 8) == (70, 1234)             # pid (tgid), ppid


def test_unsupported_map_type_is_a_clear_error(vm_object) -> None:
    from pybpf.errors import MapError
    from pybpf.vm.maps import create_map
    from pybpf.vm.memory import Memory
    with pytest.raises(MapError, match="STACK_TRACE is not supported by the VM"):
        create_map(memory=Memory(), name="st", type=7, key_size=4, value_size=8, max_entries=4)


def test_snprintf_strtol_strncmp_give_hand_checked_results(vm_object) -> None:
    with Collection(vm_object("vm_misc")) as coll:
        coll.programs["xdp_strings"].test_run(bytes(range(3, 40)))
        text = coll.maps["texts"][0]
        out = dict(coll.maps["out"].items())
    raw = text.s if hasattr(text, "s") else text
    raw = raw.encode() if isinstance(raw, str) else bytes(raw)
    assert raw.rstrip(b"\0") == b"n=-8 s=pybpf x=beef u=18446744073709551615"
    assert out[0] == len("n=-8 s=pybpf x=beef u=18446744073709551615") + 1
    assert (out[1], out[2]) == (7, -0x1A)              # "  -0x1a" consumed, value
    assert (out[3], out[4]) == (4, 4096)
    assert (out[5], out[6]) == (0, 0)


def test_simulated_environment_is_deterministic_and_configurable(vm_object) -> None:
    clock = iter(range(10**9, 10**10, 10**6))
    env = SimEnv(clock_ns=lambda: next(clock), seed=7, hz=1000)
    with Collection(vm_object("vm_misc"), env=env) as coll, \
            coll.maps["samples"].ring_reader() as samples:
        coll.programs["xdp_env"].test_run(bytes(20))
        out = dict(coll.maps["out"].items())
        (sample,) = samples.poll(0)
    from pybpf.vm.helpers import splitmix64
    assert out[2] == splitmix64(7)[1] >> 32                   # first draw of the seeded PRNG
    assert out[3] == (10**9 + 2 * 10**6) * 1000 // 10**9      # third clock read, HZ=1000
    assert out[4] == 0 and int.from_bytes(sample, "little") == 10**9


def test_redirect_records_the_target(vm_object) -> None:
    with Collection(vm_object("vm_misc")) as coll:
        result = coll.programs["xdp_redirects"].test_run(bytes([1]) + bytes(20))
    assert result.retval == pybpf.XDP_REDIRECT
    assert result.extra["redirect"] == ("ifindex", 7, 0)


def test_redirect_map_to_a_filled_devmap_slot_redirects(vm_object) -> None:
    with Collection(vm_object("vm_misc")) as coll:
        coll.maps["ports"].update(3, 9)
        result = coll.programs["xdp_redirects"].test_run(bytes([2]) + bytes(20))
    assert result.retval == pybpf.XDP_REDIRECT
    assert result.extra["redirect"] == ("map", "ports", 3)


def test_out_of_bounds_packet_read_names_the_c_source_line(vm_object, packets) -> None:
    from pybpf.errors import MemoryAccessError
    with Collection(vm_object("vm_bad"), unsafe=True) as coll:   # kernel rejects it too
        with pytest.raises(MemoryAccessError) as info:
            coll.programs["read_past_the_packet"].test_run(packets["udp echo"])
    err = info.value
    assert err.source_line is not None and "vm_bad.c:10" in err.source_line
    assert "packet region 'packet'" in str(err)
    assert err.program == "read_past_the_packet"


def test_infinite_loop_in_c_stops_at_the_instruction_budget(vm_object, packets) -> None:
    from pybpf.errors import InstructionLimitError
    with Collection(vm_object("vm_bad"), budget=20_000, unsafe=True) as coll:  # unbounded loop
        with pytest.raises(InstructionLimitError, match="after 20000 instructions"):
            coll.programs["spin_forever"].test_run(packets["udp echo"])


def test_perf_event_output_without_an_open_reader_fails_with_enoent(vm_object) -> None:
    with Collection(vm_object("vm_misc")) as coll:
        coll.programs["xdp_env"].test_run(bytes(20))
        assert coll.maps["out"][4] == -2                        # -ENOENT, as in the kernel


def test_fib_lookup_uses_the_configured_route_table(vm_object, packets) -> None:
    seen = []

    def route(params: bytes, flags: int):
        seen.append((params[0], bytes(params[32:36])))            # family, ipv4_dst
        out = bytearray(params)
        out[8:12] = (5).to_bytes(4, "little")                      # ifindex: egress device
        out[52:58] = bytes.fromhex("0200000000aa")                 # smac
        out[58:64] = bytes.fromhex("0200000000bb")                 # dmac
        return 0, bytes(out)

    with Collection(vm_object("vm_misc"), env=SimEnv(fib_lookup=route)) as coll:
        result = coll.programs["xdp_fib"].test_run(packets["udp echo"])
        assert coll.maps["out"][0] == 0
    assert seen == [(2, bytes([10, 200, 0, 2]))]
    assert result.retval == pybpf.XDP_REDIRECT and result.extra["redirect"] == ("ifindex", 5, 0)
    assert result.data_out[:12] == bytes.fromhex("0200000000bb0200000000aa")


def test_fib_lookup_without_a_route_table_reports_not_forwarded(vm_object, packets) -> None:
    with Collection(vm_object("vm_misc")) as coll:
        assert coll.programs["xdp_fib"].test_run(packets["udp echo"]).retval == pybpf.XDP_PASS
        assert coll.maps["out"][0] == 4                            # BPF_FIB_LKUP_RET_NOT_FWDED


def test_tail_call_target_sees_inner_maps_of_a_map_in_map(compile_bpf) -> None:
    from pathlib import Path
    source = Path(__file__).resolve().parents[1] / "corpus" / "core" / "core_calls.bpf.c"
    with Collection(pybpf.load_object(compile_bpf(source))) as coll, \
            coll.maps["ring"].ring_reader() as ring:
        coll.programs["walk_counters"].run_raw_tracepoint(0, 0)       # tail-calls tail_target
        records = ring.poll(0)
    assert [int.from_bytes(r, "little") for r in records] == [1]      # outer[0] holds inner_a


def test_repeated_runs_do_not_leak_memory_regions(vm_object, packets) -> None:
    with Collection(vm_object("vm_trace")) as coll:
        prog = coll.programs["trace_execve"]
        prog.run_tracepoint(filename="/bin/x", argv=["x", "y"])
        coll.maps["events"].ring_reader().poll(0)
        before = len(coll.machine.mem.slots)
        for _ in range(50):
            prog.run_tracepoint(filename="/bin/x", argv=["x", "y"])
            coll.maps["events"].ring_reader().poll(0)
        assert len(coll.machine.mem.slots) == before


def test_unverified_unsafe_program_is_refused_before_it_runs_by_default(vm_object) -> None:
    from pybpf.verifier.rejections import ProgramRejected
    with pytest.raises(ProgramRejected) as info:
        Collection(vm_object("vm_bad"), programs=["read_past_the_packet"])
    assert "vm_bad.c:10" in str(info.value)
    assert any("unsafe=True" in note for note in info.value.__notes__)


def test_deprecated_verify_false_skips_the_verifier(vm_object) -> None:
    with pytest.warns(DeprecationWarning, match="unsafe=True"):
        coll = Collection(vm_object("vm_bad"), programs=["read_past_the_packet"], verify=False)
    with coll:
        assert coll.unsafe and "read_past_the_packet" not in coll.verified


def test_verify_option_accepts_the_load_balancer_and_records_the_result(compile_bpf) -> None:
    from pathlib import Path
    spec = pybpf.load_object(compile_bpf(Path(__file__).resolve().parents[2] / "bpf" / "xdplb.bpf.c"))
    with Collection(spec, programs=["xdp_lb"]) as coll:
        result = coll.verified["xdp_lb"]
        assert result.accepted and result.insns_processed > 0
        assert coll.programs["xdp_lb"].test_run(bytes(64)).retval == pybpf.XDP_PASS


def test_cli_run_in_the_vm_refuses_an_unsafe_program_unless_told_unsafe(compile_bpf, tmp_path,
                                                                       capsys) -> None:
    from pathlib import Path
    from pybpf.cli.main import main
    obj = str(compile_bpf(Path(__file__).resolve().parent / "progs" / "vm_bad.c"))
    packet = tmp_path / "pkt.bin"
    packet.write_bytes(bytes(64))
    argv = ["run", obj, "--prog", "read_past_the_packet", "--data-in", str(packet), "--engine", "vm"]
    assert main(argv) == 1
    refused = capsys.readouterr().err
    assert "vm_bad.c:10" in refused and "packet region" not in refused     # the verifier said no
    assert main(argv + ["--unsafe"]) == 1
    assert "packet region 'packet'" in capsys.readouterr().err             # it ran and faulted
