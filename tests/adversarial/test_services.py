"""Issue 11's table, the row about chain outages: the headless organization and client log one
line per problem and carry on when their node goes away and comes back."""

from __future__ import annotations

import threading

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.contract import RoundState
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from chain.nodes import start_ganache
from chain.paths import NODE_BIN
from client.driver import ParticipantDriver
from client.service import Client, ClientSettings
from client.state import ClientState
from organization.driver import RoundDriver
from organization.service import Organization, OrganizationSettings
from storage.embedded import EmbeddedStore
from tests.adversarial.conftest import ONE_EPOCH
from tests.protocol.conftest import small_data
from tests.support import free_port, require_component, wait_until


def test_headless_services_ride_out_a_chain_restart(tmp_path) -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    port, database, log = free_port(), tmp_path / "chain", tmp_path / "ganache.log"
    ganache = start_ganache(port, database, log)
    try:
        chain = GanacheChain(ganache.url)
        contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
        store = EmbeddedStore(tmp_path / "ipfs")
        train, _ = small_data()
        lines: list[str] = []
        settings = OrganizationSettings(task="2nn", quorum=1, target=1, deadline_blocks=1000, plan=ONE_EPOCH)
        organization = Organization(contract, store, settings, None, log=lines.append)
        client = Client(contract.with_account(dev_account(1)), store, train.subset(range(200)),
                        ClientState(tmp_path / "client"), ClientSettings(), log=lines.append)
        ganache.stop()  # the node is gone before either service starts its loop
        services = [threading.Thread(target=RoundDriver(organization).run, kwargs={"rounds": 1, "poll_seconds": 0.3}),
                    threading.Thread(target=ParticipantDriver(client).run,
                                     kwargs={"poll_seconds": 0.3, "max_rounds": 1})]
        for service in services:
            service.start()
        wait_until(lambda: any(line.startswith("organization: ") and "retrying" in line for line in lines)
                   and any("cannot take part yet" in line for line in lines), 60, "both services to report")
        ganache = start_ganache(port, database, log)  # the same chain comes back
        for service in services:
            service.join(300)
        assert not any(service.is_alive() for service in services)
        assert contract.round(1).state is RoundState.FINALIZED
        assert contract.round(1).submissions == 1
        problems = [line for line in lines if "retrying" in line or "cannot take part yet" in line]
        assert all("\n" not in line and len(line) < 400 for line in problems)  # one line each, no traceback
    finally:
        ganache.stop()
