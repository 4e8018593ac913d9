"""`run.py evaluate CID --task NAME --test-data PATH`: a published model on one's own test data, and a
model pinned to another task or another hash refused in one line before any data is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from mlprocessor.task_registry import TaskRef, get_task
from protocol.artifacts import encode_artifact, model_metadata, spec_extra, update_metadata
from storage.factory import open_store
from storage.model_file import ModelMetadata
from tasks.mnist import load_mnist
from tests.tasks.conftest import Install, write_csv


def _publish(home: Path, task_name: str, metadata: ModelMetadata, seed: int = 0) -> str:
    state = get_task(task_name).initial_state(seed)
    return str(open_store("embedded", home).add_bytes(encode_artifact(state, metadata)))


def _pinned(task_name: str, ref: TaskRef | None = None) -> ModelMetadata:
    ref = ref or TaskRef.of(task_name)
    return model_metadata(task_name, 3, 0, None, {**ref.to_extra(), **spec_extra(get_task(task_name).tensor_spec())})


@pytest.fixture(scope="module")
def mnist_test(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled MNIST test images as a user's own .npz (pixels in [0, 1])."""
    _, test = load_mnist()
    path = tmp_path_factory.mktemp("data") / "test.npz"
    np.savez(path, x=test.x, y=test.y)
    return path


def _evaluate(home: Path, cid: str, task: str, data: Path, *options: str) -> int:
    return main(["evaluate", cid, "--task", task, "--test-data", str(data), "--home", str(home), *options])


def test_a_pinned_model_is_evaluated_on_the_users_data(tmp_path: Path, mnist_test: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    cid = _publish(tmp_path, "mnist-2nn", _pinned("mnist-2nn"))
    assert _evaluate(tmp_path, cid, "mnist-2nn", mnist_test, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    ref = TaskRef.of("mnist-2nn")
    assert report["task"] == {"name": "mnist-2nn", "version": ref.version, "hash": ref.hash, "pinned": True}
    assert report["cid"] == cid and report["round"] == 3 and report["examples"] == 1000
    assert 0 <= report["accuracy"] <= 0.3 and report["loss"] > 1.5  # an untrained model: about chance
    assert len(report["per_class_accuracy"]) == 10
    assert _evaluate(tmp_path, cid, "mnist-2nn", mnist_test) == 0
    out = capsys.readouterr().out
    assert f"task {ref.short()}" in out and f"1,000 examples from {mnist_test}: accuracy" in out


def test_a_legacy_model_without_a_pin_is_its_architectures_mnist_task(tmp_path: Path, mnist_test: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    legacy = ModelMetadata(architecture="2nn", kind="model", round=1, sample_count=0)
    cid = _publish(tmp_path, "mnist-2nn", legacy)
    assert _evaluate(tmp_path, cid, "mnist-2nn", mnist_test, "--json") == 0
    assert json.loads(capsys.readouterr().out)["task"]["pinned"] is False


@pytest.mark.parametrize(("published", "asked", "problem"), [
    ("mnist-cnn", "mnist-2nn", "is a model of task mnist-cnn, not mnist-2nn"),
    ("mnist-2nn", "mnist-2nn", "the round's plan pins task mnist-2nn 1.0 (000000000000), this machine has "
                               "mnist-2nn 1.0"),
])
def test_a_model_of_another_task_or_hash_is_refused_in_one_line(
        tmp_path: Path, published: str, asked: str, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    ref = TaskRef(published, "1.0", "0" * 64) if published == asked else None
    cid = _publish(tmp_path, published, _pinned(published, ref))
    never_read = tmp_path / "absent.npz"  # refused before the data is read
    assert _evaluate(tmp_path, cid, asked, never_read) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0]


def test_an_update_is_not_a_model(tmp_path: Path, mnist_test: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _publish(tmp_path, "mnist-2nn", _pinned("mnist-2nn"))
    cid = _publish(tmp_path, "mnist-2nn", update_metadata("mnist-2nn", 1, 10, base))
    assert _evaluate(tmp_path, cid, "mnist-2nn", mnist_test) == 1
    assert capsys.readouterr().err == f"error: {cid} is an update (a change to a model), not a model\n"


def test_a_scaffolded_task_evaluates_a_csv(tmp_path: Path, install_task: Install,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "fruit.csv", rows=60)
    install_task("fruit-eval", data, "--label", "kind")
    cid = _publish(tmp_path / "home", "fruit-eval", _pinned("fruit-eval"))
    capsys.readouterr()
    assert _evaluate(tmp_path / "home", cid, "fruit-eval", data, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 60 and report["task"]["name"] == "fruit-eval"
