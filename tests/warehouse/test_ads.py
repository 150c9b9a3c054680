"""ADS transforms on a few inline rows."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from tests.frames import d, frame, ts
from workbench.catalog.kpis import MAX_PERSIST_MONTHS
from workbench.errors import MissingColumnError
from workbench.warehouse.ads import (
    ads_models,
    to_campaign_results,
    to_channel_cohorts,
    to_churn_features,
    to_key_accounts,
    to_product_holdings,
)


def line(sub, month, **values):
    row = {
        "subscriber_id": sub,
        "month": month,
        "customer_id": 100 + sub,
        "region_id": "GZ",
        "segment": "mass",
        "plan_type": "prepaid",
        "channel_id": "CH1",
        "activation_month": "2026-01",
        "is_active": True,
        "is_churned_this_month": False,
        "is_enterprise": False,
        "revenue_cny": 10.0,
        "n_complaints": 0,
        "is_label_complete": False,
    }
    row.update(values)
    return row


def test_churn_features_keep_live_lines_and_count_recent_complaints(spark):
    wide = frame(
        spark,
        "dws_subscriber_month",
        [
            line(1, "2026-01", n_complaints=1),
            line(1, "2026-02", n_complaints=2),
            line(1, "2026-04", n_complaints=1),  # March missing: window is by month, not rows
            line(2, "2026-02", is_active=False, is_churned_this_month=True),
        ],
    )
    out = to_churn_features(wide).select("subscriber_id", "month", "n_complaints_3m")
    expected = spark.createDataFrame(
        [(1, "2026-01", 1), (1, "2026-02", 3), (1, "2026-04", 3)], out.schema
    )
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="n_complaints"):
        to_churn_features(wide.drop("n_complaints"))


def test_product_holdings_join_live_lines(spark):
    wide = frame(
        spark,
        "dws_subscriber_month",
        [line(1, "2026-01", segment="youth"), line(2, "2026-01", is_active=False)],
    )
    holdings = frame(
        spark,
        "dwd_fct_product_holding",
        [
            {"subscriber_id": 1, "product_id": "VIDEO_PACK", "month": "2026-01"},
            {"subscriber_id": 2, "product_id": "VIDEO_PACK", "month": "2026-01"},
        ],
    )
    out = holdings.transform(to_product_holdings(wide))
    expected = frame(
        spark,
        "ads_product_holdings",
        [
            {
                "subscriber_id": 1,
                "product_id": "VIDEO_PACK",
                "region_id": "GZ",
                "segment": "youth",
                "plan_type": "prepaid",
                "month": "2026-01",
            }
        ],
    )
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="segment"):
        holdings.transform(to_product_holdings(wide.drop("segment")))


def test_channel_cohorts_size_survivors_and_cost(spark):
    history = frame(
        spark,
        "dwd_dim_subscriber",
        [
            {
                "subscriber_id": s,
                "valid_from_month": "2026-01",
                "valid_to_month": "2026-02",
                "is_current": True,
                "channel_id": "CH1",
                "activation_date": d("2026-01-10"),
            }
            for s in (1, 2, 3)
        ],
    )
    wide = frame(
        spark,
        "dws_subscriber_month",
        [
            line(1, "2026-01", revenue_cny=5.0),
            line(2, "2026-01", revenue_cny=5.0),
            line(3, "2026-01", is_active=False, is_churned_this_month=True, revenue_cny=0.0),
            line(1, "2026-02", revenue_cny=8.0),
            line(2, "2026-02", is_active=False, is_churned_this_month=True, revenue_cny=1.0),
        ],
    )
    costs = frame(
        spark,
        "dwd_fct_channel_cost",
        [
            {
                "channel_id": "CH1",
                "commission_per_gross_add_cny": 10.0,
                "fixed_cost_cny": 100.0,
                "month": "2026-01",
            }
        ],
    )
    out = wide.transform(to_channel_cohorts(history, costs, "2026-01"))
    expected = frame(
        spark,
        "ads_channel_cohorts",
        [
            {
                "channel_id": "CH1",
                "activation_month": "2026-01",
                "months_since_activation": 0,
                "n_gross_adds": 3,
                "n_survivors": 2,
                "n_churned": 1,
                "revenue_cny": 10.0,
                "cost_cny": 130.0,
                "is_cohort_complete": True,
                "month": "2026-01",
            },
            {
                "channel_id": "CH1",
                "activation_month": "2026-01",
                "months_since_activation": 1,
                "n_gross_adds": 3,
                "n_survivors": 1,
                "n_churned": 1,
                "revenue_cny": 9.0,
                "cost_cny": 0.0,
                "is_cohort_complete": True,
                "month": "2026-02",
            },
        ],
    )
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="commission_per_gross_add_cny"):
        wide.transform(
            to_channel_cohorts(history, costs.drop("commission_per_gross_add_cny"), "2026-01")
        )


def test_campaign_results_window_response_and_revenue(spark):
    contacts = frame(
        spark,
        "dwd_fct_campaign_contact",
        [
            {
                "contact_id": "C1",
                "campaign_id": "K",
                "subscriber_id": 1,
                "assignment": "treatment",
                "is_treated": True,
                "contact_date": d("2026-01-10"),
                "month": "2026-01",
            },
            {
                "contact_id": "C2",
                "campaign_id": "K",
                "subscriber_id": 2,
                "assignment": "control",
                "is_treated": False,
                "contact_date": d("2026-01-10"),
                "month": "2026-01",
            },
        ],
    )
    responses = frame(
        spark,
        "dwd_fct_campaign_response",
        [
            {
                "response_id": "R0",
                "campaign_id": "K",
                "subscriber_id": 1,
                "responded_at": ts("2026-01-02 09:00:00"),
                "is_accepted": True,
                "month": "2026-01",
            },  # before contact
            {
                "response_id": "R1",
                "campaign_id": "K",
                "subscriber_id": 1,
                "responded_at": ts("2026-01-12 09:00:00"),
                "is_accepted": False,
                "month": "2026-01",
            },
        ],
    )
    campaigns = frame(
        spark, "dwd_dim_campaign", [{"campaign_id": "K", "campaign_type": "retention"}]
    )
    wide = frame(
        spark,
        "dws_subscriber_month",
        [line(1, m, revenue_cny=10.0) for m in ("2026-01", "2026-02", "2026-03", "2026-04")]
        + [line(2, "2026-01"), line(2, "2026-02", revenue_cny=7.0)],
    )
    history = frame(
        spark,
        "dwd_dim_subscriber",
        [
            {"subscriber_id": 1, "valid_from_month": "2026-01", "valid_to_month": "2026-04"},
            {
                "subscriber_id": 2,
                "valid_from_month": "2026-01",
                "valid_to_month": "2026-02",
                "deactivation_date": d("2026-02-20"),
            },
        ],
    )
    out = contacts.transform(
        to_campaign_results(
            responses, campaigns, wide, history, window_months=2, last_month="2026-04"
        )
    ).select(
        "contact_id",
        "is_responded",
        "is_accepted",
        "is_churned_within_window",
        "revenue_in_window_cny",
        "is_window_complete",
        "campaign_type",
    )
    expected = spark.createDataFrame(
        [
            ("C1", True, False, False, 20.0, True, "retention"),
            ("C2", False, False, True, 7.0, True, "retention"),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="assignment"):
        contacts.drop("assignment").transform(
            to_campaign_results(
                responses, campaigns, wide, history, window_months=2, last_month="2026-04"
            )
        )


def test_key_accounts_rank_enterprises_by_revenue(spark):
    rows = [
        line(1, "2026-01", customer_id=7, is_enterprise=True, revenue_cny=40.0),
        line(2, "2026-01", customer_id=7, is_enterprise=True, revenue_cny=20.0, region_id="SZ"),
        line(3, "2026-01", customer_id=7, is_enterprise=True, revenue_cny=0.0, region_id="SZ"),
        line(4, "2026-01", customer_id=8, is_enterprise=True, revenue_cny=30.0),
        line(5, "2026-01", revenue_cny=10.0),
        line(4, "2025-12", customer_id=8, is_enterprise=True, revenue_cny=15.0),
    ]
    out = to_key_accounts(frame(spark, "dws_subscriber_month", rows), ["2026-01"]).select(
        "customer_id",
        "revenue_rank",
        "region_id",
        "n_lines",
        "revenue_cny",
        "revenue_share",
        "cumulative_revenue_share",
        "revenue_change_ratio",
        "revenue_3m_cny",
    )
    expected = spark.createDataFrame(
        [(7, 1, "SZ", 3, 60.0, 0.6, 0.6, None, 60.0), (8, 2, "GZ", 1, 30.0, 0.3, 0.9, 1.0, 45.0)],
        out.schema,
    )
    assertDataFrameEqual(out, expected, rtol=1e-9)
    with pytest.raises(MissingColumnError, match="is_enterprise"):
        to_key_accounts(frame(spark, "dws_subscriber_month", rows).drop("is_enterprise"), [])


def test_campaign_results_look_ahead_over_the_window():
    models = {m.table: m for m in ads_models(4)}
    assert models["ads_campaign_results"].lookahead_months == 4
    # the month-on-month change of the oldest month a persistence rule looks at
    assert models["ads_kpi_alerts"].lookback_months == MAX_PERSIST_MONTHS
