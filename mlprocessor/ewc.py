"""Elastic weight consolidation (Kirkpatrick et al. 2017) and FedCurv (Shoham et al. 2019).

Clients are stateful: an :class:`EwcState` (accumulated Fisher diagonal + the parameters it belongs
to) persists in a directory as safetensors, never pickle, and survives restarts between rounds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from torch import nn
from torch.func import functional_call, grad, vmap

from mlprocessor.data import Dataset
from mlprocessor.models import StateDict
from mlprocessor.training import QuadraticPenalty

FISHER_MODES = ("sampled", "true")
_CHUNK_FLOATS = 1 << 24  # per-sample gradients held at once (64 MiB of float32)


def fisher_diagonal(
    model: nn.Module,
    data: Dataset,
    mode: str = "sampled",
    seed: int = 0,
    max_samples: int | None = None,
) -> StateDict:
    """Diagonal empirical Fisher at the model's current parameters: E[(d log p(y|x) / d theta)^2].

    ``mode="sampled"`` draws y from the model's predictive distribution (the true Fisher of
    Kirkpatrick et al.); ``mode="true"`` uses the data labels (the empirical Fisher). Per-sample
    gradients come from torch.func (vmap over grad), in chunks bounded in memory.
    """
    if mode not in FISHER_MODES:
        raise ValueError(f"unknown Fisher mode {mode!r}; expected one of {', '.join(FISHER_MODES)}")
    count = len(data) if max_samples is None else min(len(data), max_samples)
    if count == 0:
        raise ValueError("cannot compute a Fisher diagonal on an empty dataset")
    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = data.tensors()
    x, y = x[:count], y[:count]
    generator = torch.Generator().manual_seed(seed)
    if mode == "sampled":
        with torch.no_grad():
            probs = torch.cat([F.softmax(model(x[i:i + 1024]), dim=1) for i in range(0, count, 1024)])
        y = torch.multinomial(probs, 1, generator=generator).squeeze(1)

    def log_likelihood(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return -F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    per_sample_grad = vmap(grad(log_likelihood), in_dims=(None, 0, 0))
    chunk = max(1, _CHUNK_FLOATS // sum(p.numel() for p in params.values()))
    total = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in params.items()}
    for start in range(0, count, chunk):
        grads = per_sample_grad(params, x[start:start + chunk], y[start:start + chunk])
        for k, g in grads.items():
            total[k] += g.double().square().sum(dim=0)
    return {k: (v / count).float().numpy() for k, v in total.items()}


@dataclass
class EwcState:
    """A client's consolidated knowledge: accumulated Fisher diagonal and its anchor parameters.

    ``consolidate`` adds a new Fisher as ``decay * F_old + F_new`` (decay 1: running sum over
    tasks/rounds as in Kirkpatrick et al.; decay < 1: online EWC of Schwarz et al. 2018).
    """

    fisher: StateDict
    anchor: StateDict
    consolidations: int = 1

    FILE_NAME: ClassVar[str] = "ewc.safetensors"

    def consolidate(self, fisher: Mapping[str, np.ndarray], anchor: Mapping[str, np.ndarray],
                    decay: float = 1.0) -> None:
        _check_same_tensors(self.fisher, fisher)
        self.fisher = {k: (decay * self.fisher[k].astype(np.float64) + fisher[k]).astype(np.float32)
                       for k in self.fisher}
        self.anchor = {k: np.asarray(v, dtype=np.float32).copy() for k, v in anchor.items()}
        self.consolidations += 1

    def penalty(self, lam: float, anchor: Mapping[str, np.ndarray] | None = None) -> QuadraticPenalty:
        """(lam/2) * sum F_i (theta_i - anchor_i)^2, anchored at ``anchor`` (e.g. the round's base)
        or, by default, at the stored anchor."""
        return QuadraticPenalty(self.anchor if anchor is None else anchor, lam, weights=self.fisher)

    def save(self, directory: str | Path) -> None:
        """One file, written then renamed: a crash never leaves a Fisher paired with a wrong anchor."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"fisher/{k}": v for k, v in self.fisher.items()}
        tensors.update({f"anchor/{k}": v for k, v in self.anchor.items()})
        partial = directory / f"{self.FILE_NAME}.partial"
        save_file(tensors, str(partial), metadata={"consolidations": str(self.consolidations)})
        os.replace(partial, directory / self.FILE_NAME)

    @classmethod
    def load(cls, directory: str | Path) -> EwcState | None:
        """The state saved in ``directory``, or None when nothing was saved there yet."""
        path = Path(directory) / cls.FILE_NAME
        if not path.exists():
            return None
        tensors = load_file(str(path))
        parts: dict[str, StateDict] = {"fisher": {}, "anchor": {}}
        for key, value in tensors.items():
            part, _, name = key.partition("/")
            if part not in parts:
                raise ValueError(f"{path}: unexpected tensor {key!r}")
            parts[part][name] = value
        _check_same_tensors(parts["fisher"], parts["anchor"])
        with safe_open(str(path), framework="numpy") as handle:
            consolidations = int((handle.metadata() or {}).get("consolidations", "1"))
        return cls(parts["fisher"], parts["anchor"], consolidations)


def _check_same_tensors(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> None:
    if a.keys() != b.keys() or any(a[k].shape != np.shape(b[k]) for k in a):
        raise ValueError("Fisher and parameters do not describe the same tensors")


class FedCurvPenalty:
    """Client k's FedCurv term: lam * sum[theta^2 (u - u_k) - 2 theta (v - v_k)].

    It equals lam * sum_{j != k} F_j (theta - theta_j)^2 up to a constant: it keeps the client
    close to the other clients' parameters where their Fisher says those parameters matter.
    """

    def __init__(self, totals: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
                 own: EwcState | None, lam: float) -> None:
        u, v = totals
        own_u, own_v = fedcurv_totals([own]) if own is not None else ({}, {})
        self.lam = lam
        self.others_u = _without_own(u, own_u)
        self.others_v = _without_own(v, own_v)

    def __call__(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(())
        for name, u in self.others_u.items():
            theta = params[name]
            total = total + (theta.square() * u - 2 * theta * self.others_v[name]).sum()
        return self.lam * total


def _without_own(total: Mapping[str, np.ndarray], own: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(np.asarray(t - own.get(k, 0.0), dtype=np.float32)) for k, t in total.items()}


def fedcurv_totals(contributions: Sequence[EwcState]) -> tuple[StateDict, StateDict]:
    """Organization side: u = sum_j F_j and v = sum_j F_j * theta_j over the clients' (Fisher,
    parameters) pairs, accumulated in float64 in the given order, returned as float32."""
    if not contributions:
        raise ValueError("FedCurv totals need at least one contribution")
    names = contributions[0].fisher.keys()
    u = {k: np.zeros(contributions[0].fisher[k].shape, np.float64) for k in names}
    v = {k: np.zeros_like(u[k]) for k in names}
    for c in contributions:
        _check_same_tensors(c.fisher, c.anchor)
        _check_same_tensors(contributions[0].fisher, c.fisher)
        for k in names:
            u[k] += c.fisher[k]
            v[k] += c.fisher[k].astype(np.float64) * c.anchor[k]
    return ({k: a.astype(np.float32) for k, a in u.items()}, {k: a.astype(np.float32) for k, a in v.items()})
