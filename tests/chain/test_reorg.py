"""Reorgs on Anvil: the history reader notices them by block hash and drops what it cached past
them; a confirmation depth keeps it, and a client deciding what to do, to blocks that deep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from chain.accounts import dev_account
from chain.contract import FederatedLearningContract, RoundState
from chain.history import HistoryReader
from client.driver import ParticipantDriver
from client.service import Client, ClientSettings
from client.state import ClientState
from protocol.engine import Act, read_view
from storage.embedded import EmbeddedStore
from tests.chain.conftest import deployed_on_anvil, fresh_cid
from tests.chain.reorg import reorg
from tests.protocol.conftest import small_data


@pytest.fixture
def organization() -> Iterator[FederatedLearningContract]:
    with deployed_on_anvil() as organization:
        yield organization


def test_the_history_reader_drops_what_a_reorg_replaced(organization: FederatedLearningContract) -> None:
    clients = [organization.with_account(dev_account(index)) for index in (1, 2, 3)]
    for client in clients[:2]:
        client.register()
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 50, 1, 100)
    for client in clients[:2]:
        client.submit_update(round_id, fresh_cid(), 10)
    digest = organization.recorded_digest(round_id)
    organization.close_submissions(round_id, digest)
    organization.finalize_round(round_id, fresh_cid(), [True, True], digest)
    clients[2].register()
    reader = HistoryReader(organization)
    assert reader.round(round_id).state is RoundState.FINALIZED  # cached from here on
    assert len(reader.clients()) == 3

    # the last four blocks (second submission, close, finalize, third registration) are replaced by
    # blocks holding only the close: the finalize and the registration are gone, a submission too
    reorg(organization.chain.web3, 4, lambda mined: [mined[1]])
    assert organization.round(round_id).state is RoundState.OPEN
    record = reader.round(round_id)
    assert reader.reorgs_noticed == 1
    assert record is not None and record.state is RoundState.OPEN and len(record.submissions) == 1
    assert reader.clients() == [clients[0].account.address, clients[1].account.address]
    assert reader.round(round_id) is not None and reader.reorgs_noticed == 1  # nothing more to drop


def test_a_confirmation_depth_reads_only_blocks_that_deep(organization: FederatedLearningContract) -> None:
    client = organization.with_account(dev_account(1))
    client.register()
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 50, 1, 100)
    client.submit_update(round_id, fresh_cid(), 10)
    deep = HistoryReader(organization, confirmations=2)  # registration, open, submission: 3, 2 and 1 deep
    assert deep.round(round_id) is None and deep.clients() == [client.account.address]
    organization.chain.mine_blocks(1)
    confirmed = deep.round(round_id)
    assert confirmed is not None and confirmed.submissions == []
    organization.chain.mine_blocks(1)
    assert len(deep.round(round_id).submissions) == 1
    with pytest.raises(ValueError, match="0 or more"):
        HistoryReader(organization, confirmations=-1)


def test_a_client_deciding_at_a_confirmation_depth_never_trains_on_a_round_a_reorg_removed(
        organization: FederatedLearningContract, tmp_path: Path) -> None:
    train, _ = small_data()

    def driver(confirmations: int) -> ParticipantDriver:
        account = dev_account(1)
        client = Client(organization.with_account(account), EmbeddedStore(tmp_path / "ipfs"),
                        train.subset(np.arange(20)), ClientState(tmp_path / f"client-{confirmations}"),
                        ClientSettings(confirmations=confirmations), log=lambda _: None)
        return ParticipantDriver(client)

    hasty, careful = driver(0), driver(2)
    careful.client.ensure_registered()
    organization.open_round(fresh_cid(), organization.block_number() + 50, 1, 100)
    assert hasty.decide()[1].act is Act.TRAIN  # at depth 0 it would train on the round at once
    assert careful.decide()[1].act is Act.WAIT and careful.client.pending_round() is None

    reorg(organization.chain.web3, 1, lambda mined: [])  # the block that opened the round is replaced
    organization.chain.mine_blocks(3)
    assert organization.round_count() == 0
    view, decision = careful.decide()
    assert view is None and decision.act is Act.WAIT  # the removed round was never seen, so never trained on

    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 50, 1, 100)
    organization.chain.mine_blocks(1)
    assert careful.decide()[1].act is Act.WAIT  # one block deep: not yet
    organization.chain.mine_blocks(1)
    view, decision = careful.decide()
    assert decision.act is Act.TRAIN and view is not None and view.info.round_id == round_id
    assert view.block == organization.block_number() - 2 and careful.client.pending_round().round_id == round_id


def test_a_confirmed_view_reads_no_block_before_the_deployment(organization: FederatedLearningContract) -> None:
    deep = organization.confirmed(1_000)  # far below the deployment: read at the deployment's block
    assert deep.block_number() == organization.deployment_block() and read_view(deep) is None
    assert organization.confirmed(0) is organization
    with pytest.raises(ValueError, match="0 or more"):
        organization.confirmed(-1)
