"""A service's log in which a repeated line is said once until it changes: a client polling a
broken data file, or a service waiting for a node that is down, would otherwise print the same
error at every poll and bury everything else."""

from __future__ import annotations

from collections.abc import Callable


class SaidOnce:
    """Passes a line on unless it is the line said last; any other line is said, and after it the
    earlier one is said again."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._last: str | None = None

    def __call__(self, line: str) -> None:
        if line != self._last:
            self._say(line)
        self._last = line
