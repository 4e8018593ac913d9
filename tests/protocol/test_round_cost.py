"""A round's chain work is flat in the round number: round 30 costs what round 3 costs.

Counted in JSON-RPC requests and in blocks covered by log queries (seconds would flake on a
shared machine): no per-round read may scan the history from the deployment block.
"""

from __future__ import annotations

from pathlib import Path

from chain.metering import meter
from protocol.plan import TrainingPlan
from tests.protocol.conftest import build_federation

ROUNDS = 30
NOISE = 1.1  # 10% slack; the counts are in fact equal


def test_round_30_costs_no_more_chain_work_than_round_3(tmp_path: Path) -> None:
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
    (requests_3, blocks_3), (requests_30, blocks_30) = costs[2], costs[29]
    assert requests_30 <= requests_3 * NOISE, costs
    assert blocks_30 <= blocks_3 * NOISE, costs
    assert blocks_30 < 20, costs  # a round's own few blocks, not the ~300 since deployment
