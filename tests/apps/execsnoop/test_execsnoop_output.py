"""Text output matches libbpf-tools' printf formats (checked with C printf semantics via %)."""
from __future__ import annotations

import json

from pybpf.apps.execsnoop import ExecEvent, TextFormatter, format_args, json_line

EVENT = ExecEvent(pid=4242, ppid=17, uid=1000, retval=0, comm="ls", args=["/bin/ls", "-l", "/tmp"],
                  ts_ns=3_500_000_000)


def test_header_matches_libbpf_tools():
    assert TextFormatter().header() == "%-16s %-6s %-6s %3s %s" % ("PCOMM", "PID", "PPID", "RET",
                                                                  "ARGS")


def test_header_with_time_timestamp_and_uid_columns():
    fmt = TextFormatter(time=True, timestamp=True, print_uid=True)
    assert fmt.header() == ("%-9s" % "TIME") + ("%-8s " % "TIME(s)") + ("%-6s " % "UID") + \
        "%-16s %-6s %-6s %3s %s" % ("PCOMM", "PID", "PPID", "RET", "ARGS")


def test_row_matches_libbpf_tools_printf():
    assert TextFormatter().line(EVENT) == \
        "%-16s %-6d %-6d %3d " % ("ls", 4242, 17, 0) + "/bin/ls -l /tmp"


def test_failed_exec_shows_negative_errno():
    failed = ExecEvent(pid=1, ppid=2, uid=0, retval=-2, comm="bash", args=["/nonexistent"])
    assert TextFormatter().line(failed) == "bash             1      2       -2 /nonexistent"


def test_timestamp_is_seconds_since_start():
    fmt = TextFormatter(timestamp=True, start_ns=1_000_000_000)
    assert fmt.line(EVENT).startswith("2.500    ls ")


def test_truncated_args_end_with_ellipsis():
    event = ExecEvent(pid=1, ppid=2, uid=0, retval=0, comm="x", args=["/x", "a"], truncated=True)
    assert format_args(event) == "/x a ..."


def test_quoted_args_escape_quotes_tabs_and_newlines():
    event = ExecEvent(pid=1, ppid=2, uid=0, retval=0, comm="x", args=["/x", 'say "hi"', "a\tb\n"])
    assert format_args(event, quote=True) == '"/x" "say \\"hi\\"" "a\\tb\\n"'


def test_json_line_is_one_object_on_one_line():
    text = json_line(EVENT)
    assert "\n" not in text
    assert json.loads(text) == {"pid": 4242, "ppid": 17, "uid": 1000, "retval": 0, "comm": "ls",
                                "args": ["/bin/ls", "-l", "/tmp"], "truncated": False,
                                "execveat": False, "ts_ns": 3_500_000_000}
