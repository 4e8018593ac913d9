"""The organization's web node in manual mode (its automatic switch off): it still reviews a secure
round's masked files as soon as the submissions are in, instead of letting the review run to its
deadline, while closing the round stays the user's button."""

from __future__ import annotations

from pathlib import Path

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import RoundState
from chain.deployments import DeploymentBook
from client.driver import ParticipantDriver
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.partition import partition
from organization.secure_local import advance_past
from organization.service import OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from protocol.plan import TrainingPlan
from storage.embedded import EmbeddedStore
from tests.protocol.conftest import small_data
from tests.web.test_secure_web import EXAMPLES, JOB_SECONDS, PORT, Web
from webui.link import ChainLink

PHASE_BLOCKS = 12


def test_manual_mode_reviews_at_once_and_leaves_the_close_to_the_button(tmp_path: Path, monkeypatch) -> None:
    chain, book, store = EmbeddedChain(), DeploymentBook(None), EmbeddedStore(tmp_path / "ipfs")
    train, test = small_data()
    node = OrganizationNode(ChainLink(lambda: chain, lambda _: book, dev_account(0)), store,
                            OrganizationSettings(task="2nn", plan=TrainingPlan(epochs=1, batch_size=10, lr=0.1)),
                            test, tmp_path / "organization", log=lambda _: None)
    web = Web(organization_app(node, PORT).test_client())
    assert web.post("/api/deploy").status_code == 200
    assert not node.auto
    contract = node.link.require_contract()
    participants = []
    for index, part in enumerate(partition(train.y, 3, "iid", seed=0), start=1):
        account = dev_account(index)
        client = Client(contract.with_account(account), store, train.subset(part[::len(part) // EXAMPLES][:EXAMPLES]),
                        ClientState(tmp_path / "clients" / account.address), ClientSettings(task="2nn"),
                        log=lambda _: None)
        client.ensure_registered()
        participants.append(ParticipantDriver(client, secure=True))
    opened = web.post("/api/secure-rounds", {"phase_blocks": PHASE_BLOCKS, "min_participants": 3, "max_samples": 500})
    assert opened.status_code == 201, opened.get_json()
    deadlines = contract.secure_round(1).deadlines
    for _ in range(4 * PHASE_BLOCKS):  # join, share, submit: the participants' steps, the node's polls
        for participant in participants:
            participant.execute(*participant.decide())
        node.idle_tick()  # what the node's loop runs each poll while its switch is off
        if contract.secure_round(1).review_ended:
            break
    assert contract.secure_round(1).review_ended and contract.block_number() < deadlines.review
    for participant in participants:  # each reveals its shares
        participant.execute(*participant.decide())
    assert contract.secure_round(1).revealed == len(participants)
    advance_past(contract, deadlines.reveal)
    node.idle_tick()
    assert contract.round(1).state is RoundState.OPEN  # manual: nobody closed it
    assert web.post("/api/rounds/current/aggregate").status_code == 202
    node.jobs.wait(JOB_SECONDS)
    assert contract.round(1).state is RoundState.FINALIZED, node.jobs.current
    # the round ended after each participant's last look: each is through with it all the same
    assert [participant.execute(*participant.decide()) for participant in participants] == [True] * 3
    sleeps: list[float] = []
    monkeypatch.setattr("client.driver.time.sleep", sleeps.append)
    looks = iter(range(4))
    participants[0].run(poll_seconds=0.25, should_stop=lambda: next(looks) == 3)
    assert sleeps == [0.25] * 2  # through with round 1 at the first look, it then waits a poll between looks
