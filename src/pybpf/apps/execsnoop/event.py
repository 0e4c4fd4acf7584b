"""ExecEvent: one traced exec (who, what, result) as plain Python data, plus its JSON form.

Pure data: never reads the kernel, a map or a file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ...errors import BPFError


@dataclass(frozen=True)
class ExecEvent:
    """One execve/execveat as seen at syscall exit. ``args[0]`` is the filename passed to exec."""

    pid: int
    ppid: int
    uid: int
    retval: int
    comm: str
    args: list[str] = field(default_factory=list)
    truncated: bool = False        # the process had more arguments than max_args
    execveat: bool = False         # from execveat(2) rather than execve(2)
    ts_ns: int = 0                 # CLOCK_MONOTONIC (bpf_ktime_get_ns) at syscall exit

    @property
    def failed(self) -> bool:
        return self.retval < 0

    @property
    def filename(self) -> str:
        return self.args[0] if self.args else ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "event") -> "ExecEvent":
        """Build an event from its JSON dict; raises BPFError naming ``where`` on bad input."""
        if not isinstance(obj, dict):
            raise BPFError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        try:
            args = obj.get("args", [])
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                raise TypeError("args must be a list of strings")
            event = cls(pid=_int(obj["pid"]), ppid=_int(obj["ppid"]), uid=_int(obj["uid"]),
                        retval=_int(obj["retval"]), comm=str(obj["comm"]), args=list(args),
                        truncated=bool(obj.get("truncated", False)),
                        execveat=bool(obj.get("execveat", False)),
                        ts_ns=_int(obj.get("ts_ns", 0)))
        except KeyError as exc:
            raise BPFError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise BPFError(f"{where}: {exc}") from None
        return event


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value
