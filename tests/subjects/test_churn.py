"""Churn subject: the warehouse's label, the time split, and the truth of the tiny operator."""

from __future__ import annotations

import json

import pytest

from workbench.analysis.churn import load_model
from workbench.errors import InputDataError, ParameterError
from workbench.marts import read_mart
from workbench.subjects import churn


def test_the_label_is_a_warehouse_column_and_other_windows_are_refused():
    assert churn.warehouse_label(1, 3) == "is_churned_next_month"
    assert churn.warehouse_label(3, 3) == "is_churned_within_horizon"
    assert churn.warehouse_label(1, 1) == "is_churned_next_month"
    with pytest.raises(ParameterError, match=r"horizon_months=2: .*churn_horizon_months"):
        churn.warehouse_label(2, 3)
    with pytest.raises(ParameterError, match="whole number"):
        churn.warehouse_label(True, 3)


def test_plan_months_leaves_no_overlap():
    train, test = churn.plan_months("2026-10", 2, 3)
    assert train == ["2026-04", "2026-05", "2026-06"] and test == "2026-08"
    with pytest.raises(ParameterError, match="train_months"):
        churn.plan_months("2026-10", 1, 0)


@pytest.fixture(scope="module")
def churn_run(spark, tiny_warehouse, tiny_manifest, tmp_path_factory):
    period = tiny_manifest["months"][-1]
    out = tmp_path_factory.mktemp("churn_report")
    result = churn.run(
        spark, tiny_warehouse, period, horizon_months=1, train_months=3, output_dir=out
    )
    return result, period


def test_the_model_ranks_churners_well_above_the_base_rate(churn_run):
    """Ranking quality on tiny's test month (about 1,700 lines, some 50 churners): the top tenth
    holds at least twice its share of churners and the AUC is above 0.65 (the planted drivers
    give about 0.75 on larger samples; 0.65 leaves room for this one's noise). The planted
    drivers themselves, by sign, are checked by the truth table (test_truth.py)."""
    result, _ = churn_run
    lift = result.evaluation.lift
    assert float(lift["lift"].iloc[0]) >= 2.0, lift
    assert result.evaluation.metrics["auc"] > 0.65


def test_the_model_is_tested_on_the_warehouse_label(churn_run, tiny_warehouse):
    """The test month's base rate is the warehouse's share of lines flagged "churned next
    month" in that month, exactly: tiny's test month (about 2,000 rows) is below the sample size,
    so every row is tested, and a label rebuilt differently would change the count."""
    result, _ = churn_run
    assert result.label == "is_churned_next_month"
    features = read_mart("ads_churn_features", tiny_warehouse, months=[result.test_month])
    assert result.n_test == len(features)
    expected = features["is_churned_next_month"].mean()
    assert result.evaluation.metrics["base_rate"] == pytest.approx(expected, rel=1e-12)


def test_scores_cover_the_active_base_and_trace_to_the_bundle(churn_run, tiny_warehouse):
    result, period = churn_run
    scores = read_mart("ads_churn_scores", tiny_warehouse, months=[period])
    base = read_mart("ads_churn_features", tiny_warehouse, months=[period])
    assert len(scores) == len(base) == result.n_scored
    assert set(scores["subscriber_id"]) == set(base["subscriber_id"])
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["reason_1"].notna().all()
    bundle = load_model(result.bundle_dir)
    assert set(scores["model_id"]) == {bundle.model_id}
    assert (
        f"test_{result.test_month}"
        in json.loads((result.bundle_dir / "bundle.json").read_text())["metrics"]
    )
    drivers = read_mart("ads_churn_drivers", tiny_warehouse, months=[period])
    assert list(drivers.sort_values("driver_rank")["feature"][:3]) == list(
        result.drivers["feature"][:3]
    )


def test_a_period_without_features_is_refused(spark, tiny_warehouse):
    with pytest.raises(InputDataError, match="ads_churn_features has no month 2030-01"):
        churn.run(spark, tiny_warehouse, "2030-01")
