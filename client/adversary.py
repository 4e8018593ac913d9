"""Hostile clients for the demo, the benchmarks and the adversarial tests.

Each attack is what a registered client could really send: it uses the same contract calls
and file formats as an honest client, and only public information (the base model, the
published screening rules, other clients' on-chain submissions).

- `inflate-samples`: claims the round's maximum sample count, with noise just inside the norm
  bounds it can compute (from the base, and its own honest norm for the round's median): the
  claim, not the noise, was the lever;
- `scale`: its honestly trained update times 100 (a large-norm update);
- `sign-flip`: the negative of its honestly trained update;
- `free-ride`: trains nothing and re-submits another client's update CID of this round;
- `zero-update`: trains nothing and submits an all-zero update with its real sample count (sybils
  filling a round, or diluting the honest mean);
- `fisher-poison`: an honest update with a Fisher section at the published per-entry maximum
  (FedCurv rounds): the largest section screening lets through.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

import numpy as np

from chain.history import HistoryReader
from client.service import Client, Participation
from mlprocessor.data import Dataset
from mlprocessor.models import StateDict
from mlprocessor.training import TrainConfig, train_local
from mlprocessor.validation import ValidationConfig, base_norm_bound, history_norm_bound, l2_norm
from protocol.artifacts import (
    FISHER,
    Artifact,
    decode_artifact,
    encode_artifact,
    published_median_norm,
    update_metadata,
)
from protocol.plan import TrainingPlan

ATTACKS = ("inflate-samples", "scale", "sign-flip", "free-ride", "zero-update", "fisher-poison")
SCALE_FACTOR = 100.0
BOUND_MARGIN = 0.95  # "just inside" the norm bound
FREE_RIDE_WAIT_SECONDS = 120.0


class Adversary:
    """A hostile client: the honest `client`'s account, data and store, used to attack."""

    def __init__(self, client: Client, attack: str, log: Callable[[str], None] = print,
                 rules: ValidationConfig | None = None) -> None:
        if attack not in ATTACKS:
            raise ValueError(f"unknown attack {attack!r}; expected one of {', '.join(ATTACKS)}")
        self.client = client
        self.attack = attack
        self.log = log
        self.rules = rules or ValidationConfig.for_task(client.task.screening)  # the published rules it plays against

    @property
    def address(self) -> str:
        return self.client.address

    @property
    def data(self) -> Dataset:
        return self.client.data

    @data.setter
    def data(self, data: Dataset) -> None:  # the continual demo hands out a new task's data
        self.client.data = data

    def ensure_registered(self) -> None:
        self.client.ensure_registered()

    def participate(self, round_id: int) -> Participation:
        participation = Participation(round_id)
        contract = self.client.contract
        info = contract.round(round_id)
        assert info.base_cid is not None
        if self.attack == "free-ride":
            return self._free_ride(participation)
        base = decode_artifact(self.client.store.get(info.base_cid))
        delta = ({k: np.zeros_like(v) for k, v in base.tensors.items()} if self.attack == "zero-update"
                 else self._trained_delta(base, round_id))
        samples, sections = len(self.client.data), None
        if self.attack == "scale":
            delta = {k: v * SCALE_FACTOR for k, v in delta.items()}
        elif self.attack == "sign-flip":
            delta = {k: -v for k, v in delta.items()}
        elif self.attack == "inflate-samples":
            samples, delta = info.max_samples, self._noise_inside_bound(base, round_id)
        elif self.attack == "fisher-poison":
            sections = {FISHER: {k: np.full_like(v, self.rules.fisher_max) for k, v in delta.items()}}
        metadata = update_metadata(base.metadata.architecture, round_id, samples, info.base_cid)
        cid = self.client.store.add_bytes(encode_artifact(delta, metadata, sections))
        contract.submit_update(round_id, cid, samples)
        self.log(f"adversary {self.address} ({self.attack}): submitted {cid} claiming {samples} samples")
        return participation

    def _seed(self, round_id: int) -> int:
        text = f"adversary:{self.attack}:{round_id}:{self.address}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")

    def _trained_delta(self, base: Artifact, round_id: int) -> StateDict:
        plan = TrainingPlan.from_extra(base.metadata.extra)
        config = TrainConfig(plan.epochs, plan.batch_size, plan.lr, seed=self._seed(round_id))
        return train_local(self.client.task_of(base).name, base.tensors, self.client.data, config).delta(base.tensors)

    def _noise_inside_bound(self, base: Artifact, round_id: int) -> StateDict:
        """Noise at the tightest published bound; its own honest norm stands in for the round's median."""
        own = l2_norm(self._trained_delta(base, round_id))
        return noise_inside_bounds(base.tensors, published_median_norm(base.metadata), own, self.rules,
                                   self._seed(round_id))

    def _free_ride(self, participation: Participation) -> Participation:
        """Wait for someone else's update in this round and submit its CID and sample count as ours."""
        contract, round_id = self.client.contract, participation.round_id
        reader = HistoryReader(contract)
        deadline = time.monotonic() + FREE_RIDE_WAIT_SECONDS
        while time.monotonic() < deadline:
            record = reader.round(round_id, with_gas=False)
            others = [s for s in (record.submissions if record else []) if s.client != self.address]
            if others:
                victim = others[0]
                contract.submit_update(round_id, victim.cid, victim.samples)
                self.log(f"adversary {self.address} (free-ride): re-submitted update {victim.index} {victim.cid}")
                return participation
            time.sleep(0.2)
        participation.skipped = "free-ride: nobody submitted an update to copy"
        return participation


def noise_inside_bounds(base: StateDict, previous_median: float | None, own_norm: float,
                        rules: ValidationConfig, seed: int) -> StateDict:
    """Random noise with a norm just inside the tightest norm bound a client can compute: from the
    base, the previous round's published median and (for the round's median) its own honest norm."""
    bounds = [b.limit for b in (base_norm_bound(l2_norm(base), rules), history_norm_bound(previous_median, rules)) if b]
    if rules.norm_factor is not None:
        bounds.append(rules.norm_factor * own_norm)
    target = BOUND_MARGIN * min(bounds)
    rng = np.random.default_rng(seed)
    noise = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in base.items()}
    scale = target / l2_norm(noise)
    return {k: (v * scale).astype(np.float32) for k, v in noise.items()}


def make_hostile(clients: Sequence[Client], attackers: int, attack: str,
                 log: Callable[[str], None] = print) -> list[Client | Adversary]:
    """The last `attackers` clients turned hostile (last, so honest updates exist to copy)."""
    if not 0 <= attackers <= len(clients):
        raise ValueError(f"--attackers must be between 0 and the number of clients ({len(clients)})")
    honest = len(clients) - attackers
    return [*clients[:honest], *(Adversary(c, attack, log) for c in clients[honest:])]
