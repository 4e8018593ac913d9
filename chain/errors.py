"""Python exceptions named after the contract's custom errors, decoded from revert data.

Each class says in plain words why the contract refused; `decode_revert` maps the 4-byte
selector in a revert to the class and fills in the error's arguments.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, is_address, to_checksum_address


class ContractRevert(Exception):
    """The contract refused a call; subclasses carry the custom error's arguments."""

    template: ClassVar[str] = "the contract refused the call"

    def __init__(self, **arguments: Any) -> None:
        self.arguments = arguments
        super().__init__(self.template.format(**arguments))


class UnknownRevert(ContractRevert):
    template = "the contract refused the call: {reason}"


class InvalidCid(ContractRevert):
    template = "the CID is empty: a CIDv0 (Qm...) is required"


class InvalidDeadline(ContractRevert):
    template = "the deadline block {deadline} must be after the current block {currentBlock} and below 2**40"


class InvalidQuorum(ContractRevert):
    template = "the quorum must be at least 1"


class InvalidMaxSamples(ContractRevert):
    template = "the cap on samples per submission must be between 1 and 4294967295"


class InvalidSampleCount(ContractRevert):
    template = "the sample count must be at least 1"


class TooManySamples(ContractRevert):
    template = "an update may claim at most {maxSamples} samples in this round, not {samples}"


class InvalidAcceptedSet(ContractRevert):
    template = "the accepted-set bitmap must be {expectedBytes} bytes with no bit past the last submission"


class RegistrationClosed(ContractRevert):
    template = ("registration is closed and {client} is not on the allow-list: ask the organization to run "
                "`run.py clients allow {client}`, then retry")


class AlreadyRegistered(ContractRevert):
    template = "{client} is already registered or allowed"


class NotRegistered(ContractRevert):
    template = "{client} is not a registered client: register it first (`run.py client` registers on start)"


class UnknownClient(ContractRevert):
    template = "{client} is not a known client"


class ClientWasRemoved(ContractRevert):
    template = ("{client} was removed by the organization and must be allowed again before registering "
                "(`run.py clients allow {client}`, by the organization)")


class RoundStillOpen(ContractRevert):
    template = "round {roundId} is still open: finalize or abort it first"


class RoundNotOpen(ContractRevert):
    template = "round {roundId} is not open: it {state}"


class NotPlainRound(ContractRevert):
    template = "round {roundId} is a secure-aggregation round: plain submissions, close, finalize and abort refuse it"


class CollectionWindowOpen(ContractRevert):
    template = ("round {roundId} collects until block {closableAt}: reaching the target cannot close it "
                "before then (nor before its deadline)")


class SubmissionsDigestMismatch(ContractRevert):
    template = ("round {roundId}: the submissions screened are not the ones the chain records (a submission "
                "landed since, or a reorg reordered or dropped some): read the round again and screen it anew")


class SubmissionsClosed(ContractRevert):
    template = "round {roundId} no longer takes submissions: the organization froze its submission set"


class DeadlinePassed(ContractRevert):
    template = "round {roundId} closed for submissions at block {deadline}"


class AlreadySubmitted(ContractRevert):
    template = "{client} already submitted an update to round {roundId}"


class QuorumNotMet(ContractRevert):
    template = "round {roundId} has {submissions} submissions, fewer than its quorum of {quorum}"


class OwnableUnauthorizedAccount(ContractRevert):
    template = ("{account} is not the organization (contract owner) and may not do this: sign with the owner's key "
                "(--key-file PATH)")


class OwnableInvalidOwner(ContractRevert):
    template = "{owner} cannot be the owner"


class InvalidPhases(ContractRevert):
    template = ("secure round phases must end in order after the current block {currentBlock}: join "
                "{joinDeadline} < share {shareDeadline} < submit {submitDeadline} < review {reviewDeadline} < reveal "
                "{revealDeadline}")


class InvalidMinParticipants(ContractRevert):
    template = "a secure round needs at least 3 participants, not {minParticipants}"


class NotSecureRound(ContractRevert):
    template = "round {roundId} is not a secure-aggregation round"


class PhaseNotStarted(ContractRevert):
    template = "round {roundId}: this phase starts after block {startsAfter}"


class AlreadyJoined(ContractRevert):
    template = "{client} already joined round {roundId}"


class InvalidEncryptionKey(ContractRevert):
    template = ("this X25519 public key is zero, not canonical or of small order: everyone could compute the "
                "masks shared with it, so it cannot join a secure round")


class EncryptionKeyNotRegistered(ContractRevert):
    template = "{client} joins with another X25519 key than the one it registered"


class DuplicateEncryptionKey(ContractRevert):
    template = "another participant already joined round {roundId} with this X25519 key"


class NotJoined(ContractRevert):
    template = "{client} did not join secure round {roundId} in its join phase"


class InvalidThreshold(ContractRevert):
    template = "a secure round's threshold is 0 (a majority of those who join) or at least 2, not {threshold}"


class RoundFull(ContractRevert):
    template = "secure round {roundId} already has the most participants a round may have"


class AlreadyShared(ContractRevert):
    template = "{client} already posted its shares for round {roundId}"


class NotShared(ContractRevert):
    template = "{client} posted no shares in round {roundId}'s share phase, so it is not a masking participant"


class InvalidMaskingKey(ContractRevert):
    template = "a masking public key cannot be zero"


class NotSubmitted(ContractRevert):
    template = "{client} submitted no masked update to round {roundId}, so it has no shares to reveal"


class AlreadyRevealed(ContractRevert):
    template = "{client} already revealed its shares for round {roundId}"


class UpdateReplayed(ContractRevert):
    template = "this masked update was already submitted (a replay); a masked update is valid for one round only"


class RevealsIncomplete(ContractRevert):
    template = "round {roundId}: {revealed} survivors revealed their shares, fewer than its threshold of {threshold}"


class RoundInProgress(ContractRevert):
    template = "round {roundId} is still within its phases: there is no reason to abort it yet"


class ReviewNotStarted(ContractRevert):
    template = ("round {roundId} still takes masked updates (until block {submitDeadline} or until every "
                "participant submitted): its review has not begun")


class ReviewOver(ContractRevert):
    template = "the review of round {roundId} is over: no masked update can be excluded any more"


class ReviewInProgress(ContractRevert):
    template = ("round {roundId} is in its review (until block {reviewDeadline} or until the organization ends it): "
                "shares are revealed once exclusions are final")


class ParticipantExcluded(ContractRevert):
    template = "{client}'s masked update was excluded from round {roundId}: it counts as dropped and reveals nothing"


class AccountProblem(Exception):
    """The chain will not take this account's transaction for a reason its owner must fix: the
    message says what to do (in one line, instead of the node's error)."""

    template: ClassVar[str] = "the account cannot send"

    def __init__(self, **arguments: Any) -> None:
        self.arguments = arguments
        super().__init__(self.template.format(**arguments))


class AccountUnfunded(AccountProblem):
    template = ("account {account} has not enough ETH on chain {chainId} to pay for this transaction "
                "(balance {ether} ETH): fund it, then retry (`run.py account balance` shows the balance)")


class NonceTaken(AccountProblem):
    template = ("nonce {nonce} of account {account} was used by another transaction while this one waited: "
                "is the key used by another program or home? Nothing was sent twice; retry")


ROUND_STATE_WORDS = ("was never opened", "is open", "is already finalized", "was aborted")
_CLASSES: dict[str, type[ContractRevert]] = {
    cls.__name__: cls for cls in ContractRevert.__subclasses__() if cls is not UnknownRevert
}


def revert_classes() -> dict[str, type[ContractRevert]]:
    """Exception class per custom error name."""
    return dict(_CLASSES)


class RevertDecoder:
    """Decodes revert data of one contract's ABI into the exceptions above."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for entry in abi:
            if entry["type"] != "error":
                continue
            types = [item["type"] for item in entry["inputs"]]
            names = [item["name"] for item in entry["inputs"]]
            selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
            self._by_selector[selector] = (entry["name"], names, types)

    def decode(self, data: str | bytes) -> ContractRevert:
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
        known = self._by_selector.get(raw[:4])
        if known is None:
            return UnknownRevert(reason=f"unrecognised revert data 0x{raw.hex()}")
        name, names, types = known
        values = decode(types, raw[4:])
        arguments = {key: _readable(key, value) for key, value in zip(names, values, strict=True)}
        if name not in _CLASSES:
            return UnknownRevert(reason=f"{name}{tuple(values)}")
        return _CLASSES[name](**arguments)


def _readable(name: str, value: Any) -> Any:
    if name == "state":
        return ROUND_STATE_WORDS[value]
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)
    return value
