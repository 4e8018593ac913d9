from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import tasks.csv_table as csv_table
from mlprocessor.data import DataError
from mlprocessor.task_registry import get_task
from tasks.csv_table import Schema, normalisation_constants, read_table, stratified_split
from tasks.tabular import SCHEMA, bundled_csv
from tests.tasks.checks import assert_logits_shape, assert_one_epoch_lowers_loss, assert_seeded_model

TASK = get_task("tabular-shuttle")
SMALL = Schema(("a", "b"), "kind", ("cat", "dog"), (1.0, 10.0), (2.0, 5.0))


def test_bundled_table_splits_fixed_and_stratified() -> None:
    train, test = TASK.load_data()
    assert (len(train), len(test)) == (39_278, 9_819)
    assert train.x.shape == (39_278, 9) and train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert np.bincount(train.y).tolist() == [36_469, 2_809] and np.bincount(test.y).tolist() == [9_117, 702]
    again, _ = TASK.load_data()
    assert np.array_equal(train.x, again.x)


def test_schema_constants_are_the_training_rows_statistics() -> None:
    """The constants in the source were computed once on the training split: features come out standardised."""
    raw = read_table(bundled_csv(), Schema(SCHEMA.features, SCHEMA.label, SCHEMA.classes, (0.0,) * 9, (1.0,) * 9))
    train_rows, _ = stratified_split(raw.y, 0.2)
    assert normalisation_constants(raw.x[train_rows].astype(np.float64)) == (SCHEMA.means, SCHEMA.stds)
    train, _ = TASK.load_data()
    np.testing.assert_allclose(train.x.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.x.std(axis=0), 1, atol=1e-4)


def test_model_and_one_epoch() -> None:
    train, _ = TASK.load_data()
    assert_seeded_model(TASK)
    assert_logits_shape(TASK, train)
    assert_one_epoch_lowers_loss(TASK, train.subset(np.random.default_rng(0).permutation(len(train))[:640]))


def test_csv_columns_by_name_and_normalised(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("b,extra,kind,a\n10,x,dog,1\n15,y,cat,5\n")
    data = read_table(path, SMALL)
    np.testing.assert_allclose(data.x, [[0.0, 0.0], [2.0, 1.0]])
    assert data.y.tolist() == [1, 0]


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b,kind\n1,10,cat\n"))
    assert len(read_table(path, SMALL)) == 1


@pytest.mark.parametrize(("text", "reason"), [
    ("a,kind\n1,cat\n", "missing column"),
    ("a,b,kind\n1,10,cow\n", "line 2: label 'cow'"),
    ("a,b,kind\n1,ten,cat\n", "line 2: a feature is not a number"),
    ("a,b,kind\n1,nan,cat\n", "not finite"),
    ("a,b,kind\n1,10\n", "2 fields, the header has 3"),
    ("a,b,kind\n", "no rows"),
    ("a,b,kind\n1,10,cat\n2,10,cat\n3,10,dog\n", "more than 2 rows"),
])
def test_bad_tables_are_refused_with_one_line(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=reason):
        read_table(path, SMALL, max_rows=2)


def test_special_and_oversized_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        read_table(fifo, SMALL)
    big = tmp_path / "big.csv"
    big.write_text("a,b,kind\n" + "1,10,cat\n" * 20)
    monkeypatch.setattr(csv_table, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match="over the limit of 100"):
        read_table(big, SMALL)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"a,b,kind\n" + b"1,10,cat\n" * 100))
    monkeypatch.setattr(csv_table, "MAX_FILE_BYTES", bomb.stat().st_size + 1)  # small on disk, large inflated
    with pytest.raises(DataError, match=f"holds more than .*{bomb.stat().st_size + 1} bytes"):
        read_table(bomb, SMALL)


def test_a_participant_csv_uses_the_tasks_schema(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("f1,f2,f3,f4,f5,f6,f7,f8,f9,anomaly\n" + "50,21,77,0,28,0,27,48,22,1\n")
    data = TASK.load_participant_data(path)
    assert data.y.tolist() == [1] and data.x.shape == (1, 9)
