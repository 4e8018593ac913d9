"""A round's chain work is flat in the round number: round 6 costs what round 3 costs.

Counted in JSON-RPC requests and in blocks covered by log queries (seconds would flake on a
shared machine): no per-round read may scan the history from the deployment block. Six rounds
suffice: the counts are exact, and by round 6 the history since deployment spans well over the 20
blocks a round may cover.
"""

from __future__ import annotations

from pathlib import Path

from chain.metering import meter
from protocol.plan import TrainingPlan
from tests.protocol.conftest import build_federation

ROUNDS = 6


def test_the_last_round_costs_the_chain_work_of_round_3(tmp_path: Path) -> None:
    federation = build_federation(tmp_path, plan=TrainingPlan(epochs=1, batch_size=50, lr=0.1))
    organization, clients = federation.organization, federation.clients
    meter_ = meter(federation.chain.web3)
    costs = []
    for _ in range(ROUNDS):
        before = meter_.snapshot()
        round_id, _ = organization.open_round()
        for client in clients:
            assert client.participate(round_id).entry is not None
        assert organization.close_round(round_id).result_cid is not None
        after = meter_.snapshot()
        costs.append((after[0] - before[0], after[1] - before[1]))
    print("\nrequests and log-query blocks per round:", costs)
    assert costs[2:] == [costs[2]] * (ROUNDS - 2), costs  # rounds 3 to 6 cost exactly the same
    assert federation.chain.web3.eth.block_number > 20  # so a scan from the deployment block would fail below
    assert costs[-1][1] < 20, costs  # a round's own few blocks
