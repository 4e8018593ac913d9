// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title FederatedLearning
/// @notice Coordination and audit log of federated-learning rounds. The organization (owner)
/// opens a round on a base model, registered clients submit one update each, the organization
/// freezes the submission set before it screens the updates, and finalizes the round with the
/// aggregate it published and the set of updates it accepted, or aborts it.
/// @dev Models live on IPFS. A CID is stored as the 32-byte sha2-256 digest of its CIDv0
/// multihash: the usual text form is base58btc(0x1220 || digest), recoverable from chain data
/// alone. Every transaction touches a fixed number of storage slots: no loop grows with the
/// number of clients or rounds. Per-submission sender and sample count are kept in the
/// `UpdateSubmitted` event (chain data too), so a submission costs a single new storage slot.
/// One submission claims at most the round's `maxSamples` (a uint32) and a round has at most
/// 2**32 - 1 submissions, so a round's uint64 sample total cannot overflow.
contract FederatedLearning is Ownable2Step {
    enum RoundState {
        None,
        Open,
        Finalized,
        Aborted
    }

    enum ClientStatus {
        None,
        Allowed,
        Registered,
        Removed
    }

    /// @dev `None` is never stored after construction: it keeps the registry's slot non-zero, so
    /// the first registration and the first round cost the same gas as the later ones.
    enum RegistrationMode {
        None,
        AllowList,
        Open
    }

    /// @dev Exactly one slot: 5 + 5 + 4 + 4 + 4 + 8 + 1 + 1 bytes. Block numbers fit in 40 bits
    /// (a block a second for 34,000 years).
    struct RoundHeader {
        uint40 openBlock;
        uint40 deadline;
        uint32 quorum;
        uint32 maxSamples;
        uint32 submissions;
        uint64 totalSamples;
        RoundState state;
        bool submissionsClosed;
    }

    /// @dev Packed into one slot; `lastRound` enforces one submission per client per round.
    struct Client {
        ClientStatus status;
        uint32 id;
        uint32 lastRound;
    }

    /// @notice A round as the views return it.
    struct RoundView {
        uint256 id;
        RoundState state;
        bytes32 baseCid;
        bytes32 resultCid;
        uint64 deadline;
        uint32 quorum;
        uint32 submissions;
        uint64 totalSamples;
        uint32 maxSamples;
        bool submissionsClosed;
        uint64 openBlock;
    }

    /// @notice A CID digest of zero: a CIDv0's sha2-256 digest is required.
    error InvalidCid();
    /// @notice The deadline block is not after the current block, or does not fit in 40 bits.
    error InvalidDeadline(uint64 deadline, uint256 currentBlock);
    /// @notice A quorum of zero.
    error InvalidQuorum();
    /// @notice A cap of zero samples per submission.
    error InvalidMaxSamples();
    /// @notice A submission claiming zero samples.
    error InvalidSampleCount();
    /// @notice A submission claiming more samples than the round allows.
    error TooManySamples(uint32 samples, uint32 maxSamples);
    /// @notice An accepted-set bitmap of the wrong length, or with a bit past the last submission.
    error InvalidAcceptedSet(uint256 expectedBytes, uint256 givenBytes);
    /// @notice Registration is limited to the allow-list and `client` is not on it.
    error RegistrationClosed(address client);
    /// @notice `client` is already registered (or already allowed).
    error AlreadyRegistered(address client);
    /// @notice `client` is not a registered client.
    error NotRegistered(address client);
    /// @notice `client` was never allowed or registered, or was already removed.
    error UnknownClient(address client);
    /// @notice `client` was removed and must be allowed again before registering.
    error ClientWasRemoved(address client);
    /// @notice Round `roundId` is still open.
    error RoundStillOpen(uint256 roundId);
    /// @notice Round `roundId` is not open (it is in `state`).
    error RoundNotOpen(uint256 roundId, RoundState state);
    /// @notice The owner froze round `roundId`'s submission set.
    error SubmissionsClosed(uint256 roundId);
    /// @notice Round `roundId` took submissions up to block `deadline`.
    error DeadlinePassed(uint256 roundId, uint64 deadline);
    /// @notice `client` already submitted to round `roundId`.
    error AlreadySubmitted(uint256 roundId, address client);
    /// @notice Round `roundId` has fewer submissions than its quorum.
    error QuorumNotMet(uint256 roundId, uint32 submissions, uint32 quorum);

    /// @notice Registration became open to anyone (`open`) or limited to the allow-list.
    event RegistrationModeChanged(bool open);
    /// @notice The owner put `client` on the allow-list.
    event ClientAllowed(address indexed client);
    /// @notice The owner removed `client`: it can no longer submit.
    event ClientRemoved(address indexed client);
    /// @notice `client` registered with id `clientId` and an X25519 public key for secure
    /// aggregation (zero: none).
    event ClientRegistered(address indexed client, uint32 clientId, bytes32 encryptionKey);
    /// @notice Round `roundId` opened on the model `baseCid`.
    event RoundOpened(uint256 indexed roundId, bytes32 baseCid, uint64 deadline, uint32 quorum, uint32 maxSamples);
    /// @notice `client` submitted update number `index` of round `roundId`.
    event UpdateSubmitted(
        uint256 indexed roundId, address indexed client, uint32 index, bytes32 cid, uint32 samples
    );
    /// @notice The owner froze the submission set of round `roundId` at `submissions` updates.
    event SubmissionsFrozen(uint256 indexed roundId, uint32 submissions);
    /// @notice Round `roundId` closed with the aggregate `resultCid` of the updates whose bits are set.
    event RoundFinalized(uint256 indexed roundId, bytes32 resultCid, uint32 submissions, bytes acceptedBitmap);
    /// @notice Round `roundId` closed without a result.
    event RoundAborted(uint256 indexed roundId, uint32 submissions);

    /// @notice The block of the deployment: where readers of the event history start.
    uint64 public immutable deploymentBlock;

    // These share one storage slot with Ownable2Step's pending owner; the mode is never None,
    // so the slot is never zero.
    RegistrationMode private _registrationMode;
    /// @notice Number of clients that ever registered; client ids run from 1 to this value.
    uint32 public clientCount;
    /// @notice Number of rounds ever opened; round ids run from 1 to this value.
    uint32 public roundCount;

    mapping(address client => Client) private _clients;
    mapping(uint256 roundId => RoundHeader) private _rounds;
    mapping(uint256 roundId => bytes32) private _baseCids;
    mapping(uint256 roundId => bytes32) private _resultCids;
    mapping(uint256 roundId => mapping(uint256 index => bytes32 cid)) private _updateCids;

    /// @param registrationOpen_ true for open registration, false for an owner-managed allow-list.
    constructor(bool registrationOpen_) Ownable(msg.sender) {
        deploymentBlock = uint64(block.number);
        _setRegistrationMode(registrationOpen_);
    }

    // ------------------------------------------------------------------ ownership

    /// @notice Give up ownership for good; refused while a round is open, since nobody could
    /// close it afterwards.
    function renounceOwnership() public override onlyOwner {
        uint256 latest = roundCount;
        if (_rounds[latest].state == RoundState.Open) revert RoundStillOpen(latest);
        super.renounceOwnership();
    }

    // ------------------------------------------------------------------ client registry

    /// @notice Whether anyone may register (true) or only addresses the owner allowed (false).
    function registrationOpen() external view returns (bool) {
        return _registrationMode == RegistrationMode.Open;
    }

    /// @notice Switch between open registration and the allow-list.
    function setRegistrationOpen(bool open) external onlyOwner {
        _setRegistrationMode(open);
    }

    /// @notice Put `client` on the allow-list (again, if it was removed).
    function allowClient(address client) external onlyOwner {
        Client storage record = _clients[client];
        if (record.status == ClientStatus.Registered || record.status == ClientStatus.Allowed) {
            revert AlreadyRegistered(client);
        }
        record.status = ClientStatus.Allowed;
        emit ClientAllowed(client);
    }

    /// @notice Remove `client`: it can no longer submit updates.
    function removeClient(address client) external onlyOwner {
        Client storage record = _clients[client];
        if (record.status == ClientStatus.None || record.status == ClientStatus.Removed) {
            revert UnknownClient(client);
        }
        record.status = ClientStatus.Removed;
        emit ClientRemoved(client);
    }

    /// @notice Register the sender as a client; needs open registration or an allow-list entry.
    /// A removed client needs the owner to allow it again.
    /// @param encryptionKey the client's X25519 public key for secure aggregation, or zero for
    /// none; kept in the `ClientRegistered` event only.
    function register(bytes32 encryptionKey) external {
        Client storage record = _clients[msg.sender];
        if (record.status == ClientStatus.Registered) revert AlreadyRegistered(msg.sender);
        if (record.status == ClientStatus.Removed) revert ClientWasRemoved(msg.sender);
        if (record.status != ClientStatus.Allowed && _registrationMode != RegistrationMode.Open) {
            revert RegistrationClosed(msg.sender);
        }
        uint32 id = record.id;
        if (id == 0) {
            id = ++clientCount;
            record.id = id;
        }
        record.status = ClientStatus.Registered;
        emit ClientRegistered(msg.sender, id, encryptionKey);
    }

    // ------------------------------------------------------------------ rounds

    /// @notice Open the next round on the model `baseCid`; submissions are accepted up to and
    /// including block `deadline` (or until the owner closes them), each claiming at most
    /// `maxSamples` examples, and the round can be finalized once `quorum` updates arrived.
    /// @return roundId the new round's id.
    function openRound(bytes32 baseCid, uint64 deadline, uint32 quorum, uint32 maxSamples)
        external
        onlyOwner
        returns (uint256 roundId)
    {
        if (baseCid == bytes32(0)) revert InvalidCid();
        if (deadline <= block.number || deadline > type(uint40).max) revert InvalidDeadline(deadline, block.number);
        if (quorum == 0) revert InvalidQuorum();
        if (maxSamples == 0) revert InvalidMaxSamples();
        uint256 latest = roundCount;
        if (_rounds[latest].state == RoundState.Open) revert RoundStillOpen(latest); // round 0 is never open

        roundId = latest + 1;
        roundCount = uint32(roundId);
        _rounds[roundId] = RoundHeader({
            openBlock: uint40(block.number),
            deadline: uint40(deadline),
            quorum: quorum,
            maxSamples: maxSamples,
            submissions: 0,
            totalSamples: 0,
            state: RoundState.Open,
            submissionsClosed: false
        });
        _baseCids[roundId] = baseCid;
        emit RoundOpened(roundId, baseCid, deadline, quorum, maxSamples);
    }

    /// @notice Record the sender's update `cid`, trained on `samples` local examples.
    function submitUpdate(uint256 roundId, bytes32 cid, uint32 samples) external {
        RoundHeader storage round = _rounds[roundId];
        if (round.state != RoundState.Open) revert RoundNotOpen(roundId, round.state);
        if (round.submissionsClosed) revert SubmissionsClosed(roundId);
        if (block.number > round.deadline) revert DeadlinePassed(roundId, round.deadline);
        Client storage client = _clients[msg.sender];
        if (client.status != ClientStatus.Registered) revert NotRegistered(msg.sender);
        if (client.lastRound == roundId) revert AlreadySubmitted(roundId, msg.sender);
        if (cid == bytes32(0)) revert InvalidCid();
        if (samples == 0) revert InvalidSampleCount();
        if (samples > round.maxSamples) revert TooManySamples(samples, round.maxSamples);

        uint32 index = round.submissions;
        // Cannot overflow: each registered client (at most 2**32 - 1 of them) submits once, and
        // (2**32 - 1) submissions of at most 2**32 - 1 samples fit in 64 bits.
        unchecked {
            round.submissions = index + 1;
            round.totalSamples += samples;
        }
        client.lastRound = uint32(roundId);
        _updateCids[roundId][index] = cid;
        emit UpdateSubmitted(roundId, msg.sender, index, cid, samples);
    }

    /// @notice Freeze the submission set of round `roundId`: later submissions are refused, so
    /// the updates the owner screens are exactly the ones finalizeRound's bitmap covers.
    function closeSubmissions(uint256 roundId) external onlyOwner {
        RoundHeader storage round = _rounds[roundId];
        if (round.state != RoundState.Open) revert RoundNotOpen(roundId, round.state);
        if (round.submissionsClosed) revert SubmissionsClosed(roundId);
        round.submissionsClosed = true;
        emit SubmissionsFrozen(roundId, round.submissions);
    }

    /// @notice Close round `roundId` with the aggregate `resultCid`. Bit i of `acceptedBitmap`
    /// (byte i / 8, bit i % 8, least significant first) is set when update i was aggregated.
    function finalizeRound(uint256 roundId, bytes32 resultCid, bytes calldata acceptedBitmap) external onlyOwner {
        RoundHeader storage round = _rounds[roundId];
        if (round.state != RoundState.Open) revert RoundNotOpen(roundId, round.state);
        if (resultCid == bytes32(0)) revert InvalidCid();
        uint32 submissions = round.submissions;
        if (submissions < round.quorum) revert QuorumNotMet(roundId, submissions, round.quorum);
        uint256 expectedBytes = (uint256(submissions) + 7) / 8;
        if (acceptedBitmap.length != expectedBytes) revert InvalidAcceptedSet(expectedBytes, acceptedBitmap.length);
        uint256 usedBits = submissions % 8;
        if (usedBits != 0 && uint8(acceptedBitmap[expectedBytes - 1]) >> usedBits != 0) {
            revert InvalidAcceptedSet(expectedBytes, acceptedBitmap.length);
        }

        round.state = RoundState.Finalized;
        _resultCids[roundId] = resultCid;
        emit RoundFinalized(roundId, resultCid, submissions, acceptedBitmap);
    }

    /// @notice Abort round `roundId` (for instance when it missed its quorum by the deadline).
    function abortRound(uint256 roundId) external onlyOwner {
        RoundHeader storage round = _rounds[roundId];
        if (round.state != RoundState.Open) revert RoundNotOpen(roundId, round.state);
        round.state = RoundState.Aborted;
        emit RoundAborted(roundId, round.submissions);
    }

    // ------------------------------------------------------------------ views

    /// @notice Registration status, id and last round submitted to of `client`.
    function clientInfo(address client) external view returns (ClientStatus status, uint32 id, uint32 lastRound) {
        Client storage record = _clients[client];
        return (record.status, record.id, record.lastRound);
    }

    /// @notice One round; a round that was never opened has state None.
    function getRound(uint256 roundId) public view returns (RoundView memory) {
        RoundHeader storage header = _rounds[roundId];
        return RoundView({
            id: roundId,
            state: header.state,
            baseCid: _baseCids[roundId],
            resultCid: _resultCids[roundId],
            deadline: header.deadline,
            quorum: header.quorum,
            submissions: header.submissions,
            totalSamples: header.totalSamples,
            maxSamples: header.maxSamples,
            submissionsClosed: header.submissionsClosed,
            openBlock: header.openBlock
        });
    }

    /// @notice Up to `limit` rounds starting at id `firstId` (ids start at 1).
    function getRounds(uint256 firstId, uint256 limit) external view returns (RoundView[] memory rounds) {
        uint256 end = _pageEnd(firstId, limit, uint256(roundCount) + 1);
        rounds = new RoundView[](end > firstId ? end - firstId : 0);
        for (uint256 i = 0; i < rounds.length; ++i) {
            rounds[i] = getRound(firstId + i);
        }
    }

    /// @notice Update CIDs of round `roundId`, in submission order, from index `offset`.
    function getSubmissions(uint256 roundId, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory cids)
    {
        uint256 end = _pageEnd(offset, limit, _rounds[roundId].submissions);
        cids = new bytes32[](end > offset ? end - offset : 0);
        for (uint256 i = 0; i < cids.length; ++i) {
            cids[i] = _updateCids[roundId][offset + i];
        }
    }

    function _setRegistrationMode(bool open) private {
        _registrationMode = open ? RegistrationMode.Open : RegistrationMode.AllowList;
        emit RegistrationModeChanged(open);
    }

    function _pageEnd(uint256 start, uint256 limit, uint256 total) private pure returns (uint256) {
        if (start >= total) return start;
        return total - start < limit ? total : start + limit;
    }
}
