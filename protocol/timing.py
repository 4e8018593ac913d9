"""Seconds spent per phase of a round, so overhead can be reported against training time."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

PHASES = ("training", "serialization", "ipfs", "chain", "aggregation", "evaluation")


class PhaseTimer:
    """Accumulates seconds per phase (`names`: a round's phases unless told); thread-safe, so
    concurrent clients can share one."""

    def __init__(self, names: Sequence[str] = PHASES) -> None:
        self._names = tuple(names)
        self._seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in self._names:
            raise ValueError(f"unknown phase {name!r}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self._seconds[name] += seconds

    def merge(self, other: PhaseTimer) -> None:
        for name, seconds in other.totals().items():
            self.add(name, seconds)

    def totals(self) -> dict[str, float]:
        with self._lock:
            return {name: round(self._seconds.get(name, 0.0), 4) for name in self._names}
