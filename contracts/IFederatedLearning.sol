// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IFederatedLearning
/// @notice The public surface of the FederatedLearning contract: the types, errors, events and
/// functions clients, the organization and auditors rely on. `chain/contract.py` is the one Python
/// module that calls it; docs/DESIGN and the README describe the round protocol it enforces.
/// @dev The implementation also exposes OpenZeppelin's Ownable2Step functions (`owner`,
/// `pendingOwner`, `transferOwnership`, `acceptOwnership`, `renounceOwnership`), which are not
/// repeated here.
interface IFederatedLearning {
    // ------------------------------------------------------------------ types

    /// @notice Where a round stands; `None` for an id that was never opened.
    enum RoundState {
        None,
        Open,
        Finalized,
        Aborted
    }

    /// @notice Which rules a round follows: plain (one plaintext update per client, screened by
    /// the organization) or secure aggregation (masked updates, phases). `None` only for an id that
    /// was never opened. Every entry point refuses rounds of the other kind.
    enum RoundKind {
        None,
        Plain,
        Secure
    }

    /// @notice A client's standing in the registry.
    enum ClientStatus {
        None,
        Allowed,
        Registered,
        Removed
    }

    /// @notice Where a participant of a secure round stands.
    enum ParticipantStatus {
        None,
        Joined,
        Shared,
        Submitted,
        Revealed,
        Excluded
    }

    /// @notice Why the organization excluded a masked update in a secure round's review: its file
    /// is not in the store while the store serves the round's base (`Missing`), larger than the
    /// base's tensor spec allows (`Oversized`), or not a masked update of this round, base, sample
    /// count and sender (`Malformed`).
    enum ExclusionReason {
        Missing,
        Oversized,
        Malformed
    }

    /// @notice Why a secure round was aborted.
    enum SecureAbortReason {
        TooFewJoined,
        TooFewShared,
        TooFewSubmitted,
        RevealsMissing,
        Expired,
        ByOrganization
    }

    /// @notice A round as the views return it.
    /// @dev `submissionsDigest` is the running digest of a plain round's submissions (see
    /// `submitUpdate`); `window` the minimum collection window in blocks (0 for a secure round).
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
        RoundKind kind;
        uint32 window;
        bytes27 submissionsDigest;
    }

    /// @notice A secure round's phase deadlines (blocks), counters and Shamir threshold; two slots
    /// (4 x 5 + 3 x 3 + 1 bytes, then 5 + 2 x 3), each non-zero from the open on (a deadline), so
    /// the first join, exclusion or reveal costs what the later ones do. `threshold` 0 means a
    /// majority of those who joined; `excluded` counts the masked updates excluded in the review,
    /// `reviewEnded` is set when the owner ended the review before its deadline.
    struct SecurePhases {
        uint40 joinDeadline;
        uint40 shareDeadline;
        uint40 submitDeadline;
        uint40 reviewDeadline;
        uint24 joined;
        uint24 shared;
        uint24 excluded;
        bool reviewEnded;
        uint40 revealDeadline;
        uint24 revealed;
        uint24 threshold;
    }

    // ------------------------------------------------------------------ errors

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
    /// @notice `client` is not a registered client (never registered, or removed).
    error NotRegistered(address client);
    /// @notice `client` was never allowed or registered, or was already removed.
    error UnknownClient(address client);
    /// @notice `client` was removed and must be allowed again before registering.
    error ClientWasRemoved(address client);
    /// @notice Round `roundId` is still open.
    error RoundStillOpen(uint256 roundId);
    /// @notice Round `roundId` is not open (it is in `state`).
    error RoundNotOpen(uint256 roundId, RoundState state);
    /// @notice Round `roundId` is a secure-aggregation round: the plain-round functions refuse it.
    error NotPlainRound(uint256 roundId);
    /// @notice Round `roundId` is a plain round, not a secure-aggregation round.
    error NotSecureRound(uint256 roundId);
    /// @notice The owner froze round `roundId`'s submission set.
    error SubmissionsClosed(uint256 roundId);
    /// @notice Round `roundId` took submissions up to block `deadline`.
    error DeadlinePassed(uint256 roundId, uint64 deadline);
    /// @notice Round `roundId` collects until block `closableAt`: before it (and before its
    /// deadline) reaching the target does not close the round.
    error CollectionWindowOpen(uint256 roundId, uint64 closableAt);
    /// @notice The submissions the caller screened (digest `given`) are not the ones the chain
    /// records for round `roundId` (digest `recorded`): a submission landed since, or a reorg
    /// reordered or dropped some. Read the round again and screen what the chain holds.
    error SubmissionsDigestMismatch(uint256 roundId, bytes27 recorded, bytes27 given);
    /// @notice `client` already submitted to round `roundId`.
    error AlreadySubmitted(uint256 roundId, address client);
    /// @notice Round `roundId` has fewer submissions than its quorum.
    error QuorumNotMet(uint256 roundId, uint32 submissions, uint32 quorum);
    /// @notice Secure-round phases must end in order, all after the current block.
    error InvalidPhases(
        uint64 joinDeadline,
        uint64 shareDeadline,
        uint64 submitDeadline,
        uint64 reviewDeadline,
        uint64 revealDeadline,
        uint256 currentBlock
    );
    /// @notice A secure round needs at least MIN_SECURE_PARTICIPANTS participants.
    error InvalidMinParticipants(uint32 minParticipants);
    /// @notice A Shamir threshold is 0 (a majority of the joined) or from 2 to MAX_SECURE_PARTICIPANTS.
    error InvalidThreshold(uint32 threshold);
    /// @notice The secure round already has MAX_SECURE_PARTICIPANTS participants.
    error RoundFull(uint256 roundId);
    /// @notice The client already published its share bundle for this round.
    error AlreadyShared(uint256 roundId, address client);
    /// @notice The client published no share bundle in the share phase: it is not a masking participant.
    error NotShared(uint256 roundId, address client);
    /// @notice A masking public key of zero.
    error InvalidMaskingKey();
    /// @notice The phase this call belongs to starts after block `startsAfter`.
    error PhaseNotStarted(uint256 roundId, uint64 startsAfter);
    /// @notice The client already joined this secure round.
    error AlreadyJoined(uint256 roundId, address client);
    /// @notice `key` is not a usable X25519 public key: zero, not in canonical form (the top bit set,
    /// or a u-coordinate of p = 2**255 - 19 or more) or a point of small order (u = 1, p - 1 or one of
    /// the two points of order 8), with which every shared secret is known to everyone.
    error InvalidEncryptionKey(bytes32 key);
    /// @notice `key` is not the X25519 public key `client` registered.
    error EncryptionKeyNotRegistered(address client, bytes32 key);
    /// @notice Another participant already joined secure round `roundId` with the X25519 key `key`.
    error DuplicateEncryptionKey(uint256 roundId, bytes32 key);
    /// @notice The client did not join this secure round in its join phase.
    error NotJoined(uint256 roundId, address client);
    /// @notice The client submitted no masked update to this round, so it has no shares to reveal.
    error NotSubmitted(uint256 roundId, address client);
    /// @notice The client already revealed its shares for this round.
    error AlreadyRevealed(uint256 roundId, address client);
    /// @notice This masked update CID was already submitted, in this round or another.
    error UpdateReplayed(bytes32 cid);
    /// @notice Fewer than the round's threshold of survivors revealed their shares.
    error RevealsIncomplete(uint256 roundId, uint32 revealed, uint32 threshold);
    /// @notice The round is within its phases: there is no reason to abort it yet.
    error RoundInProgress(uint256 roundId);
    /// @notice Secure round `roundId` still takes masked updates (until block `submitDeadline`, or
    /// until the whole masking set submitted): its review has not begun.
    error ReviewNotStarted(uint256 roundId, uint64 submitDeadline);
    /// @notice The review of secure round `roundId` is over (the owner ended it, or its deadline
    /// passed): no masked update can be excluded any more.
    error ReviewOver(uint256 roundId);
    /// @notice Secure round `roundId` is in its review (until block `reviewDeadline`, or until the
    /// owner ends it): shares are revealed only once exclusions are final.
    error ReviewInProgress(uint256 roundId, uint64 reviewDeadline);
    /// @notice `client`'s masked update in round `roundId` was excluded in the review: it counts as
    /// dropped, and it reveals nothing.
    error ParticipantExcluded(uint256 roundId, address client);

    // ------------------------------------------------------------------ events

    /// @notice Registration became open to anyone (`open`) or limited to the allow-list.
    event RegistrationModeChanged(bool open);
    /// @notice The owner put `client` on the allow-list.
    event ClientAllowed(address indexed client);
    /// @notice The owner removed `client`: it can no longer submit.
    event ClientRemoved(address indexed client);
    /// @notice `client` registered with id `clientId` and an X25519 public key for secure
    /// aggregation (zero: none).
    event ClientRegistered(address indexed client, uint32 clientId, bytes32 encryptionKey);
    /// @notice Round `roundId` opened on the model `baseCid`, taking submissions up to block
    /// `deadline` and collecting for at least `window` blocks (0 and 0 for a secure round, whose
    /// phases `SecureRoundOpened` announces).
    event RoundOpened(
        uint256 indexed roundId, bytes32 baseCid, uint64 deadline, uint32 quorum, uint32 maxSamples, uint32 window
    );
    /// @notice `client` submitted update number `index` of round `roundId`.
    event UpdateSubmitted(
        uint256 indexed roundId, address indexed client, uint32 index, bytes32 cid, uint32 samples
    );
    /// @notice The owner froze the submission set of round `roundId` at `submissions` updates.
    event SubmissionsFrozen(uint256 indexed roundId, uint32 submissions);
    /// @notice Round `roundId` closed with the aggregate `resultCid` of the updates whose bits are
    /// set (an empty bitmap for a secure round: every masked update is in the sum).
    event RoundFinalized(uint256 indexed roundId, bytes32 resultCid, uint32 submissions, bytes acceptedBitmap);
    /// @notice Round `roundId` closed without a result.
    event RoundAborted(uint256 indexed roundId, uint32 submissions);
    /// @notice Secure round `roundId` opened with these phase ends and Shamir threshold (0: majority).
    event SecureRoundOpened(
        uint256 indexed roundId,
        uint64 joinDeadline,
        uint64 shareDeadline,
        uint64 submitDeadline,
        uint64 reviewDeadline,
        uint64 revealDeadline,
        uint32 threshold
    );
    /// @notice `client` joined secure round `roundId`; `index` + 1 is its Shamir share coordinate.
    event ParticipantJoined(uint256 indexed roundId, address indexed client, uint32 index);
    /// @notice `client` published its round masking key and its encrypted share bundle `cid`.
    event SharesPosted(uint256 indexed roundId, address indexed client, bytes32 maskingKey, bytes32 cid);
    /// @notice In its review of secure round `roundId` the owner excluded `client`'s masked update
    /// for `reason`: the update is not summed and `client` counts as dropped (its masking key is
    /// rebuilt, its self-mask never is).
    event MaskedUpdateExcluded(uint256 indexed roundId, address indexed client, ExclusionReason reason);
    /// @notice The owner ended the review of secure round `roundId` with `excluded` masked updates
    /// excluded: reveals may begin.
    event ReviewEnded(uint256 indexed roundId, uint32 excluded);
    /// @notice `client` published `cid`, the shares it reveals for unmasking (one kind per participant).
    event SharesRevealed(uint256 indexed roundId, address indexed client, bytes32 cid);
    /// @notice Secure round `roundId` was aborted for `reason`, with these counters.
    event SecureRoundAborted(
        uint256 indexed roundId, SecureAbortReason reason, uint32 joined, uint32 submitted, uint32 revealed
    );

    // ------------------------------------------------------------------ client registry

    /// @notice Whether anyone may register (true) or only addresses the owner allowed (false).
    function registrationOpen() external view returns (bool);

    /// @notice Switch between open registration and the allow-list (owner only).
    /// @param open true for open registration.
    function setRegistrationOpen(bool open) external;

    /// @notice Put `client` on the allow-list (again, if it was removed); owner only.
    /// @param client the address to allow.
    function allowClient(address client) external;

    /// @notice Remove `client`: it can no longer submit updates or masked updates; owner only.
    /// @param client a registered or allowed address.
    function removeClient(address client) external;

    /// @notice Register the sender as a client; needs open registration or an allow-list entry.
    /// A removed client needs the owner to allow it again.
    /// @param encryptionKey the client's X25519 public key for secure aggregation, or zero for
    /// none; kept in the `ClientRegistered` event, and as a digest with the client's record so that
    /// `joinRound` can check it.
    function register(bytes32 encryptionKey) external;

    // ------------------------------------------------------------------ plain rounds

    /// @notice Open the next plain round on the model `baseCid` (owner only). Submissions are
    /// accepted up to and including block `deadline` (or until the owner closes them), each
    /// claiming at most `maxSamples` examples; the round can be finalized once `quorum` updates
    /// arrived, but not closed before block `openBlock + window` unless the deadline passed.
    /// @param baseCid sha2-256 digest of the base model's CIDv0.
    /// @param deadline last block that takes submissions.
    /// @param quorum fewest submissions a finalized round has.
    /// @param maxSamples most examples one submission may claim.
    /// @param window minimum collection window in blocks: sybils submitting the moment a round
    /// opens cannot close it before honest clients could answer. A window reaching past the
    /// deadline means the round always runs to its deadline.
    /// @return roundId the new round's id.
    function openRound(bytes32 baseCid, uint64 deadline, uint32 quorum, uint32 maxSamples, uint32 window)
        external
        returns (uint256 roundId);

    /// @notice Record the sender's update `cid`, trained on `samples` local examples, and fold
    /// (sender, cid, samples) into the round's submissions digest.
    /// @param roundId an open plain round.
    /// @param cid sha2-256 digest of the update's CIDv0.
    /// @param samples examples the update was trained on (its FedAvg weight), at most the round's cap.
    function submitUpdate(uint256 roundId, bytes32 cid, uint32 samples) external;

    /// @notice Freeze the submission set of round `roundId` (owner only): later submissions are
    /// refused, so the updates the owner screens are exactly the ones finalizeRound's bitmap covers.
    /// Refused inside the collection window (before the deadline) and when `submissionsDigest` is
    /// not the chain's.
    /// @param roundId an open plain round.
    /// @param submissionsDigest the digest of the submissions the owner read.
    function closeSubmissions(uint256 roundId, bytes27 submissionsDigest) external;

    /// @notice Close round `roundId` with the aggregate `resultCid` (owner only). Bit i of
    /// `acceptedBitmap` (byte i / 8, bit i % 8, least significant first) is set when update i was
    /// aggregated. Refused when `submissionsDigest` is not the chain's: no reorg can make the chain
    /// record a screened-out update as accepted.
    /// @param roundId an open plain round.
    /// @param resultCid sha2-256 digest of the aggregate's CIDv0.
    /// @param acceptedBitmap the accepted set, one bit per submission.
    /// @param submissionsDigest the digest of the submissions the owner screened.
    function finalizeRound(uint256 roundId, bytes32 resultCid, bytes calldata acceptedBitmap, bytes27 submissionsDigest)
        external;

    /// @notice Abort plain round `roundId` (owner only), for instance when it missed its quorum.
    /// @param roundId an open plain round.
    function abortRound(uint256 roundId) external;

    // ------------------------------------------------------------------ secure rounds

    /// @notice Open the next round as a secure-aggregation round on the model `baseCid` (owner only).
    /// @param baseCid sha2-256 digest of the base model's CIDv0.
    /// @param deadlines the last block of the join, share, submit, review and reveal phases, increasing.
    /// @param minParticipants the fewest masked updates the round needs (at least MIN_SECURE_PARTICIPANTS).
    /// @param threshold the Shamir threshold t (2 or more), or 0 for a majority of those who join.
    /// @param maxSamples most examples one masked update may claim.
    /// @return roundId the new round's id.
    function openSecureRound(
        bytes32 baseCid,
        uint64[5] calldata deadlines,
        uint32 minParticipants,
        uint32 threshold,
        uint32 maxSamples
    ) external returns (uint256 roundId);

    /// @notice Join secure round `roundId` as a participant (phase 1); registered clients only, with
    /// the X25519 key they registered, which must be usable (`InvalidEncryptionKey`) and not already
    /// joined by another participant of the round (`DuplicateEncryptionKey`).
    /// @param roundId an open secure round in its join phase.
    /// @param encryptionKey the sender's registered X25519 public key.
    function joinRound(uint256 roundId, bytes32 encryptionKey) external;

    /// @notice Post the sender's masking public key for round `roundId` and the CID of its share
    /// bundle (phase 2); the key is kept in `SharesPosted` only.
    /// @param roundId an open secure round in its share phase.
    /// @param maskingKey a fresh X25519 public key for this round's pairwise masks.
    /// @param cid the bundle of encrypted Shamir shares of its self-mask seed and masking key.
    function postShares(uint256 roundId, bytes32 maskingKey, bytes32 cid) external;

    /// @notice Record the sender's masked update `cid` for secure round `roundId` (phase 3); the
    /// round's `submissions` and `totalSamples` count it even if it is excluded later.
    /// @param roundId an open secure round in its submission phase: past its share deadline, or
    /// past its join deadline with every joined participant's shares posted.
    /// @param cid sha2-256 digest of the masked update's CIDv0; never used before.
    /// @param samples examples the update was trained on.
    function submitMaskedUpdate(uint256 roundId, bytes32 cid, uint32 samples) external;

    /// @notice Exclude `client`'s masked update from secure round `roundId` (owner only) in the
    /// review (phase 4: the submission phase is over, the review neither ended nor past its
    /// deadline): its file is missing, oversized or malformed. The participant then counts as
    /// dropped: survivors reveal its key share, never its self-mask share, so its update stays
    /// hidden. Refused for a participant without a masked update (`NotSubmitted`) or already
    /// excluded (`ParticipantExcluded`).
    /// @param roundId an open secure round in its review.
    /// @param client a participant whose masked update the contract records.
    /// @param reason why the update cannot be summed.
    function excludeMaskedUpdate(uint256 roundId, address client, ExclusionReason reason) external;

    /// @notice End the review of secure round `roundId` before its deadline (owner only): the
    /// exclusions are final and reveals may begin. Refused before the submission phase is over and
    /// once the review is over.
    /// @param roundId an open secure round in its review.
    function endReview(uint256 roundId) external;

    /// @notice Publish `cid`, the shares the sender reveals for unmasking (phase 5): only once the
    /// review is over (the owner ended it or its deadline passed), so who submitted and who was
    /// excluded is final.
    /// @param roundId an open secure round in its reveal phase.
    /// @param cid sha2-256 digest of the reveal file's CIDv0.
    function revealShares(uint256 roundId, bytes32 cid) external;

    /// @notice Close secure round `roundId` with the aggregate `resultCid` of every masked update
    /// not excluded, once at least the round's threshold of survivors revealed their shares and at
    /// least its quorum of masked updates remain (owner only).
    /// @param roundId an open secure round whose phases allow finalizing.
    /// @param resultCid sha2-256 digest of the aggregate's CIDv0.
    function finalizeSecureRound(uint256 roundId, bytes32 resultCid) external;

    /// @notice Abort secure round `roundId`: the owner at any time, anyone once a phase has ended
    /// without what the next one needs or the round outlived its reveal deadline by
    /// `SECURE_GRACE_BLOCKS`; the reason is recorded in `SecureRoundAborted`.
    /// @param roundId an open secure round.
    function abortSecureRound(uint256 roundId) external;

    /// @notice The Shamir threshold of secure round `roundId` as it stands (a majority of the
    /// joined when it was opened with 0).
    /// @param roundId any round id.
    /// @return the threshold.
    function secureThreshold(uint256 roundId) external view returns (uint32);

    /// @notice The phases and counters of secure round `roundId`; all zero for a plain round.
    /// @param roundId any round id.
    /// @return the round's phases.
    function getSecureRound(uint256 roundId) external view returns (SecurePhases memory);

    /// @notice Where `client` stands in secure round `roundId`.
    /// @param roundId any round id.
    /// @param client any address.
    /// @return the participant's status.
    function participantStatus(uint256 roundId, address client) external view returns (ParticipantStatus);

    /// @notice Where each of `clients` stands in secure round `roundId`: one call instead of one per
    /// participant, for a survivor deciding which share of every other participant to reveal.
    /// @param roundId any round id.
    /// @param clients any addresses.
    /// @return statuses each participant's status, in the order of `clients`.
    function participantStatuses(uint256 roundId, address[] calldata clients)
        external
        view
        returns (ParticipantStatus[] memory statuses);

    // ------------------------------------------------------------------ views

    /// @notice The block of the deployment: where readers of the event history start.
    /// @return the block number.
    function deploymentBlock() external view returns (uint64);

    /// @notice Number of clients that ever registered; client ids run from 1 to this value.
    /// @return the count.
    function clientCount() external view returns (uint32);

    /// @notice Number of rounds ever opened; round ids run from 1 to this value.
    /// @return the count.
    function roundCount() external view returns (uint32);

    /// @notice Fewest participants a secure round may require.
    /// @return the minimum (3).
    function MIN_SECURE_PARTICIPANTS() external view returns (uint32);

    /// @notice Most participants of a secure round (its counters are 24-bit).
    /// @return the maximum (10,000).
    function MAX_SECURE_PARTICIPANTS() external view returns (uint32);

    /// @notice Blocks after a secure round's reveal deadline after which anyone may abort it.
    /// @return the grace (20 blocks).
    function SECURE_GRACE_BLOCKS() external view returns (uint64);

    /// @notice Registration status, id and last round submitted to of `client`.
    /// @param client any address.
    /// @return status the client's standing.
    /// @return id its client id (0 if it never registered).
    /// @return lastRound the last plain round it submitted to.
    function clientInfo(address client) external view returns (ClientStatus status, uint32 id, uint32 lastRound);

    /// @notice One round; a round that was never opened has state None.
    /// @param roundId any round id.
    /// @return the round.
    function getRound(uint256 roundId) external view returns (RoundView memory);

    /// @notice Up to `limit` rounds starting at id `firstId` (ids start at 1).
    /// @param firstId the first round id.
    /// @param limit the most rounds returned.
    /// @return rounds the page.
    function getRounds(uint256 firstId, uint256 limit) external view returns (RoundView[] memory rounds);
}
