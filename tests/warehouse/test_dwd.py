"""DWD transforms on a few inline rows."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from tests.frames import d, frame, ts
from workbench.errors import MissingColumnError
from workbench.warehouse.columns import conform_to, months_frame
from workbench.warehouse.dwd import (
    build_calendar,
    clean_bills,
    clean_complaints,
    replay_holdings,
    summarise_usage_daily,
    to_dim_channel,
    to_subscriber_history,
)


def usage(sub, kind, at, sec=0, mb=0.0, op=None, roaming=False, month="2026-01"):
    return {
        "record_id": f"{sub}-{at}-{kind}-{sec}",
        "subscriber_id": sub,
        "event_type": kind,
        "started_at": ts(at),
        "duration_sec": sec,
        "data_volume_mb": mb,
        "counterpart_operator": op,
        "is_roaming": roaming,
        "cell_id": "C1",
        "month": month,
    }


def test_summarise_usage_daily_is_one_row_per_subscriber_and_day(spark):
    rows = [
        usage(1, "voice", "2026-01-03 10:00:00", sec=120, op="own"),
        usage(1, "voice", "2026-01-03 11:00:00", sec=60, op="competitor_a", roaming=True),
        usage(1, "voice", "2026-01-03 12:00:00", sec=30, op="competitor_b"),
        usage(1, "sms", "2026-01-03 13:00:00", op="own"),
        usage(1, "data", "2026-01-03 14:00:00", sec=600, mb=10.5),
        usage(2, "data", "2026-01-04 09:00:00", sec=60, mb=2.0, roaming=True),
    ]
    out = summarise_usage_daily(frame(spark, "ods_cdr__usage", rows))
    expected = frame(
        spark,
        "dwd_fct_usage_daily",
        [
            {
                "subscriber_id": 1,
                "usage_date": d("2026-01-03"),
                "n_calls": 3,
                "voice_min": 3.5,
                "onnet_min": 2.0,
                "offnet_min": 1.5,
                "competitor_a_min": 1.0,
                "competitor_b_min": 0.5,
                "n_sms": 1,
                "n_data_sessions": 1,
                "data_mb": 10.5,
                "n_roaming_events": 1,
                "roaming_min": 1.0,
                "roaming_data_mb": 0.0,
                "month": "2026-01",
            },
            {
                "subscriber_id": 2,
                "usage_date": d("2026-01-04"),
                "n_calls": 0,
                "voice_min": 0.0,
                "onnet_min": 0.0,
                "offnet_min": 0.0,
                "competitor_a_min": 0.0,
                "competitor_b_min": 0.0,
                "n_sms": 0,
                "n_data_sessions": 1,
                "data_mb": 2.0,
                "n_roaming_events": 1,
                "roaming_min": 0.0,
                "roaming_data_mb": 2.0,
                "month": "2026-01",
            },
        ],
    )
    assertDataFrameEqual(out, expected, rtol=1e-9)


def test_summarise_usage_daily_names_a_missing_column(spark):
    rows = [usage(1, "voice", "2026-01-03 10:00:00", sec=60, op="own")]
    df = frame(spark, "ods_cdr__usage", rows, drop=("counterpart_operator",))
    with pytest.raises(MissingColumnError, match="counterpart_operator"):
        summarise_usage_daily(df)


def snapshot(sub, month, **attrs):
    row = {
        "subscriber_id": sub,
        "msisdn": f"1380000{sub:04d}",
        "customer_id": 100 + sub,
        "customer_type": "individual",
        "region_id": "GZ",
        "plan_id": "P1",
        "plan_type": "prepaid",
        "segment": "mass",
        "activation_date": d("2025-06-01"),
        "channel_id": "CH1",
        "status": "active",
        "home_cell_id": "C1",
        "month": month,
    }
    row.update(attrs)
    return row


def test_subscriber_history_opens_a_version_on_change_and_after_a_gap(spark):
    rows = [
        snapshot(1, "2026-01"),
        snapshot(1, "2026-02"),
        snapshot(1, "2026-03", plan_id="P2", plan_type="postpaid"),
        snapshot(2, "2026-01"),
        snapshot(2, "2026-03"),  # absent in February
        snapshot(3, "2026-02", activation_date=d("2026-02-10")),
        snapshot(3, "2026-03", status="deactivated", deactivation_date=d("2026-03-20")),
    ]
    out = to_subscriber_history(frame(spark, "ods_crm__subscribers", rows)).select(
        "subscriber_id", "valid_from_month", "valid_to_month", "is_current", "plan_id", "status"
    )
    expected = spark.createDataFrame(
        [
            (1, "2026-01", "2026-02", False, "P1", "active"),
            (1, "2026-03", "2026-03", True, "P2", "active"),
            (2, "2026-01", "2026-01", False, "P1", "active"),
            (2, "2026-03", "2026-03", True, "P1", "active"),
            (3, "2026-02", "2026-02", False, "P1", "active"),
            (3, "2026-03", "2026-03", True, "P1", "deactivated"),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected)


def test_subscriber_history_names_a_missing_column(spark):
    df = frame(spark, "ods_crm__subscribers", [snapshot(1, "2026-01")], drop=("status",))
    with pytest.raises(MissingColumnError, match="status"):
        to_subscriber_history(df)


def test_clean_complaints_measures_resolution(spark):
    rows = [
        {
            "complaint_id": "Q1",
            "subscriber_id": 1,
            "category": "coverage",
            "opened_at": ts("2026-01-30 10:00:00"),
            "resolved_at": ts("2026-02-01 16:00:00"),
            "month": "2026-01",
        },
        {
            "complaint_id": "Q2",
            "subscriber_id": 1,
            "category": "fraud",
            "opened_at": ts("2026-01-10 10:00:00"),
            "resolved_at": ts("2026-01-10 13:30:00"),
            "satisfaction_score": 4,
            "month": "2026-01",
        },
        {
            "complaint_id": "Q3",
            "subscriber_id": 2,
            "category": "billing_dispute",
            "opened_at": ts("2026-01-10 10:00:00"),
            "month": "2026-01",
        },
    ]
    out = clean_complaints(frame(spark, "ods_service__complaints", rows)).select(
        "complaint_id", "is_resolved", "is_open_at_month_end", "resolution_hours"
    )
    expected = spark.createDataFrame(
        [("Q1", True, True, 54.0), ("Q2", True, False, 3.5), ("Q3", False, True, None)],
        out.schema,
    )
    assertDataFrameEqual(out, expected, rtol=1e-9)


def test_clean_complaints_names_a_missing_column(spark):
    rows = [{"complaint_id": "Q1", "subscriber_id": 1, "month": "2026-01"}]
    with pytest.raises(MissingColumnError, match="resolved_at"):
        clean_complaints(frame(spark, "ods_service__complaints", rows, drop=("resolved_at",)))


def order(oid, sub, product, action, at, month):
    return {
        "order_id": oid,
        "subscriber_id": sub,
        "product_id": product,
        "action": action,
        "is_subscribe": action == "subscribe",
        "ordered_at": ts(at),
        "month": month,
    }


def test_replay_holdings_keeps_products_whose_last_order_subscribes(spark):
    orders = frame(
        spark,
        "dwd_fct_product_order",
        [
            order("O1", 1, "VIDEO_PACK", "subscribe", "2026-01-05 10:00:00", "2026-01"),
            order("O2", 1, "VIDEO_PACK", "unsubscribe", "2026-02-05 10:00:00", "2026-02"),
            order("O3", 1, "DATA_LARGE", "subscribe", "2026-02-06 10:00:00", "2026-02"),
            order("O4", 2, "MUSIC_PACK", "subscribe", "2026-01-07 10:00:00", "2026-01"),
            order("O5", 2, "MUSIC_PACK", "unsubscribe", "2026-01-08 10:00:00", "2026-01"),
            order("O6", 2, "MUSIC_PACK", "subscribe", "2026-01-09 10:00:00", "2026-01"),
        ],
    )
    out = orders.transform(replay_holdings(months_frame(spark, ["2026-01", "2026-02"])))
    out = out.select("subscriber_id", "product_id", "is_new", "month")
    expected = spark.createDataFrame(
        [
            (1, "VIDEO_PACK", True, "2026-01"),
            (2, "MUSIC_PACK", True, "2026-01"),
            (1, "DATA_LARGE", True, "2026-02"),
            (2, "MUSIC_PACK", False, "2026-02"),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected)


def test_replay_holdings_names_a_missing_column(spark):
    orders = frame(spark, "dwd_fct_product_order", [], drop=("is_subscribe",))
    with pytest.raises(MissingColumnError, match="is_subscribe"):
        orders.transform(replay_holdings(months_frame(spark, ["2026-01"])))


def test_calendar_covers_every_day_with_iso_weekdays(spark):
    out = build_calendar(spark, ["2026-02", "2026-01"])
    assert out.count() == 31 + 28
    feb2 = out.where("calendar_date = date'2026-02-02'").first()
    assert (feb2.day_of_week, feb2.is_weekend, feb2.days_in_month, feb2.calendar_month) == (
        1,
        False,
        28,
        "2026-02",
    )
    assert out.where("is_month_end").count() == 2
    weekend_days = sum(
        date(2026, m, day).isoweekday() >= 6
        for m, n in ((1, 31), (2, 28))
        for day in range(1, n + 1)
    )
    assert out.where("is_weekend").count() == weekend_days


def test_dim_channel_takes_the_latest_snapshot_and_costs(spark):
    channels = frame(
        spark,
        "ods_crm__channels",
        [
            {
                "channel_id": "CH1",
                "channel_name_en": "old",
                "channel_type": "own_store",
                "month": "2026-01",
            },
            {
                "channel_id": "CH1",
                "channel_name_en": "new",
                "channel_type": "own_store",
                "month": "2026-02",
            },
        ],
    )
    costs = frame(
        spark,
        "ods_finance__channel_costs",
        [
            {
                "channel_id": "CH1",
                "commission_per_gross_add_cny": 10.0,
                "fixed_cost_cny": 1.0,
                "clawback_days": 30,
                "month": "2026-01",
            },
            {
                "channel_id": "CH1",
                "commission_per_gross_add_cny": 20.0,
                "fixed_cost_cny": 2.0,
                "clawback_days": 60,
                "month": "2026-02",
            },
        ],
    )
    row = channels.transform(to_dim_channel(costs)).first()
    assert (row.channel_name_en, row.commission_per_gross_add_cny, row.clawback_days) == (
        "new",
        20.0,
        60,
    )
    with pytest.raises(MissingColumnError, match="fixed_cost_cny"):
        channels.transform(to_dim_channel(costs.drop("fixed_cost_cny")))


def test_clean_bills_computes_arrears_never_negative(spark):
    bills = frame(
        spark,
        "ods_billing__bills",
        [
            {
                "bill_id": "B1",
                "subscriber_id": 1,
                "total_cny": 100.0,
                "paid_cny": 40.0,
                "month": "2026-01",
            },
            {
                "bill_id": "B2",
                "subscriber_id": 2,
                "total_cny": 50.0,
                "paid_cny": 60.0,
                "paid_at": ts("2026-01-20 10:00:00"),
                "month": "2026-01",
            },
        ],
    )
    out = clean_bills(bills).select("bill_id", "arrears_cny", "is_paid")
    expected = spark.createDataFrame([("B1", 60.0, False), ("B2", 0.0, True)], out.schema)
    assertDataFrameEqual(out, expected)


def test_conform_to_rejects_a_frame_without_the_catalog_columns(spark):
    df = spark.createDataFrame([("GZ",)], "region_id string")
    with pytest.raises(MissingColumnError, match=r"dwd_dim_region.*region_name_en"):
        conform_to("dwd_dim_region")(df)
