"""The embedded store: verified reads, atomic writes shared by processes, clear errors."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from storage.cid import InvalidCidError
from storage.embedded import EmbeddedStore
from storage.factory import open_store
from storage.store import ContentNotFoundError, ContentVerificationError

MISSING = "QmSatgu9YhYJ3NDZM9AQoAf8wThKE8AdH2o3CFpd5oDuoJ"


def test_round_trip_pin_has_size(embedded_store: EmbeddedStore) -> None:
    cid = embedded_store.add_bytes(b"model bytes")
    assert embedded_store.has(cid) and embedded_store.has(str(cid))
    embedded_store.pin(cid)
    assert embedded_store.size(cid) == len(b"model bytes")
    assert embedded_store.get(str(cid)) == b"model bytes"


def test_bytes_changed_on_disk_are_refused(embedded_store: EmbeddedStore) -> None:
    cid = embedded_store.add_bytes(b"the real model")
    embedded_store.path_of(cid).write_bytes(b"the fake model")
    with pytest.raises(ContentVerificationError, match=str(cid)):
        embedded_store.get(cid)


def test_re_adding_repairs_a_damaged_object(embedded_store: EmbeddedStore) -> None:
    cid = embedded_store.add_bytes(b"payload")
    embedded_store.path_of(cid).write_bytes(b"damaged")
    assert embedded_store.add_bytes(b"payload") == cid
    assert embedded_store.get(cid) == b"payload"


def test_missing_content(embedded_store: EmbeddedStore) -> None:
    assert not embedded_store.has(MISSING)
    for operation in (embedded_store.get, embedded_store.size, embedded_store.pin):
        with pytest.raises(ContentNotFoundError, match=MISSING):
            operation(MISSING)


@pytest.mark.parametrize(
    "text", ["", "Qm123", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "Qm" + "0" * 44]
)
def test_malformed_cids(text: str, embedded_store: EmbeddedStore) -> None:
    with pytest.raises(InvalidCidError, match="CID"):
        embedded_store.get(text)


def test_failed_add_leaves_nothing_behind(tmp_path: Path, embedded_store: EmbeddedStore) -> None:
    with pytest.raises(IsADirectoryError):
        embedded_store.add_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        embedded_store.add_file(tmp_path / "absent")
    assert not any(path.is_file() for path in embedded_store.root.rglob("*"))


def _add_in_child(root: str, data: bytes) -> str:
    return str(EmbeddedStore(Path(root)).add_bytes(data))


def test_processes_share_a_store(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        cids = pool.starmap(_add_in_child, [(str(tmp_path), data)] * 8)
    store = EmbeddedStore(tmp_path)
    assert len(set(cids)) == 1
    assert store.get(cids[0]) == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_open_store_specs(tmp_path: Path) -> None:
    store = open_store("embedded", tmp_path)
    assert isinstance(store, EmbeddedStore) and store.root == tmp_path / "ipfs"
    with pytest.raises(ValueError, match=r"unknown IPFS store 'ipfs\.io'"):
        open_store("ipfs.io", tmp_path)
