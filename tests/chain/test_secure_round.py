"""Secure-aggregation rounds on the contract: phases, dropouts, refusals, recorded abort reasons, flat gas."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from chain import errors
from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import FederatedLearningContract, ParticipantStatus, RoundKind, RoundState, SecureDeadlines
from chain.deployments import DeploymentBook
from chain.history import HistoryReader
from chain.migrate import deploy
from chain.transactions import TxResult
from tests.chain.conftest import fresh_cid
from tests.chain.test_gas import _gas

PHASE = 10


def open_secure(organization: FederatedLearningContract, phase: int = PHASE,
                ) -> tuple[int, SecureDeadlines, TxResult]:
    now = organization.block_number()
    deadlines = SecureDeadlines(now + phase, now + 2 * phase, now + 3 * phase)
    round_id, opened = organization.open_secure_round(fresh_cid(), deadlines, 3, 1_000)
    return round_id, deadlines, opened


def mine_past(chain: EmbeddedChain, organization: FederatedLearningContract, block: int) -> None:
    chain.mine_blocks(max(0, block + 1 - organization.block_number()))


@pytest.fixture
def four(organization) -> list[FederatedLearningContract]:
    registered = [organization.with_account(dev_account(index)) for index in (1, 2, 3, 4)]
    for client in registered:
        client.register(b"\x09" * 32)
    return registered


def test_a_secure_round_without_dropouts_finalizes_as_soon_as_everyone_submitted(chain, organization, four):
    round_id, deadlines, _ = open_secure(organization)
    assert organization.round(round_id).kind is RoundKind.SECURE  # plain submissions are refused
    for client in four[:3]:
        client.join_round(round_id)
    with pytest.raises(errors.PhaseNotStarted):
        four[0].submit_masked_update(round_id, fresh_cid(), 10)
    mine_past(chain, organization, deadlines.join)
    with pytest.raises(errors.DeadlinePassed):
        four[3].join_round(round_id)
    with pytest.raises(errors.NotJoined):
        four[3].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.NotPlainRound):
        four[3].submit_update(round_id, fresh_cid(), 10)
    for client in four[:3]:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.AlreadySubmitted):
        four[0].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.PhaseNotStarted):
        four[0].reveal_seeds(round_id, fresh_cid())
    organization.finalize_secure_round(round_id, fresh_cid())
    record = HistoryReader(organization).round(round_id)
    assert record.state is RoundState.FINALIZED and all(s.accepted for s in record.submissions)
    assert len(record.submissions) == 3


def test_with_a_dropout_the_round_finalizes_only_after_every_survivor_revealed(chain, organization, four):
    round_id, deadlines, _ = open_secure(organization)
    for client in four:
        client.join_round(round_id)
    with pytest.raises(errors.AlreadyJoined):
        four[0].join_round(round_id)
    mine_past(chain, organization, deadlines.join)
    for client in four[:3]:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.PhaseNotStarted):
        organization.finalize_secure_round(round_id, fresh_cid())
    mine_past(chain, organization, deadlines.submit)
    with pytest.raises(errors.DeadlinePassed):  # late
        four[3].submit_masked_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.NotSubmitted):
        four[3].reveal_seeds(round_id, fresh_cid())
    four[0].reveal_seeds(round_id, fresh_cid())
    with pytest.raises(errors.AlreadyRevealed):
        four[0].reveal_seeds(round_id, fresh_cid())
    with pytest.raises(errors.RevealsIncomplete):
        organization.finalize_secure_round(round_id, fresh_cid())
    with pytest.raises(errors.RoundInProgress):
        four[3].abort_secure_round(round_id)
    four[1].reveal_seeds(round_id, fresh_cid())
    four[2].reveal_seeds(round_id, fresh_cid())
    assert organization.participant_status(round_id, four[3].account.address) is ParticipantStatus.JOINED
    assert organization.participant_status(round_id, four[0].account.address) is ParticipantStatus.REVEALED
    organization.finalize_secure_round(round_id, fresh_cid())
    phases = organization.secure_round(round_id)
    assert (phases.joined, phases.revealed) == (4, 3)


@pytest.mark.parametrize("stage", ["join", "submit", "reveal"])
def test_anyone_aborts_a_stalled_round_and_the_reason_is_recorded(chain, organization, four, stage):
    round_id, deadlines, _ = open_secure(organization)
    joiners = four if stage != "join" else four[:2]
    for client in joiners:
        client.join_round(round_id)
    mine_past(chain, organization, deadlines.join)
    submitters = {"join": [], "submit": four[:2], "reveal": four[:3]}[stage]
    for client in submitters:
        client.submit_masked_update(round_id, fresh_cid(), 10)
    mine_past(chain, organization, {"join": deadlines.join, "submit": deadlines.submit,
                                    "reveal": deadlines.reveal}[stage])
    result = four[3].abort_secure_round(round_id)  # not the owner: a stalled round cannot be held open
    (event,) = organization.web3_contract.events.SecureRoundAborted().process_receipt(result.receipt, errors=DISCARD)
    assert event["args"]["reason"] == {"join": 0, "submit": 1, "reveal": 2}[stage]
    assert organization.round(round_id).state is RoundState.ABORTED


def test_a_replayed_masked_update_from_another_round_is_refused(chain, organization, four):
    used = fresh_cid()
    for attempt in range(2):
        round_id, deadlines, _ = open_secure(organization)
        for client in four[:3]:
            client.join_round(round_id)
        mine_past(chain, organization, deadlines.join)
        if attempt == 0:
            four[0].submit_masked_update(round_id, used, 10)
            four[1].submit_masked_update(round_id, fresh_cid(), 10)
            four[2].submit_masked_update(round_id, fresh_cid(), 10)
            organization.finalize_secure_round(round_id, fresh_cid())
    with pytest.raises(errors.UpdateReplayed):
        four[1].submit_masked_update(round_id, used, 10)


def test_bad_secure_round_parameters_are_refused(organization, four):
    now = organization.block_number()
    with pytest.raises(errors.InvalidMinParticipants):
        organization.open_secure_round(fresh_cid(), SecureDeadlines(now + 5, now + 10, now + 15), 2, 100)
    with pytest.raises(errors.InvalidPhases):
        organization.open_secure_round(fresh_cid(), SecureDeadlines(now + 5, now + 5, now + 15), 3, 100)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        four[0].open_secure_round(fresh_cid(), SecureDeadlines(now + 5, now + 10, now + 15), 3, 100)
    round_id, _ = organization.open_round(fresh_cid(), now + 10, 1, 100)
    with pytest.raises(errors.NotSecureRound):
        four[0].join_round(round_id)


def _secure_round_gas(chain, organization, first, last, helpers) -> dict[str, int]:
    """Execution gas of one secure round in which `first` and `last` join, submit and reveal, one helper drops."""
    round_id, deadlines, opened = open_secure(organization, phase=20)
    executed = {"openSecureRound": _gas(organization, opened)["execution"]}
    participants = [first, *helpers, last]
    for who, client in zip(["1st", None, None, "last"], participants, strict=True):
        result = client.join_round(round_id)
        if who:
            executed[f"joinRound ({who})"] = _gas(organization, result)["execution"]
    mine_past(chain, organization, deadlines.join)
    for who, client in (("1st", first), (None, helpers[0]), ("last", last)):
        result = client.submit_masked_update(round_id, fresh_cid(), 100)
        if who:
            executed[f"submitMaskedUpdate ({who})"] = _gas(organization, result)["execution"]
    mine_past(chain, organization, deadlines.submit)
    for who, client in (("1st", first), (None, helpers[0]), ("last", last)):
        result = client.reveal_seeds(round_id, fresh_cid())
        if who:
            executed[f"revealSeeds ({who})"] = _gas(organization, result)["execution"]
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
        client.register(b"\x07" * 32)
    early = _secure_round_gas(chain, organization, clients[0], clients[-1], clients[1:3])
    for _ in range(10):
        round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 5, 1, 100)
        organization.abort_round(round_id)
    late = _secure_round_gas(chain, organization, clients[0], clients[-1], clients[10:12])
    assert early == late, (early, late)
    for step in ("joinRound", "submitMaskedUpdate", "revealSeeds"):
        assert early[f"{step} (1st)"] == early[f"{step} (last)"], early
    print("\nsecure round execution gas:", early)
