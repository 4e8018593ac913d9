"""Gas estimates for the in-process EVM in two runs of a transaction instead of about thirteen.

py-evm's default estimator searches the gas limit by bisection, running the transaction once per
step: most of the in-process chain's time went there. The contract calls no other contract, so
what a transaction uses when given the block's gas limit, plus the 2,300 gas an SSTORE must find
left over (EIP-2200), is enough; one more run at that limit checks it, and the bisection answers
whenever the check fails (a future contract that calls out, say).
"""

from __future__ import annotations

from typing import Any

SSTORE_SENTRY_GAS = 2_300


def one_pass_gas_estimate(state: Any, transaction: Any) -> int:
    """A `gas_estimator` for a py-evm chain: `(state, transaction) -> gas limit`, raising the
    transaction's VMError when it fails even with the block's gas limit, as py-evm's does."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
    from eth.exceptions import VMError
    from eth.vm.spoof import SpoofTransaction

    used = _gas_used(state, SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0))
    estimate = min(state.gas_limit, transaction.intrinsic_gas + used + SSTORE_SENTRY_GAS)
    try:
        _gas_used(state, SpoofTransaction(transaction, gas=estimate, gas_price=0))
    except VMError:  # out of gas at our limit, say: let the bisection decide
        return binary_gas_search_intrinsic_tolerance(state, transaction)
    return estimate


def _gas_used(state: Any, transaction: Any) -> int:
    """Gas the transaction's execution uses (refunds not deducted), the state left as it was; its
    VMError when it fails."""
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(transaction)
        computation.raise_if_error()
        return computation.get_gas_used()
    finally:
        state.revert(snapshot)
