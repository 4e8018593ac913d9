"""A typed wrapper of the FederatedLearning contract: one method per function, CIDs as `Cid`.

The one Python module that knows the contract's ABI. Its source of truth is the interface
`contracts/IFederatedLearning.sol` (types, errors, events and NatSpec of every external
function), implemented by `contracts/FederatedLearning.sol`; the ABI itself is loaded from the
committed artifact `contracts/build/FederatedLearning.json` (`run.py compile`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from chain.backends import Chain
from chain.compiler import Artifact
from chain.errors import InvalidMaxSamples, RevertDecoder, TooManySamples
from chain.events import EventDecoder
from chain.transactions import TransactionSender, TxResult
from storage.cid import Cid, as_cid

CONTRACT_NAME = "FederatedLearning"
_EMPTY_DIGEST = bytes(32)
UINT32_MAX = 2**32 - 1
KEY_BYTES = 32
DIGEST_BYTES = 27  # the contract keeps a bytes27 submissions digest (it shares a slot with the window and kind)
EMPTY_SUBMISSIONS_DIGEST = bytes(DIGEST_BYTES)


class ContractNotFoundError(LookupError):
    """No contract code at the address the user or the deployment record gave."""


class RoundState(IntEnum):
    NONE = 0
    OPEN = 1
    FINALIZED = 2
    ABORTED = 3

    def __str__(self) -> str:
        return self.name.lower()


class RoundKind(IntEnum):
    NONE = 0
    PLAIN = 1
    SECURE = 2

    def __str__(self) -> str:
        return self.name.lower()


class ClientStatus(IntEnum):
    NONE = 0
    ALLOWED = 1
    REGISTERED = 2
    REMOVED = 3

    def __str__(self) -> str:
        return self.name.lower()


class ParticipantStatus(IntEnum):
    NONE = 0
    JOINED = 1
    SHARED = 2
    SUBMITTED = 3
    REVEALED = 4
    EXCLUDED = 5  # its masked update was excluded in the review: it counts as dropped

    def __str__(self) -> str:
        return self.name.lower()


class ExclusionReason(IntEnum):
    """Why the organization excluded a masked update in a secure round's review (`MaskedUpdateExcluded`)."""

    MISSING = 0
    OVERSIZED = 1
    MALFORMED = 2

    def __str__(self) -> str:
        return self.name.lower()


class SecureAbortReason(IntEnum):
    """Why a secure round was aborted, as `SecureRoundAborted` records it."""

    TOO_FEW_JOINED = 0
    TOO_FEW_SHARED = 1
    TOO_FEW_SUBMITTED = 2
    REVEALS_MISSING = 3
    EXPIRED = 4
    BY_ORGANIZATION = 5

    def __str__(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class SecureDeadlines:
    """The last block of each phase of a secure round: join, share, masked submission, review, reveal."""

    join: int
    share: int
    submit: int
    review: int
    reveal: int

    def as_list(self) -> list[int]:
        return [self.join, self.share, self.submit, self.review, self.reveal]


@dataclass(frozen=True)
class SecurePhases:
    deadlines: SecureDeadlines
    joined: int
    shared: int
    revealed: int
    threshold_opened: int  # as opened: 0 means a majority of the joined
    excluded: int = 0  # masked updates excluded in the review
    review_ended: bool = False  # the organization ended the review before its deadline

    @property
    def threshold(self) -> int:
        """The Shamir threshold t as it stands (the contract's `secureThreshold`)."""
        return self.threshold_opened or self.joined // 2 + 1

    def shares_over(self, block: int) -> bool:
        """Whether the masking set is fixed at `block`: the share deadline passed, or every joined
        participant posted its shares once joining was over (the contract's `submitMaskedUpdate`)."""
        return block > self.deadlines.share or (block > self.deadlines.join and self.shared >= self.joined)

    def submissions_over(self, submissions: int, block: int) -> bool:
        """Whether the masking set can no longer submit at `block` (`submissions` on-chain): the review is on."""
        return block > self.deadlines.submit or submissions >= self.shared

    def review_over(self, block: int) -> bool:
        """Whether exclusions are final at `block`, so survivors may reveal."""
        return self.review_ended or block > self.deadlines.review


@dataclass(frozen=True)
class RoundInfo:
    """A round as the contract stores it."""

    round_id: int
    state: RoundState
    base_cid: Cid | None
    result_cid: Cid | None
    deadline: int
    quorum: int
    submissions: int
    total_samples: int
    max_samples: int
    submissions_closed: bool
    open_block: int  # the round's events lie in blocks [open_block, next round's open_block]
    kind: RoundKind
    window: int  # the minimum collection window in blocks
    submissions_digest: bytes  # the running digest of the submissions (`submissions_digest`)

    @property
    def closable_at(self) -> int:
        """The first block in which reaching the target may close the round (the deadline always may)."""
        return self.open_block + self.window

    @classmethod
    def from_tuple(cls, values: Sequence[Any]) -> RoundInfo:
        (round_id, state, base, result, deadline, quorum, submissions, total_samples,
         max_samples, submissions_closed, open_block, kind, window, digest) = values
        return cls(round_id, RoundState(state), _optional_cid(base), _optional_cid(result),
                   deadline, quorum, submissions, total_samples, max_samples, submissions_closed, open_block,
                   RoundKind(kind), window, bytes(digest))


@dataclass(frozen=True)
class ClientInfo:
    status: ClientStatus
    client_id: int
    last_round: int


def _digest(digest: bytes) -> bytes:
    if len(digest) != DIGEST_BYTES:
        raise ValueError(f"a submissions digest is {DIGEST_BYTES} bytes, got {len(digest)}")
    return bytes(digest)


def _optional_cid(digest: bytes) -> Cid | None:
    return None if bytes(digest) == _EMPTY_DIGEST else Cid(bytes(digest))


def next_submissions_digest(digest: bytes, client: str, cid: Cid, samples: int) -> bytes:
    """The contract's digest after one more submission: the first 27 bytes of
    keccak256(digest || sender || cid digest || samples as 4 bytes), as submitUpdate computes it."""
    packed = bytes(digest) + bytes.fromhex(client.removeprefix("0x")) + cid.digest + samples.to_bytes(4, "big")
    return keccak(packed)[:DIGEST_BYTES]


def submissions_digest(submissions: Sequence[tuple[str, Cid, int]]) -> bytes:
    """The digest of (client, CID, samples) submissions in chain order, as the round header keeps it."""
    digest = EMPTY_SUBMISSIONS_DIGEST
    for client, cid, samples in submissions:
        digest = next_submissions_digest(digest, client, cid, samples)
    return digest


def encode_accepted(accepted: Sequence[bool]) -> bytes:
    """Bit i (byte i // 8, bit i % 8) set when update i was accepted, as finalizeRound expects."""
    bitmap = bytearray((len(accepted) + 7) // 8)
    for index, flag in enumerate(accepted):
        if flag:
            bitmap[index // 8] |= 1 << (index % 8)
    return bytes(bitmap)


def decode_accepted(bitmap: bytes, count: int) -> list[bool]:
    return [bool(bitmap[index // 8] >> (index % 8) & 1) for index in range(count)]


class FederatedLearningContract:
    """The deployed contract at `address`, sending transactions from `account`."""

    def __init__(self, chain: Chain, address: str, account: LocalAccount, artifact: Artifact | None = None) -> None:
        self.chain = chain
        self.artifact = artifact or Artifact.load(CONTRACT_NAME)
        if not Web3.is_address(address):
            raise ContractNotFoundError(f"{address!r} is not an Ethereum address")
        self.address = Web3.to_checksum_address(address)
        if not chain.web3.eth.get_code(self.address):
            raise ContractNotFoundError(
                f"no contract at {self.address} on {chain.name}: deploy one with `run.py deploy`"
            )
        self.web3_contract = chain.web3.eth.contract(address=self.address, abi=self.artifact.abi)
        self.decoder = RevertDecoder(self.artifact.abi)
        self.event_decoder = EventDecoder(self.artifact.abi)
        self._sender = TransactionSender(chain.web3, account, self.decoder)

    @property
    def account(self) -> LocalAccount:
        return self._sender.account

    def fund(self, address: str, ether: float) -> TxResult:
        """Send ether from this contract's sender account (dev chains: to pay a new client's gas)."""
        return self._sender.transfer(Web3.to_checksum_address(address), Web3.to_wei(ether, "ether"))

    def with_account(self, account: LocalAccount) -> FederatedLearningContract:
        """The same contract, sending from another account. The checked address, the web3 contract
        and the decoders do not depend on the account and are shared: building them again costs
        ~20 ms of ABI processing and a `get_code` request, per client of a simulated federation."""
        other = copy.copy(self)
        other._sender = TransactionSender(self.chain.web3, account, self.decoder)
        return other

    def as_of(self, block: int) -> FederatedLearningContract:
        """The same contract as it stood at `block`: every view an eth_call at that block and
        `block_number()` that block, so a party deciding from it acts only on what is that deep."""
        pinned = copy.copy(self)
        pinned._sender = copy.copy(self._sender)
        pinned._sender.read_block = block
        return pinned

    def confirmed(self, confirmations: int) -> FederatedLearningContract:
        """`as_of` the block `confirmations` below the latest (never one before the deployment, where
        nothing can be read); the contract itself at 0 (dev chains)."""
        if confirmations < 0:
            raise ValueError(f"confirmations must be 0 or more, not {confirmations}")
        if confirmations == 0:
            return self
        return self.as_of(max(self.block_number() - confirmations, self.deployment_block()))

    # ---------------------------------------------------------------- transactions

    def register(self, encryption_key: bytes | None = None) -> TxResult:
        """Register the sender; `encryption_key` is its 32-byte X25519 public key for secure
        aggregation (None: no key, recorded as zero)."""
        key = bytes(32) if encryption_key is None else bytes(encryption_key)
        if len(key) != KEY_BYTES:
            raise ValueError(f"an encryption key is {KEY_BYTES} bytes (X25519), got {len(key)}")
        return self._sender.send(self._functions.register(key))

    def set_registration_open(self, open_: bool) -> TxResult:
        return self._sender.send(self._functions.setRegistrationOpen(open_))

    def allow_client(self, client: str) -> TxResult:
        return self._sender.send(self._functions.allowClient(Web3.to_checksum_address(client)))

    def remove_client(self, client: str) -> TxResult:
        return self._sender.send(self._functions.removeClient(Web3.to_checksum_address(client)))

    def open_round(self, base_cid: Cid | str, deadline: int, quorum: int, max_samples: int,
                   window: int = 0) -> tuple[int, TxResult]:
        """Open the next plain round, in which one submission may claim at most `max_samples`
        examples and which cannot close before `window` blocks after its own (unless its deadline
        passed); returns its id (read from the RoundOpened event) and the receipt."""
        if not 0 < max_samples <= UINT32_MAX:
            raise InvalidMaxSamples()
        result = self._sender.send(
            self._functions.openRound(as_cid(base_cid).digest, deadline, quorum, max_samples, window))
        (event,) = self.web3_contract.events.RoundOpened().process_receipt(result.receipt)
        return event["args"]["roundId"], result

    def submit_update(self, round_id: int, cid: Cid | str, samples: int) -> TxResult:
        if samples > UINT32_MAX:  # cannot even be encoded; refused like the contract would
            raise TooManySamples(samples=samples, maxSamples=self.round(round_id).max_samples)
        return self._sender.send(self._functions.submitUpdate(round_id, as_cid(cid).digest, samples))

    def close_submissions(self, round_id: int, digest: bytes) -> TxResult:
        """Freeze the round's submission set (before screening): later submissions are refused.
        `digest` is `submissions_digest` of the submissions the caller read; another set reverts."""
        return self._sender.send(self._functions.closeSubmissions(round_id, _digest(digest)))

    def finalize_round(self, round_id: int, result_cid: Cid | str, accepted: Sequence[bool],
                       digest: bytes) -> TxResult:
        """Finalize with the aggregate of the `accepted` updates among the submissions whose
        `submissions_digest` is `digest` (what was screened); another set on-chain reverts."""
        return self._sender.send(self._functions.finalizeRound(
            round_id, as_cid(result_cid).digest, encode_accepted(accepted), _digest(digest)))

    def abort_round(self, round_id: int) -> TxResult:
        return self._sender.send(self._functions.abortRound(round_id))

    def transfer_ownership(self, new_owner: str) -> TxResult:
        """Step one of handing the contract over: `new_owner` becomes owner once it accepts."""
        return self._sender.send(self._functions.transferOwnership(Web3.to_checksum_address(new_owner)))

    def accept_ownership(self) -> TxResult:
        """Step two, sent by the pending owner."""
        return self._sender.send(self._functions.acceptOwnership())

    def renounce_ownership(self) -> TxResult:
        """Leave the contract without owner for good (refused while a round is open)."""
        return self._sender.send(self._functions.renounceOwnership())

    # ---------------------------------------------------------------- secure aggregation

    def open_secure_round(self, base_cid: Cid | str, phases: SecureDeadlines, min_participants: int,
                          max_samples: int, threshold: int = 0) -> tuple[int, TxResult]:
        """Open a secure-aggregation round (`threshold` 0: a majority of the joined); its id and the receipt."""
        result = self._sender.send(self._functions.openSecureRound(
            as_cid(base_cid).digest, phases.as_list(), min_participants, threshold, max_samples))
        (event,) = self.web3_contract.events.RoundOpened().process_receipt(result.receipt, errors=DISCARD)
        return event["args"]["roundId"], result

    def join_round(self, round_id: int, encryption_key: bytes) -> TxResult:
        """Join a secure round with the sender's registered X25519 public key."""
        return self._sender.send(self._functions.joinRound(round_id, bytes(encryption_key)))

    def submit_masked_update(self, round_id: int, cid: Cid | str, samples: int) -> TxResult:
        return self._sender.send(self._functions.submitMaskedUpdate(round_id, as_cid(cid).digest, samples))

    def post_shares(self, round_id: int, masking_key: bytes, cid: Cid | str) -> TxResult:
        return self._sender.send(self._functions.postShares(round_id, masking_key, as_cid(cid).digest))

    def exclude_masked_update(self, round_id: int, client: str, reason: ExclusionReason) -> TxResult:
        """Exclude `client`'s masked update in the round's review (owner only): it counts as dropped."""
        return self._sender.send(self._functions.excludeMaskedUpdate(
            round_id, Web3.to_checksum_address(client), int(reason)))

    def end_review(self, round_id: int) -> TxResult:
        """End the round's review (owner only): exclusions are final, reveals may begin."""
        return self._sender.send(self._functions.endReview(round_id))

    def reveal_shares(self, round_id: int, cid: Cid | str) -> TxResult:
        return self._sender.send(self._functions.revealShares(round_id, as_cid(cid).digest))

    def finalize_secure_round(self, round_id: int, result_cid: Cid | str) -> TxResult:
        return self._sender.send(self._functions.finalizeSecureRound(round_id, as_cid(result_cid).digest))

    def abort_secure_round(self, round_id: int) -> TxResult:
        return self._sender.send(self._functions.abortSecureRound(round_id))

    def secure_round(self, round_id: int) -> SecurePhases | None:
        """The phases and counters of a secure round; None for a plain round."""
        (join, share, submit, review, joined, shared, excluded, review_ended, reveal, revealed,
         threshold) = self._sender.call(self._functions.getSecureRound(round_id))
        return SecurePhases(SecureDeadlines(join, share, submit, review, reveal), joined, shared, revealed,
                            threshold, excluded, review_ended) if join else None

    def participant_status(self, round_id: int, client: str, block: int | None = None) -> ParticipantStatus:
        """Where `client` stands in a secure round, by eth_call (at `block` when given)."""
        return ParticipantStatus(self._sender.call(
            self._functions.participantStatus(round_id, Web3.to_checksum_address(client)), block))

    def participant_statuses(self, round_id: int, clients: Sequence[str], block: int | None = None
                             ) -> list[ParticipantStatus]:
        """Where each of `clients` stands in a secure round, in one eth_call (at `block` when given)."""
        addresses = [Web3.to_checksum_address(client) for client in clients]
        return [ParticipantStatus(s) for s in self._sender.call(
            self._functions.participantStatuses(round_id, addresses), block)]

    # ---------------------------------------------------------------- views

    def owner(self) -> str:
        return self._sender.call(self._functions.owner())

    def pending_owner(self) -> str:
        return self._sender.call(self._functions.pendingOwner())

    def registration_open(self) -> bool:
        return self._sender.call(self._functions.registrationOpen())

    def client_count(self) -> int:
        return self._sender.call(self._functions.clientCount())

    def deployment_block(self) -> int:
        return self._sender.call(self._functions.deploymentBlock())

    def round_count(self) -> int:
        return self._sender.call(self._functions.roundCount())

    def client_info(self, client: str) -> ClientInfo:
        status, client_id, last_round = self._sender.call(
            self._functions.clientInfo(Web3.to_checksum_address(client))
        )
        return ClientInfo(ClientStatus(status), client_id, last_round)

    def round(self, round_id: int) -> RoundInfo:
        return RoundInfo.from_tuple(self._sender.call(self._functions.getRound(round_id)))

    def recorded_digest(self, round_id: int) -> bytes:
        """The submissions digest the chain records for the round now (what close and finalize compare)."""
        return self.round(round_id).submissions_digest

    def rounds(self, first_id: int = 1, limit: int = 100) -> list[RoundInfo]:
        page = self._sender.call(self._functions.getRounds(first_id, limit))
        return [RoundInfo.from_tuple(values) for values in page]

    def block_number(self) -> int:
        """The latest block, or the one this contract is read at (`as_of`)."""
        pinned = self._sender.read_block
        return self.chain.web3.eth.block_number if pinned is None else pinned

    @property
    def _functions(self) -> Any:
        return self.web3_contract.functions
