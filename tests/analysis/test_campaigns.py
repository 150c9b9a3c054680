"""Campaign ROI: intervals against statsmodels and Newcombe's paper, hand-computed results,
a seeded simulation with a known uplift, Spark aggregation and the failure cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from workbench.analysis.campaigns import (
    CONTACT_COLUMNS,
    GROUP_COLUMNS,
    HORIZON_COLUMNS,
    NoControlGroupError,
    campaign_roi,
    mark_horizons,
    newcombe_interval,
    spark_summarize_campaign_groups,
    summarize_campaign_groups,
    wilson_interval,
)
from workbench.errors import InputDataError, ParameterError


def test_wilson_interval_matches_statsmodels():
    for count, n in [(0, 10), (3, 10), (10, 10), (81, 263), (1, 2000)]:
        low, high = wilson_interval(count, n)
        assert (low, high) == pytest.approx(proportion_confint(count, n, method="wilson"))
    low, high = wilson_interval(np.array([3, 81]), np.array([10, 263]), confidence=0.9)
    assert low[1] == pytest.approx(proportion_confint(81, 263, alpha=0.1, method="wilson")[0])


def test_newcombe_interval_matches_the_paper_and_statsmodels():
    # Newcombe (1998), Stat Med 17:873, table II example (e): 56/70 - 48/80 -> 0.0524, 0.3339
    diff, low, high = newcombe_interval(56, 70, 48, 80)
    assert diff == pytest.approx(0.2)
    assert (round(float(low), 4), round(float(high), 4)) == (0.0524, 0.3339)
    for c1, n1, c2, n2 in [(9, 10, 3, 10), (0, 10, 0, 20), (10, 10, 0, 10), (6, 7, 2, 7),
                           (120, 1000, 160, 1000)]:  # fmt: skip
        _, low, high = newcombe_interval(c1, n1, c2, n2)
        ref = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
        assert (low, high) == pytest.approx(ref, abs=1e-12)


def _contacts(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(CONTACT_COLUMNS))


# campaign R: 4 treated (1 churned, 2 responded), 4 control (2 churned, 0 responded)
HAND = _contacts(
    [
        ("R", 1, "treatment", True, False, 30.0),
        ("R", 2, "treatment", True, False, 50.0),
        ("R", 3, "treatment", False, True, 10.0),
        ("R", 4, "treatment", False, False, 30.0),
        ("R", 5, "control", False, True, 0.0),
        ("R", 6, "control", False, False, 20.0),
        ("R", 7, "control", False, True, 10.0),
        ("R", 8, "control", False, False, 10.0),
    ]
)
COSTS = pd.DataFrame({"campaign_id": ["R"], "cost_per_contact_cny": [2.0], "offer_cost_cny": [5.0]})


def test_campaign_roi_by_hand():
    groups = summarize_campaign_groups(HAND)
    assert groups.to_dict("list") == {
        "campaign_id": ["R", "R"],
        "assignment": ["control", "treatment"],
        "n": [4, 4],
        "n_responded": [0, 2],
        "n_accepted": [0, 2],
        "n_churned": [2, 1],
        "revenue_cny": [40.0, 120.0],
        "revenue_sq_cny": [600.0, 4400.0],
    }
    row = campaign_roi(groups, COSTS).iloc[0]
    assert (row["n_treated"], row["n_control"], row["n_accepted"]) == (4, 4, 2)
    assert row["response_rate_treated"] == 0.5 and row["response_rate_control"] == 0.0
    assert row["churn_rate_treated"] == 0.25 and row["churn_rate_control"] == 0.5
    assert row["churn_uplift"] == pytest.approx(0.25)
    assert row["response_uplift"] == pytest.approx(0.5)
    assert row["revenue_per_head_treated_cny"] == 30 and row["revenue_per_head_control_cny"] == 10
    assert row["incremental_revenue_cny"] == pytest.approx((30 - 10) * 4)
    assert row["campaign_cost_cny"] == pytest.approx(4 * 2.0 + 2 * 5.0)
    assert row["roi"] == pytest.approx((80 - 18) / 18)
    ref = confint_proportions_2indep(2, 4, 1, 4, method="newcomb", compare="diff")
    assert (row["churn_uplift_low"], row["churn_uplift_high"]) == pytest.approx(ref)
    # revenue: sample variances 800/3 (treated) and 200/3 (control)
    se = np.sqrt(800 / 3 / 4 + 200 / 3 / 4)
    assert row["incremental_revenue_low_cny"] == pytest.approx((20 - 1.959964 * se) * 4)
    assert row["roi_high"] == pytest.approx((row["incremental_revenue_high_cny"] - 18) / 18)


def test_offer_cost_is_paid_for_accepted_offers_only():
    # responder 2 answered but declined the offer: one accepted offer to pay for
    contacts = HAND.assign(is_accepted=[True, False, False, False, False, False, False, False])
    row = campaign_roi(summarize_campaign_groups(contacts), COSTS).iloc[0]
    assert row["n_accepted"] == 1
    assert row["response_rate_treated"] == 0.5
    assert row["campaign_cost_cny"] == pytest.approx(4 * 2.0 + 1 * 5.0)
    with pytest.raises(InputDataError, match="'is_accepted' must be true/false"):
        summarize_campaign_groups(HAND.assign(is_accepted=None))


def test_incremental_revenue_interval_matches_statsmodels():
    rng = np.random.default_rng(11)
    treated = rng.gamma(2.0, 30.0, 300)
    control = rng.gamma(2.0, 26.0, 250)
    rows = [("C", i, "treatment", False, False, v) for i, v in enumerate(treated)] + [
        ("C", 1000 + i, "control", False, False, v) for i, v in enumerate(control)
    ]
    costs = COSTS.assign(campaign_id="C")
    row = campaign_roi(summarize_campaign_groups(_contacts(rows)), costs).iloc[0]
    low, high = CompareMeans(DescrStatsW(treated), DescrStatsW(control)).zconfint_diff(
        usevar="unequal"
    )
    assert row["incremental_revenue_low_cny"] == pytest.approx(low * 300)
    assert row["incremental_revenue_high_cny"] == pytest.approx(high * 300)


def test_simulated_campaign_interval_contains_the_planted_uplift():
    # retention offer: churn 20 % in control, 14 % in treatment (true uplift 0.06); treated
    # spend 5 CNY more per head in the window
    rng = np.random.default_rng(2026)
    n_t, n_c = 6000, 3000
    churn = np.concatenate([rng.random(n_t) < 0.14, rng.random(n_c) < 0.20])
    respond = np.concatenate([rng.random(n_t) < 0.30, np.zeros(n_c, dtype=bool)])
    revenue = np.concatenate([rng.normal(55, 20, n_t), rng.normal(50, 20, n_c)])
    contacts = pd.DataFrame(
        {
            "campaign_id": "SIM",
            "subscriber_id": np.arange(n_t + n_c),
            "assignment": ["treatment"] * n_t + ["control"] * n_c,
            "is_responded": respond,
            "is_churned_within_window": churn,
            "revenue_in_window_cny": revenue,
        }
    )
    costs = pd.DataFrame({"campaign_id": ["SIM"], "cost_per_contact_cny": [1.0],
                          "offer_cost_cny": [3.0]})  # fmt: skip
    row = campaign_roi(summarize_campaign_groups(contacts), costs).iloc[0]
    assert row["churn_uplift_low"] < 0.06 < row["churn_uplift_high"]
    assert row["churn_uplift_low"] > 0  # detected, not just an interval wide enough for anything
    assert row["incremental_revenue_low_cny"] < 5 * n_t < row["incremental_revenue_high_cny"]
    assert row["response_uplift_low"] < 0.30 < row["response_uplift_high"]


def test_uplift_interval_coverage_is_near_95_percent():
    # 600 simulated campaigns, summarised directly as group counts
    rng = np.random.default_rng(7)
    k = 600
    n_t, n_c = 400, 200
    churn_t = rng.binomial(n_t, 0.10, k)
    churn_c = rng.binomial(n_c, 0.15, k)
    ids = [f"c{i}" for i in range(k)]
    groups = pd.DataFrame(
        {
            "campaign_id": ids * 2,
            "assignment": ["treatment"] * k + ["control"] * k,
            "n": [n_t] * k + [n_c] * k,
            "n_responded": 0,
            "n_accepted": 0,
            "n_churned": np.concatenate([churn_t, churn_c]),
            "revenue_cny": 0.0,
            "revenue_sq_cny": 0.0,
        }
    )
    costs = pd.DataFrame({"campaign_id": ids, "cost_per_contact_cny": 1.0, "offer_cost_cny": 0.0})
    out = campaign_roi(groups, costs)
    covered = ((out["churn_uplift_low"] <= 0.05) & (out["churn_uplift_high"] >= 0.05)).mean()
    assert 0.92 <= covered <= 0.98


def test_spark_groups_match_pandas(spark):
    contacts = HAND.assign(is_accepted=[True, False, False, False, False, False, False, False])
    frame = spark.createDataFrame(
        list(contacts.itertuples(index=False)),
        "campaign_id string, subscriber_id bigint, assignment string, is_responded boolean, "
        "is_churned_within_window boolean, revenue_in_window_cny double, is_accepted boolean",
    )
    got = (
        spark_summarize_campaign_groups(frame)
        .toPandas()
        .sort_values(["campaign_id", "assignment"])
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(got, summarize_campaign_groups(contacts), check_dtype=False)
    assert got["n_accepted"].tolist() == [0, 1]
    assert list(got.columns) == list(GROUP_COLUMNS)


def test_campaign_failures_name_the_problem():
    treated_only = HAND[HAND["assignment"] == "treatment"]
    with pytest.raises(NoControlGroupError, match="campaign 'R' has no control"):
        campaign_roi(summarize_campaign_groups(treated_only), COSTS)
    control_only = HAND[HAND["assignment"] == "control"]
    with pytest.raises(NoControlGroupError, match="no treatment"):
        campaign_roi(summarize_campaign_groups(control_only), COSTS)
    with pytest.raises(InputDataError, match="'is_churned_within_window'"):
        summarize_campaign_groups(HAND.drop(columns="is_churned_within_window"))
    with pytest.raises(InputDataError, match=r"offer_cost_cny.*-5\.0.*campaign 'R'"):
        campaign_roi(summarize_campaign_groups(HAND), COSTS.assign(offer_cost_cny=-5.0))
    with pytest.raises(InputDataError, match="no cost row for campaign 'R'"):
        campaign_roi(summarize_campaign_groups(HAND), COSTS.assign(campaign_id="other"))
    with pytest.raises(InputDataError, match=r"assignment must be.*'holdout'"):
        summarize_campaign_groups(HAND.assign(assignment="holdout"))
    with pytest.raises(InputDataError, match="subscriber 1 appears twice in campaign 'R'"):
        summarize_campaign_groups(pd.concat([HAND, HAND.head(1)]))
    with pytest.raises(InputDataError, match="'is_responded' must be true/false"):
        summarize_campaign_groups(HAND.assign(is_responded="yes"))
    groups = summarize_campaign_groups(HAND)
    with pytest.raises(InputDataError, match="campaign 'R' has more than one control row"):
        campaign_roi(pd.concat([groups, groups.head(1)]), COSTS)
    with pytest.raises(InputDataError, match="n_churned <= n"):
        campaign_roi(groups.assign(n_churned=9), COSTS)
    with pytest.raises(ParameterError, match="confidence"):
        campaign_roi(summarize_campaign_groups(HAND), COSTS, confidence=95)


def test_duplicate_cost_rows_are_refused_by_the_shared_validator():
    twice = pd.concat([COSTS, COSTS])
    with pytest.raises(InputDataError, match="campaign costs: campaign 'R' appears more than once"):
        campaign_roi(summarize_campaign_groups(HAND), twice)
    with pytest.raises(InputDataError, match=r"campaign costs: missing column.*'offer_cost_cny'"):
        campaign_roi(summarize_campaign_groups(HAND), COSTS.drop(columns="offer_cost_cny"))


def _windows(complete: bool, observed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign_id": ["R"],
            "is_window_complete": [complete],
            "months_observed": [observed],
            "window_months": [3],
        }
    )


def test_an_open_horizon_keeps_response_measures_and_blanks_churn_revenue_and_roi():
    summary = campaign_roi(summarize_campaign_groups(HAND), COSTS)
    done = mark_horizons(summary, _windows(True, 3)).iloc[0]
    assert done["measurement"] == "complete" and done["is_window_complete"]
    assert done["churn_uplift"] == pytest.approx(0.25) and done["roi"] == pytest.approx(62 / 18)
    open_ = mark_horizons(summary, _windows(False, 1)).iloc[0]
    assert open_["measurement"] == "horizon incomplete: 1 of 3 months observed"
    assert not open_["is_window_complete"]
    assert all(pd.isna(open_[c]) for c in HORIZON_COLUMNS)
    # what the responses say is final: rates, their uplift with its interval, counts and cost
    for column in ("response_rate_treated", "response_rate_control", "response_uplift",
                   "response_uplift_low", "response_uplift_high", "n_treated", "n_control",
                   "campaign_cost_cny"):  # fmt: skip
        assert open_[column] == done[column]
    assert open_["response_uplift"] == pytest.approx(0.5)
    with pytest.raises(InputDataError, match="no window state for campaign 'R'"):
        mark_horizons(summary, _windows(True, 3).assign(campaign_id="other"))
    with pytest.raises(InputDataError, match="'months_observed'"):
        mark_horizons(summary, _windows(True, 3).drop(columns="months_observed"))


def test_roi_is_null_for_a_free_campaign():
    free = COSTS.assign(cost_per_contact_cny=0.0, offer_cost_cny=0.0)
    row = campaign_roi(summarize_campaign_groups(HAND), free).iloc[0]
    assert row["campaign_cost_cny"] == 0
    assert pd.isna(row["roi"])


@pytest.mark.slow
def test_tiny_operator_uplift_interval_contains_the_planted_uplift(
    spark, tiny_warehouse, tiny_manifest
):
    from pyspark.sql import functions as F

    from workbench.warehouse.storage import read_table

    truth = tiny_manifest["campaign_truth"]
    results = read_table(spark, tiny_warehouse, "ads_campaign_results").where(
        F.col("is_window_complete") & (F.col("campaign_id") == truth["campaign_id"])
    )
    groups = spark_summarize_campaign_groups(results).toPandas()
    costs = (
        read_table(spark, tiny_warehouse, "dwd_dim_campaign")
        .select("campaign_id", "cost_per_contact_cny", "offer_cost_cny")
        .toPandas()
    )
    row = campaign_roi(groups, costs).iloc[0]
    assert row["n_treated"] == truth["n_treatment"]
    assert row["n_control"] == truth["n_control"]
    assert row["churn_uplift_low"] <= truth["true_uplift"] <= row["churn_uplift_high"]
