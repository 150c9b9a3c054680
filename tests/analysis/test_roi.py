"""Channel ROI: Kaplan-Meier, cohort aggregation (pandas and Spark), costs, LTV, payback, ROI,
what-if and the early-life warning signs, on hand-computed examples."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from workbench.analysis.roi import (
    COHORT_COLUMNS,
    EARLY_LIFE_COLUMNS,
    build_value_curves,
    channel_roi,
    cohorts_from_mart,
    cost_per_gross_add,
    flag_early_life_warnings,
    kaplan_meier,
    monthly_rate,
    spark_summarize_channel_cohorts,
    spark_summarize_early_life,
    summarize_channel_cohorts,
    summarize_early_life,
    survival_from_cohorts,
    value_channels,
    what_if,
)
from workbench.errors import InputDataError, ParameterError

# ----------------------------------------------------------------------------- Kaplan-Meier


def test_kaplan_meier_matches_the_textbook_6mp_example():
    # Freireich et al. (1963) 6-MP arm, weeks in remission, 0 = censored; the KM table is in
    # Kleinbaum & Klein, "Survival Analysis", ch. 2: 0.8571 0.8067 0.7529 0.6902 0.6275 ...
    weeks = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    event = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    km = kaplan_meier(weeks, event).set_index("time")
    at_events = km[km["n_events"] > 0]
    assert at_events.index.tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert at_events["n_at_risk"].tolist() == [21, 17, 15, 12, 11, 7, 6]
    assert at_events["survival"].round(4).tolist() == [
        0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482,
    ]  # fmt: skip
    # censored times keep the curve flat
    assert km.loc[9, "survival"] == km.loc[7, "survival"]
    assert km.loc[35, "survival"] == pytest.approx(0.4482, abs=5e-5)


def test_kaplan_meier_by_hand_with_a_censoring_tie():
    # times 1,2,2+,3,4+: S(1)=4/5, S(2)=4/5*3/4 (the censored 2 is at risk at 2), S(3)=..*1/2
    km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    assert km["n_at_risk"].tolist() == [5, 4, 2, 1]
    assert km["survival"].tolist() == pytest.approx([0.8, 0.6, 0.3, 0.3])


def test_kaplan_meier_rejects_bad_input():
    with pytest.raises(InputDataError, match="non-negative"):
        kaplan_meier([1, -2], [True, False])
    with pytest.raises(InputDataError, match="equal length"):
        kaplan_meier([1, 2], [True])


# ----------------------------------------------------------------------------- aggregation

ACQ = pd.DataFrame(
    {
        "subscriber_id": [1, 2, 3, 4, 5],
        "channel_id": ["A", "A", "A", "B", "B"],
        "activation_date": ["2026-01-05", "2026-01-20", "2026-02-10", "2026-01-03", "2026-02-01"],
        "deactivation_date": [None, "2026-02-15", "2026-02-25", None, "2026-03-20"],
    }
)
ACTIVITY = pd.DataFrame(
    {
        "subscriber_id": [1, 1, 1, 2, 2, 3, 4, 4, 4, 5, 5, 5],
        "month": [
            *("2026-01", "2026-02", "2026-03", "2026-01", "2026-02", "2026-02"),
            *("2026-01", "2026-02", "2026-03", "2026-02", "2026-03", "2026-04"),
        ],
        "revenue_cny": [10.0, 20, 30, 5, 6, 7, 1, 2, 3, 4, 5, 99],
        "mou_min": [0.0, 0, 0, 50, 60, 0, 30, 30, 30, 0.5, 0.5, 0],
        "data_mb": [0.0, 0, 3, 0, 0, 0, 100, 100, 100, 0, 0, 0],
    }
)


def test_summarize_channel_cohorts_by_hand():
    cohorts = summarize_channel_cohorts(ACQ, ACTIVITY, as_of_month="2026-03")
    expected = pd.DataFrame(
        [
            # A-2026-01: line 1 live (censored at 2), line 2 churns in month 1
            ("A", "2026-01", 0, 2, 0, 15.0),
            ("A", "2026-01", 1, 2, 1, 26.0),
            ("A", "2026-01", 2, 1, 0, 30.0),
            # A-2026-02: line 3 churns in its activation month
            ("A", "2026-02", 0, 1, 1, 7.0),
            ("B", "2026-01", 0, 1, 0, 1.0),
            ("B", "2026-01", 1, 1, 0, 2.0),
            ("B", "2026-01", 2, 1, 0, 3.0),
            # B-2026-02: line 5 churns in month 1; April revenue is after the as-of month
            ("B", "2026-02", 0, 1, 0, 4.0),
            ("B", "2026-02", 1, 1, 1, 5.0),
        ],
        columns=list(COHORT_COLUMNS),
    )
    pd.testing.assert_frame_equal(cohorts, expected)


def _random_lines(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = date(2025, 1, 1)
    act = [start + timedelta(days=int(d)) for d in rng.integers(0, 360, n)]
    life = rng.integers(0, 500, n)
    deact = [
        a + timedelta(days=int(x)) if x < 420 else None for a, x in zip(act, life, strict=True)
    ]
    acq = pd.DataFrame(
        {
            "subscriber_id": np.arange(n, dtype="int64"),
            "channel_id": rng.choice(["own_store", "online", "agent_x"], n),
            "activation_date": act,
            "deactivation_date": deact,
        }
    )
    rows = []
    for sub, a in zip(acq["subscriber_id"], act, strict=True):
        for k in range(int(rng.integers(1, 8))):
            m = a.year * 12 + a.month - 1 + k
            rows.append((sub, f"{m // 12:04d}-{m % 12 + 1:02d}", float(rng.integers(0, 90)),
                         float(rng.integers(0, 3)), float(rng.integers(0, 30))))  # fmt: skip
    activity = pd.DataFrame(rows, columns=["subscriber_id", "month", "revenue_cny", "mou_min",
                                           "data_mb"])  # fmt: skip
    return acq, activity


def test_cohort_survival_is_kaplan_meier_on_the_lines():
    acq, activity = _random_lines(300, seed=7)
    as_of = "2025-12"
    cohorts = summarize_channel_cohorts(acq, activity, as_of_month=as_of)
    by_channel = survival_from_cohorts(cohorts).set_index(["channel_id", "months_since_activation"])
    # durations computed independently, line by line, from the dates
    end = date(2025, 12, 31)
    for channel, lines in acq.groupby("channel_id"):
        durations, events = [], []
        for a, d in zip(lines["activation_date"], lines["deactivation_date"], strict=True):
            churned = d is not None and d <= end
            last = d if churned else end
            durations.append((last.year - a.year) * 12 + last.month - a.month)
            events.append(churned)
        km = kaplan_meier(durations, events)
        for t, s in zip(km["time"], km["survival"], strict=True):
            assert by_channel.loc[(channel, int(t)), "survival"] == pytest.approx(s)


def test_spark_cohorts_and_early_life_match_pandas(spark):
    acq, activity = _random_lines(120, seed=3)
    costs = pd.DataFrame(
        [(c, f"2025-{m:02d}", 50.0, 100.0, 30) for c in ("own_store", "online", "agent_x")
         for m in range(1, 13)],
        columns=["channel_id", "month", "commission_per_gross_add_cny", "fixed_cost_cny",
                 "clawback_days"],
    )  # fmt: skip
    s_acq = spark.createDataFrame(
        [
            (int(s), c, a.isoformat(), d.isoformat() if d is not None else None)
            for s, c, a, d in acq.itertuples(index=False)
        ],
        "subscriber_id bigint, channel_id string, activation_date string, deactivation_date string",
    )
    s_act = spark.createDataFrame(
        activity, "subscriber_id bigint, month string, revenue_cny double, mou_min double, "
        "data_mb double",
    )  # fmt: skip
    s_costs = spark.createDataFrame(costs)
    keys = ["channel_id", "activation_month", "months_since_activation"]
    expected = summarize_channel_cohorts(acq, activity, as_of_month="2025-10")
    got = (
        spark_summarize_channel_cohorts(s_acq, s_act, as_of_month="2025-10")
        .toPandas()
        .sort_values(keys)
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    thresholds = {"mou_min": 1.0, "data_mb": 15.0}
    expected = summarize_early_life(
        acq, activity, costs, as_of_month="2025-10", usage_thresholds=thresholds
    )
    got = (
        spark_summarize_early_life(
            s_acq, s_act, s_costs, as_of_month="2025-10", usage_thresholds=thresholds
        )
        .toPandas()
        .sort_values("channel_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(got[list(EARLY_LIFE_COLUMNS)], expected, check_dtype=False)
    assert expected["n_near_zero_usage"].sum() > 0  # the comparison is not vacuous
    assert expected["n_churned_after_clawback"].sum() > 0


def test_aggregation_failures_name_the_problem():
    with pytest.raises(InputDataError, match="deactivation_date"):
        summarize_channel_cohorts(ACQ.drop(columns="deactivation_date"), ACTIVITY,
                                  as_of_month="2026-03")  # fmt: skip
    backwards = ACQ.assign(deactivation_date=[None, "2025-12-01", None, None, None])
    with pytest.raises(InputDataError, match="subscriber 2 is deactivated before"):
        summarize_channel_cohorts(backwards, ACTIVITY, as_of_month="2026-03")
    with pytest.raises(InputDataError, match="'month' must be YYYY-MM"):
        summarize_channel_cohorts(ACQ, ACTIVITY.assign(month="2026/01"), as_of_month="2026-03")
    with pytest.raises(InputDataError, match="appears more than once"):
        summarize_channel_cohorts(pd.concat([ACQ, ACQ.head(1)]), ACTIVITY, as_of_month="2026-03")


# ----------------------------------------------------------------------------- costs and value

# One channel, one cohort of 4 lines: 2 churn in month 0, 1 in month 1, 1 is censored at 2.
# survival = [0.5, 0.25, 0.25] -> p_active = [1, 0.5, 0.25]; ARPU of survivors 100 each month.
COHORTS = pd.DataFrame(
    [("X", "2026-01", 0, 4, 2, 400.0), ("X", "2026-01", 1, 2, 1, 200.0),
     ("X", "2026-01", 2, 1, 0, 100.0)],
    columns=list(COHORT_COLUMNS),
)  # fmt: skip
COSTS = pd.DataFrame(
    {
        "channel_id": ["X"],
        "month": ["2026-01"],
        "commission_per_gross_add_cny": [50.0],
        "fixed_cost_cny": [40.0],
    }
)  # cac = 50 + 40 / 4 = 60


def test_cohorts_from_the_mart():
    # the mart counts survivors at month end; COHORTS plus an incomplete cohort to leave out
    mart = pd.DataFrame(
        {
            "channel_id": ["X", "X", "X", "X"],
            "activation_month": ["2026-01", "2026-01", "2026-01", "2025-12"],
            "months_since_activation": [0, 1, 2, 1],
            "n_survivors": [2, 1, 1, 7],
            "n_churned": [2, 1, 0, 1],
            "revenue_cny": [400.0, 200.0, 100.0, 50.0],
            "is_cohort_complete": [True, True, True, False],
            "month": ["2026-01", "2026-02", "2026-03", "2026-01"],
        }
    )
    pd.testing.assert_frame_equal(cohorts_from_mart(mart), COHORTS)
    with pytest.raises(InputDataError, match="n_survivors"):
        cohorts_from_mart(mart.drop(columns="n_survivors"))
    with pytest.raises(InputDataError, match="'n_churned' must be a non-negative"):
        cohorts_from_mart(mart.assign(n_churned=-3, n_survivors=10))


def test_cost_per_gross_add_by_hand():
    cohorts = pd.concat(
        [COHORTS, pd.DataFrame([("X", "2026-02", 0, 6, 0, 0.0)], columns=list(COHORT_COLUMNS))]
    )
    costs = pd.concat(
        [COSTS, pd.DataFrame([("X", "2026-02", 20.0, 100.0), ("X", "2026-05", 1.0, 999.0)],
                             columns=COSTS.columns)]
    )  # fmt: skip  # 2026-05 is outside the analysis window
    per_channel = cost_per_gross_add(cohorts, costs).iloc[0]
    assert per_channel["n_gross_adds"] == 10
    assert per_channel["commission_cny"] == 4 * 50 + 6 * 20
    assert per_channel["fixed_cost_cny"] == 140
    assert per_channel["cac_cny"] == pytest.approx((320 + 140) / 10)
    per_cohort = cost_per_gross_add(cohorts, costs, by=("channel_id", "activation_month"))
    assert per_cohort["cac_cny"].tolist() == pytest.approx([60.0, 20 + 100 / 6])


def test_cost_failures():
    with pytest.raises(InputDataError, match=r"fixed_cost_cny.*-5.*channel 'X' month '2026-01'"):
        cost_per_gross_add(COHORTS, COSTS.assign(fixed_cost_cny=-5.0))
    with pytest.raises(InputDataError, match="no cost row for channel 'X' month '2026-01'"):
        cost_per_gross_add(COHORTS, COSTS.assign(month="2026-02"))
    with pytest.raises(InputDataError, match="commission_per_gross_add_cny"):
        cost_per_gross_add(COHORTS, COSTS.drop(columns="commission_per_gross_add_cny"))


def test_channel_roi_by_hand_without_discount():
    roi = channel_roi(COHORTS, COSTS, margin=0.5, horizon_months=3, annual_discount_rate=0.0,
                      min_at_risk=1)  # fmt: skip
    curves = roi.curves.head(3)
    assert curves["survival"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert curves["p_active"].tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert curves["arpu_cny"].tolist() == pytest.approx([100.0, 100.0, 100.0])
    row = roi.summary.iloc[0]
    assert row["cac_cny"] == pytest.approx(60.0)
    assert row["ltv_cny"] == pytest.approx(50 + 25 + 12.5)
    assert row["payback_month"] == 1  # cumulative 50, 75 >= 60
    assert row["roi"] == pytest.approx((87.5 - 60) / 60)
    assert row["survival_at_horizon"] == pytest.approx(0.25)


def test_channel_roi_discounts_monthly_from_the_annual_rate():
    r = monthly_rate(0.12)
    assert (1 + r) ** 12 == pytest.approx(1.12)
    roi = channel_roi(COHORTS, COSTS, margin=0.5, horizon_months=3, annual_discount_rate=0.12,
                      min_at_risk=1)  # fmt: skip
    ltv = 50 + 25 / (1 + r) + 12.5 / (1 + r) ** 2
    assert roi.summary.iloc[0]["ltv_cny"] == pytest.approx(ltv)
    assert roi.summary.iloc[0]["roi"] == pytest.approx((ltv - 60) / 60)


def test_payback_is_null_when_never_reached():
    roi = channel_roi(COHORTS, COSTS, margin=0.1, horizon_months=3, annual_discount_rate=0.0,
                      min_at_risk=1)  # fmt: skip
    assert pd.isna(roi.summary.iloc[0]["payback_month"])
    assert roi.summary.iloc[0]["roi"] == pytest.approx((17.5 - 60) / 60)


def test_curves_extrapolate_at_the_tail_hazard():
    curves = build_value_curves(COHORTS, max_months=6, min_at_risk=1, tail_months=2)
    # tail hazard = mean(0.5, 0.0) of months 1..2 = 0.25, so x0.75 a month; ARPU stays at 100
    assert curves["is_extrapolated"].tolist() == [False] * 3 + [True] * 3
    assert curves["survival"].tolist() == pytest.approx(
        [0.5, 0.25, 0.25, 0.25 * 0.75, 0.25 * 0.75**2, 0.25 * 0.75**3]
    )
    assert curves["arpu_cny"].iloc[3:].tolist() == pytest.approx([100.0] * 3)
    # a one-off spike (month 2 below) is not repeated: the tail uses the median hazard
    spiky = pd.DataFrame(
        [("S", "2026-01", m, n, d, 10.0 * n) for m, (n, d) in
         enumerate([(100, 10), (90, 9), (81, 40), (41, 4)])],
        columns=list(COHORT_COLUMNS),
    )  # fmt: skip
    tail = build_value_curves(spiky, max_months=5, min_at_risk=1, tail_months=3)
    assert tail["hazard"].iloc[4] == pytest.approx(0.1)
    assert tail["survival"].iloc[4] == pytest.approx(0.9 * 0.9 * (41 / 81) * (37 / 41) * 0.9)
    # min_at_risk cuts the noisy tail: with 2, month 2 (1 line) is extrapolated instead
    cut = build_value_curves(COHORTS, max_months=3, min_at_risk=2, tail_months=1)
    assert cut["is_extrapolated"].tolist() == [False, False, True]
    assert cut["survival"].iloc[2] == pytest.approx(0.125)


def test_what_if_recomputes_from_changed_assumptions():
    base = channel_roi(COHORTS, COSTS, margin=0.5, horizon_months=3, annual_discount_rate=0.0,
                       min_at_risk=1)  # fmt: skip
    cheaper = what_if(base, commission_per_add_cny=20.0).iloc[0]
    assert cheaper["cac_cny"] == pytest.approx(30.0)
    assert cheaper["payback_month"] == 0
    assert cheaper["roi"] == pytest.approx((87.5 - 30) / 30)
    richer = what_if(base, arpu_factor=2.0, margin=0.25).iloc[0]
    assert richer["ltv_cny"] == pytest.approx(87.5)
    shorter = what_if(base, horizon_months=1).iloc[0]
    assert shorter["ltv_cny"] == pytest.approx(50.0)
    assert pd.isna(shorter["payback_month"])
    per_channel = what_if(base, commission_per_add_cny={"X": 0.0}).iloc[0]
    assert per_channel["cac_cny"] == pytest.approx(10.0)
    with pytest.raises(ParameterError, match="margin"):
        what_if(base, margin=1.5)
    with pytest.raises(ParameterError, match="horizon_months=500"):
        what_if(base, horizon_months=500)
    with pytest.raises(ParameterError, match="annual_discount_rate"):
        what_if(base, annual_discount_rate=-0.1)


def test_value_failures():
    with pytest.raises(InputDataError, match="n_churned"):
        channel_roi(COHORTS.drop(columns="n_churned"), COSTS, margin=0.5, horizon_months=3,
                    annual_discount_rate=0.0)  # fmt: skip
    with pytest.raises(InputDataError, match="n_churned > n_at_risk"):
        survival_from_cohorts(COHORTS.assign(n_churned=9))
    curves = build_value_curves(COHORTS, min_at_risk=1)
    costs = cost_per_gross_add(COHORTS, COSTS).assign(channel_id="Y")
    with pytest.raises(InputDataError, match="do not cover the same"):
        value_channels(curves, costs, margin=0.5, horizon_months=3, annual_discount_rate=0.0)
    with pytest.raises(ParameterError, match="by must be"):
        channel_roi(COHORTS, COSTS, margin=0.5, horizon_months=3, annual_discount_rate=0.0,
                    by=("region_id",))  # fmt: skip


def test_channels_rank_by_roi_per_cohort_and_overall():
    # channel G keeps its lines, channel F loses most after one month at the same cost
    good = [
        ("G", "2026-01", 0, 10, 0, 1000.0),
        ("G", "2026-01", 1, 10, 1, 1000.0),
        ("G", "2026-01", 2, 9, 0, 900.0),
    ]
    fake = [("F", "2026-01", 0, 10, 0, 100.0), ("F", "2026-01", 1, 10, 8, 100.0),
            ("F", "2026-01", 2, 2, 0, 20.0)]  # fmt: skip
    cohorts = pd.DataFrame(good + fake, columns=list(COHORT_COLUMNS))
    costs = pd.DataFrame(
        {"channel_id": ["G", "F"], "month": ["2026-01"] * 2,
         "commission_per_gross_add_cny": [100.0, 100.0], "fixed_cost_cny": [0.0, 0.0]}
    )  # fmt: skip
    roi = channel_roi(cohorts, costs, margin=0.6, horizon_months=12, annual_discount_rate=0.08,
                      min_at_risk=1, by=("channel_id", "activation_month"))  # fmt: skip
    summary = roi.summary.set_index("channel_id")
    assert summary.loc["F", "roi"] < 0 < summary.loc["G", "roi"]
    assert math.isfinite(summary.loc["G", "ltv_cny"])
    assert summary["activation_month"].tolist() == ["2026-01", "2026-01"]


# ----------------------------------------------------------------------------- early life


def test_summarize_early_life_by_hand():
    costs = pd.DataFrame(
        {"channel_id": ["A", "A", "B", "B"], "month": ["2026-01", "2026-02"] * 2,
         "commission_per_gross_add_cny": 0.0, "fixed_cost_cny": 0.0, "clawback_days": 20}
    )  # fmt: skip
    counts = summarize_early_life(ACQ, ACTIVITY, costs, as_of_month="2026-03", first_months=2)
    # near zero (mou <= 1 and data <= 10 per month): line 1 (all zero), line 3 (zero), line 5
    # (0.5 min); line 2 calls, line 4 uses data. Clawback window 20 + 30 days: lines 1, 2, 4, 5
    # have it ended by 2026-03-31; line 2 left after 26 days (> 20, <= 50), line 5 after 47.
    assert counts.to_dict("list") == {
        "channel_id": ["A", "B"],
        "n_gross_adds": [3, 2],
        "n_near_zero_usage": [2, 1],
        "n_clawback_observed": [2, 2],
        "n_churned_after_clawback": [1, 1],
    }
    # a shorter window (20 + 20 days): line 5 (47 days) is now too late, line 3 is observed
    short = summarize_early_life(
        ACQ, ACTIVITY, costs, as_of_month="2026-03", first_months=2, post_clawback_days=20
    )
    assert short["n_clawback_observed"].tolist() == [3, 2]
    assert short["n_churned_after_clawback"].tolist() == [1, 0]
    with pytest.raises(InputDataError, match="clawback_days"):
        summarize_early_life(ACQ, ACTIVITY, costs.drop(columns="clawback_days"),
                             as_of_month="2026-03")  # fmt: skip
    with pytest.raises(InputDataError, match="data_mb"):
        summarize_early_life(ACQ, ACTIVITY.drop(columns="data_mb"), costs, as_of_month="2026-03")
    with pytest.raises(ParameterError, match="first_months"):
        summarize_early_life(ACQ, ACTIVITY, costs, as_of_month="2026-03", first_months=0)


def test_flag_early_life_warnings_flags_only_the_outlier():
    counts = pd.DataFrame(
        {
            "channel_id": ["agent_x", "online", "own_store", "telesales"],
            "n_gross_adds": [100, 100, 100, 100],
            "n_near_zero_usage": [40, 2, 3, 4],
            "n_clawback_observed": [50, 50, 50, 0],
            "n_churned_after_clawback": [10, 1, 2, 0],
        }
    )
    flagged = flag_early_life_warnings(counts).set_index("channel_id")
    assert flagged["share_near_zero_usage"].tolist() == pytest.approx([0.4, 0.02, 0.03, 0.04])
    assert pd.isna(flagged.loc["telesales", "share_churned_after_clawback"])
    assert flagged["is_near_zero_usage_flag"].tolist() == [True, False, False, False]
    assert flagged["is_churned_after_clawback_flag"].tolist() == [True, False, False, False]
    assert flagged["is_warning"].tolist() == [True, False, False, False]
    # a small channel is not flagged on two lines: Wilson low of 2/10 = 0.057 < 2 x 0.035
    small = pd.concat(
        [counts, pd.DataFrame([("tiny", 10, 2, 0, 0)], columns=counts.columns)],
        ignore_index=True,
    )
    assert not flag_early_life_warnings(small).set_index("channel_id").loc["tiny", "is_warning"]
    assert (
        flag_early_life_warnings(small, ratio=1.5).set_index("channel_id").loc["tiny", "is_warning"]
    )
    # one line in 16 is not a signal even when no other channel has any
    lone = counts.assign(n_near_zero_usage=[1, 0, 0, 0], n_gross_adds=[16, 100, 100, 100])
    assert not flag_early_life_warnings(lone)["is_near_zero_usage_flag"].any()
    # a tiny share is never flagged, however far above the others
    low = flag_early_life_warnings(counts, min_share=0.5)
    assert not low["is_near_zero_usage_flag"].any()
    # a lone channel has nobody to be compared with
    assert not flag_early_life_warnings(counts.head(1))["is_warning"].any()
    with pytest.raises(ParameterError, match="ratio"):
        flag_early_life_warnings(counts, ratio=0.5)
    with pytest.raises(InputDataError, match="n_near_zero_usage"):
        flag_early_life_warnings(counts.drop(columns="n_near_zero_usage"))


# ----------------------------------------------------------------------------- truth


@pytest.mark.slow
def test_tiny_operator_cheapest_channel_has_the_lowest_acquisition_cost(
    spark, tiny_warehouse, tiny_manifest
):
    """Truth: the generator plants the lowest cost per gross add in one channel. It plants no
    ROI ranking (ROI also rests on each channel's survival and ARPU, which it does not fix), so
    none is asserted; the fake-activation agent's own signature is checked by the truth table."""
    from workbench.warehouse.storage import read_table

    # both marts are small (channels x months); bringing them to pandas is the design
    mart = read_table(spark, tiny_warehouse, "ads_channel_cohorts").toPandas()
    costs = read_table(spark, tiny_warehouse, "dwd_fct_channel_cost").toPandas()
    roi = channel_roi(
        cohorts_from_mart(mart),
        costs,
        margin=0.6,
        horizon_months=24,
        annual_discount_rate=0.08,
        min_at_risk=5,
    )
    summary = roi.summary.set_index("channel_id")
    planted = tiny_manifest["planted"]["channels"]
    assert summary["cac_cny"].idxmin() == planted["cheapest_channel_id"]
