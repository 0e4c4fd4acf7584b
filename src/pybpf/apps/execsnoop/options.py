"""ExecsnoopOptions: what to trace (the in-kernel filters) and what to show (userspace filters).

Validates user input and maps it onto the object's .rodata constants; never loads anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ...errors import BPFError
from . import layout


@dataclass
class ExecsnoopOptions:
    """Filters for execsnoop. ``include_failed``/``failed_only`` follow libbpf-tools' ``-x``.

    In the kernel (via .rodata): uid, cgroup_path, name (substring of the new comm), failed mode,
    max_args. In userspace: line (substring of the joined arguments).
    """

    uid: int | None = None
    cgroup_path: str | None = None
    name: str | None = None
    line: str | None = None
    include_failed: bool = False
    failed_only: bool = False
    max_args: int = layout.DEFAULT_MAX_ARGS
    ring_size: int | None = None      # bytes; a power of two multiple of the page size

    def validate(self) -> None:
        if self.uid is not None and not 0 <= self.uid < layout.INVALID_UID:
            raise BPFError(f"invalid UID {self.uid}: must be in [0, {layout.INVALID_UID - 1}]")
        if not 1 <= self.max_args <= layout.TOTAL_MAX_ARGS:
            raise BPFError(f"invalid max_args {self.max_args}: should be in "
                           f"[1, {layout.TOTAL_MAX_ARGS}] range")
        if self.name is not None:
            encoded = self.name.encode()
            if not encoded or b"\0" in encoded or len(encoded) >= layout.TASK_COMM_LEN:
                raise BPFError(f"invalid name {self.name!r}: must be 1-{layout.TASK_COMM_LEN - 1} "
                               "bytes (a command name is at most 15 characters)")
        if self.cgroup_path is not None and not os.path.isdir(self.cgroup_path):
            raise BPFError(f"cgroup path {self.cgroup_path!r} is not a directory")
        if self.ring_size is not None:
            page = os.sysconf("SC_PAGE_SIZE")
            size = self.ring_size
            if size < page or size & (size - 1):
                raise BPFError(f"invalid ring size {size}: must be a power of two >= {page}")

    @property
    def failed_mode(self) -> int:
        if self.failed_only:
            return layout.FAILED_ONLY
        return layout.ALL if self.include_failed else layout.SUCCESS_ONLY

    def rodata(self) -> dict[str, Any]:
        """Values for the object's .rodata constants (names as in bpf/execsnoop.bpf.c)."""
        name = (self.name or "").encode()
        return {
            "targ_uid": layout.INVALID_UID if self.uid is None else self.uid,
            "failed_mode": self.failed_mode,
            "max_args": self.max_args,
            "filter_cg": 1 if self.cgroup_path else 0,
            "targ_name": name + bytes(layout.TASK_COMM_LEN - len(name)),
        }

    def shows(self, event: Any) -> bool:
        """The userspace filter (-l LINE): True when the event should be reported."""
        return self.line is None or self.line in " ".join(event.args)
