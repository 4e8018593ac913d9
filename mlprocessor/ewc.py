"""Elastic weight consolidation (Kirkpatrick et al. 2017) and FedCurv (Shoham et al. 2019).

EWC consolidates at data boundaries, as in the paper: after every round a client keeps the Fisher
of its model on that round's data as *pending*; when its data changes it folds the pending Fisher
into its memory and fixes the anchor to the global model it just received (trained on the old
data). Between consolidations the anchor and the Fisher stay fixed, so the penalty keeps pulling
toward what the old data needed instead of following the moving global model. The memory
persists as one safetensors file (never pickle) and survives restarts.
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
from mlprocessor.fedcurv_sums import FedCurvSums, check_same_tensors
from mlprocessor.models import StateDict
from mlprocessor.training import QuadraticPenalty

FISHER_MODES = ("sampled", "true")
DEFAULT_EWC_LAMBDA = 100.0
"""Measured on permuted MNIST (docs/BENCHMARKS.md, continual section): see the README."""
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
        check_same_tensors(self.fisher, fisher)
        self.fisher = {k: (decay * self.fisher[k].astype(np.float64) + fisher[k]).astype(np.float32)
                       for k in self.fisher}
        self.anchor = {k: np.asarray(v, dtype=np.float32).copy() for k, v in anchor.items()}
        self.consolidations += 1

    def penalty(self, lam: float) -> QuadraticPenalty:
        """(lam/2) * sum F_i (theta_i - anchor_i)^2 (Kirkpatrick's lambda, F the mean per-sample Fisher)."""
        return QuadraticPenalty(self.anchor, lam, weights=self.fisher)

    def save(self, directory: str | Path) -> None:
        """One file, written then renamed: a crash never leaves a Fisher paired with a wrong anchor."""
        tensors = {f"fisher/{k}": v for k, v in self.fisher.items()}
        tensors.update({f"anchor/{k}": v for k, v in self.anchor.items()})
        _save_atomically(Path(directory) / self.FILE_NAME, tensors, {"consolidations": str(self.consolidations)})

    @classmethod
    def load(cls, directory: str | Path) -> EwcState | None:
        """The state saved in ``directory``, or None when nothing was saved there yet."""
        path = Path(directory) / cls.FILE_NAME
        if not path.exists():
            return None
        parts, metadata = _load_parts(path, ("fisher", "anchor"))
        check_same_tensors(parts["fisher"], parts["anchor"])
        return cls(parts["fisher"], parts["anchor"], int(metadata.get("consolidations", "1")))




@dataclass
class EwcMemory:
    """What a continual learner remembers: the consolidated EWC state (None before the first
    consolidation) and the pending Fisher of the latest round's data, with its sample count."""

    consolidated: EwcState | None = None
    pending: StateDict | None = None
    pending_samples: int = 0

    FILE_NAME: ClassVar[str] = "ewc-memory.safetensors"

    def hold(self, fisher: StateDict, samples: int) -> None:
        """Keep ``fisher`` (the latest round's model on that round's data) as pending: what the next
        consolidation would protect."""
        self.pending, self.pending_samples = fisher, samples

    def consolidate(self, anchor: Mapping[str, np.ndarray], decay: float = 1.0) -> int:
        """Fold the pending Fisher in (F <- decay * F + F_pending) and fix the anchor; returns the
        samples the folded Fisher was measured on (0: nothing pending, nothing changed)."""
        if self.pending is None:
            return 0
        if not 0 <= decay <= 1:
            raise ValueError(f"the EWC decay must be in [0, 1], got {decay}")
        anchor = {k: np.asarray(v, dtype=np.float32).copy() for k, v in anchor.items()}
        if self.consolidated is None:
            check_same_tensors(self.pending, anchor)
            self.consolidated = EwcState(self.pending, anchor)
        else:
            self.consolidated.consolidate(self.pending, anchor, decay)
        samples, self.pending, self.pending_samples = self.pending_samples, None, 0
        return samples

    def penalty(self, lam: float) -> QuadraticPenalty | None:
        return None if self.consolidated is None or lam <= 0 else self.consolidated.penalty(lam)

    def save(self, directory: str | Path) -> None:
        """One file, written then renamed, so the Fisher, anchor and pending part always agree."""
        tensors: dict[str, np.ndarray] = {}
        if self.consolidated is not None:
            tensors.update({f"fisher/{k}": v for k, v in self.consolidated.fisher.items()})
            tensors.update({f"anchor/{k}": v for k, v in self.consolidated.anchor.items()})
        tensors.update({f"pending/{k}": v for k, v in (self.pending or {}).items()})
        consolidations = self.consolidated.consolidations if self.consolidated else 0
        _save_atomically(Path(directory) / self.FILE_NAME, tensors,
                         {"consolidations": str(consolidations), "pending_samples": str(self.pending_samples)})

    @classmethod
    def load(cls, directory: str | Path) -> EwcMemory:
        """The memory saved in ``directory``; an empty one when nothing was saved there yet."""
        path = Path(directory) / cls.FILE_NAME
        if not path.exists():
            return cls()
        parts, metadata = _load_parts(path, ("fisher", "anchor", "pending"))
        consolidated = None
        if parts["fisher"]:
            check_same_tensors(parts["fisher"], parts["anchor"])
            consolidated = EwcState(parts["fisher"], parts["anchor"], int(metadata.get("consolidations", "1")))
        pending = parts["pending"] or None
        return cls(consolidated, pending, int(metadata.get("pending_samples", "0")) if pending else 0)


def _save_atomically(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=metadata)
    os.replace(partial, path)


def _load_parts(path: Path, names: Sequence[str]) -> tuple[dict[str, StateDict], dict[str, str]]:
    """Tensors named '<part>/<name>' grouped by part, and the file's metadata."""
    parts: dict[str, StateDict] = {name: {} for name in names}
    for key, value in load_file(str(path)).items():
        part, _, name = key.partition("/")
        if part not in parts:
            raise ValueError(f"{path}: unexpected tensor {key!r}")
        parts[part][name] = value
    with safe_open(str(path), framework="numpy") as handle:
        return parts, dict(handle.metadata() or {})


def fedcurv_penalty(totals: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
                    own: EwcState | None, lam: float) -> QuadraticPenalty:
    """Client k's FedCurv term lam * sum_{j != k} F_j (theta - theta_j)^2, from the totals
    u = sum_j F_j and v = sum_j F_j theta_j minus the client's own share.

    Up to a constant it is (2 lam / 2) * sum_i u'_i (theta_i - v'_i / u'_i)^2 with u' = u - u_k,
    v' = v - v_k: a quadratic penalty with weights u' and anchor v'/u', applied by the same exact
    proximal step as EWC and FedProx, so any lam is stable.
    """
    u, v = totals
    own_u, own_v = fedcurv_totals([own]) if own is not None else ({}, {})
    weights, anchor = {}, {}
    for name in u:
        others_u = np.maximum(np.asarray(u[name], np.float64) - own_u.get(name, 0.0), 0.0)
        others_v = np.asarray(v[name], np.float64) - own_v.get(name, 0.0)
        weights[name] = others_u.astype(np.float32)
        anchor[name] = np.divide(others_v, others_u, out=np.zeros_like(others_u), where=others_u > 0)
    return QuadraticPenalty(anchor, 2 * lam, weights)


def fedcurv_totals(contributions: Sequence[EwcState]) -> tuple[StateDict, StateDict]:
    """Organization side: u = sum_j F_j and v = sum_j F_j * theta_j over the clients' (Fisher,
    parameters) pairs, accumulated in float64 in the given order, returned as float32."""
    sums = FedCurvSums()
    for c in contributions:
        sums.add(c.fisher, c.anchor)
    return sums.totals()
