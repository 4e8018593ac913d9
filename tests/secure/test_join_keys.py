"""A client refuses, before sending, to join a secure round with a key the contract would refuse."""

from __future__ import annotations

from chain.accounts import dev_account
from chain.contract import ParticipantStatus
from protocol.secure.keys import SMALL_ORDER, KeyPair, joining_key_problem
from tests.secure.conftest import SecureFederation


def test_the_contracts_key_rules_are_mirrored_in_python() -> None:
    assert joining_key_problem(KeyPair.generate().public_bytes()) is None
    for key in SMALL_ORDER:
        assert "small order" in joining_key_problem(key)
    assert "canonical" in joining_key_problem(b"\xff" * 32)
    assert "canonical" in joining_key_problem((2**255 - 19).to_bytes(32, "little"))
    assert "bytes" in joining_key_problem(b"\x09" * 31)


def test_a_client_whose_key_another_account_joined_with_refuses_before_sending(
        federation: SecureFederation) -> None:
    contract = federation.organization.contract
    honest = federation.participants[0]
    sybil = contract.with_account(dev_account(7))
    sybil.register(honest.keys.public_bytes())  # its public key is public: anyone can register a copy
    round_id, _ = federation.driver.secure_rounds().open_round()
    sybil.join_round(round_id, honest.keys.public_bytes())
    block = contract.block_number()
    step = honest.join(round_id)
    assert step.action == "skipped" and "already joined with this client's X25519 public key" in step.detail
    assert contract.block_number() == block  # nothing was sent
    assert contract.participant_status(round_id, honest.address) is ParticipantStatus.NONE
    assert any("not joining secure round" in line for line in federation.log)

