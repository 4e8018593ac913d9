"""The reasons a round's rejected updates were refused, as its result file publishes them.

They are the organization's claim, carried over by `verify` like the metrics (the accepted set
itself is on-chain); anyone can read them from the chain and IPFS alone. Torch-free on purpose:
`run.py history` reads them.
"""

from __future__ import annotations

import json

from storage.cid import Cid
from storage.model_file import ModelFileError, ModelMetadata, read_metadata
from storage.store import ContentStore, StorageError

REJECTIONS = "rejections"  # result metadata: JSON object, update index -> the organization's reason
REASON_CHARS = 300  # a published reason is cut here: metadata stays small whatever a file made us say


def published_rejections(metadata: ModelMetadata) -> dict[int, str]:
    """Index -> reason as a result file publishes them ({} when it publishes none, or garbage)."""
    try:
        reasons = json.loads(str(metadata.extra.get(REJECTIONS, "{}")))
        return {int(index): str(reason) for index, reason in reasons.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def rejections_of_result(store: ContentStore, result_cid: Cid) -> dict[int, str] | None:
    """The reasons a round's result file publishes for its rejected updates; None when the store
    cannot deliver the file."""
    try:
        return published_rejections(read_metadata(store.get(result_cid)))
    except (StorageError, ModelFileError):
        return None
