"""docs/TASKS.md's worked example, run exactly as the doc shows it: its ```sh guide blocks, in order,
in a fresh directory and home, as one shell script (the project's run.py linked in, and a .venv that
sees every package of the project's but installs into itself, so the guide's `pip install` never
touches the environment the other tests run from)."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "TASKS.md"


def overlay_venv(directory: Path) -> None:
    """A virtualenv at `directory` that imports from the project's .venv (its site-packages added
    as a site directory, .pth files included) and installs into itself."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = directory / "lib" / version / "site-packages"
    (own / "fedchain-venv.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    pip = directory / "bin" / "pip"
    pip.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
    pip.chmod(0o755)


def guide_commands() -> list[str]:
    blocks = re.findall(r"^```sh guide\n(.*?)^```$", GUIDE.read_text(), flags=re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    commands = guide_commands()
    assert any("run.py task new" in c for c in commands) and any("run.py evaluate" in c for c in commands)
    (tmp_path / "run.py").symlink_to(ROOT / "run.py")
    overlay_venv(tmp_path / ".venv")
    environment = {**os.environ, "FEDCHAIN_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    script = "set -euo pipefail\n" + "".join(f"echo '$ {c[:60]}'\n{c}\n" for c in commands)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True,
                         timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    listed = re.search(r"^breast-cancer\s+1\.0\s+([0-9a-f]{12})\s", run.stdout, flags=re.MULTILINE)
    assert listed, output[-4000:]
    full_hash = re.search(r"^hash ([0-9a-f]{64})$", run.stdout, flags=re.MULTILINE).group(1)
    assert full_hash.startswith(listed.group(1))
    assert "one batch of 16" in run.stdout and "\nok\n" in run.stdout
    assert "2/2 rounds verified" in run.stdout
    evaluated = re.search(r"^100 examples from breast_cancer_test\.csv: accuracy ([\d.]+)%", run.stdout,
                          flags=re.MULTILINE)
    assert evaluated and float(evaluated.group(1)) > 85, output[-4000:]
    assert f"task breast-cancer 1.0 ({full_hash[:12]})" in run.stdout
