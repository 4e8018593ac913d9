"""Secure-aggregation rounds on the contract: phases, the review's exclusions, dropouts, refusals, recorded abort
reasons, flat gas."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from chain import errors
from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import (
    ExclusionReason,
    FederatedLearningContract,
    ParticipantStatus,
    RoundKind,
    RoundState,
    SecureDeadlines,
)
from chain.deployments import DeploymentBook
from chain.history import HistoryReader
from chain.migrate import deploy
from chain.transactions import TxResult
from tests.chain.conftest import fresh_cid, key_of
from tests.chain.test_gas import _gas

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

PHASE = 10
KEY = b"\x05" * 32  # a masking key; the contract only refuses zero (clients check the curve)


def open_secure(organization: FederatedLearningContract, phase: int = PHASE, threshold: int = 0,
                ) -> tuple[int, SecureDeadlines, TxResult]:
    now = organization.block_number()
    deadlines = SecureDeadlines(*(now + k * phase for k in range(1, 6)))
    round_id, opened = organization.open_secure_round(fresh_cid(), deadlines, 3, 1_000, threshold)
    return round_id, deadlines, opened


def mine_past(chain: EmbeddedChain, organization: FederatedLearningContract, block: int) -> None:
    chain.mine_blocks(max(0, block + 1 - organization.block_number()))


def join_and_share(chain, organization, round_id: int, deadlines: SecureDeadlines, clients) -> None:
    for client in clients:
        client.join_round(round_id, key_of(client))
    mine_past(chain, organization, deadlines.join)
    for client in clients:
        client.post_shares(round_id, KEY, fresh_cid())
    mine_past(chain, organization, deadlines.share)


@pytest.fixture
def four(organization) -> list[FederatedLearningContract]:
    registered = [organization.with_account(dev_account(index)) for index in (1, 2, 3, 4)]
    for client in registered:
        client.register(key_of(client))
    return registered


def test_without_dropouts_the_review_starts_once_everyone_submitted_and_t_reveals_finalize(chain, organization,
                                                                                         four):
    round_id, deadlines, _ = open_secure(organization)
    assert organization.round(round_id).kind is RoundKind.SECURE  # plain submissions are refused
    for client in four[:3]:
        client.join_round(round_id, key_of(client))
    with pytest.raises(errors.PhaseNotStarted):
        four[0].post_shares(round_id, KEY, fresh_cid())
    mine_past(chain, organization, deadlines.join)
    with pytest.raises(errors.DeadlinePassed):
        four[3].join_round(round_id, key_of(four[3]))
    with pytest.raises(errors.NotJoined):
        four[3].post_shares(round_id, KEY, fresh_cid())
    with pytest.raises(errors.InvalidMaskingKey):
        four[0].post_shares(round_id, bytes(32), fresh_cid())
    with pytest.raises(errors.PhaseNotStarted):
        four[0].submit_masked_update(round_id, fresh_cid(), 10)
    for client in four[:2]:
        client.post_shares(round_id, KEY, fresh_cid())
    with pytest.raises(errors.PhaseNotStarted):  # one who joined may still post: the masking set is not fixed
        four[0].submit_masked_update(round_id, fresh_cid(), 10)
    four[2].post_shares(round_id, KEY, fresh_cid())
    with pytest.raises(errors.AlreadyShared):
        four[0].post_shares(round_id, KEY, fresh_cid())
    assert organization.block_number() <= deadlines.share  # everyone posted: submissions start before it
    with pytest.raises(errors.NotJoined):
        four[3].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.NotPlainRound):
        four[3].submit_update(round_id, fresh_cid(), 10)
    for client in four[:2]:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.ReviewNotStarted):  # the third may still submit
        organization.end_review(round_id)
    four[2].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.AlreadySubmitted):
        four[0].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.ReviewInProgress):  # everyone submitted: the review is on, exclusions may come
        four[0].reveal_shares(round_id, fresh_cid())
    organization.end_review(round_id)
    four[0].reveal_shares(round_id, fresh_cid())
    with pytest.raises(errors.RevealsIncomplete):
        organization.finalize_secure_round(round_id, fresh_cid())
    four[1].reveal_shares(round_id, fresh_cid())
    assert organization.secure_round(round_id).threshold == 2  # a majority of the 3 who joined
    organization.finalize_secure_round(round_id, fresh_cid())
    record = HistoryReader(organization).round(round_id)
    assert record.state is RoundState.FINALIZED and all(s.accepted for s in record.submissions)
    assert len(record.submissions) == 3


def test_a_participant_that_posted_no_shares_cannot_submit_and_survivors_finalize_with_t_reveals(
        chain, organization, four):
    round_id, deadlines, _ = open_secure(organization, threshold=3)
    for client in four:
        client.join_round(round_id, key_of(client))
    mine_past(chain, organization, deadlines.join)
    for client in four[:3]:
        client.post_shares(round_id, KEY, fresh_cid())
    mine_past(chain, organization, deadlines.share)
    with pytest.raises(errors.NotShared):
        four[3].submit_masked_update(round_id, fresh_cid(), 10)
    for client in four[:3]:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    organization.end_review(round_id)
    four[0].reveal_shares(round_id, fresh_cid())
    with pytest.raises(errors.AlreadyRevealed):
        four[0].reveal_shares(round_id, fresh_cid())
    with pytest.raises(errors.NotSubmitted):
        four[3].reveal_shares(round_id, fresh_cid())
    with pytest.raises(errors.RoundInProgress):
        four[3].abort_secure_round(round_id)
    four[1].reveal_shares(round_id, fresh_cid())
    with pytest.raises(errors.RevealsIncomplete):
        organization.finalize_secure_round(round_id, fresh_cid())
    four[2].reveal_shares(round_id, fresh_cid())
    assert organization.participant_status(round_id, four[3].account.address) is ParticipantStatus.JOINED
    assert organization.participant_status(round_id, four[0].account.address) is ParticipantStatus.REVEALED
    everyone = [c.account.address for c in (*reversed(four), organization)]
    assert organization.participant_statuses(round_id, everyone) == [  # one call, in the order asked
        organization.participant_status(round_id, address) for address in everyone]
    assert organization.participant_statuses(round_id, everyone)[-1] is ParticipantStatus.NONE
    organization.finalize_secure_round(round_id, fresh_cid())
    phases = organization.secure_round(round_id)
    assert (phases.joined, phases.shared, phases.revealed, phases.threshold) == (4, 3, 3, 3)


@pytest.mark.parametrize("stage", ["join", "share", "submit", "reveal", "expired"])
def test_anyone_aborts_a_stalled_round_and_the_reason_is_recorded(chain, organization, four, stage):
    round_id, deadlines, _ = open_secure(organization)
    joiners = four if stage != "join" else four[:2]
    for client in joiners:
        client.join_round(round_id, key_of(client))
    mine_past(chain, organization, deadlines.join)
    if stage != "join":
        for client in four if stage != "share" else four[:2]:
            client.post_shares(round_id, KEY, fresh_cid())
        mine_past(chain, organization, deadlines.share)
    submitters = {"join": [], "share": [], "submit": four[:2], "reveal": four[:3], "expired": four[:3]}[stage]
    for client in submitters:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    if stage == "expired":  # enough reveals, but the organization never finalizes
        mine_past(chain, organization, deadlines.review)
        for client in four[:3]:
            client.reveal_shares(round_id, fresh_cid())
        mine_past(chain, organization, deadlines.reveal)
        with pytest.raises(errors.RoundInProgress):
            four[3].abort_secure_round(round_id)
        chain.mine_blocks(20)
    mine_past(chain, organization, {"join": deadlines.join, "share": deadlines.share, "submit": deadlines.submit,
                                    "reveal": deadlines.reveal, "expired": deadlines.reveal}[stage])
    result = four[3].abort_secure_round(round_id)  # not the owner: a stalled round cannot be held open
    (event,) = organization.web3_contract.events.SecureRoundAborted().process_receipt(result.receipt, errors=DISCARD)
    assert event["args"]["reason"] == {"join": 0, "share": 1, "submit": 2, "reveal": 3, "expired": 4}[stage]
    assert organization.round(round_id).state is RoundState.ABORTED


def test_the_organization_aborts_a_round_it_cannot_unmask_at_any_time(chain, organization, four):
    round_id, deadlines, _ = open_secure(organization)
    join_and_share(chain, organization, round_id, deadlines, four)
    result = organization.abort_secure_round(round_id)
    (event,) = organization.web3_contract.events.SecureRoundAborted().process_receipt(result.receipt, errors=DISCARD)
    assert event["args"]["reason"] == 5


def test_a_replayed_masked_update_from_another_round_is_refused(chain, organization, four):
    used = fresh_cid()
    for attempt in range(2):
        round_id, deadlines, _ = open_secure(organization)
        join_and_share(chain, organization, round_id, deadlines, four[:3])
        if attempt == 0:
            four[0].submit_masked_update(round_id, used, 10)
            four[1].submit_masked_update(round_id, fresh_cid(), 10)
            four[2].submit_masked_update(round_id, fresh_cid(), 10)
            organization.end_review(round_id)
            four[0].reveal_shares(round_id, fresh_cid())
            four[1].reveal_shares(round_id, fresh_cid())
            organization.finalize_secure_round(round_id, fresh_cid())
    with pytest.raises(errors.UpdateReplayed):
        four[1].submit_masked_update(round_id, used, 10)


def test_bad_secure_round_parameters_are_refused(organization, four):
    now = organization.block_number()
    good = SecureDeadlines(now + 5, now + 10, now + 15, now + 20, now + 25)
    with pytest.raises(errors.InvalidMinParticipants):
        organization.open_secure_round(fresh_cid(), good, 2, 100)
    with pytest.raises(errors.InvalidPhases):
        organization.open_secure_round(fresh_cid(), SecureDeadlines(now + 5, now + 10, now + 10, now + 20, now + 25),
                                       3, 100)
    with pytest.raises(errors.InvalidPhases, match=f"review {now + 20} < reveal {now + 20}"):
        organization.open_secure_round(fresh_cid(), SecureDeadlines(now + 5, now + 10, now + 15, now + 20, now + 20),
                                       3, 100)
    with pytest.raises(errors.InvalidThreshold):
        organization.open_secure_round(fresh_cid(), good, 3, 100, threshold=1)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        four[0].open_secure_round(fresh_cid(), good, 3, 100)
    round_id, _ = organization.open_round(fresh_cid(), now + 10, 1, 100)
    with pytest.raises(errors.NotSecureRound):
        four[0].join_round(round_id, key_of(four[0]))


def _secure_round_gas(chain, organization, first, last, helpers) -> dict[str, int]:
    """Execution gas of one secure round in which `first` and `last` join, share, submit and reveal, one
    helper drops after sharing, another's masked update is excluded in the review."""
    round_id, deadlines, opened = open_secure(organization, phase=20)
    executed = {"openSecureRound": _gas(organization, opened)["execution"]}
    participants = [first, *helpers, last]
    for who, client in zip(["1st", None, None, None, "last"], participants, strict=True):
        result = client.join_round(round_id, key_of(client))
        if who:
            executed[f"joinRound ({who})"] = _gas(organization, result)["execution"]
    mine_past(chain, organization, deadlines.join)
    for who, client in zip(["1st", None, None, None, "last"], participants, strict=True):
        result = client.post_shares(round_id, KEY, fresh_cid())
        if who:
            executed[f"postShares ({who})"] = _gas(organization, result)["execution"]
    mine_past(chain, organization, deadlines.share)
    for who, client in (("1st", first), (None, helpers[0]), (None, helpers[2]), ("last", last)):
        result = client.submit_masked_update(round_id, fresh_cid(), 100)
        if who:
            executed[f"submitMaskedUpdate ({who})"] = _gas(organization, result)["execution"]
    mine_past(chain, organization, deadlines.submit)
    executed["excludeMaskedUpdate"] = _gas(organization, organization.exclude_masked_update(
        round_id, helpers[2].account.address, ExclusionReason.MISSING))["execution"]
    executed["endReview"] = _gas(organization, organization.end_review(round_id))["execution"]
    for who, client in (("1st", first), (None, helpers[0]), ("last", last)):
        result = client.reveal_shares(round_id, fresh_cid())
        if who:
            executed[f"revealShares ({who})"] = _gas(organization, result)["execution"]
    executed["finalizeSecureRound"] = _gas(organization, organization.finalize_secure_round(round_id, fresh_cid()))[
        "execution"]
    return executed


SECURE_CLIENTS = 20  # no loop over clients in the contract: one would show as gas growing from 1st to last


def test_secure_round_gas_is_flat_in_clients_and_rounds():
    extra = [Account.from_key(keccak(text=f"secure gas client {index}")) for index in range(SECURE_CLIENTS)]
    chain = EmbeddedChain(extra)
    organization = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    clients = [organization.with_account(account) for account in extra]
    for client in clients:
        client.register(key_of(client))
    early = _secure_round_gas(chain, organization, clients[0], clients[-1], clients[1:4])
    for _ in range(10):
        round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 5, 1, 100)
        organization.abort_round(round_id)
    late = _secure_round_gas(chain, organization, clients[0], clients[-1], clients[10:13])
    assert early == late, (early, late)
    for step in ("joinRound", "postShares", "submitMaskedUpdate", "revealShares"):
        assert early[f"{step} (1st)"] == early[f"{step} (last)"], early
    print("\nsecure round execution gas:", early)


_P = 2**255 - 19
_UNUSABLE = {
    "zero": bytes(32), "one": (1).to_bytes(32, "little"), "p - 1": (_P - 1).to_bytes(32, "little"),
    "order 8 (a)": bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    "order 8 (b)": bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    "p (zero again)": _P.to_bytes(32, "little"), "p + 1 (one again)": (_P + 1).to_bytes(32, "little"),
    "top bit set": (int.from_bytes(b"\x09" * 32, "little") | 1 << 255).to_bytes(32, "little"),
}


@pytest.mark.parametrize("key", _UNUSABLE.values(), ids=_UNUSABLE.keys())
def test_joining_with_a_zero_small_order_or_non_canonical_key_is_refused(organization, four, key):
    sybil = organization.with_account(dev_account(5))
    sybil.register(key)
    round_id, _, _ = open_secure(organization)
    with pytest.raises(errors.InvalidEncryptionKey, match="zero, not canonical or of small order"):
        sybil.join_round(round_id, key)
    four[0].join_round(round_id, key_of(four[0]))  # a usable key joins
    assert organization.secure_round(round_id).joined == 1


def test_joining_with_another_key_than_registered_or_one_already_joined_is_refused(organization, four):
    round_id, _, _ = open_secure(organization)
    with pytest.raises(errors.EncryptionKeyNotRegistered):
        four[0].join_round(round_id, key_of(four[1]))
    sybil = organization.with_account(dev_account(5))
    sybil.register(key_of(four[0]))  # a copy of an honest client's public key, which is public
    four[0].join_round(round_id, key_of(four[0]))
    with pytest.raises(errors.DuplicateEncryptionKey, match=f"already joined round {round_id}"):
        sybil.join_round(round_id, key_of(four[0]))
    assert organization.participant_status(round_id, sybil.account.address) is ParticipantStatus.NONE


def _review_round(chain, organization, four, submitters: int = 4) -> tuple[int, SecureDeadlines]:
    """A round all four joined and shared, the first `submitters` submitted."""
    round_id, deadlines, _ = open_secure(organization, threshold=3)
    join_and_share(chain, organization, round_id, deadlines, four)
    for client in four[:submitters]:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    return round_id, deadlines


def test_the_review_excludes_a_submitter_once_with_its_reason_and_it_counts_as_dropped(chain, organization, four):
    round_id, deadlines = _review_round(chain, organization, four, submitters=3)
    excluded = four[1].account.address
    with pytest.raises(errors.ReviewNotStarted):  # the fourth may still submit
        organization.exclude_masked_update(round_id, excluded, ExclusionReason.MISSING)
    mine_past(chain, organization, deadlines.submit)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        four[0].exclude_masked_update(round_id, excluded, ExclusionReason.MISSING)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        four[0].end_review(round_id)
    with pytest.raises(errors.NotSubmitted):  # posted shares, never submitted: already dropped
        organization.exclude_masked_update(round_id, four[3].account.address, ExclusionReason.MISSING)
    result = organization.exclude_masked_update(round_id, excluded, ExclusionReason.MALFORMED)
    (event,) = organization.web3_contract.events.MaskedUpdateExcluded().process_receipt(result.receipt,
                                                                                        errors=DISCARD)
    assert (event["args"]["client"], event["args"]["reason"]) == (excluded, ExclusionReason.MALFORMED)
    with pytest.raises(errors.ParticipantExcluded):
        organization.exclude_masked_update(round_id, excluded, ExclusionReason.MISSING)
    assert organization.participant_status(round_id, excluded) is ParticipantStatus.EXCLUDED
    with pytest.raises(errors.ReviewInProgress):
        four[0].reveal_shares(round_id, fresh_cid())
    organization.end_review(round_id)
    with pytest.raises(errors.ReviewOver):
        organization.end_review(round_id)
    with pytest.raises(errors.ReviewOver):  # exclusions are final once anyone may reveal
        organization.exclude_masked_update(round_id, four[2].account.address, ExclusionReason.MISSING)
    with pytest.raises(errors.ParticipantExcluded):
        four[1].reveal_shares(round_id, fresh_cid())
    four[0].reveal_shares(round_id, fresh_cid())
    four[2].reveal_shares(round_id, fresh_cid())
    phases = organization.secure_round(round_id)
    assert (phases.excluded, phases.review_ended, phases.threshold) == (1, True, 3)
    with pytest.raises(errors.QuorumNotMet):  # 3 submissions, 1 excluded: 2 kept, below the quorum of 3
        organization.finalize_secure_round(round_id, fresh_cid())
    result = four[3].abort_secure_round(round_id)  # anyone: too few kept masked updates
    (event,) = organization.web3_contract.events.SecureRoundAborted().process_receipt(result.receipt, errors=DISCARD)
    assert event["args"]["reason"] == 2


def test_a_round_with_an_exclusion_finalizes_on_the_kept_updates_and_history_marks_it(chain, organization, four):
    round_id, deadlines = _review_round(chain, organization, four)  # everyone submitted: the review is on
    excluded = four[3].account.address
    organization.exclude_masked_update(round_id, excluded, ExclusionReason.OVERSIZED)
    mine_past(chain, organization, deadlines.review)  # the review also ends at its deadline
    with pytest.raises(errors.ReviewOver):
        organization.end_review(round_id)
    for client in four[:3]:
        client.reveal_shares(round_id, fresh_cid())
    organization.finalize_secure_round(round_id, fresh_cid())
    record = HistoryReader(organization).round(round_id)
    assert record.excluded == {excluded.lower(): ExclusionReason.OVERSIZED}
    assert [s.accepted for s in record.submissions] == [True, True, True, False]
