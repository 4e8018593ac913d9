"""Run the numbered deploy scripts of `migrations/` in order, recording what ran per chain.

A migration is a file `NNN_what_it_does.py` with `migrate(context: MigrationContext)`.
Migrations already recorded for the chain are skipped, unless the contract they deployed
is gone (a reset dev chain) or `reset` is asked for.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.backends import Chain, is_dev_chain
from chain.compiler import Artifact
from chain.contract import CONTRACT_NAME, FederatedLearningContract
from chain.deployments import Deployment, DeploymentBook
from chain.errors import RevertDecoder
from chain.paths import MIGRATIONS_DIR
from chain.transactions import TransactionSender

_MIGRATION_FILE = re.compile(r"^(\d+)_\w+\.py$")


@dataclass
class MigrationContext:
    """What a migration script gets: the chain, the deployer account and the deployment book."""

    chain: Chain
    account: LocalAccount
    book: DeploymentBook
    options: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print

    @property
    def chain_id(self) -> int:
        return self.chain.web3.eth.chain_id

    def deploy(self, contract_name: str, *constructor_args: Any) -> Deployment:
        """Deploy a compiled contract from contracts/build and record it for this chain."""
        artifact = Artifact.load(contract_name)
        factory = self.chain.web3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        sender = TransactionSender(self.chain.web3, self.account, RevertDecoder(artifact.abi))
        result = sender.send(factory.constructor(*constructor_args))
        deployment = Deployment(
            contract_name=contract_name,
            address=result.receipt["contractAddress"],
            chain_id=self.chain_id,
            block_number=result.block_number,
            tx_hash=result.tx_hash,
            abi=artifact.abi,
        )
        self.book.record(deployment)
        self.log(f"deployed {contract_name} at {deployment.address} (block {deployment.block_number}, "
                 f"gas {result.gas_used:,})")
        return deployment


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    found = []
    for path in directory.iterdir():
        match = _MIGRATION_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _load_migration(path: Path) -> Callable[[MigrationContext], None]:
    spec = importlib.util.spec_from_file_location(f"migrations.m{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.migrate


def _deployments_still_there(context: MigrationContext) -> bool:
    return all(context.chain.web3.eth.get_code(deployment.address)
               for deployment in context.book.deployments(context.chain_id))


def run_migrations(context: MigrationContext, *, reset: bool = False,
                   directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Run the migrations this chain has not seen; returns the numbers that ran."""
    if reset or not _deployments_still_there(context):
        context.book.forget_chain(context.chain_id)
    done = set(context.book.completed_migrations(context.chain_id))
    ran = []
    for number, path in discover_migrations(directory):
        if number in done:
            continue
        context.log(f"migration {path.name}")
        _load_migration(path)(context)
        context.book.mark_migrated(context.chain_id, number)
        ran.append(number)
    return ran


def attach(chain: Chain, book: DeploymentBook, account: LocalAccount) -> FederatedLearningContract:
    """The recorded FederatedLearning deployment of this chain, sending from `account`."""
    deployment = book.get(chain.web3.eth.chain_id, CONTRACT_NAME)
    return FederatedLearningContract(chain, deployment.address, account)


def deploy(chain: Chain, account: LocalAccount, book: DeploymentBook, *, registration_open: bool | None = None,
           reset: bool = False, log: Callable[[str], None] = print) -> FederatedLearningContract:
    """Run the migrations (all of them with `reset`) and attach to the contract they deployed.

    Registration is open on dev chains and limited to an allow-list elsewhere, unless
    `registration_open` says otherwise."""
    if registration_open is None:
        registration_open = is_dev_chain(chain)
    context = MigrationContext(chain, account, book, {"registration_open": registration_open}, log)
    run_migrations(context, reset=reset)
    return attach(chain, book, account)
