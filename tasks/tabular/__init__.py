"""Tabular classification on the Statlog (Shuttle) sensor readings that the `river` wheel ships.

river 0.26.1 bundles `datasets/shuttle.csv.gz` in ODDS's form: 49,097 rows of nine integer
sensor readings, with the label `anomaly` (1 for the rare classes, 7.2%; the second-largest class
of the original seven is dropped). The file is located without importing river. A fixed,
stratified 20% of the rows is the test set; the normalisation constants below were computed once
on the training rows (tasks.csv_table.normalisation_constants) and are part of the task's source.
A participant's own data is a CSV file with the same columns.
"""

from __future__ import annotations

from collections import OrderedDict
from importlib.util import find_spec
from pathlib import Path
from typing import ClassVar

from torch import nn

from mlprocessor.data import DataError, Dataset
from mlprocessor.task import ScreeningDefaults, Task, TrainingDefaults
from tasks.csv_table import Schema, read_table, stratified_split

SCHEMA = Schema(
    features=tuple(f"f{i}" for i in range(1, 10)),
    label="anomaly",
    classes=("0", "1"),
    means=(46.9562, 0.145196, 85.1437, 0.35791, 36.9634, 2.65579, 38.1974, 48.214, 10.1901),
    stds=(12.9288, 85.2245, 8.88378, 33.7008, 19.9098, 178.351, 13.4652, 20.5159, 23.677),
)
TEST_FRACTION = 0.2
BUNDLED_ROWS = 49_097


def bundled_csv() -> Path:
    """river's shuttle.csv.gz, found from the installed package's location."""
    spec = find_spec("river")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the tabular-shuttle data ships with the Python package river: run ./setup.sh "
                        "(or .venv/bin/pip install river==0.26.1)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "shuttle.csv.gz"
    if not path.is_file():
        raise DataError(f"{path} is missing: reinstall river==0.26.1")
    return path


def load_shuttle(source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
    """(train, test): river's table split 80/20 (stratified, fixed) when `source` is None; otherwise
    the CSV `source`, tested on `test_source` or on its own fixed 20%."""
    table = read_table(source if source is not None else bundled_csv(), SCHEMA)
    if source is None and len(table) != BUNDLED_ROWS:
        raise DataError(f"river's shuttle.csv.gz has {len(table)} rows, not {BUNDLED_ROWS}: reinstall river==0.26.1")
    if test_source is not None:
        return table, read_table(test_source, SCHEMA)
    train, test = stratified_split(table.y, TEST_FRACTION)
    return table.subset(train), table.subset(test)


class Shuttle(Task):
    """A small multilayer perceptron: 9 inputs, two hidden layers of 32 units, 2 classes (1,442 parameters)."""

    name = "tabular-shuttle"
    version = "1.0"
    summary = "Statlog (Shuttle) sensor readings, normal vs anomaly, from a CSV with a declared schema; a small MLP"
    data_source = "river 0.26.1's datasets/shuttle.csv.gz (49,097 rows x 9 features), or a CSV with the same columns"
    num_classes = len(SCHEMA.classes)
    training = TrainingDefaults(epochs=1, batch_size=32, lr=0.01, momentum=0.9)
    # Calibrated (bench/screening_calibration.py): honest maxima 0.50 x base, 10.4 x round median, 9.5 x previous.
    # The root screen is off: a skewed client of 471 honest examples pointed at cosine -0.73 from the root direction.
    screening = ScreeningDefaults(base_norm_fraction=0.8, history_norm_factor=16.0, round_norm_factor=16.0,
                                  min_root_cosine=None)
    source_modules: ClassVar[tuple[str, ...]] = ("tasks.csv_table",)

    def create_model(self) -> nn.Module:
        width = len(SCHEMA.features)
        return nn.Sequential(OrderedDict(
            fc1=nn.Linear(width, 32), relu1=nn.ReLU(),
            fc2=nn.Linear(32, 32), relu2=nn.ReLU(),
            out=nn.Linear(32, self.num_classes),
        ))

    def load_data(self, source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
        return load_shuttle(source, test_source)

    def load_participant_data(self, path: str | Path) -> Dataset:
        return read_table(path, SCHEMA)
