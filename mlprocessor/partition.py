"""Deterministic client partitions: client k always gets ``partition(...)[k]`` for the same seed."""

from __future__ import annotations

import numpy as np

SCHEMES = ("iid", "shards", "dirichlet", "labels")


def _iid(labels: np.ndarray, num_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    return np.array_split(rng.permutation(len(labels)), num_clients)


def _shards(labels: np.ndarray, num_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    """McMahan et al. 2017: sort by label, cut 2N equal shards, give each client two at random."""
    shuffled = rng.permutation(len(labels))  # the seed decides which samples of a label share a shard
    by_label = shuffled[np.argsort(labels[shuffled], kind="stable")]
    shards = np.array_split(by_label, 2 * num_clients)
    order = rng.permutation(2 * num_clients)
    return [np.concatenate([shards[order[2 * k]], shards[order[2 * k + 1]]]) for k in range(num_clients)]


def _dirichlet(
    labels: np.ndarray, num_clients: int, rng: np.random.Generator, alpha: float
) -> list[np.ndarray]:
    """Per label, split its samples among clients in proportions drawn from Dir(alpha)."""
    if alpha <= 0:
        raise ValueError(f"dirichlet alpha must be positive, got {alpha}")
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        proportions = rng.dirichlet(np.full(num_clients, alpha))
        cuts = np.round(np.cumsum(proportions)[:-1] * len(members)).astype(int)
        for k, piece in enumerate(np.split(members, cuts)):
            parts[k].append(piece)
    clients = [np.concatenate(p) for p in parts]
    # Every client must be able to train: hand each empty client one sample of the largest client.
    for k in range(num_clients):
        if len(clients[k]) == 0:
            donor = max(range(num_clients), key=lambda j: (len(clients[j]), -j))
            clients[k], clients[donor] = clients[donor][-1:], clients[donor][:-1]
    return clients


def _labels(labels: np.ndarray, num_clients: int, rng: np.random.Generator, per_client: int) -> list[np.ndarray]:
    """NIID-Bench's #C=k (Li et al. 2021): client i holds label i mod K and k-1 others drawn at random;
    each label's samples are split equally among the clients holding it (a label nobody drew is unused)."""
    classes = np.unique(labels)
    if per_client > len(classes):
        raise ValueError(f"{per_client} labels per client, but the data has {len(classes)}")
    holders: dict[int, list[int]] = {int(c): [] for c in classes}
    for k in range(num_clients):
        chosen = [int(classes[k % len(classes)])]
        while len(chosen) < per_client:
            if (label := int(rng.choice(classes))) not in chosen:
                chosen.append(label)
        for label in chosen:
            holders[label].append(k)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for label, clients in holders.items():
        members = rng.permutation(np.flatnonzero(labels == label))
        for k, piece in zip(clients, np.array_split(members, max(1, len(clients))), strict=False):
            parts[k].append(piece)
    return [np.concatenate(p) for p in parts]


def partition(
    labels: np.ndarray, num_clients: int, scheme: str = "iid", seed: int = 0, alpha: float = 0.5
) -> list[np.ndarray]:
    """Split sample indices among ``num_clients``: disjoint, complete, each client non-empty.

    ``iid``: uniform random; ``shards``: pathological non-IID (about two labels per client);
    ``dirichlet``: label skew controlled by ``alpha`` (small = more skewed); ``labels``: exactly two
    labels per client (NIID-Bench's #C=2; complete when there are at least as many clients as labels).
    """
    labels = np.asarray(labels)
    if num_clients < 1:
        raise ValueError(f"need at least one client, got {num_clients}")
    minimum = 2 * num_clients if scheme == "shards" else num_clients
    if len(labels) < minimum:
        raise ValueError(f"{len(labels)} samples cannot be split into {scheme} for {num_clients} clients")
    rng = np.random.default_rng(seed)
    if scheme == "iid":
        parts = _iid(labels, num_clients, rng)
    elif scheme == "shards":
        parts = _shards(labels, num_clients, rng)
    elif scheme == "dirichlet":
        parts = _dirichlet(labels, num_clients, rng, alpha)
    elif scheme == "labels":
        parts = _labels(labels, num_clients, rng, per_client=2)
    else:
        raise ValueError(f"unknown partition scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return [np.sort(p).astype(np.int64) for p in parts]
