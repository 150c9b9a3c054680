"""The planted effects are visible in the raw rows themselves (not only in the manifest)."""

from __future__ import annotations

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from workbench.catalog import get_table


@pytest.fixture(scope="module")
def raw(spark, tiny_project, tiny_manifest):
    """Clean-looking raw rows: keys present, timestamps parse, subscribers issued."""

    def read(name: str):
        return spark.read.parquet(str(get_table(name).path(tiny_project)))

    subs = (
        read("subscribers")
        .filter(
            F.col("subscriber_id").isNotNull()
            & F.try_to_date("activation_date").isNotNull()
            & (
                F.try_to_date("activation_date")
                <= F.last_day(F.to_date(F.concat("month", F.lit("-01"))))
            )
        )
        .dropDuplicates()
    )
    ids = subs.select("subscriber_id").distinct()

    def events(name: str, key: str, time_col: str):
        return (
            read(name)
            .filter(F.col(key).isNotNull() & ~F.col(key).startswith("X"))
            .join(ids, "subscriber_id", "left_semi")
            .dropDuplicates([key])
        )

    return {
        "subscribers": subs,
        "usage": events("usage", "record_id", "started_at"),
        "complaints": events("complaints", "complaint_id", "opened_at"),
        "orders": events("product_orders", "order_id", "ordered_at"),
        "channel_costs": read("channel_costs"),
        "contacts": events("campaign_contacts", "contact_id", "contacted_at"),
    }


def _churn_months(subs):
    return subs.filter(F.col("status") == "deactivated").select(
        "subscriber_id", F.col("month").alias("churn_month")
    )


def test_churners_complained_more_the_month_before(raw):
    subs = raw["subscribers"]
    prev = F.date_format(F.add_months(F.to_date(F.concat("month", F.lit("-01"))), -1), "yyyy-MM")
    line_months = subs.select(
        "subscriber_id",
        "month",
        prev.alias("prev_month"),
        (F.col("status") == "deactivated").alias("churned"),
    )
    complaints = (
        raw["complaints"].groupBy("subscriber_id", "month").agg(F.count(F.lit(1)).alias("n"))
    )
    joined = line_months.join(
        complaints.withColumnRenamed("month", "prev_month"), ["subscriber_id", "prev_month"], "left"
    ).fillna(0, ["n"])
    means = {
        r["churned"]: r["mean_n"]
        for r in joined.groupBy("churned").agg(F.avg("n").alias("mean_n")).collect()
    }
    assert means[True] > 1.5 * means[False], means


def test_churners_called_competitors_more(raw):
    calls = raw["usage"].filter(F.col("event_type").isin("voice", "sms"))
    share = (
        calls.groupBy("subscriber_id")
        .agg(
            F.avg(F.col("counterpart_operator").startswith("competitor").cast("double")).alias(
                "share"
            ),
            F.count(F.lit(1)).alias("n"),
        )
        .filter(F.col("n") >= 20)
    )
    churners = _churn_months(raw["subscribers"]).select("subscriber_id").distinct()
    labelled = share.join(churners.withColumn("churner", F.lit(True)), "subscriber_id", "left")
    means = {
        r["churner"]: r["m"]
        for r in labelled.groupBy("churner").agg(F.avg("share").alias("m")).collect()
    }
    assert means[True] > 1.2 * means[None], means


def test_video_pack_holders_take_the_large_data_pack_far_more_often(raw):
    last = Window.partitionBy("subscriber_id", "product_id").orderBy(F.desc("ordered_at"))
    holdings = (
        raw["orders"]
        .withColumn("r", F.row_number().over(last))
        .filter((F.col("r") == 1) & (F.col("action") == "subscribe"))
    )
    final_month = raw["subscribers"].agg(F.max("month")).first()[0]
    live = (
        raw["subscribers"]
        .filter((F.col("month") == final_month) & (F.col("status") != "deactivated"))
        .select("subscriber_id")
    )
    per_line = live.join(
        holdings.groupBy("subscriber_id").agg(
            F.max((F.col("product_id") == "VIDEO_PACK").cast("int")).alias("video"),
            F.max((F.col("product_id") == "DATA_LARGE").cast("int")).alias("data"),
        ),
        "subscriber_id",
        "left",
    ).fillna(0)
    rates = {
        r["video"]: (r["p"], r["n"])
        for r in per_line.groupBy("video")
        .agg(F.avg("data").alias("p"), F.count(F.lit(1)).alias("n"))
        .collect()
    }
    assert rates[1][1] > 50 and rates[0][1] > 500
    assert rates[1][0] > 3 * rates[0][0], rates


def test_the_bad_channel_adds_have_near_zero_usage_and_die_after_clawback(raw, tiny_manifest):
    bad = tiny_manifest["planted"]["channels"]["bad_channel_id"]
    subs = raw["subscribers"]
    first = tiny_manifest["months"][0]
    adds = (
        subs.filter(F.substring("activation_date", 1, 7) == F.col("month"))
        .filter(F.col("month") > first)
        .select("subscriber_id", "channel_id", "month")
    )
    usage = raw["usage"].groupBy("subscriber_id").agg(F.count(F.lit(1)).alias("events"))
    per_add = adds.join(usage, "subscriber_id", "left").fillna(0, ["events"])
    medians = {
        r["is_bad"]: r["med"]
        for r in per_add.groupBy((F.col("channel_id") == bad).alias("is_bad"))
        .agg(F.percentile_approx("events", 0.5).alias("med"))
        .collect()
    }
    assert medians[True] < 0.1 * medians[False], medians
    clawback = raw["channel_costs"].filter(F.col("channel_id") == bad).first()["clawback_days"]
    lived = subs.filter(
        (F.col("channel_id") == bad)
        & (F.col("status") == "deactivated")
        & (F.col("activation_date") >= f"{first}-01")
    ).select(
        F.datediff(F.try_to_date("deactivation_date"), F.try_to_date("activation_date")).alias(
            "days"
        )
    )
    days = [r["days"] for r in lived.collect()]
    just_after = [d for d in days if clawback < d <= clawback + 10]
    assert len(just_after) >= 10 and len(just_after) > 0.5 * len(days), days


def test_the_online_app_is_the_cheapest_channel_per_gross_add(raw, tiny_manifest):
    subs = raw["subscribers"]
    adds = (
        subs.filter(F.substring("activation_date", 1, 7) == F.col("month"))
        .groupBy("channel_id", "month")
        .agg(F.countDistinct("subscriber_id").alias("adds"))
    )
    cost = (
        adds.join(raw["channel_costs"], ["channel_id", "month"])
        .groupBy("channel_id")
        .agg(
            (
                F.sum(
                    F.col("adds") * F.col("commission_per_gross_add_cny") + F.col("fixed_cost_cny")
                )
                / F.sum("adds")
            ).alias("cost_per_add")
        )
    )
    ranked = [r["channel_id"] for r in cost.orderBy("cost_per_add").collect()]
    assert ranked[0] == tiny_manifest["planted"]["channels"]["cheapest_channel_id"] == "CH_APP"
    assert ranked[-1] != "CH_APP"


def test_the_manifest_values_every_channel_as_the_channel_roi_report_does(raw, tiny_manifest):
    """The true channel economics use the report's declared default valuation, count every
    channel's true gross adds, and cost each add as the channel cost extract says (commission
    plus the fixed costs of the months observed spread over the adds)."""
    from dataclasses import asdict

    from workbench.analysis.roi import DEFAULT_VALUATION
    from workbench.params import defaults

    planted = tiny_manifest["planted"]["channels"]
    economics = planted["economics"]
    declared = defaults("channel_roi")
    assert economics["valuation"] == asdict(DEFAULT_VALUATION)
    assert economics["valuation"] == {k: declared[k] for k in economics["valuation"]}
    assert sorted(economics["by_month"]) == tiny_manifest["months"]

    last = economics["by_month"][tiny_manifest["months"][-1]]
    adds = {c: v["gross_adds"] for c, v in planted["gross_adds_by_channel"].items()}
    assert {c: v["n_gross_adds"] for c, v in last.items()} == adds
    costs = raw["channel_costs"].toPandas().groupby("channel_id")
    commission = costs["commission_per_gross_add_cny"].first()
    fixed = costs["fixed_cost_cny"].sum()
    for channel, value in last.items():
        expected = commission[channel] + fixed[channel] / adds[channel]
        assert value["cac_cny"] == pytest.approx(expected, abs=1e-4), channel
        assert 0 <= value["survival_at_horizon"] <= 1
        # ROI + 1 = LTV / cost per add, both rounded by the manifest (to 0.0001 CNY)
        assert value["roi"] + 1 == pytest.approx(value["ltv_cny"] / value["cac_cny"], rel=1e-5)


def test_truth_numbers_match_the_snapshot(raw, tiny_manifest):
    subs = raw["subscribers"]
    by_month = {
        r["month"]: r
        for r in subs.groupBy("month")
        .agg(
            F.count_if(F.col("status") != "deactivated").alias("live_end"),
            F.count_if(F.col("status") == "deactivated").alias("churned"),
            F.count_if(F.substring("activation_date", 1, 7) == F.col("month")).alias("adds"),
        )
        .collect()
    }
    for month, truth in tiny_manifest["truth"].items():
        assert by_month[month]["live_end"] == truth["live_end"], month
        assert by_month[month]["churned"] == truth["churned"], month
        assert by_month[month]["adds"] == truth["gross_adds"], month
        assert 0.005 < truth["churn_rate"] < 0.08


def test_the_campaign_has_a_random_control_group_and_a_true_uplift(raw, tiny_manifest):
    truth = tiny_manifest["campaign_truth"]
    counts = {
        r["assignment"]: r["count"] for r in raw["contacts"].groupBy("assignment").count().collect()
    }
    assert counts["control"] == truth["n_control"] and counts["treatment"] == truth["n_treatment"]
    assert 0.2 < counts["control"] / sum(counts.values()) < 0.4
    assert truth["true_uplift"] > 0
    assert truth["churn_rate_if_none_treated"] > truth["churn_rate_if_all_treated"]
    lifts = tiny_manifest["planted"]["product_affinities"]
    assert lifts["affine_pairs"]
    assert all(p["lift"] > 2 for p in lifts["affine_pairs"])
