"""Chain reorganizations on Anvil (`anvil_reorg`): replace the last blocks by new ones holding a
chosen selection of their transactions, in a chosen order. Anvil does not put the transactions left
out back into its pool (real nodes usually do), so what is left out is dropped for good."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from web3 import Web3


@dataclass(frozen=True)
class MinedTransaction:
    sender: str
    raw: str  # the signed transaction, re-included as it was


def reorg(web3: Web3, depth: int, select: Callable[[list[MinedTransaction]], list[MinedTransaction]]) -> None:
    """Replace the last `depth` blocks by `depth` new ones holding `select(their transactions)`, one
    transaction per block in the given order (the rest share the last block)."""
    latest = web3.eth.block_number
    mined = []
    for number in range(latest - depth + 1, latest + 1):
        for tx_hash in web3.eth.get_block(number)["transactions"]:
            raw = web3.provider.make_request("eth_getRawTransactionByHash", [tx_hash.to_0x_hex()])["result"]
            mined.append(MinedTransaction(web3.eth.get_transaction(tx_hash)["from"], raw))
    pairs = [[tx.raw, min(offset, depth - 1)] for offset, tx in enumerate(select(mined))]
    answer = web3.provider.make_request("anvil_reorg", [depth, pairs])
    if "error" in answer:
        raise RuntimeError(f"anvil_reorg refused: {answer['error']}")
