"""Line plots written as PNG next to the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def accuracy_plot(path: Path, title: str, curves: Mapping[str, Sequence[float]], xlabel: str = "round",
                  references: Mapping[str, float] | None = None, first_x: int = 1) -> None:
    """Accuracy (percent) per step for each curve, with optional horizontal reference lines."""
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for label, values in curves.items():
        axis.plot(range(first_x, first_x + len(values)), [100 * v for v in values], marker=".", label=label)
    for label, value in (references or {}).items():
        axis.axhline(100 * value, linestyle="--", color="grey", linewidth=1)
        axis.annotate(label, (first_x, 100 * value), textcoords="offset points", xytext=(2, 3), fontsize=8)
    axis.set(title=title, xlabel=xlabel, ylabel="test accuracy (%)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path, dpi=110)


def seconds_plot(path: Path, title: str, curves: Mapping[str, Sequence[float]], xlabel: str = "round") -> None:
    """Seconds per step for each curve, from zero (so a flat line looks flat)."""
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for label, values in curves.items():
        axis.plot(range(1, 1 + len(values)), values, marker=".", label=label)
    axis.set(title=title, xlabel=xlabel, ylabel="seconds")
    axis.set_ylim(bottom=0)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path, dpi=110)


def panel_plot(path: Path, title: str, panels: Mapping[str, Mapping[str, Sequence[float | None]]],
               xlabel: str = "round") -> None:
    """One small accuracy plot per panel (e.g. per method), sharing axes; None values are gaps."""
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), sharex=True, sharey=True,
                                squeeze=False)
    for axis, (name, curves) in zip(axes.flat, panels.items(), strict=False):
        for label, values in curves.items():
            axis.plot(range(1, len(values) + 1), [float("nan") if v is None else 100 * v for v in values],
                      marker=".", label=label)
        axis.set(title=name, xlabel=xlabel, ylabel="test accuracy (%)")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(title)
    _save(figure, path, dpi=100)


def _save(figure: plt.Figure, path: Path, dpi: int) -> None:
    """Lay out, write (creating the folder) and free the figure: matplotlib keeps open ones alive."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
