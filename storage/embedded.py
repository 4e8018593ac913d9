"""The default content store: files on local disk named by their Kubo-identical CID.

Each object is one file, `objects/<2 chars>/<CID>`, written to a temporary file in the same
file system and renamed into place, so several processes can share a store and a reader never
sees a partial object. Nothing is ever deleted, so every object is pinned.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from storage.cid import Cid
from storage.hashing import StreamingCid, read_chunks
from storage.store import (
    STREAM_CHUNK,
    ContentNotFoundError,
    ContentStore,
    ContentStream,
    as_cid,
    verified,
    verified_chunks,
    within_cap,
)


class EmbeddedStore(ContentStore):
    """Content-addressed files under `root`; reads re-hash the bytes and check them against the CID."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.root)!r})"

    def path_of(self, cid: Cid | str) -> Path:
        """Where the object for `cid` lives (sharded by two characters so directories stay small)."""
        text = str(as_cid(cid))
        return self._objects / text[-3:-1] / text

    def _write(self, chunks: Iterable[bytes]) -> Cid:
        """Copy `chunks` to a temporary file while hashing them, then rename it to its CID."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        hasher = StreamingCid()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="add-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in chunks:
                    hasher.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            cid = hasher.finalize()
            target = self.path_of(cid)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return cid

    def add_bytes(self, data: bytes) -> Cid:
        return self._write([bytes(data)])

    def add_file(self, path: Path) -> Cid:
        return self._write(read_chunks(Path(path)))

    def get(self, cid: Cid | str) -> bytes:
        cid = as_cid(cid)
        path = self.path_of(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ContentNotFoundError(f"{cid} is not in the embedded store at {self.root}") from None
        return verified(cid, data, f"the embedded store ({path})")

    def stream_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> ContentStream:
        """The file read in pieces as they are sent (a local disk answers at once: `seconds` is moot)."""
        cid = as_cid(cid)
        size = within_cap(cid, self.size(cid), max_bytes)
        path = self.path_of(cid)
        return ContentStream(size, verified_chunks(cid, read_chunks(path, STREAM_CHUNK), size,
                                                   f"the embedded store ({path})"))

    def pin(self, cid: Cid | str) -> None:
        if not self.has(cid):
            raise ContentNotFoundError(f"cannot pin {as_cid(cid)}: not in the embedded store at {self.root}")

    def has(self, cid: Cid | str) -> bool:
        return self.path_of(cid).is_file()

    def size(self, cid: Cid | str) -> int:
        cid = as_cid(cid)
        try:
            return self.path_of(cid).stat().st_size
        except FileNotFoundError:
            raise ContentNotFoundError(f"{cid} is not in the embedded store at {self.root}") from None
