"""Interfaces the kernel backend and the VM both implement: loaded programs, collections, ring readers.

Only shapes live here (dataclasses and ABCs), so user code and tests can switch backends by one word.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .mapapi import Codec, Map


@dataclass
class TestRunResult:
    """What BPF_PROG_TEST_RUN (or the VM's equivalent) reports for one program run."""

    __test__ = False        # not a pytest test class

    retval: int
    data_out: bytes = b""
    ctx_out: bytes = b""
    duration_ns: int = 0    # average per repetition
    repeat: int = 1
    extra: dict[str, Any] = field(default_factory=dict)   # backend-specific (trace output, ...)


class LoadedProgram(ABC):
    """A program loaded into a backend."""

    name: str

    @abstractmethod
    def test_run(self, data_in: bytes = b"", *, ctx_in: bytes | None = None, repeat: int = 1,
                 data_size_out: int | None = None, flags: int = 0, cpu: int = 0) -> TestRunResult:
        """Run the program once (or ``repeat`` times) on the given input."""

    def close(self) -> None:
        """Release backend resources. Idempotent."""


class RingReader(ABC):
    """Consumes records from a ring buffer map (kernel mmap+epoll, or the VM's ring)."""

    @abstractmethod
    def poll(self, timeout: float | None = None) -> list[Any]:
        """Wait up to ``timeout`` seconds (None: forever, 0: don't wait) and return all ready records."""

    def __iter__(self) -> Iterator[Any]:
        while True:
            yield from self.poll(None)

    def close(self) -> None:
        """Stop reading and release resources. Idempotent."""

    def __enter__(self) -> "RingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Collection(ABC):
    """Maps and programs of one object, loaded into one backend; a context manager that closes all."""

    programs: Mapping[str, LoadedProgram]
    maps: Mapping[str, Map]

    @abstractmethod
    def close(self) -> None:
        """Close every program, map and link this collection created."""

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["TestRunResult", "LoadedProgram", "RingReader", "Collection", "Map", "Codec"]
