"""Counts of possible/online CPUs read from sysfs (per-CPU map value slots, perf buffers).

Reads /sys/devices/system/cpu/{possible,online} only; never guesses from os.cpu_count().
"""
from __future__ import annotations

from functools import lru_cache

from ..errors import KernelError


def parse_cpu_list(text: str) -> list[int]:
    """``"0-3,5"`` -> [0, 1, 2, 3, 5]."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.extend(range(int(lo), int(hi) + 1))
            else:
                cpus.append(int(part))
        except ValueError:
            raise KernelError(f"cannot parse CPU list {text!r}") from None
    return cpus


@lru_cache(maxsize=None)
def possible_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/possible") as f:
        return parse_cpu_list(f.read())


def num_possible_cpus() -> int:
    """Slots in a per-CPU map value: highest possible CPU + 1 (what libbpf_num_possible_cpus returns)."""
    return max(possible_cpus()) + 1


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())
