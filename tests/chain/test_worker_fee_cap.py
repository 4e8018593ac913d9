"""`--max-fee-gwei` reaches the demo's client worker processes: a worker's connection carries the
cap, and what its clients send stays under it (issue 20, item 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chain.fees import GWEI
from client.pool import Connection, SimulatedClient, _Worker
from client.service import ClientSettings
from mlprocessor.data import Dataset
from tests.chain.conftest import deployed_on_anvil


def _data_file(path: Path) -> Path:
    client = SimulatedClient("fee cap", 0, Dataset(np.zeros((2, 784), np.float32), np.zeros(2, np.int64)))
    np.savez(path, labels=np.array([client.label]), indices=np.array([client.index]), x0=client.data.x,
             y0=client.data.y)
    return path


def test_a_worker_sends_under_the_demo_fee_cap(tmp_path: Path) -> None:
    cap = 3 * GWEI // 2  # below what the node suggests (twice Anvil's 1 gwei base fee plus its tip)
    with deployed_on_anvil() as organization:
        connection = Connection(organization.chain.endpoint, organization.address, "embedded", tmp_path,
                                tmp_path / "state", max_fee_wei=cap)
        client = _Worker(ClientSettings(task="mnist-2nn")).client(connection, _data_file(tmp_path / "c.npz"), 0)
        organization.fund(client.address, 1)
        client.ensure_registered()
        web3 = organization.chain.web3
        sent = web3.eth.get_transaction(web3.eth.get_block("latest", full_transactions=True)["transactions"][0]["hash"])
        assert sent["from"] == client.address
        assert sent["maxFeePerGas"] == cap
