"""Tasks of one's own for the tests: scaffolded by `run.py task new` and installed the way pip installs
a package (the package and a .dist-info declaring its entry point, on sys.path), but in the test's
temporary directory rather than the shared environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from mlprocessor.task_registry import ENTRY_POINT_GROUP

Install = Callable[..., Path]


def write_csv(path: Path, rows: int = 120, seed: int = 0) -> Path:
    """Two numeric features and a text label that the features separate."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    lines = ["size,weight,kind"]
    for label in labels:
        size, weight = rng.normal(3.0 * label, 1.0), rng.normal(10.0 - 4.0 * label, 2.0)
        lines.append(f"{size:.4f},{weight:.4f},{'big' if label else 'small'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def register_entry_point(site: Path, name: str, target: str) -> None:
    """What pip writes for a package's entry point: a .dist-info directory on sys.path."""
    distribution = site / f"fedchain_task_{name.replace('-', '_')}-1.0.dist-info"
    distribution.mkdir(parents=True)
    (distribution / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fedchain-task-{name}\nVersion: 1.0\n")
    (distribution / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {target}\n")


@pytest.fixture
def install_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Install:
    """install_task(name, data) scaffolds task `name` from the data file and installs it; returns the
    package's directory (names must differ between tests: modules and tasks are cached per process)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(name: str, data: Path, *options: str) -> Path:
        directory = tmp_path / name
        assert main(["task", "new", name, "--data", str(data), "--dir", str(directory), *options]) == 0
        module = f"fedchain_task_{name.replace('-', '_')}"
        (site / module).symlink_to(directory / module)
        class_name = "".join(part.capitalize() for part in name.split("-"))
        register_entry_point(site, name, f"{module}:{class_name}")
        return directory / module

    return install
