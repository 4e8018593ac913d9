"""Secure rounds when the content store fails them: a masked update that no node holds any more aborts
the round with the reason (the store still serves the rest, so it is that file's fault), while a
store that delivers nothing is an outage: the close waits, nothing is aborted, and the round
finalizes once the store is back."""

from __future__ import annotations

import pytest

from chain.contract import RoundState
from organization.secure_local import advance_past
from protocol.secure.public_round import read_secure_round
from protocol.verification import verify_round
from storage.ipfs_daemon import IpfsHttpStore
from storage.store import StorageError
from tests.secure.test_secure_rounds import reveal_round
from tests.support import free_port


def test_a_masked_update_no_node_holds_aborts_the_round_naming_its_cid(federation, pool):
    organization, contract = federation.organization, federation.organization.contract
    round_id, deadlines = reveal_round(federation, pool, revealers=5)
    record = read_secure_round(contract, round_id)
    lost = record.submissions[1]
    federation.store.path_of(lost.cid).unlink()  # the only node that held it lost it
    advance_past(contract, deadlines.reveal)
    outcome = federation.driver.step()
    assert outcome.state is RoundState.ABORTED
    assert str(lost.cid) in outcome.reason and "\n" not in outcome.reason
    assert organization.next_base_cid() == record.base_cid  # the next round starts from the last good model


def test_a_store_that_delivers_nothing_postpones_the_close_and_the_round_finalizes_once_it_is_back(federation,
                                                                                                   pool):
    organization, contract = federation.organization, federation.organization.contract
    round_id, deadlines = reveal_round(federation, pool, revealers=5)
    advance_past(contract, deadlines.reveal)
    working, organization.store = organization.store, IpfsHttpStore(f"/ip4/127.0.0.1/tcp/{free_port()}",
                                                                     attempts=1, timeout=2.0)
    with pytest.raises(StorageError):  # transient: the driver's callers retry it (protocol/outages.py)
        federation.driver.step()
    assert contract.round(round_id).state is RoundState.OPEN
    organization.store = working
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED and len(outcome.accepted) == 5
    assert verify_round(contract, federation.store, round_id).ok
