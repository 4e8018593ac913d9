"""Coordinate-wise robust rules (Yin et al. 2018): median and trimmed mean. They ignore sample
counts on purpose: a malicious client could claim any count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.base import CoordinateWise


@dataclass(frozen=True)
class Median(CoordinateWise):
    name = "median"

    def reduce(self, stacked: np.ndarray) -> np.ndarray:
        return np.median(stacked, axis=0)


@dataclass(frozen=True)
class TrimmedMean(CoordinateWise):
    """Per coordinate, drop the floor(beta * n) largest and smallest values and average the rest."""

    beta: float = 0.1
    name = "trimmed-mean"

    def __post_init__(self) -> None:
        if not 0 <= self.beta < 0.5:
            raise ValueError(f"trimmed-mean beta must be in [0, 0.5), got {self.beta}")

    def reduce(self, stacked: np.ndarray) -> np.ndarray:
        trim = int(np.floor(self.beta * len(stacked)))
        return np.sort(stacked, axis=0)[trim:len(stacked) - trim].mean(axis=0)
