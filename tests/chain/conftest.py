"""A freshly deployed contract on the in-process EVM for each test, plus registered clients."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aleph_cid import compute_cid
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from chain.accounts import dev_account
from chain.backends import EmbeddedChain, GanacheChain, anvil_executable, free_port, start_anvil
from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from storage.cid import Cid
from tests.support import require_component

_counter = itertools.count()


def fresh_cid() -> Cid:
    """A distinct, valid CID each call (the CID of a distinct byte string)."""
    return Cid.parse(compute_cid(f"content {next(_counter)}".encode()))


def key_of(client: FederatedLearningContract) -> bytes:
    """A valid X25519 public key of its own for each account (derived from its address)."""
    seed = hashlib.sha256(client.account.address.encode()).digest()
    return X25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


@pytest.fixture
def chain() -> EmbeddedChain:
    return EmbeddedChain()


@pytest.fixture
def organization(chain: EmbeddedChain) -> FederatedLearningContract:
    return deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)


@pytest.fixture
def clients(organization: FederatedLearningContract) -> list[FederatedLearningContract]:
    """Three registered clients (dev accounts 1-3), each with an X25519 key of its own."""
    registered = [organization.with_account(dev_account(index)) for index in (1, 2, 3)]
    for client in registered:
        client.register(key_of(client))
    return registered


def open_round(organization: FederatedLearningContract, quorum: int = 2, blocks: int = 50,
               max_samples: int = 1_000) -> int:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + blocks, quorum, max_samples)
    return round_id


@contextmanager
def deployed_on_anvil() -> Iterator[FederatedLearningContract]:
    """The contract, deployed by the owner on an Anvil node of its own (stopped afterwards)."""
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install @foundry-rs/anvil")
    node = start_anvil(free_port(), None)
    try:
        yield deploy(GanacheChain(node.url), dev_account(0), DeploymentBook(None), log=lambda _: None)
    finally:
        node.stop()
