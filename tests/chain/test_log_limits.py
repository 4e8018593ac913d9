"""Log queries on public providers (issue 20): through a proxy that refuses wide ranges and large
results and rate-limits now and then, in front of a real Anvil, the history reads the same as direct."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.accounts import dev_account
from chain.backends import GanacheChain, RpcChain, anvil_executable, free_port, start_anvil
from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentBook
from chain.history import HistoryReader
from chain.logs import LogQueryError, read_logs
from chain.migrate import deploy
from chain.registry import known_clients
from protocol.secure.public_round import registered_keys
from tests.chain.conftest import fresh_cid
from tests.chain.rpc_proxy import ProviderLimits, limited_provider
from tests.support import require_component

CLIENTS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def history() -> Iterator[FederatedLearningContract]:
    """Three rounds (two finalized, one open) with empty stretches between them, on a private Anvil."""
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install @foundry-rs/anvil")
    node = start_anvil(free_port(), None)
    try:
        chain = GanacheChain(node.url)
        organization = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
        for index in CLIENTS:
            organization.with_account(dev_account(index)).register(bytes([index]) * 32)
        for round_id in (1, 2, 3):
            organization.open_round(fresh_cid(), organization.block_number() + 100, 2, 1_000)
            for index in CLIENTS:
                organization.with_account(dev_account(index)).submit_update(round_id, fresh_cid(), 10 * index)
            if round_id < 3:
                organization.close_submissions(round_id, organization.recorded_digest(round_id))
                organization.finalize_round(round_id, fresh_cid(), [True, round_id == 1, True, True],
                                            organization.recorded_digest(round_id))
            chain.mine_blocks(15)
        yield organization
    finally:
        node.stop()


def _through(organization: FederatedLearningContract, url: str) -> FederatedLearningContract:
    return FederatedLearningContract(RpcChain(url), organization.address, dev_account(0))


def test_history_through_a_limited_provider_reads_the_same_as_direct(history) -> None:
    limits = ProviderLimits(max_blocks=10, max_logs=3, rate_limit_every=7)
    with limited_provider(history.chain.endpoint, limits) as url:
        limited = _through(history, url)
        rounds = [record.to_json() for record in HistoryReader(limited).rounds()]
        clients = HistoryReader(limited).clients()
        registry = known_clients(limited)
        addresses = [dev_account(index).address.lower() for index in CLIENTS]
        keys = registered_keys(limited, addresses, limited.block_number())
    direct = HistoryReader(history)
    assert rounds == [record.to_json() for record in direct.rounds()]
    assert [r["state"] for r in rounds] == ["finalized", "finalized", "open"]
    assert [len(r["submissions"]) for r in rounds] == [4, 4, 4]  # none lost, none twice
    assert clients == direct.clients() == [dev_account(index).address for index in CLIENTS]
    assert registry == known_clients(history)
    assert keys == registered_keys(history, addresses, history.block_number())
    assert keys[addresses[2]] == bytes([3]) * 32
    assert limits.refused["range"] > 0 and limits.refused["size"] > 0  # the proxy did refuse
    assert limits.refused["http 429"] > 0 and limits.refused["rpc rate"] > 0


def test_a_provider_that_refuses_a_single_block_is_reported_in_one_line(history) -> None:
    limits = ProviderLimits(max_blocks=10, max_logs=0, rate_limit_every=0)
    refused = pytest.raises(LogQueryError, match=r"refuses a log query of the single block \d+ \(size limit\)")
    with limited_provider(history.chain.endpoint, limits) as url, refused:
        read_logs(RpcChain(url).web3, {"address": history.address}, 0, history.block_number())


def test_a_provider_that_keeps_rate_limiting_is_reported_after_backing_off(history) -> None:
    pauses: list[float] = []
    limits = ProviderLimits(max_blocks=10, max_logs=100, rate_limit_every=1)
    with limited_provider(history.chain.endpoint, limits) as url, pytest.raises(LogQueryError, match="rate-limiting"):
        read_logs(RpcChain(url).web3, {"address": history.address}, 0, 5, pause=pauses.append)
    assert pauses == sorted(pauses) and pauses[0] < pauses[-1]  # backing off, longer each time
