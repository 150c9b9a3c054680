"""DWS transforms on a few inline rows."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from tests.frames import d, frame, ts
from workbench.errors import MissingColumnError
from workbench.warehouse.dws import (
    dws_models,
    to_channel_month,
    to_product_month,
    to_region_month,
    to_subscriber_month,
)

MONTHS = ["2026-01", "2026-02", "2026-03"]


def version(sub, first, last, **attrs):
    row = {
        "subscriber_id": sub,
        "valid_from_month": first,
        "valid_to_month": last,
        "is_current": True,
        "customer_id": 100 + sub,
        "customer_type": "individual",
        "region_id": "GZ",
        "plan_id": "P1",
        "plan_type": "prepaid",
        "segment": "mass",
        "channel_id": "CH1",
        "activation_date": d("2025-06-01"),
        "status": "active",
        "home_cell_id": "C1",
    }
    row.update(attrs)
    return row


def inputs(spark):
    history = frame(
        spark,
        "dwd_dim_subscriber",
        [
            # 1: prepaid all along; 2: postpaid, deactivated in February; 3: activated in February
            version(1, "2026-01", "2026-03"),
            version(2, "2026-01", "2026-01", is_current=False, plan_type="postpaid"),
            version(
                2,
                "2026-02",
                "2026-02",
                plan_type="postpaid",
                status="deactivated",
                deactivation_date=d("2026-02-15"),
            ),
            version(
                3, "2026-02", "2026-03", activation_date=d("2026-02-10"), customer_type="enterprise"
            ),
        ],
    )
    usage = frame(
        spark,
        "dwd_fct_usage_daily",
        [
            {
                "subscriber_id": 1,
                "usage_date": d("2026-01-03"),
                "n_calls": 2,
                "voice_min": 20.0,
                "onnet_min": 10.0,
                "offnet_min": 10.0,
                "competitor_a_min": 10.0,
                "competitor_b_min": 0.0,
                "n_sms": 1,
                "data_mb": 100.0,
                "roaming_min": 0.0,
                "month": "2026-01",
            },
            {
                "subscriber_id": 1,
                "usage_date": d("2026-02-03"),
                "n_calls": 1,
                "voice_min": 10.0,
                "onnet_min": 10.0,
                "offnet_min": 0.0,
                "competitor_a_min": 0.0,
                "competitor_b_min": 0.0,
                "n_sms": 0,
                "data_mb": 50.0,
                "roaming_min": 0.0,
                "month": "2026-02",
            },
        ],
    )
    bills = frame(
        spark,
        "dwd_fct_bill",
        [
            {
                "bill_id": "B1",
                "subscriber_id": 2,
                "plan_fee_cny": 80.0,
                "vas_cny": 20.0,
                "total_cny": 100.0,
                "arrears_cny": 0.0,
                "month": "2026-01",
            }
        ],
    )
    recharges = frame(
        spark,
        "dwd_fct_recharge",
        [
            {"recharge_id": "R1", "subscriber_id": 1, "amount_cny": 30.0, "month": "2026-01"},
            {"recharge_id": "R2", "subscriber_id": 1, "amount_cny": 60.0, "month": "2026-02"},
        ],
    )
    complaints = frame(
        spark,
        "dwd_fct_complaint",
        [
            {
                "complaint_id": "Q1",
                "subscriber_id": 1,
                "is_open_at_month_end": True,
                "month": "2026-01",
            }
        ],
    )
    holdings = frame(
        spark,
        "dwd_fct_product_holding",
        [{"subscriber_id": 1, "product_id": "FAMILY_PLAN", "is_new": True, "month": "2026-01"}],
    )
    cells = frame(
        spark,
        "dwd_fct_cell_quality_daily",
        [
            {
                "cell_id": "C1",
                "measured_date": d("2026-01-01"),
                "region_id": "GZ",
                "drop_rate": 0.02,
                "throughput_mbps": 10.0,
                "month": "2026-01",
            },
            {
                "cell_id": "C1",
                "measured_date": d("2026-01-02"),
                "region_id": "GZ",
                "drop_rate": 0.04,
                "throughput_mbps": 30.0,
                "month": "2026-01",
            },
        ],
    )
    return history, usage, bills, recharges, complaints, holdings, cells


@pytest.fixture(scope="module")
def wide(spark):
    out = to_subscriber_month(*inputs(spark), months=MONTHS, horizon_months=2, last_month="2026-03")
    return out.cache()


def test_subscriber_month_status_flags_and_label(spark, wide):
    out = wide.select(
        "subscriber_id",
        "month",
        "is_opening",
        "is_active",
        "is_gross_add",
        "is_churned_this_month",
        "is_churned_next_month",
        "is_churned_within_horizon",
        "is_label_complete",
    )
    expected = spark.createDataFrame(
        [
            (1, "2026-01", True, True, False, False, False, False, True),
            (1, "2026-02", True, True, False, False, False, False, False),
            (1, "2026-03", True, True, False, False, False, False, False),
            (2, "2026-01", True, True, False, False, True, True, True),
            (2, "2026-02", True, False, False, True, False, False, False),
            (3, "2026-02", False, True, True, False, False, False, False),
            (3, "2026-03", True, True, False, False, False, False, False),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected)


def test_subscriber_month_revenue_usage_and_drivers(spark, wide):
    out = wide.where("month = '2026-01' or (subscriber_id = 1 and month = '2026-02')").select(
        "subscriber_id",
        "month",
        "revenue_cny",
        "vas_cny",
        "mou_min",
        "competitor_share",
        "n_complaints_open",
        "n_products",
        "has_family_plan",
        "home_cell_drop_rate",
        "bill_shock_ratio",
        "mou_change_ratio",
        "tenure_months",
        "is_enterprise",
    )
    expected = spark.createDataFrame(
        [
            (1, "2026-01", 30.0, 0.0, 20.0, 0.5, 1, 1, True, 0.03, None, None, 7, False),
            (2, "2026-01", 100.0, 20.0, 0.0, None, 0, 0, False, 0.03, None, None, 7, False),
            (1, "2026-02", 60.0, 0.0, 10.0, 0.0, 0, 0, False, None, 2.0, -0.5, 8, False),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected, rtol=1e-9)


def test_subscriber_month_rejects_a_bad_horizon_and_missing_columns(spark):
    parts = list(inputs(spark))
    with pytest.raises(ValueError, match="churn_horizon_months"):
        to_subscriber_month(*parts, months=MONTHS, horizon_months=0, last_month="2026-03")
    parts[2] = parts[2].drop("total_cny")
    with pytest.raises(MissingColumnError, match="total_cny"):
        to_subscriber_month(*parts, months=MONTHS, horizon_months=2, last_month="2026-03")


def test_wide_table_model_looks_ahead_by_the_horizon():
    model = dws_models(5)[0]
    assert (model.table, model.lookahead_months) == ("dws_subscriber_month", 5)


def test_channel_month_costs_and_cac(spark, wide):
    costs = frame(
        spark,
        "dwd_fct_channel_cost",
        [
            {
                "channel_id": "CH1",
                "commission_per_gross_add_cny": 50.0,
                "fixed_cost_cny": 100.0,
                "month": "2026-02",
            },
            {
                "channel_id": "CH2",
                "commission_per_gross_add_cny": 10.0,
                "fixed_cost_cny": 5.0,
                "month": "2026-02",
            },
        ],
    )
    channels = frame(spark, "dwd_dim_channel", [{"channel_id": "CH1", "channel_type": "own_store"}])
    out = (
        wide.where("month = '2026-02'")
        .transform(to_channel_month(costs, channels))
        .select(
            "channel_id", "n_gross_adds", "n_active", "n_churned", "acquisition_cost_cny", "cac_cny"
        )
    )
    expected = spark.createDataFrame(
        [("CH1", 1, 2, 1, 150.0, 150.0), ("CH2", 0, 0, 0, 5.0, None)], out.schema
    )
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="fixed_cost_cny"):
        wide.transform(to_channel_month(costs.drop("fixed_cost_cny"), channels))


def test_product_month_counts_live_holders_only(spark, wide):
    holdings = frame(
        spark,
        "dwd_fct_product_holding",
        [
            {"subscriber_id": 1, "product_id": "VIDEO_PACK", "is_new": True, "month": "2026-02"},
            {"subscriber_id": 2, "product_id": "VIDEO_PACK", "is_new": False, "month": "2026-02"},
        ],
    )
    orders = frame(
        spark,
        "dwd_fct_product_order",
        [
            {
                "order_id": "O1",
                "subscriber_id": 2,
                "product_id": "VIDEO_PACK",
                "is_subscribe": False,
                "ordered_at": ts("2026-02-03 10:00:00"),
                "month": "2026-02",
            }
        ],
    )
    products = frame(
        spark, "dwd_dim_product", [{"product_id": "VIDEO_PACK", "monthly_fee_cny": 15.0}]
    )
    out = (
        wide.where("month = '2026-02'")
        .transform(to_product_month(holdings, orders, products))
        .select(
            "product_id",
            "n_holders",
            "n_new",
            "n_unsubscribed",
            "n_active_base",
            "penetration",
            "fee_revenue_cny",
        )
    )
    expected = spark.createDataFrame([("VIDEO_PACK", 1, 1, 1, 2, 0.5, 15.0)], out.schema)
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="is_new"):
        wide.transform(to_product_month(holdings.drop("is_new"), orders, products))


def test_region_month_sums_the_wide_table(spark, wide):
    cells = frame(
        spark,
        "dwd_fct_cell_quality_daily",
        [
            {
                "cell_id": "C1",
                "measured_date": d("2026-01-01"),
                "region_id": "GZ",
                "drop_rate": 0.02,
                "throughput_mbps": 10.0,
                "month": "2026-01",
            }
        ],
    )
    out = (
        wide.transform(to_region_month(cells))
        .where("month = '2026-01'")
        .select("region_id", "n_active", "revenue_cny", "mou_min", "mean_drop_rate")
    )
    expected = spark.createDataFrame([("GZ", 2, 130.0, 20.0, 0.02)], out.schema)
    assertDataFrameEqual(out, expected)
    with pytest.raises(MissingColumnError, match="mou_min"):
        wide.drop("mou_min").transform(to_region_month(cells))
