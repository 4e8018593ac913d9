"""Shared fixtures: small, fixed subsets of mnist-5k so every test runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlprocessor.data import Dataset
from tasks.mnist import load_mnist


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """Tiny models gain nothing from threads, and other processes may share the two cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_5k() -> tuple[Dataset, Dataset]:
    return load_mnist()


@pytest.fixture(scope="session")
def small_train(mnist_5k: tuple[Dataset, Dataset]) -> Dataset:
    train, _ = mnist_5k
    return train.subset(np.random.default_rng(0).permutation(len(train))[:400])


@pytest.fixture(scope="session")
def small_test(mnist_5k: tuple[Dataset, Dataset]) -> Dataset:
    _, test = mnist_5k
    return test.subset(np.random.default_rng(1).permutation(len(test))[:500])
