"""The client's own state files damaged (issue 19's table): one line naming the file and what to do,
never a traceback, and never after the update went on chain."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from client.keys import KEY_FILE, load_or_create_keys, refuse_shared_home
from client.state import ClientState, ClientStateError, HistoryEntry
from protocol.artifacts import decode_artifact, encode_artifact
from tests.protocol.conftest import Federation


def _write(relative: str, content: bytes) -> Callable[[Path], Path]:
    def damage(directory: Path) -> Path:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path
    return damage


def _mismatched_ewc(directory: Path) -> Path:
    path = directory / "ewc" / "ewc-memory.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"fisher/w": np.zeros(2, np.float32), "anchor/w": np.zeros(3, np.float32)}, str(path))
    return path


_ENTRY = {"round": 1, "base_cid": "b", "update_cid": "u", "samples": 3, "tx_hash": "0x", "gas_used": 1,
          "train_loss": 0.5, "local_accuracy_before": 0.1, "local_accuracy_after": 0.2}

DAMAGES = {
    "ewc memory, not safetensors": (_write("ewc/ewc-memory.safetensors", b"\x00" * 40), ClientState.ewc_memory),
    "ewc memory, Fisher and anchor disagree": (_mismatched_ewc, ClientState.ewc_memory),
    "fedcurv share, truncated": (_write("fedcurv/ewc.safetensors", b"\x08\x00"), ClientState.fedcurv_contribution),
    "data record, not JSON": (_write("data.json", b'{"version": '), ClientState.data_record),
    "data record, wrong types": (_write("data.json", b'{"version": "two"}'), ClientState.data_record),
    "data record, a bad consolidation": (_write("data.json", b'{"consolidations": [{"round": 1}]}'),
                                         ClientState.data_record),
    "history, not a list": (_write("history.json", b'{"round": 1}'), ClientState.history),
    "history, unknown field": (_write("history.json", json.dumps([{**_ENTRY, "extra": 1}]).encode()),
                               ClientState.history),
    "history, wrong type": (_write("history.json", json.dumps([{**_ENTRY, "samples": "3"}]).encode()),
                            ClientState.history),
}


@pytest.mark.parametrize("name", DAMAGES)
def test_a_damaged_state_file_is_one_line_naming_it(tmp_path: Path, name: str) -> None:
    damage, load = DAMAGES[name]
    state = ClientState(tmp_path)
    path = damage(tmp_path)
    for read in (lambda: load(state), state.check):
        with pytest.raises(ClientStateError) as refused:
            read()
        message = str(refused.value)
        assert "\n" not in message and f"client state file {path} is corrupt" in message
        assert message.endswith("move it away to start this client afresh from the chain")


def test_a_sound_history_still_loads(tmp_path: Path) -> None:
    state = ClientState(tmp_path)
    state.append_history(HistoryEntry(**_ENTRY))
    state.check()
    assert state.history() == [HistoryEntry(**_ENTRY)]


def test_a_damaged_key_file_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    assert load_or_create_keys(tmp_path).public_bytes() == keys.public_bytes()  # kept across restarts
    (tmp_path / KEY_FILE).write_text("not a key\n")
    named = re.escape(str(tmp_path / KEY_FILE))
    with pytest.raises(ClientStateError, match=f"client key file {named} is corrupt .* restore it"):
        load_or_create_keys(tmp_path)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(ClientStateError, match=re.escape(f"mode 644): run chmod 600 {tmp_path / KEY_FILE}")):
        load_or_create_keys(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o600)
    load_or_create_keys(tmp_path)


def test_a_home_shared_with_another_party_is_refused_for_secure_rounds(tmp_path: Path) -> None:
    """Row 3 of issue 18: with one shared home every party could read every client's key."""
    mine, other = "0x" + "1" * 40, "0x" + "2" * 40
    load_or_create_keys(tmp_path / "clients" / mine)
    refuse_shared_home(tmp_path, mine)  # its own key only: fine
    load_or_create_keys(tmp_path / "clients" / other)
    with pytest.raises(ClientStateError, match="keys of 1 other account"):
        refuse_shared_home(tmp_path, mine)
    with pytest.raises(ClientStateError, match=r"this organization.s home .* keys of 2 other"):
        refuse_shared_home(tmp_path, None)
    (tmp_path / "clients" / other / KEY_FILE).unlink()
    (tmp_path / "organization").mkdir()
    with pytest.raises(ClientStateError, match="also the organization's"):
        refuse_shared_home(tmp_path, mine)


def test_a_damaged_history_stops_the_client_before_it_submits(federation: Federation) -> None:
    organization, client = federation.organization, federation.clients[0]
    round_id, _ = organization.open_round()
    (client.state.directory / "history.json").write_text("[{")
    with pytest.raises(ClientStateError, match=r"history\.json is corrupt"):
        client.participate(round_id)
    assert organization.contract.round(round_id).submissions == 0  # nothing went on chain
    (client.state.directory / "history.json").unlink()  # what the message says to do
    assert client.participate(round_id).entry is not None
    assert [entry.round for entry in client.state.history()] == [round_id]


def test_a_base_with_absurd_weights_is_refused_in_one_line(federation: Federation) -> None:
    """Row 6 of issue 18: a poisoned sum published as the next base no longer makes clients crash
    (a NaN base cannot even be encoded or decoded: model files refuse non-finite values)."""
    value, reason = 1e8, "a weight of 1e+08"
    organization, client = federation.organization, federation.clients[0]
    base = decode_artifact(organization.store.get(organization.next_base_cid()))
    poisoned = {name: np.array(tensor, copy=True) for name, tensor in base.tensors.items()}
    first = next(iter(poisoned))
    poisoned[first].reshape(-1)[0] = value
    cid = organization.store.add_bytes(encode_artifact(poisoned, base.metadata))
    round_id, _ = organization.contract.open_round(cid, organization.contract.block_number() + 20, 1, 1000)
    participation = client.participate(round_id)
    assert participation.entry is None and reason in participation.skipped
    assert "\n" not in participation.skipped
