"""What the machine was doing while a section ran: load, cores, peak memory."""

from __future__ import annotations

import os
import platform
import resource
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LoadSample:
    one_minute: float
    five_minutes: float
    cores: int

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def load_sample() -> LoadSample:
    one, five, _ = os.getloadavg()
    return LoadSample(round(one, 2), round(five, 2), os.cpu_count() or 1)


def machine_description() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_rss_mib(usage: resource.struct_rusage) -> float:
    """ru_maxrss is in KiB on Linux."""
    return round(usage.ru_maxrss / 1024, 1)
