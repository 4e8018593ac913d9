"""Long runs kept one file each under docs/bench/runs/, so a section interrupted keeps what
finished and a later run only computes what is missing. Several processes may run the same section
at once: each claims a run before computing it and skips runs a live process has claimed."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import load_sample
from bench.settings import REPO

RUNS = REPO / "docs" / "bench" / "runs"


def run_path(label: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return RUNS / f"{label}-{digest}.json"


def cached_run(label: str, key: dict[str, Any], compute: Callable[[], dict[str, Any]],
               compute_missing: bool = True) -> dict[str, Any] | None:
    """The stored result of the run described by ``key``, computing and storing it when missing;
    None when another live process is computing it or ``compute_missing`` is off. The record says
    what ran, when, how long and under what load."""
    path = run_path(label, key)
    if path.exists():
        return json.loads(path.read_text())
    if not compute_missing or not _claim(path.with_suffix(".claim")):
        return None
    try:
        before, started = load_sample(), time.perf_counter()
        record = {"key": key, "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                  "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "data": compute()}
        record.update(seconds=round(time.perf_counter() - started, 1), load_before=before.to_json(),
                      load_after=load_sample().to_json())
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(path)
        return record
    finally:
        path.with_suffix(".claim").unlink(missing_ok=True)


def _claim(marker: Path) -> bool:
    """Take the run unless a live process holds it (a dead holder's claim is taken over)."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        holder = int(marker.read_text())
        os.kill(holder, 0)
        return holder == os.getpid()
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass
    except PermissionError:
        return False
    partial = marker.with_suffix(f".claim{os.getpid()}")
    partial.write_text(str(os.getpid()))
    partial.replace(marker)
    return int(marker.read_text()) == os.getpid()
