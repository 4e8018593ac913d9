"""Sybils that submit the moment a round opens cannot close it before honest clients answer: the
round's collection window (on-chain) holds the close back, and honest updates sent inside it count."""

from __future__ import annotations

import numpy as np
import pytest

from chain import errors
from chain.accounts import dev_account
from chain.contract import RoundState
from mlprocessor.models import initial_state
from organization.driver import RoundDriver
from protocol.artifacts import encode_artifact, update_metadata
from protocol.engine import Act
from tests.protocol.conftest import build_federation

WINDOW = 8


def test_two_sybils_at_the_open_cannot_close_the_round_before_the_window(tmp_path) -> None:
    federation = build_federation(tmp_path, quorum=2, target=2, window_blocks=WINDOW)
    organization, store = federation.organization, federation.store
    sybils = [organization.contract.with_account(dev_account(index)) for index in (4, 5)]
    for sybil in sybils:
        sybil.register()
    driver = RoundDriver(organization)
    driver.step()  # opens round 1
    round_id = organization.contract.round_count()
    info = organization.contract.round(round_id)
    assert info.window == WINDOW
    zero = {name: np.zeros_like(tensor) for name, tensor in initial_state("2nn").items()}
    for sybil in sybils:  # target = quorum = 2, reached in the two blocks after the open
        sybil.submit_update(round_id, store.add_bytes(encode_artifact(
            zero, update_metadata("2nn", round_id, 10, info.base_cid))), 10)

    view, decision = driver.decide()
    assert decision.act is Act.SCREEN and f"collection window runs until block {info.closable_at}" in decision.reason
    assert driver.execute(view, decision) is None  # screens what landed, closes nothing
    held = organization.close_round(round_id)  # asked to close anyway: postponed, not crashed
    assert held.state is RoundState.OPEN and "collection window" in (held.reason or "")
    with pytest.raises(errors.CollectionWindowOpen):
        organization.contract.close_submissions(round_id, organization.contract.recorded_digest(round_id))
    assert not organization.contract.round(round_id).submissions_closed

    honest = [client.participate(round_id).entry for client in federation.clients]  # inside the window
    assert all(honest) and organization.contract.block_number() < info.closable_at
    federation.chain.mine_blocks(info.closable_at - organization.contract.block_number())
    outcome = driver.step()
    assert outcome is not None and outcome.state is RoundState.FINALIZED
    assert len(outcome.accepted) == 5 and all(outcome.accepted[2:])  # every honest update counts
