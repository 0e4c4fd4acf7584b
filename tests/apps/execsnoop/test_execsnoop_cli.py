"""``pybpf execsnoop`` and ``pybpf demo`` as a user runs them: output, record/replay, errors, Ctrl-C."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pybpf.cli.main import main

HEADER = "PCOMM            PID    PPID   RET ARGS"
RECORDING = [
    {"format": "pybpf-execsnoop", "version": 1},
    {"pid": 2001, "ppid": 2000, "uid": 1000, "retval": 0, "comm": "ls",
     "args": ["/bin/ls", "-l", "/tmp"], "truncated": False, "execveat": False, "ts_ns": 5_000_000_000},
    {"pid": 2002, "ppid": 2000, "uid": 0, "retval": -2, "comm": "bash",
     "args": ["/nonexistent/x", "a b"], "truncated": False, "execveat": False,
     "ts_ns": 5_500_000_000},
]


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(obj) + "\n" for obj in RECORDING))
    return path


def _pybpf(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pybpf", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_vm_replay_prints_libbpf_tools_columns(recording, capsys):
    assert main(["execsnoop", "--engine", "vm", "--replay", str(recording), "-x"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        HEADER,
        "ls               2001   2000     0 /bin/ls -l /tmp",
        "bash             2002   2000    -2 /nonexistent/x a b",
    ]


def test_vm_replay_applies_filters_again(recording, capsys):
    assert main(["execsnoop", "--engine", "vm", "--replay", str(recording), "-U", "-q"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "UID    " + HEADER,
        '1000   ls               2001   2000     0 "/bin/ls" "-l" "/tmp"',
    ]


def test_vm_replay_json_with_timestamps(recording, capsys):
    assert main(["execsnoop", "--engine", "vm", "--replay", str(recording), "--failed-only",
                 "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [dict(RECORDING[2])]


def test_vm_engine_without_replay_is_an_error(capsys):
    assert main(["execsnoop", "--engine", "vm"]) == 1
    assert "--engine vm needs --replay FILE" in capsys.readouterr().err


def test_bad_max_args_is_an_error(recording, capsys):
    assert main(["execsnoop", "--engine", "vm", "--replay", str(recording),
                 "--max-args", "30"]) == 1
    assert "should be in [1, 20] range" in capsys.readouterr().err


def test_bad_recording_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"format": "pybpf-execsnoop", "version": 1}\n[1, 2]\n')
    assert main(["execsnoop", "--engine", "vm", "--replay", str(path)]) == 1
    assert "broken.jsonl:2: expected a JSON object" in capsys.readouterr().err


def test_demo_in_the_vm_says_so_and_shows_the_failed_exec(capsys):
    assert main(["demo", "--engine", "vm", "--part", "execsnoop"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("pybpf demo: execsnoop in the userspace VM")
    assert HEADER in out
    assert " -2 /nonexistent/pybpf-demo --fails" in out


# --- kernel ------------------------------------------------------------------------------------
def _wait_for_header(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line.rstrip("\n") == HEADER, (line, proc.stderr.read() if proc.poll() is not None else "")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.kernel
def test_kernel_record_then_vm_replay_prints_the_same_lines(tmp_path, capsys):
    record = tmp_path / "kernel.jsonl"
    me = str(os.getpid())
    proc = _pybpf("execsnoop", "-x", "--max-args", "4", "--record", str(record))
    lines: list[str] = []
    try:
        _wait_for_header(proc)
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        echo = subprocess.Popen(["/bin/echo", "from", "the", "kernel", "test", "extra"],
                                stdout=subprocess.DEVNULL)
        echo.wait()
        try:
            subprocess.run(["/nonexistent/pybpf-cli-test", "arg"])
        except FileNotFoundError:
            pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and \
                sum(line.split()[2:3] == [me] for line in list(lines)) < 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)         # Ctrl-C: stop; the recording is complete
        proc.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        _stop(proc)
    assert proc.returncode == 0, proc.stderr.read()
    kernel_lines = [line.rstrip("\n") for line in lines]
    mine = [line for line in kernel_lines if line.split()[2] == me]
    assert len(mine) == 2, kernel_lines
    assert mine[0].split()[:2] == ["echo", str(echo.pid)]
    assert mine[0].endswith(" 0 /bin/echo from the kernel ...")
    assert mine[1].endswith(" -2 /nonexistent/pybpf-cli-test arg")

    assert main(["execsnoop", "--engine", "vm", "--replay", str(record), "-x",
                 "--max-args", "4"]) == 0
    replay_lines = capsys.readouterr().out.splitlines()
    assert replay_lines[0] == HEADER
    differences = [(k, r) for k, r in zip(kernel_lines, replay_lines[1:]) if k != r]
    assert not differences and len(replay_lines) == len(kernel_lines) + 1


def _prog_ids_held_by(pid: int) -> set[int]:
    """BPF program ids whose fds process ``pid`` holds (from /proc/PID/fdinfo)."""
    ids = set()
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            text = info.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("prog_id:"):
                ids.add(int(line.split()[1]))
    return ids


@pytest.mark.kernel
def test_ctrl_c_detaches_every_program():
    if not shutil.which("bpftool"):
        pytest.skip("bpftool is not installed")

    def loaded_prog_ids() -> set[int]:
        progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                          text=True, check=True).stdout)
        return {p["id"] for p in progs}

    proc = _pybpf("execsnoop")
    try:
        _wait_for_header(proc)
        running = _prog_ids_held_by(proc.pid)
        assert len(running) == 4 and running <= loaded_prog_ids()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        _stop(proc)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr.read()
    deadline = time.monotonic() + 5
    while running & loaded_prog_ids() and time.monotonic() < deadline:
        time.sleep(0.1)                 # programs are freed after an RCU grace period
    assert not running & loaded_prog_ids()


@pytest.mark.kernel
def test_json_and_count_stop_after_n_events(burst_tools):
    _, tiny = burst_tools
    proc = _pybpf("execsnoop", "--json", "--count", "2", "-n", tiny.name)
    try:
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            subprocess.run([str(tiny)])
            time.sleep(0.05)
        out, err = proc.communicate(timeout=10)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2
    assert all(e["comm"] == tiny.name and e["args"] == [str(tiny)] and e["retval"] == 0
               for e in events)
    assert all(e["ppid"] == os.getpid() for e in events)


@pytest.mark.kernel
def test_demo_uses_the_kernel_when_it_can(capsys):
    assert main(["demo", "--part", "execsnoop"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("pybpf demo: execsnoop in the KERNEL")
    assert f"{os.getpid():<6}" in out
    assert " -2 /nonexistent/pybpf-demo --fails" in out
    assert " 0 /bin/echo hello from pybpf" in out


def test_replay_reports_ring_buffer_drops_on_stderr(tmp_path, capsys):
    path = tmp_path / "many.jsonl"
    lines = [RECORDING[0]] + [
        {"pid": 3000 + i, "ppid": 2000, "uid": 0, "retval": 0, "comm": "true",
         "args": ["/bin/true", "x" * 100], "truncated": False, "execveat": False, "ts_ns": 0}
        for i in range(200)]
    path.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    assert main(["execsnoop", "--engine", "vm", "--replay", str(path), "--ring-size", "4096",
                 "--json"]) == 0
    captured = capsys.readouterr()
    shown = len(captured.out.splitlines())
    lost = int(captured.err.split("Lost ", 1)[1].split()[0])
    assert lost > 0 and shown + lost == 200


def test_replay_of_an_empty_recording_prints_only_the_header(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text(json.dumps(RECORDING[0]) + "\n")
    assert main(["execsnoop", "--engine", "vm", "--replay", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [HEADER]


def test_demo_falls_back_to_the_vm_and_says_why(monkeypatch, capsys):
    from pybpf.cli import demo
    monkeypatch.setattr(demo, "kernel_unavailable_reason", lambda: "bpf(2) is not permitted")
    assert main(["demo", "--part", "execsnoop"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("pybpf demo: execsnoop in the userspace VM with simulated execs "
                     "(kernel unavailable: bpf(2) is not permitted)")


def test_replay_time_column_uses_the_recorded_wall_clock(tmp_path, capsys):
    offset = 1_700_000_000_000_000_000          # 2023-11-14T22:13:20Z minus the monotonic clock
    path = tmp_path / "timed.jsonl"
    header = dict(RECORDING[0], realtime_offset_ns=offset)
    path.write_text("".join(json.dumps(obj) + "\n" for obj in [header, RECORDING[1]]))
    assert main(["execsnoop", "--engine", "vm", "--replay", str(path), "-T", "-t"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    wall = time.strftime("%H:%M:%S", time.localtime((RECORDING[1]["ts_ns"] + offset) / 1e9))
    assert row.startswith(f"{wall} 0.000    ls ")
