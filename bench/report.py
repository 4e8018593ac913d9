"""Markdown pieces shared by the sections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def provenance(result: dict[str, Any]) -> str:
    """The line under a section: which command produced it, when, how long, under what load."""
    before, after = result["load_before"], result["load_after"]
    return (f"*Produced by `{result['command']}` ({result['mode']} run) on {result['started']}, "
            f"{seconds(result['seconds'])}; load average (1 min) {before['one_minute']} before, "
            f"{after['one_minute']} after, on {before['cores']} cores.*")
