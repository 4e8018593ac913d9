"""Seconds spent per phase of a round, so overhead can be reported against training time."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("training", "serialization", "ipfs", "chain", "aggregation", "evaluation")


class PhaseTimer:
    """Accumulates seconds per phase; thread-safe, so concurrent clients can share one."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in PHASES:
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
            return {name: round(self._seconds.get(name, 0.0), 4) for name in PHASES}
