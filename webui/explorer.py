"""The round explorer both web interfaces share: rounds, models, transactions and clients, read from
the chain's logs and IPFS alone (plus the organization's own notes when it has them).

Content under a CID never changes, so anything derived from it (tensor norms, cosines) is computed
once; chain reads are cached per block. While the chain does not answer, the last answer of each
view is served again, marked `stale`, so a page keeps its data through an outage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from chain.contract import ClientStatus, FederatedLearningContract, RoundState
from chain.history import HistoryReader, RoundRecord
from mlprocessor.aggregation.bounds import capped_claims
from mlprocessor.task_registry import TaskMismatchError, TaskRef, get_task
from protocol.aggregate import weighed_claims
from protocol.artifacts import Artifact, decode_artifact, max_update_bytes
from protocol.plan import StrategySpec, bounds_from_extra
from protocol.rejections import published_rejections
from storage.cid import Cid, as_cid
from storage.model_file import ExtraValue, ModelFileError, ModelMetadata
from storage.store import ContentStream, ContentTooLargeError, StorageError
from webui.errors import unreachable
from webui.link import ChainLink
from webui.secure_round import secure_round_view

Reasons = Callable[[int], dict[int, str]]
AbortNote = Callable[[int], str | None]
WEI_PER_ETHER = 10**18
MODEL_FETCH_SECONDS = 60.0  # a model the store cannot deliver in this time is answered as not found
MODEL_DOWNLOAD_SECONDS = 300.0  # a download (read as the browser takes it) is cut after this long in all
DEFAULT_MAX_MODEL_BYTES = 64 << 20  # a model file's cap when the task (and so its size) is not known
CLIENTS_PER_PAGE = 50
MAX_CLIENTS_PER_PAGE = 500


class NotFound(LookupError):
    """A round, transaction, model or client this contract does not know; answered with 404."""


def _no_reasons(round_id: int) -> dict[int, str]:
    return {}


def _no_note(round_id: int) -> None:
    return None


def _flat(tensors: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(tensors[name], np.float64).ravel() for name in sorted(tensors)])


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms > 0 else None


def task_pin(metadata: ModelMetadata) -> dict[str, Any]:
    """The task a model file's plan pins (name, version, hash); a file published before tasks pins
    none and names only its architecture."""
    try:
        ref = TaskRef.from_extra(metadata.extra, metadata.architecture)
    except TaskMismatchError:
        ref = None
    return task_json(ref, metadata.architecture)


def task_json(ref: TaskRef | None, architecture: str = "") -> dict[str, Any]:
    if ref is None:
        return {"name": architecture, "version": None, "hash": None, "pinned": False}
    return {"name": ref.name, "version": ref.version, "hash": ref.hash, "pinned": True}
def _submission_tally(records: list[RoundRecord], clients: set[str]) -> dict[str, dict[str, int]]:
    """Submissions, accepted and rejected per client of `clients`, in one pass over the rounds."""
    tally = {client: {"submissions": 0, "accepted": 0, "rejected": 0} for client in clients}
    for record in records:
        for submission in record.submissions:
            if (mine := tally.get(submission.client)) is not None:
                mine["submissions"] += 1
                mine["accepted"] += submission.accepted is True
                mine["rejected"] += submission.accepted is False
    return tally


def _jsonable(value: Any) -> Any:
    """Contract call arguments and event fields as JSON: 32-byte digests as CIDs, bytes as hex."""
    if isinstance(value, bytes | bytearray | HexBytes):
        raw = bytes(value)
        return str(Cid(raw)) if len(raw) == 32 and any(raw) else "0x" + raw.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _model_cid(cid: Cid | str) -> Cid:
    try:
        return as_cid(cid)
    except ValueError:
        raise NotFound(f"{cid!r} is not a CID") from None


def model_size_cap(task_name: str) -> int:
    """The largest model or update file of a task (what the organization accepts): the explorer's
    cap on what it reads or serves, since any page can make it fetch any CID."""
    return max_update_bytes(get_task(task_name).tensor_spec())


class Explorer:
    def __init__(self, link: ChainLink, store: Any, reasons: Reasons = _no_reasons,
                 max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES, abort_note: AbortNote = _no_note) -> None:
        self.link = link
        self.store = store
        self.reasons = reasons
        self.abort_note = abort_note  # why the organization aborted a round, from its own notes
        self.max_model_bytes = max_model_bytes
        self._client_rows: tuple[int, dict[str, dict[str, Any]]] = (-1, {})
        self._lock = threading.Lock()
        self._snapshot: tuple[int, list[RoundRecord], list[str]] | None = None
        self._reader: tuple[FederatedLearningContract, HistoryReader] | None = None
        self._block_times: dict[int, int] = {}
        self._artifacts: dict[Cid, Artifact] = {}
        self._analyses: dict[int, dict[int, dict[str, float | None]]] = {}
        self._secure_views: dict[int, dict[str, Any]] = {}  # closed secure rounds: their view is final
        self._last: dict[str, Any] = {}

    # ---------------------------------------------------------------- plumbing

    def remembered(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()`, or its last answer marked stale while the chain or IPFS does not answer."""
        try:
            value = compute()
        except Exception as error:
            if unreachable(error) is None or key not in self._last:
                raise
            last = self._last[key]
            return {**last, "stale": True} if isinstance(last, dict) else last
        self._last[key] = value
        return value

    def contract(self) -> FederatedLearningContract:
        return self.link.require_contract()

    def history(self) -> tuple[list[RoundRecord], list[str]]:
        """Rounds and registered clients from the logs, re-read only when a new block arrived."""
        _, records, registered = self._history_at_block()
        return records, registered

    def _history_at_block(self) -> tuple[int, list[RoundRecord], list[str]]:
        contract = self.contract()
        block = contract.block_number()
        with self._lock:
            if self._reader is None or self._reader[0] is not contract:
                self._reader = (contract, HistoryReader(contract))  # it keeps closed rounds: one per contract
            if self._snapshot is None or self._snapshot[0] != block:
                self._snapshot = (block, *self._reader[1].rounds_and_clients())
            return self._snapshot

    def block_time(self, number: int | None) -> int | None:
        """Unix time of a block (cached: a block's time never changes)."""
        if number is None:
            return None
        if number not in self._block_times:
            self._block_times[number] = int(self.contract().chain.web3.eth.get_block(number)["timestamp"])
        return self._block_times[number]

    def artifact(self, cid: Cid | str) -> Artifact:
        cid = as_cid(cid)
        if cid not in self._artifacts:
            self._artifacts[cid] = decode_artifact(self.model_bytes(cid))
        return self._artifacts[cid]

    def _record(self, round_id: int) -> RoundRecord:
        record = next((r for r in self.history()[0] if r.round_id == round_id), None)
        if record is None:
            raise NotFound(f"round {round_id} does not exist on this contract")
        return record

    def round_exists(self, round_id: int) -> bool:
        return 1 <= round_id <= self.contract().round_count()

    # ---------------------------------------------------------------- rounds

    def _result(self, record: RoundRecord) -> Artifact | None:
        if record.result_cid is None:
            return None
        try:
            return self.artifact(record.result_cid)
        except (StorageError, ModelFileError):
            return None

    def _result_extra(self, record: RoundRecord) -> dict[str, Any]:
        result = self._result(record)
        return dict(result.metadata.extra) if result else {}

    def _round_task(self, record: RoundRecord) -> dict[str, Any] | None:
        """The task the round's plan (its base model) pins; None while IPFS cannot give the base."""
        try:
            return task_pin(self.artifact(record.base_cid).metadata)
        except (StorageError, ModelFileError):
            return None

    def rejection_reasons(self, record: RoundRecord) -> dict[int, str]:
        """Published with the result (its metadata), else the organization's own notes."""
        result = self._result(record)
        return (published_rejections(result.metadata) if result else {}) or self.reasons(record.round_id)

    def _summary(self, record: RoundRecord) -> dict[str, Any]:
        row = record.to_json()
        extra = self._result_extra(record)
        row.update(accuracy=extra.get("test_accuracy"), loss=extra.get("test_loss"),
                   opened_at=self.block_time(record.opened_block), closed_at=self.block_time(record.closed_block))
        return row

    def rounds(self) -> list[dict[str, Any]]:
        def compute() -> list[dict[str, Any]]:
            rows = []
            for record in self.history()[0]:
                row = self._summary(record)
                submissions = row.pop("submissions")
                row.update(submissions=len(submissions), accepted=sum(s["accepted"] is True for s in submissions),
                           rejected=sum(s["accepted"] is False for s in submissions))
                rows.append(row)
            return rows

        return self.remembered("rounds", compute)

    def round_detail(self, round_id: int) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            record = self._record(round_id)
            detail = self._summary(record)
            extra = self._result_extra(record)
            strategy = StrategySpec.from_extra(extra) if "strategy" in extra else None
            detail["strategy"] = {"name": strategy.name, "params": strategy.params} if strategy else None
            detail["task"] = self._round_task(record)
            reasons = self.rejection_reasons(record)
            # masked updates: nobody knows an update's values, so neither its norm, its cosine nor its share
            shares = {} if record.secure else self._weight_shares(record, strategy, extra)
            analysis, problem = ({}, None) if record.secure else self._analysis(record)
            detail["analysis_problem"] = problem
            detail["secure_round"] = self._secure_view(record)
            detail["organization_reason"] = self.abort_note(round_id) if record.state is RoundState.ABORTED else None
            for submission in detail["submissions"]:
                index = submission["index"]
                submission.update(reason=reasons.get(index), weight_share=shares.get(index), masked=record.secure,
                                  submitted_at=self.block_time(submission["block"]),
                                  **analysis.get(index, {"norm": None, "cosine": None}))
            return detail

        return self.remembered(f"round {round_id}", compute)

    def _secure_view(self, record: RoundRecord) -> dict[str, Any] | None:
        """A secure round's phases, participants, reveals and recoveries (final once it is closed)."""
        if not record.secure:
            return None
        if record.round_id in self._secure_views:
            return self._secure_views[record.round_id]
        contract = self.contract()
        view = secure_round_view(contract, self.store, contract.round(record.round_id), contract.block_number())
        if view is not None and record.state is not RoundState.OPEN:
            self._secure_views[record.round_id] = view
        return view

    @staticmethod
    def _weight_shares(record: RoundRecord, strategy: StrategySpec | None,
                       extra: Mapping[str, ExtraValue]) -> dict[int, float]:
        """Each accepted update's share of the aggregate, as the round's rule weighs it (none for
        rules that weigh no single update), under the round's influence bounds: the claims the
        result records it weighed, or, for results made before alignment weighting, the capped claims."""
        accepted = record.accepted
        if strategy is None or not accepted:
            return {}
        claims = [s.samples for s in accepted]
        try:
            bounds = bounds_from_extra(extra)
            weighed = weighed_claims(extra)
            if weighed is None:
                weighed = capped_claims(claims, bounds.weight_cap) if bounds else claims
            weights = strategy.build().weights(weighed) if len(weighed) == len(claims) else None
        except ValueError:
            return {}
        return {} if weights is None else {s.index: w for s, w in zip(accepted, weights, strict=True)}

    def _analysis(self, record: RoundRecord) -> tuple[dict[int, dict[str, float | None]], str | None]:
        """Per update: the norm of its change, and its cosine to the round's aggregate change."""
        if record.round_id in self._analyses:
            return self._analyses[record.round_id], None
        try:
            base = _flat(self.artifact(record.base_cid).tensors)
            aggregate = _flat(self.artifact(record.result_cid).tensors) - base if record.result_cid else None
            found: dict[int, dict[str, float | None]] = {}
            for submission in record.submissions:
                try:
                    delta = _flat(self.artifact(submission.cid).tensors)
                except (ModelFileError, ContentTooLargeError):
                    continue  # unreadable or oversized update: its rejection reason says why
                found[submission.index] = {"norm": float(np.linalg.norm(delta)),
                                           "cosine": _cosine(delta, aggregate) if aggregate is not None else None}
        except (StorageError, ModelFileError, ValueError) as error:
            return {}, f"update norms need IPFS: {error}"
        if record.state is not RoundState.OPEN:
            self._analyses[record.round_id] = found
        return found, None

    # ---------------------------------------------------------------- models

    def model(self, cid: str) -> dict[str, Any]:
        try:
            parsed = as_cid(cid)
        except ValueError:
            raise NotFound(f"{cid!r} is not a CID") from None
        artifact = self.artifact(parsed)
        metadata = artifact.metadata
        tensors = [{"name": name, "shape": list(np.shape(value)), "dtype": str(np.asarray(value).dtype),
                    "norm": float(np.linalg.norm(np.asarray(value, np.float64)))}
                   for name, value in artifact.tensors.items()]
        sections = {section: [{"name": name, "shape": list(np.shape(value))} for name, value in values.items()]
                    for section, values in artifact.sections.items()}
        return {"cid": str(parsed), "size": self.store.size(parsed), "architecture": metadata.architecture,
                "kind": metadata.kind, "round": metadata.round, "samples": metadata.sample_count,
                "base_cid": metadata.base_cid, "encoding": metadata.encoding, "extra": metadata.extra,
                "task": task_pin(metadata),
                "tensors": tensors, "sections": sections,
                "parameters": int(sum(np.prod(t["shape"], dtype=np.int64) for t in tensors))}

    def model_bytes(self, cid: Cid | str) -> bytes:
        """The file under `cid` if it is within the model size cap: larger content is refused
        (ContentTooLargeError) before it is read, so no request can make this service hold more."""
        return self.store.get_bounded(_model_cid(cid), self.max_model_bytes, MODEL_FETCH_SECONDS)

    def model_download(self, cid: Cid | str) -> ContentStream:
        """The file under `cid` for a download, read piece by piece as it is sent (never held whole),
        within the model size cap (ContentTooLargeError before a byte is read)."""
        return self.store.stream_bounded(_model_cid(cid), self.max_model_bytes, MODEL_DOWNLOAD_SECONDS)

    # ---------------------------------------------------------------- transactions

    def transaction(self, tx_hash: str) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            contract = self.contract()
            web3 = contract.chain.web3
            try:
                tx, receipt = web3.eth.get_transaction(tx_hash), web3.eth.get_transaction_receipt(tx_hash)
            except (TransactionNotFound, ValueError):
                raise NotFound(f"no transaction {tx_hash} on this chain") from None
            call = None
            if tx["to"] and Web3.to_checksum_address(tx["to"]) == contract.address:
                call = self._call(contract, tx["input"])
            price = receipt.get("effectiveGasPrice", tx.get("gasPrice", 0))
            return {"hash": receipt["transactionHash"].to_0x_hex(), "from": tx["from"], "to": tx["to"],
                    "contract_created": receipt.get("contractAddress"), "block": receipt["blockNumber"],
                    "time": self.block_time(receipt["blockNumber"]), "status": "success" if receipt["status"]
                    else "reverted", "gas_used": receipt["gasUsed"], "gas_price_wei": price,
                    "fee_ether": receipt["gasUsed"] * price / WEI_PER_ETHER, "call": call,
                    "events": self._events(contract, receipt["logs"])}

        return self.remembered(f"tx {tx_hash}", compute)

    @staticmethod
    def _call(contract: FederatedLearningContract, data: Any) -> dict[str, Any]:
        """The decoded call: its arguments in the ABI's order with their Solidity types (a JSON object
        would list them alphabetically), the round it is about and the contract it went to."""
        function, params = contract.web3_contract.decode_function_input(data)
        inputs = function.abi["inputs"]
        args = [{"name": entry["name"], "type": entry["type"], "value": _jsonable(params[entry["name"]])}
                for entry in inputs]
        signature = f"{function.fn_name}({', '.join(entry['type'] + ' ' + entry['name'] for entry in inputs)})"
        return {"function": function.fn_name, "signature": signature, "args": args,
                "round": params.get("roundId"), "contract": contract.address}

    @staticmethod
    def _events(contract: FederatedLearningContract, logs: list[Any]) -> list[dict[str, Any]]:
        decoded = []
        for log in logs:
            if Web3.to_checksum_address(log["address"]) != contract.address:
                continue
            processed = contract.event_decoder.decode(log)
            if processed is None:
                continue
            decoded.append({"event": processed["event"], "args": _jsonable(dict(processed["args"]))})
        return decoded

    # ---------------------------------------------------------------- clients

    def client(self, address: str) -> dict[str, Any]:
        if not Web3.is_address(address):
            raise NotFound(f"{address!r} is not an Ethereum address")
        address = Web3.to_checksum_address(address)

        def compute() -> dict[str, Any]:
            contract = self.contract()
            info = contract.client_info(address)
            records, registered = self.history()
            if info.status is ClientStatus.NONE and address not in registered:
                raise NotFound(f"{address} has never been allowed or registered on this contract")
            submissions = []
            for record in records:
                mine = [s for s in record.submissions if s.client == address]
                if not mine:
                    continue
                detail = self.round_detail(record.round_id)
                for submission in mine:
                    row = detail["submissions"][submission.index]
                    submissions.append({"round": record.round_id, "round_state": str(record.state), **row})
            accepted = [s for s in submissions if s["accepted"]]
            return {"address": address, "status": str(info.status), "client_id": info.client_id,
                    "last_round": info.last_round, "registered": address in registered,
                    "submissions": submissions, "accepted": len(accepted),
                    "rejected": sum(s["accepted"] is False for s in submissions),
                    "samples": sum(s["samples"] for s in submissions)}

        return self.remembered(f"client {address}", compute)

    def clients(self, page: int = 1, per_page: int = CLIENTS_PER_PAGE) -> dict[str, Any]:
        """One page of the registered clients (registration order, from ClientRegistered events) with
        their status and part in rounds. The logs are read once per new block; the contract is asked
        only about the page's clients, each once per block, so thousands of registrations cost a
        page view what its own rows cost."""
        def compute() -> dict[str, Any]:
            contract = self.contract()
            block, records, registered = self._history_at_block()
            shown = registered[(page - 1) * per_page:page * per_page]
            with self._lock:
                if self._client_rows[0] != block:
                    self._client_rows = (block, {})
                rows = self._client_rows[1]
            missing = [address for address in shown if address not in rows]
            if missing:
                tally = _submission_tally(records, set(missing))
                for address in missing:
                    info = contract.client_info(address)
                    rows[address] = {"address": address, "status": str(info.status), "client_id": info.client_id,
                                     "last_round": info.last_round, **tally[address]}
            return {"clients": [rows[address] for address in shown], "page": page, "per_page": per_page,
                    "total": len(registered)}

        return self.remembered(f"clients {page} {per_page}", compute)
