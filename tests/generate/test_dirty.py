"""Dirty rows: the manifest's counts by table, month and kind equal what is in the data."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from workbench.catalog import get_table
from workbench.generate.dirty import KIND_COLUMN, with_dirty_rows

# Detected here independently of the generator: (record key, time column, time format).
TS, DATE = "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd"
CHECKED = {
    "usage": ("record_id", "started_at", TS),
    "bills": ("bill_id", "issued_at", TS),
    "recharges": ("recharge_id", "recharged_at", TS),
    "product_orders": ("order_id", "ordered_at", TS),
    "complaints": ("complaint_id", "opened_at", TS),
    "campaign_contacts": ("contact_id", "contacted_at", TS),
    "campaign_responses": ("response_id", "responded_at", TS),
    "subscribers": ("subscriber_id", "activation_date", DATE),
    "cell_quality": ("cell_id", "measured_date", DATE),
}


def _detect(spark, settings, name: str, issued_ids) -> dict[str, dict[str, int]]:
    key, time_col, fmt = CHECKED[name]
    df = spark.read.parquet(str(get_table(name).path(settings)))
    parsed = F.try_to_timestamp(F.col(time_col), F.lit(fmt))
    month_end = F.date_add(F.last_day(F.to_date(F.concat(F.col("month"), F.lit("-01")))), 1)
    flags = df.select(
        "*",
        F.col(key).isNull().alias("missing_key"),
        (F.col(time_col).isNotNull() & parsed.isNull()).alias("bad_timestamp"),
        (parsed >= month_end.cast("timestamp")).alias("future_date"),
    )
    if "duration_sec" in df.columns:
        flags = flags.withColumn("negative_duration", F.col("duration_sec") < 0)
    counts: dict[str, dict[str, int]] = {}
    kinds = [
        k
        for k in ("missing_key", "bad_timestamp", "future_date", "negative_duration")
        if k in flags.columns
    ]
    for row in (
        flags.groupBy("month").agg(*[F.count_if(F.col(k)).alias(k) for k in kinds]).collect()
    ):
        counts[row["month"]] = {k: row[k] for k in kinds}
    dup = (
        df.groupBy(*df.columns)
        .count()
        .groupBy("month")
        .agg(F.sum(F.col("count") - 1).alias("duplicate"))
    )
    for row in dup.collect():
        counts[row["month"]]["duplicate"] = row["duplicate"]
    if "subscriber_id" in df.columns and name != "subscribers":
        unknown = (
            df.filter(F.col("subscriber_id").isNotNull())
            .join(issued_ids, "subscriber_id", "left_anti")
            .groupBy("month")
            .count()
        )
        for month in counts:
            counts[month]["unknown_subscriber"] = 0
        for row in unknown.collect():
            counts[row["month"]]["unknown_subscriber"] = row["count"]
    return counts


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_manifest_dirty_counts_equal_the_data(spark, tiny_project, tiny_manifest, name):
    subscribers = spark.read.parquet(str(get_table("subscribers").path(tiny_project)))
    issued = (
        subscribers.filter(
            F.col("subscriber_id").isNotNull() & F.try_to_date("activation_date").isNotNull()
        )
        .select("subscriber_id")
        .distinct()
    )
    found = _detect(spark, tiny_project, name, issued)
    expected = tiny_manifest["dirty_rows"][name]
    for month, by_kind in expected.items():
        for kind, n in by_kind.items():
            assert found.get(month, {}).get(kind, 0) == n, (name, month, kind)
    for month, by_kind in found.items():  # nothing dirty the manifest does not know about
        for kind, n in by_kind.items():
            assert expected.get(month, {}).get(kind, 0) == n, (name, month, kind)


def test_usage_has_every_kind_and_reference_tables_stay_clean(tiny_manifest):
    totals = tiny_manifest["dirty_totals"]
    assert all(n > 0 for n in totals["usage"].values()), totals["usage"]
    assert set(totals["usage"]) == {
        "missing_key",
        "negative_duration",
        "bad_timestamp",
        "duplicate",
        "unknown_subscriber",
        "future_date",
    }
    for reference in ("regions", "plans", "products", "channels", "channel_costs", "campaigns"):
        assert reference not in totals
        assert tiny_manifest["dirty_rows"][reference] == {}
    rows = tiny_manifest["row_totals"]["usage"]
    dirty = sum(totals["usage"].values())
    assert 0.001 * rows < dirty < 0.004 * rows  # dirty_rate 0.002 of clean rows, added


def test_dirty_rows_are_added_copies_never_replacements(spark):
    schema = ", ".join(f"{c.name} {c.type}" for c in get_table("usage").columns)
    rows = [
        (
            f"U-{i}",
            i,
            "voice",
            f"2026-01-0{1 + i % 9} 10:00:00",
            60,
            0.0,
            "own",
            False,
            "GZ-C001",
            "2026-01",
        )
        for i in range(40)
    ]
    clean = spark.createDataFrame(rows, schema)
    every = clean.transform(with_dirty_rows("usage", seed=3, rate=1.0))
    assert every.count() == 80
    assert every.filter(F.col(KIND_COLUMN).isNull()).drop(KIND_COLUMN).exceptAll(clean).count() == 0
    assert every.filter(F.col(KIND_COLUMN).isNotNull()).count() == 40
    none = clean.transform(with_dirty_rows("usage", seed=3, rate=0.0))
    assert none.count() == 40 and none.filter(F.col(KIND_COLUMN).isNotNull()).count() == 0
    regions = spark.createDataFrame([("GZ", "2026-01")], "region_id string, month string")
    kept = regions.transform(with_dirty_rows("regions", seed=3, rate=1.0))
    assert kept.count() == 1
