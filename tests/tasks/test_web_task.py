"""The web interfaces show the task: the pin of a model file (name, version, hash; a legacy file's
architecture) on the model and round pages, and any task's data summary on the client page."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from client.service import ClientSettings
from client.state import ClientState
from client.web import ClientNode
from client.web import create_app as client_app
from mlprocessor.data import Dataset
from mlprocessor.task_registry import TaskRef, get_task
from protocol.artifacts import encode_artifact, model_metadata, spec_extra
from storage.embedded import EmbeddedStore
from storage.model_file import ModelMetadata
from tests.tasks.conftest import Install, write_csv
from webui.explorer import Explorer
from webui.link import ChainLink


def _link(account: int) -> ChainLink:
    return ChainLink(EmbeddedChain, lambda _: DeploymentBook(None), dev_account(account))


def test_the_model_view_shows_the_pin_or_a_legacy_files_architecture(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "ipfs")
    state = get_task("mnist-2nn").initial_state(0)
    ref = TaskRef.of("mnist-2nn")
    pinned = store.add_bytes(encode_artifact(state, model_metadata(
        "mnist-2nn", 0, 0, None, {**ref.to_extra(), **spec_extra(get_task("mnist-2nn").tensor_spec())})))
    legacy = store.add_bytes(encode_artifact(state, ModelMetadata("2nn", "model", 1, 0)))
    explorer = Explorer(_link(0), store)
    assert explorer.model(str(pinned))["task"] == {"name": "mnist-2nn", "version": ref.version, "hash": ref.hash,
                                                   "pinned": True}
    assert explorer.model(str(legacy))["task"] == {"name": "2nn", "version": None, "hash": None, "pinned": False}


def test_the_client_page_summarises_any_tasks_data(tmp_path: Path, install_task: Install) -> None:
    install_task("web-fruit", write_csv(tmp_path / "fruit.csv"), "--label", "kind")
    data = Dataset(np.zeros((3, 2), np.float32), np.array([1, 1, 0]))
    node = ClientNode(_link(1), EmbeddedStore(tmp_path / "ipfs"), data, ClientState(tmp_path / "client"),
                      ClientSettings(task="web-fruit"), "three examples", log=lambda _: None)
    summary = client_app(node).test_client().get("/api/data").get_json()
    assert (summary["examples"], summary["classes"], summary["per_class"]) == (3, 2, [1, 2])
    assert summary["description"] == "three examples"
