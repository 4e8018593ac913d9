"""Clients whose data changes: EWC consolidates on a new data fingerprint or on request, anchored
at the round's base; everything survives a restart; a watched data directory is reloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.data import Dataset, permuted_task
from mlprocessor.task_registry import get_task
from protocol.plan import TrainingPlan
from tests.protocol.conftest import Federation, build_federation

EWC = ClientSettings(ewc_lambda=100.0, fisher_samples=100)
PLAN = TrainingPlan(epochs=1, batch_size=20, lr=0.1)


def _round(federation: Federation, clients: list[Client] | None = None) -> int:
    """One round with every client; returns its id."""
    organization = federation.organization
    round_id, _ = organization.open_round()
    for client in clients or federation.clients:
        assert client.participate(round_id).entry is not None
    assert organization.close_round(round_id).result_cid is not None
    return round_id


def test_consolidates_when_the_data_changes_and_after_a_restart(tmp_path: Path) -> None:
    federation = build_federation(tmp_path, client_settings=EWC, plan=PLAN)
    client = federation.clients[0]
    _round(federation)
    _round(federation)  # same data: nothing consolidated, a pending Fisher waits
    memory = client.state.ewc_memory()
    assert memory.consolidated is None and memory.pending is not None
    assert client.state.data_record().version == 1 and not client.state.data_record().consolidations

    for c in federation.clients:
        c.data = permuted_task(c.data, 1)
    round_id = _round(federation)
    record = client.state.data_record()
    assert record.version == 2
    assert [(c.round, c.samples, c.data_version) for c in record.consolidations] == [(round_id, 100, 1)]
    memory = client.state.ewc_memory()
    base = federation.organization.fetch_model(federation.organization.contract.round(round_id).base_cid)
    assert memory.consolidated is not None and str(base.metadata.round) == str(round_id - 1)  # the global model
    assert all(memory.consolidated.anchor[k].tobytes() == base.tensors[k].tobytes() for k in base.tensors)
    assert [e.data_version for e in client.state.history()] == [1, 1, 2]

    restarted = Client(client.contract, federation.store, client.data, ClientState(client.state.directory), EWC,
                       log=lambda _: None)
    _round(federation, [restarted, *federation.clients[1:]])  # same data after the restart: no new consolidation
    again = restarted.state.ewc_memory()
    assert len(restarted.state.data_record().consolidations) == 1 and again.consolidated is not None
    assert all(again.consolidated.anchor[k].tobytes() == memory.consolidated.anchor[k].tobytes() for k in base.tensors)

    restarted.state.request_consolidation()  # the user asks: consolidates without a data change
    round_id = _round(federation, [restarted, *federation.clients[1:]])
    record = restarted.state.data_record()
    assert [c.round for c in record.consolidations][-1] == round_id and not record.consolidate_requested
    assert restarted.state.ewc_memory().consolidated.consolidations == 2


def _write_npz(path: Path, data: Dataset) -> None:
    np.savez(path, x=data.x.reshape(-1, 28, 28), y=data.y)


def test_a_watched_directory_is_reloaded_and_consolidated(tmp_path: Path) -> None:
    federation = build_federation(tmp_path, client_settings=EWC, plan=PLAN)
    original = federation.clients[0]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first, second = original.data.subset(np.arange(150)), original.data.subset(np.arange(150, 300))
    _write_npz(data_dir / "a.npz", first)
    own_data = get_task("mnist-2nn").load_participant_data(data_dir)
    client = Client(original.contract, federation.store, own_data, original.state, EWC,
                    log=lambda _: None, data_dir=data_dir)
    _round(federation, [client, *federation.clients[1:]])
    assert len(client.data) == 150
    _write_npz(data_dir / "b.npz", second)  # new examples arrive between rounds
    round_id = _round(federation, [client, *federation.clients[1:]])
    assert len(client.data) == 300
    assert [(c.round, c.data_version) for c in client.state.data_record().consolidations] == [(round_id, 1)]
