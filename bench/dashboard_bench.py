"""Load times of the organization's dashboard and its JSON API with 50 finalized rounds in history.

Builds the history on a fresh contract (two small synthetic updates per round, aggregated,
evaluated and finalized by the real Organization service), then times requests
through Flask's test client: the HTML page, /api/status, /api/rounds, /api/clients and one
round's page and API, cold (a just-started service: empty caches, no journal, so every test
accuracy is read from its result file), warm (median and slowest of repeated loads) and after a
new block (the history is re-read from the logs; result metadata stays cached).

Run: `.venv/bin/python bench/dashboard_bench.py [--chain embedded|URL] [--rounds 50] [--repeat 20]`;
with a URL (e.g. the Ganache of `run.py chain`) every view goes over JSON-RPC as in production.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.accounts import dev_account
from chain.backends import Chain, connect
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from organization.service import Organization, OrganizationSettings
from organization.web import OrganizationNode, create_app
from protocol.artifacts import decode_artifact, encode_artifact, update_metadata
from storage.embedded import EmbeddedStore
from tasks.mnist import load_mnist
from webui.link import ChainLink

PAGES = ("/", "/api/status", "/api/rounds", "/api/clients", "/rounds/25", "/api/rounds/25")


def build_history(chain: Chain, rounds: int, home: Path) -> tuple[DeploymentBook, EmbeddedStore]:
    book, store = DeploymentBook(None), EmbeddedStore(home / "ipfs")
    contract = deploy(chain, dev_account(0), book, log=lambda _: None)
    _, test = load_mnist()
    organization = Organization(contract, store, OrganizationSettings(task="2nn", quorum=2, target=2, window_blocks=0),
                                test.subset(np.arange(0, len(test), 4)), log=lambda _: None)
    clients = [contract.with_account(dev_account(index)) for index in (1, 2)]
    for client in clients:
        client.register()
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        round_id, _ = organization.open_round()
        base_cid = contract.round(round_id).base_cid
        base = decode_artifact(store.get(base_cid))
        for client in clients:
            delta = {name: rng.normal(0, 0.01, array.shape).astype(np.float32) for name, array in base.tensors.items()}
            cid = store.add_bytes(encode_artifact(delta, update_metadata("2nn", round_id, 100, base_cid)))
            client.submit_update(round_id, cid, 100)
        organization.close_round(round_id)
    return book, store


def time_get(client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:200])
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", default="embedded", help="embedded | JSON-RPC URL of a dev chain")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        started = time.perf_counter()
        chain = connect(args.chain, home)
        book, store = build_history(chain, args.rounds, home)
        print(f"built {args.rounds} finalized rounds on {chain.name} in {time.perf_counter() - started:.1f} s")
        node = OrganizationNode(ChainLink(lambda: chain, lambda _: book, dev_account(0)), store,
                                OrganizationSettings(task="2nn"), None, home / "journal", log=lambda _: None)
        client = create_app(node).test_client()
        cold = {path: time_get(client, path) for path in PAGES[2:]}  # first requests: caches empty
        print(f"{'request':16} {'cold ms':>8} {'median ms':>10} {'max ms':>8} {'new block ms':>13}")
        for path in PAGES:
            times = [time_get(client, path) for _ in range(args.repeat)]
            chain.mine_blocks(1)
            fresh = time_get(client, path)
            first = f"{cold[path]:8.1f}" if path in cold else f"{'':8}"
            print(f"{path:16} {first} {statistics.median(times):10.1f} {max(times):8.1f} {fresh:13.1f}")


if __name__ == "__main__":
    main()
