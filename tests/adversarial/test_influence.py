"""Issue 19's rows about influence: updates without training are refused as free-riding, and what an
accepted update can do is bounded (clipped norm, claim capped at the median, Fisher sections bounded)
in every round, the first included; `verify` recomputes the bounds from the files alone."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from chain.accounts import dev_account
from chain.contract import RoundState
from chain.errors import RegistrationClosed
from client.service import ClientSettings
from mlprocessor.aggregation.bounds import InfluenceBounds, l2_norm
from mlprocessor.data import stratified_holdout
from mlprocessor.evaluation import evaluate
from mlprocessor.task_registry import get_task
from mlprocessor.validation import ValidationConfig
from protocol.aggregate import weighed_claims
from protocol.artifacts import FEDCURV_U, decode_artifact
from protocol.outages import RoundSettingsError
from protocol.plan import TrainingPlan
from protocol.verification import verify_round
from tests.adversarial.conftest import Hostile, hostile_federation
from tests.protocol.conftest import small_data

FEDCURV = TrainingPlan(epochs=1, batch_size=10, lr=0.1, fedcurv_lambda=0.5)


def _deltas(hostile: Hostile, round_id: int) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], list[int]]:
    record = hostile.organization.history.round(round_id)
    store = hostile.store
    base = decode_artifact(store.get(record.base_cid)).tensors
    return base, [decode_artifact(store.get(s.cid)).tensors for s in record.submissions], [
        s.samples for s in record.submissions]


def test_zero_update_sybils_are_rejected_as_free_riding(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "zero-update", attackers=2, quorum=2)
    round_id, outcome = hostile.round(attackers_first=True)
    assert outcome.state is RoundState.FINALIZED
    assert outcome.accepted == [False, False, True, True, True]
    assert outcome.rejections == {0: "free-riding: the update is all zeros (no training)",
                                  1: "duplicate of update 0"}  # the same zero file claiming as many samples
    assert verify_round(hostile.organization.contract, hostile.store, round_id).ok


def test_inflated_claim_weighs_as_the_median_claim_and_its_noise_is_clipped(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "inflate-samples")
    round_id, outcome = hostile.round()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True] * 4
    base, deltas, claims = _deltas(hostile, round_id)
    assert claims == [300, 300, 300, 10_000]  # the round's declared maximum, weighed as 300
    norms = [l2_norm(d) for d in deltas]
    limit = 2 * float(np.median(norms))  # round 1: no previous median yet
    assert norms[3] > limit
    result = decode_artifact(hostile.store.get(outcome.result_cid))
    for name in base:
        clipped = [d[name].astype(np.float64) * min(1.0, limit / n) for d, n in zip(deltas, norms, strict=True)]
        np.testing.assert_allclose(result.tensors[name], base[name] + sum(clipped) / 4, atol=1e-6)
    assert result.metadata.extra["bounds.weight_cap"] == 1.0  # the rule, recorded for verify
    assert verify_round(hostile.organization.contract, hostile.store, round_id).ok


def test_noise_weighs_next_to_nothing_once_the_model_has_moved(tmp_path) -> None:
    """From round 2 the base has a parent: each claim is weighed by the update's alignment with the
    model's last step. The noise keeps next to none of its capped claim, the honest updates keep
    theirs, the result records what was weighed, and verify recomputes it from the files alone."""
    hostile = hostile_federation(tmp_path, "inflate-samples")
    hostile.round()
    round_id, outcome = hostile.round()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True] * 4
    result = decode_artifact(hostile.store.get(outcome.result_cid))
    weighed = weighed_claims(result.metadata.extra)
    assert weighed[:3] == [300, 300, 300] and weighed[3] < 30
    assert result.metadata.extra["bounds.alignment"] == InfluenceBounds().alignment
    assert verify_round(hostile.organization.contract, hostile.store, round_id).ok


def test_update_at_nearly_four_times_the_median_in_round_one_is_clipped(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "inflate-samples", attackers=2)
    round_id, outcome = hostile.round()
    assert outcome.accepted == [True] * 5  # inside every screening bound
    base, deltas, _ = _deltas(hostile, round_id)
    honest_median = float(np.median([l2_norm(d) for d in deltas[:3]]))
    assert all(l2_norm(d) > 3.5 * honest_median for d in deltas[3:])
    task, test = hostile.organization.task, hostile.organization.test_data
    honest_only = {k: base[k] + sum(d[k] for d in deltas[:3]) / 3 for k in base}
    reference = evaluate(task.model_from_state(honest_only), test).accuracy
    assert outcome.accuracy is not None and outcome.accuracy > reference - 0.05  # 9.9% without the clip


def test_fisher_section_at_the_allowed_maximum_no_longer_destroys_accuracy(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "fisher-poison", plan=FEDCURV,
                                 client_settings=ClientSettings(fisher_samples=50))
    for _ in range(3):
        round_id, outcome = hostile.round()
        assert outcome.accepted == [True] * 4  # 100 per entry is allowed; its weight in u is bounded instead
        assert verify_round(hostile.organization.contract, hostile.store, round_id).ok
    u = decode_artifact(hostile.store.get(outcome.result_cid)).section(FEDCURV_U)
    assert u is not None and max(float(v.max()) for v in u.values()) < 10
    assert outcome.accuracy is not None and outcome.accuracy > 0.5  # 10% every round without the bound


def test_sign_flipping_majority_is_kept_out_by_the_allow_list(tmp_path) -> None:
    """No aggregation rule survives 3 hostile clients of 5 (docs/BENCHMARKS.md, section 8): the
    documented remedy is the allow-list, which refuses them before they can submit anything."""
    hostile = hostile_federation(tmp_path, honest=2, quorum=2)
    contract = hostile.organization.contract
    contract.set_registration_open(False)
    for index in (3, 4, 5):  # three sign-flipping sybils arriving after registration closed
        with pytest.raises(RegistrationClosed, match="not on the allow-list"):
            contract.with_account(dev_account(index)).register()
    rounds = [hostile.round()[1] for _ in range(2)]
    assert all(r.accepted == [True, True] for r in rounds)
    assert rounds[-1].accuracy is not None and rounds[-1].accuracy > 0.5  # 10% for 3 rounds when they got in


def test_a_round_aggregated_without_bounds_still_verifies(tmp_path) -> None:
    """Histories made before the bounds carry no `bounds.*` keys: verify recomputes them as they were."""
    hostile = hostile_federation(tmp_path, "inflate-samples")
    organization = hostile.organization
    organization.settings = replace(organization.settings, bounds=None)
    round_id, outcome = hostile.round()
    base, deltas, _ = _deltas(hostile, round_id)
    result = decode_artifact(hostile.store.get(outcome.result_cid))
    assert not any(key.startswith("bounds.") for key in result.metadata.extra)
    weights = [300, 300, 300, 600]  # the rule before: claims capped at 2 x the median, no clipping
    for name in base:
        mean = sum(w * d[name].astype(np.float64) for w, d in zip(weights, deltas, strict=True)) / sum(weights)
        np.testing.assert_allclose(result.tensors[name], base[name] + mean, atol=1e-6)
    assert verify_round(organization.contract, hostile.store, round_id).ok


def test_root_data_screens_out_a_sign_flipped_update_and_keeps_the_honest_ones(tmp_path) -> None:
    """The organization's own few clean examples give the base's descent direction: an update that
    points against it is rejected with the cosine named; without root data the same update passes."""
    _, test = small_data()
    root = test.subset(stratified_holdout(test.y, 5))
    np.savez(tmp_path / "root.npz", x=root.x, y=root.y)
    screened = hostile_federation(tmp_path / "screened", "sign-flip", root_data=tmp_path / "root.npz")
    _, outcome = screened.round()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True, False]
    assert re.fullmatch(r"points against the descent direction on the organization's root data: cosine -0\.\d+, "
                        r"below -0\.1", outcome.rejections[3])
    unscreened = hostile_federation(tmp_path / "unscreened", "sign-flip")
    _, outcome = unscreened.round()
    assert outcome.accepted == [True, True, True, True]


def test_root_data_is_refused_for_a_task_whose_screening_turns_the_root_screen_off(tmp_path) -> None:
    """Where honest skewed clients point against the root direction as far as attackers do (the
    task's `min_root_cosine` is None), root data would only reject honest updates: no round opens."""
    _, test = small_data()
    np.savez(tmp_path / "root.npz", x=test.x[:50], y=test.y[:50])
    off = replace(ValidationConfig.for_task(get_task("mnist-2nn").screening), min_root_cosine=None)
    hostile = hostile_federation(tmp_path, root_data=tmp_path / "root.npz", validation=off)
    with pytest.raises(RoundSettingsError, match=r"^task mnist-2nn turns the root-data screen off: .* run without "
                                                 r"--root-data$"):
        hostile.organization.open_round()
    assert hostile.organization.contract.round_count() == 0
