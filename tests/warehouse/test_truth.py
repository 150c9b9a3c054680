"""The built `tiny` warehouse against the generator's manifest, and the marts against DWS."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from workbench.catalog.kpis import load_alert_policy, load_kpis
from workbench.months import add_months
from workbench.warehouse.storage import read_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wide(spark, tiny_warehouse):
    return read_table(spark, tiny_warehouse, "dws_subscriber_month").cache()


@pytest.fixture(scope="module")
def cube(spark, tiny_warehouse):
    return read_table(spark, tiny_warehouse, "ads_kpi_cube").cache()


def _counts(wide, *group):
    flag = lambda c: F.sum(F.col(c).cast("int")).alias(c)  # noqa: E731
    rows = wide.groupBy("month", *group).agg(
        flag("is_churned_this_month"), flag("is_opening"), flag("is_active"), flag("is_gross_add")
    )
    return {tuple(r[c] for c in ("month", *group)): r for r in rows.collect()}


def test_dws_churn_matches_the_manifest(wide, tiny_manifest):
    truth = tiny_manifest["truth"]
    counts = _counts(wide)
    assert sorted(m for (m,) in counts) == sorted(truth)
    for month, expected in truth.items():
        got = counts[(month,)]
        assert got["is_churned_this_month"] == expected["churned"], month
        assert got["is_gross_add"] == expected["gross_adds"], month
        assert got["is_active"] == expected["live_end"], month
        assert got["is_opening"] == expected["live_end_previous_month"], month
        if expected["churn_rate"] is not None:
            assert got["is_churned_this_month"] / got["is_opening"] == pytest.approx(
                expected["churn_rate"], abs=1e-6
            )


def test_dws_churn_by_plan_type_matches_the_manifest(wide, tiny_manifest):
    counts = _counts(wide, "plan_type")
    for month, expected in tiny_manifest["truth"].items():
        for plan_type, truth in expected["by_plan_type"].items():
            got = counts.get((month, plan_type))
            churned = got["is_churned_this_month"] if got else 0
            assert churned == truth["churned"], (month, plan_type)
            assert (got["is_active"] if got else 0) == truth["live_end"], (month, plan_type)


def test_churn_label_agrees_with_later_months(wide, tiny_warehouse):
    k = tiny_warehouse.warehouse.churn_horizon_months
    churn_month = wide.where("is_churned_this_month").select(
        "subscriber_id", F.col("month").alias("churn_month")
    )
    months = sorted(r.month for r in wide.select("month").distinct().collect())
    labelled = wide.join(churn_month, "subscriber_id", "left")
    for month in months:
        window = [add_months(month, i) for i in range(1, k + 1)]
        rows = labelled.where(F.col("month") == month)
        mismatched = rows.where(
            F.col("is_churned_within_horizon")
            != F.coalesce(F.col("churn_month").isin(window), F.lit(False))
        ).count()
        assert mismatched == 0, month
        complete = add_months(month, k) <= months[-1]
        assert rows.where(F.col("is_label_complete") != F.lit(complete)).count() == 0, month


def test_kpi_cube_reconciles_with_dws(wide, cube, tiny_manifest):
    totals = {
        r.month: r
        for r in wide.groupBy("month")
        .agg(
            F.sum(F.col("is_active").cast("int")).alias("active"),
            F.sum("revenue_cny").alias("revenue"),
        )
        .collect()
    }
    top = cube.where("region_id = 'ALL' and segment = 'ALL' and plan_type = 'ALL'")
    values = {(r.kpi_code, r.month): r.value for r in top.collect()}
    for month, total in totals.items():
        assert values[("active_subscribers", month)] == total.active
        assert values[("revenue_total", month)] == pytest.approx(total.revenue, rel=1e-9)
        truth = tiny_manifest["truth"][month]["churn_rate"]
        if truth is not None:
            assert values[("churn_rate", month)] == pytest.approx(truth, abs=1e-6)
    # the regions add up to the province, for counts and for revenue
    by_region = (
        cube.where(
            "region_id != 'ALL' and segment = 'ALL' and plan_type = 'ALL' "
            "and kpi_code in ('active_subscribers', 'revenue_total')"
        )
        .groupBy("kpi_code", "month")
        .agg(F.sum("value").alias("value"))
        .collect()
    )
    for r in by_region:
        assert r.value == pytest.approx(values[(r.kpi_code, r.month)], rel=1e-9)


def test_alerts_are_the_dictionary_threshold_breaches(spark, cube, tiny_warehouse):
    dictionary = tiny_warehouse.resolve(tiny_warehouse.warehouse.kpi_dictionary)
    kpis = load_kpis(dictionary)
    policy = load_alert_policy(dictionary)
    alerts = read_table(spark, tiny_warehouse, "ads_kpi_alerts")
    level = [k for k in kpis if k.has_thresholds and k.basis == "level" and k.persist_months == 1]
    assert level, "the dictionary should have level thresholds to test"
    # cells large enough to alert: the size KPI's value in the same cell and month
    cell = ["region_id", "segment", "plan_type", "month"]
    large = (
        cube.where(F.col("kpi_code") == policy.size_kpi)
        .where(F.col("value") >= policy.min_lines)
        .select(*cell)
    )
    # recompute the level breaches independently, KPI by KPI, from the dictionary
    found = 0
    for kpi in level:
        cells = (
            cube.where(F.col("kpi_code") == kpi.code)
            .where(F.col("value").isNotNull())
            .join(large, cell)
        )
        worse = (
            (lambda t: F.col("value") < t)
            if kpi.better == "higher"
            else (lambda t: F.col("value") > t)
        )
        alarm = worse(kpi.alarm) if kpi.alarm is not None else F.lit(False)
        warning = worse(kpi.warning) if kpi.warning is not None else F.lit(False)
        expected_alarm = cells.where(alarm).count()
        expected_warning = cells.where(~alarm & warning).count()
        mine = alerts.where(F.col("kpi_code") == kpi.code)
        assert mine.where("severity = 'alarm'").count() == expected_alarm, kpi.code
        assert mine.where("severity = 'warning'").count() == expected_warning, kpi.code
        found += expected_alarm + expected_warning
    assert found > 0, "the tiny operator breaches some level threshold in a large cell"
    # no alert from a cell under the policy's size
    small = alerts.join(large.withColumn("_large", F.lit(True)), cell, "left")
    assert small.where(F.col("_large").isNull()).count() == 0
    # every alert carries the threshold it breached
    bad = alerts.where(
        "(direction = 'below' and measured >= threshold) "
        "or (direction = 'above' and measured <= threshold)"
    ).count()
    assert bad == 0
