"""Secure rounds when the content store fails them. In the review, a masked update that no node
holds while the store serves the rest is excluded (reason Missing), as is one over the size cap
(Oversized): survivors reveal its key share, never its self-mask share, and the round finalizes and
verifies without it; a store that delivers nothing is an outage: the review waits and excludes
nobody. After the review (the reveals are made) a lost masked update can no longer be treated as
dropped: the review pins every file it keeps on the organization's node, so only the loss of that
node's own copy aborts the round, with the reason, while an outage makes the close wait until the
store is back."""

from __future__ import annotations

from dataclasses import replace

import ipfshttpclient
import pytest

from chain.contract import ExclusionReason, ParticipantStatus, RoundState
from organization.secure_local import advance_past
from protocol.artifacts import max_update_bytes
from protocol.secure.masked_file import MaskedFileError
from protocol.secure.public_round import exclusion_reason, read_secure_round
from protocol.secure.shares import decode_reveal
from protocol.secure.verification import verify_secure_round
from protocol.verification import verify_round
from storage.ipfs_daemon import IpfsHttpStore
from storage.model_file import expected_spec
from storage.store import (
    ContentNotFoundError,
    ContentTooLargeError,
    ContentVerificationError,
    StorageError,
    StoreUnavailableError,
)
from tests.secure.conftest import CLIENTS, build, open_and_share, review
from tests.secure.test_secure_rounds import reveal_round
from tests.support import free_port
from webui.secure_round import secure_round_view

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)


@pytest.mark.parametrize(("error", "reason"), [
    (ContentTooLargeError("a 300 MiB file"), ExclusionReason.OVERSIZED),
    (MaskedFileError("it is for round 1, not 2"), ExclusionReason.MALFORMED),
    (ContentNotFoundError("not delivered within 60s"), ExclusionReason.MISSING),  # if the store serves the base
    (StoreUnavailableError("the daemon is down"), None),  # an outage: never an exclusion
    (ContentVerificationError("bytes that do not hash to the CID"), None),  # the node lies, not the submitter
])
def test_only_the_submitters_faults_are_reasons_to_exclude(error, reason):
    assert exclusion_reason(error) is reason


def _all_submitted(federation, pool) -> int:
    round_id, _ = open_and_share(federation)
    list(pool.map(lambda p: p.submit(round_id), federation.participants))
    return round_id


def test_a_masked_update_missing_in_the_review_is_excluded_and_the_round_finalizes_without_it(federation, pool):
    organization, contract, store = federation.organization, federation.organization.contract, federation.store
    round_id = _all_submitted(federation, pool)
    record = read_secure_round(contract, round_id)
    lost = record.submissions[2]  # in on-chain order
    (missing,) = [p for p in federation.participants if p.address == lost.client]
    store.path_of(lost.cid).unlink()  # the only node that held it lost it; the store serves the rest
    review(federation)
    assert contract.participant_status(round_id, lost.client) is ParticipantStatus.EXCLUDED
    assert read_secure_round(contract, round_id).excluded == {lost.client.lower(): ExclusionReason.MISSING}
    assert sum(f"excluded masked update 2 ({lost.client}) as missing" in line for line in federation.log) == 1
    survivors = [p for p in federation.participants if p is not missing]
    assert missing.step(round_id).action == "excluded"
    assert [p.step(round_id).action for p in survivors] == ["revealed"] * (CLIENTS - 1)
    reveals = [decode_reveal(store.get(cid)) for _, cid in read_secure_round(contract, round_id).reveals]
    excluded = lost.client.lower()  # its key share only: its self-mask, whose shares nobody reveals, hides it
    assert all(excluded in r.key_shares and excluded not in r.self_shares for r in reveals)
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, False, True, True]
    assert "excluded in the review: missing" in outcome.rejections[2]
    verification = verify_round(contract, store, round_id)
    assert verification.ok, verification.message
    assert f"{CLIENTS - 1} masked updates (1 dropped" in verification.message
    assert f"excluded in the review: {excluded} (missing)" in verification.message
    hidden = replace(read_secure_round(contract, round_id), excluded={})  # a node hiding the exclusion's log
    check = verify_secure_round(store, contract.round(round_id), hidden)
    assert not check.ok and "logs show 0 exclusions, the contract counts 1" in check.message
    assert organization.next_base_cid() == outcome.result_cid
    page = secure_round_view(contract, store, contract.round(round_id), contract.block_number())  # the round page
    assert {p["address"]: p["status"] for p in page["participants"]}[lost.client] == "excluded (missing)"
    assert page["recoveries"] == [{"address": lost.client, "key_shares": CLIENTS - 1, "threshold": 3,
                                   "recovered": True, "why": "excluded in the review: missing"}]


def test_an_oversized_masked_file_is_excluded_as_oversized_and_the_round_finalizes(federation, pool):
    contract, store = federation.organization.contract, federation.store
    round_id, _ = open_and_share(federation)
    attacker, honest = federation.participants[0], federation.participants[1:]
    base = federation.organization.fetch_model(contract.round(round_id).base_cid)
    oversized = store.add_bytes(bytes(max_update_bytes(expected_spec(base.tensors)) + 1))
    attacker.contract.submit_masked_update(round_id, oversized, 10)
    list(pool.map(lambda p: p.submit(round_id), honest))
    review(federation)
    assert read_secure_round(contract, round_id).excluded == {attacker.address.lower(): ExclusionReason.OVERSIZED}
    assert [p.step(round_id).action for p in honest] == ["revealed"] * (CLIENTS - 1)
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [False] + [True] * (CLIENTS - 1)
    assert verify_round(contract, store, round_id).ok


def test_an_outage_during_the_review_excludes_nobody_and_the_review_ends_once_the_store_is_back(federation, pool):
    organization, contract = federation.organization, federation.organization.contract
    round_id = _all_submitted(federation, pool)
    working, organization.store = organization.store, _unreachable_store()
    with pytest.raises(StorageError):  # the base itself cannot be fetched: transient, the callers retry
        federation.driver.step()
    organization.store = _ServesOnlyTheBase(working)
    outcome = federation.driver.step()  # the base comes, no masked file does: an outage, not their fault
    assert outcome.state is RoundState.OPEN and outcome.reason.startswith("review postponed")
    phases = contract.secure_round(round_id)
    assert (phases.excluded, phases.review_ended) == (0, False)
    assert not any("excluded masked update" in line for line in federation.log)
    organization.store = working
    review(federation)
    assert contract.secure_round(round_id).excluded == 0


def test_the_review_pins_what_it_keeps_so_a_submitter_node_forgetting_its_file_costs_nothing(tmp_path, anvil,
                                                                                           jsipfs_daemon, pool):
    federation = build(tmp_path, anvil, store=IpfsHttpStore(jsipfs_daemon.api_multiaddr, timeout=30))
    contract = federation.organization.contract
    round_id = _all_submitted(federation, pool)
    advance_past(contract, contract.secure_round(round_id).deadlines.submit)
    forgotten = read_secure_round(contract, round_id).submissions[1].cid
    node = ipfshttpclient.Client(jsipfs_daemon.api_multiaddr, timeout=30)
    node.pin.rm(str(forgotten))  # the node holds it only as a cache of the submitter's node from now on
    review(federation)
    for participant in federation.participants:
        assert participant.step(round_id).action == "revealed"
    node.repo.gc()  # a cache that is not pinned goes
    advance_past(contract, contract.secure_round(round_id).deadlines.reveal)
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED and len(outcome.accepted) == CLIENTS
    assert verify_round(contract, federation.store, round_id).ok


def test_a_masked_update_lost_from_the_organizations_own_node_after_the_review_aborts_naming_its_cid(federation,
                                                                                                   pool):
    organization, contract = federation.organization, federation.organization.contract
    round_id, deadlines = reveal_round(federation, pool, revealers=5)
    record = read_secure_round(contract, round_id)
    lost = record.submissions[1]
    federation.store.path_of(lost.cid).unlink()  # the one store, the organization's, lost it
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
    working, organization.store = organization.store, _unreachable_store()
    with pytest.raises(StorageError):  # transient: the driver's callers retry it (protocol/outages.py)
        federation.driver.step()
    assert contract.round(round_id).state is RoundState.OPEN
    organization.store = working
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED and len(outcome.accepted) == 5
    assert verify_round(contract, federation.store, round_id).ok


def _unreachable_store() -> IpfsHttpStore:
    return IpfsHttpStore(f"/ip4/127.0.0.1/tcp/{free_port()}", attempts=1, timeout=2.0)


class _ServesOnlyTheBase:
    """A store whose node answers the organization's own plain `get` of the base (it may be cached
    locally) but delivers nothing to a bounded fetch, the base included: an outage as the review
    sees it, since `store_serves` fails too."""

    def __init__(self, store) -> None:
        self._store = store

    def get_bounded(self, cid, max_bytes, seconds):
        raise ContentNotFoundError(f"{cid}: the node did not deliver it within {seconds:g}s")

    def __getattr__(self, name):
        return getattr(self._store, name)
