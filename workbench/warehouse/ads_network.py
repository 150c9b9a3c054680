"""ADS transforms of the network subjects: complaints, cell quality and churn, competitor
traffic, and product adoption. Each reduces the subscriber-month table (or a DWD fact) to a
small mart the subjects read with DuckDB."""

from __future__ import annotations

import itertools

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog.ads_network import COMPLAINT_CATEGORIES, UNKNOWN_REGION
from workbench.errors import require_columns
from workbench.months import add_months
from workbench.warehouse.columns import Transform, conform_to, exact_sum, month_index_col
from workbench.warehouse.model import BuildContext, InputReader, Model

#: edges of the competitor-share bands (the last band includes 1.0)
SHARE_BAND_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0)
NO_CALLS_BAND = "no_calls"
#: a line is a riser when its share is this far above its mean of the two previous months
RISING_SHARE_CHANGE = 0.10
RISING_MIN_MOU = 30.0  # too few minutes make the share noise
RISING_LOOKBACK = 2
RESOLUTION_BUCKETS_H = (24, 72, 168)


def share_bands() -> list[tuple[str, float, float]]:
    """(label, low, high) of each competitor-share band, e.g. ``('0.1-0.2', 0.1, 0.2)``."""
    return [(f"{lo:g}-{hi:g}", lo, hi) for lo, hi in itertools.pairwise(SHARE_BAND_EDGES)]


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("bigint")


def _next_observed(last_month: str) -> Column:
    return F.col("month") < F.lit(last_month)


def summarise_complaints(subscriber_month: DataFrame) -> Transform:
    """Complaints by region (of the line in the month), category and month, with the line base
    of the KPI ``complaint_rate_per_10k`` (every line of the month) and resolution times."""

    def _summarise(complaints: DataFrame) -> DataFrame:
        require_columns(
            complaints,
            [
                "subscriber_id",
                "category",
                "is_resolved",
                "is_open_at_month_end",
                "resolution_hours",
                "satisfaction_score",
                "month",
            ],
            "dwd_fct_complaint",
        )
        require_columns(subscriber_month, ["subscriber_id", "region_id", "month"], "dws")
        lines = subscriber_month.select("subscriber_id", "month", "region_id")
        base = lines.groupBy("region_id", "month").agg(F.count("*").alias("n_lines"))
        hours = F.when(F.col("is_resolved"), F.col("resolution_hours"))
        counted = (
            complaints.join(lines, ["subscriber_id", "month"], "left")
            .withColumn("region_id", F.coalesce("region_id", F.lit(UNKNOWN_REGION)))
            .groupBy("region_id", "category", "month")
            .agg(
                F.count("*").alias("n_complaints"),
                _count_if(F.col("is_open_at_month_end")).alias("n_open_at_month_end"),
                _count_if(hours.isNotNull()).alias("n_resolved"),
                exact_sum(hours).alias("resolution_hours_sum"),
                *(
                    _count_if(hours <= h).alias(f"n_resolved_within_{h}h")
                    for h in RESOLUTION_BUCKETS_H
                ),
                F.percentile_approx(hours, 0.5, 10_000).alias("resolution_hours_p50"),
                F.percentile_approx(hours, 0.9, 10_000).alias("resolution_hours_p90"),
                exact_sum(F.col("satisfaction_score").cast("double")).alias("satisfaction_sum"),
                F.count("satisfaction_score").alias("n_satisfaction"),
            )
        )
        categories = complaints.sparkSession.createDataFrame(
            [(c,) for c in COMPLAINT_CATEGORIES], "category string"
        )
        # every region x category of the month, so a zero is a row, not a gap
        cells = (
            base.select("region_id", "month")
            .unionByName(counted.select("region_id", "month"))
            .distinct()
            .crossJoin(F.broadcast(categories))
        )
        zero = [
            "n_complaints",
            "n_open_at_month_end",
            "n_resolved",
            "resolution_hours_sum",
            *(f"n_resolved_within_{h}h" for h in RESOLUTION_BUCKETS_H),
            "satisfaction_sum",
            "n_satisfaction",
            "n_lines",
        ]
        return (
            cells.join(counted, ["region_id", "category", "month"], "left")
            .join(base, ["region_id", "month"], "left")
            .fillna(0, subset=zero)
            .transform(conform_to("ads_complaint_summary"))
        )

    return _summarise


def summarise_cell_churn(cell_quality: DataFrame, last_month: str) -> Transform:
    """Per cell and month: its mean quality and the next-month churn of the lines homed on it."""

    def _summarise(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            cell_quality,
            ["cell_id", "region_id", "drop_rate", "throughput_mbps", "month"],
            "dwd_fct_cell_quality_daily",
        )
        require_columns(
            subscriber_month,
            ["home_cell_id", "region_id", "is_active", "is_churned_next_month", "month"],
            "dws_subscriber_month",
        )
        quality = cell_quality.groupBy("cell_id", "month").agg(
            F.first("region_id", ignorenulls=True).alias("_cell_region"),
            (exact_sum("drop_rate") / F.count("drop_rate")).alias("mean_drop_rate"),
            (exact_sum("throughput_mbps") / F.count("throughput_mbps")).alias(
                "mean_throughput_mbps"
            ),
            F.count("*").alias("n_days_measured"),
        )
        homed = (
            subscriber_month.where("is_active and home_cell_id is not null")
            .groupBy(F.col("home_cell_id").alias("cell_id"), "month")
            .agg(
                F.min("region_id").alias("_line_region"),
                F.count("*").alias("n_lines"),
                _count_if(F.col("is_churned_next_month")).alias("n_churned_next_month"),
            )
        )
        return (
            quality.join(homed, ["cell_id", "month"], "full")
            .withColumn("region_id", F.coalesce("_cell_region", "_line_region"))
            .fillna(0, subset=["n_lines", "n_churned_next_month", "n_days_measured"])
            .withColumn("is_next_month_observed", _next_observed(last_month))
            .transform(conform_to("ads_cell_churn"))
        )

    return _summarise


def share_band_col(share: Column | str) -> Column:
    """The band label of a competitor share (``'0.1-0.2'``), ``no_calls`` when it is null."""
    s = F.col(share) if isinstance(share, str) else share
    expr = F.when(s.isNull(), F.lit(NO_CALLS_BAND))
    for label, low, high in share_bands():
        inside = (s >= low) & ((s < high) if high < SHARE_BAND_EDGES[-1] else (s <= high))
        expr = expr.when(inside, F.lit(label))
    return expr


def summarise_competition(last_month: str) -> Transform:
    """Lines live at month end by region, segment and competitor-share band: minutes to each
    competitor and next-month churn."""

    def _summarise(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "region_id",
                "segment",
                "is_active",
                "competitor_share",
                "mou_min",
                "offnet_min",
                "competitor_a_min",
                "competitor_b_min",
                "is_churned_next_month",
                "month",
            ],
            "dws_subscriber_month",
        )
        bands = share_bands()
        lows = F.create_map(*[F.lit(x) for label, low, _ in bands for x in (label, low)])
        highs = F.create_map(*[F.lit(x) for label, _, high in bands for x in (label, high)])
        return (
            subscriber_month.where("is_active")
            .withColumn("share_band", share_band_col("competitor_share"))
            .fillna({"region_id": UNKNOWN_REGION, "segment": "unknown"})
            .groupBy("region_id", "segment", "share_band", "month")
            .agg(
                F.count("*").alias("n_lines"),
                _count_if(F.col("is_churned_next_month")).alias("n_churned_next_month"),
                exact_sum(F.coalesce("competitor_share", F.lit(0.0))).alias("competitor_share_sum"),
                *(
                    exact_sum(F.coalesce(c, F.lit(0.0))).alias(c)
                    for c in ("mou_min", "offnet_min", "competitor_a_min", "competitor_b_min")
                ),
            )
            .withColumn("band_low", lows[F.col("share_band")])
            .withColumn("band_high", highs[F.col("share_band")])
            .withColumn("is_next_month_observed", _next_observed(last_month))
            .transform(conform_to("ads_competition_bands"))
        )

    return _summarise


def flag_competitor_risers(months: list[str], last_month: str) -> Transform:
    """Lines live at the end of each of ``months`` whose competitor share is at least
    :data:`RISING_SHARE_CHANGE` above their mean share of the two previous months (earlier
    months in the input feed that mean)."""

    def _flag(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "subscriber_id",
                "region_id",
                "segment",
                "plan_type",
                "is_active",
                "competitor_share",
                "mou_min",
                "competitor_a_min",
                "competitor_b_min",
                "revenue_cny",
                "is_churned_next_month",
                "month",
            ],
            "dws_subscriber_month",
        )
        before = (
            Window.partitionBy("subscriber_id").orderBy("_mi").rangeBetween(-RISING_LOOKBACK, -1)
        )
        return (
            subscriber_month.withColumn("_mi", month_index_col("month"))
            .withColumn("competitor_share_before", F.avg("competitor_share").over(before))
            .where(F.col("month").isin(sorted(months)))
            .where("is_active")
            .withColumn(
                "share_change", F.col("competitor_share") - F.col("competitor_share_before")
            )
            .where(
                (F.col("share_change") >= RISING_SHARE_CHANGE)
                & (F.col("mou_min") >= RISING_MIN_MOU)
            )
            .withColumn("is_next_month_observed", _next_observed(last_month))
            .transform(conform_to("ads_competitor_risers"))
        )

    return _flag


def summarise_adopters(products: DataFrame, holdings: DataFrame) -> Transform:
    """Per product, plan type, segment and month: the live base, the product's holders and new
    adopters among it, and their revenue and data use."""

    def _summarise(subscriber_month: DataFrame) -> DataFrame:
        require_columns(products, ["product_id"], "dwd_dim_product")
        require_columns(
            holdings, ["subscriber_id", "product_id", "is_new", "month"], "dwd_fct_product_holding"
        )
        require_columns(
            subscriber_month,
            ["subscriber_id", "plan_type", "segment", "is_active", "revenue_cny", "data_mb"],
            "dws_subscriber_month",
        )
        live = subscriber_month.where("is_active").select(
            "subscriber_id",
            "month",
            F.coalesce("plan_type", F.lit("unknown")).alias("plan_type"),
            F.coalesce("segment", F.lit("unknown")).alias("segment"),
            F.coalesce("revenue_cny", F.lit(0.0)).alias("revenue_cny"),
            F.coalesce("data_mb", F.lit(0.0)).alias("data_mb"),
        )
        base = live.groupBy("plan_type", "segment", "month").agg(
            F.count("*").alias("n_base"),
            exact_sum("revenue_cny").alias("revenue_base_cny"),
            exact_sum("data_mb").alias("data_mb_base"),
        )
        held = (
            holdings.select("subscriber_id", "product_id", "is_new", "month")
            .join(live, ["subscriber_id", "month"])
            .groupBy("product_id", "plan_type", "segment", "month")
            .agg(
                F.count("*").alias("n_holders"),
                _count_if(F.col("is_new")).alias("n_new"),
                exact_sum("revenue_cny").alias("revenue_holders_cny"),
                exact_sum("data_mb").alias("data_mb_holders"),
            )
        )
        return (
            base.crossJoin(F.broadcast(products.select("product_id").distinct()))
            .join(held, ["product_id", "plan_type", "segment", "month"], "left")
            .fillna(0, subset=["n_holders", "n_new", "revenue_holders_cny", "data_mb_holders"])
            .transform(conform_to("ads_product_adopters"))
        )

    return _summarise


def summarise_switching(subscriber_month: DataFrame, months: list[str]) -> Transform:
    """For each product adopted in M and each product held at the end of M-1: how many holders
    dropped the held product by the end of M, among adopters and among the other live lines."""

    def _summarise(holdings: DataFrame) -> DataFrame:
        require_columns(
            holdings, ["subscriber_id", "product_id", "is_new", "month"], "dwd_fct_product_holding"
        )
        require_columns(
            subscriber_month, ["subscriber_id", "is_active", "month"], "dws_subscriber_month"
        )
        h = holdings.select("subscriber_id", "product_id", "is_new", "month").withColumn(
            "_mi", month_index_col("month")
        )
        live = (
            subscriber_month.where("is_active")
            .select("subscriber_id", "month")
            .where(F.col("month").isin(sorted(months)))
        )
        # held at the end of M-1 by lines live at the end of M
        previous = h.select("subscriber_id", "product_id", (F.col("_mi") + 1).alias("_mi")).join(
            live.withColumn("_mi", month_index_col("month")), ["subscriber_id", "_mi"]
        )
        current = h.select("subscriber_id", "product_id", "_mi", F.lit(True).alias("_kept"))
        kept = previous.join(current, ["subscriber_id", "product_id", "_mi"], "left").select(
            "subscriber_id",
            "product_id",
            "month",
            "_mi",
            F.coalesce("_kept", F.lit(False)).alias("_kept"),
        )
        adopted = (
            h.where("is_new")
            .where(F.col("month").isin(sorted(months)))
            .select("subscriber_id", "_mi", F.col("product_id").alias("new_product_id"))
        )
        new_products = adopted.select("new_product_id").distinct()
        pairs = kept.crossJoin(F.broadcast(new_products)).where(
            F.col("product_id") != F.col("new_product_id")
        )
        flagged = pairs.join(
            adopted.withColumn("_adopter", F.lit(True)),
            ["subscriber_id", "_mi", "new_product_id"],
            "left",
        ).withColumn("_adopter", F.coalesce("_adopter", F.lit(False)))
        return (
            flagged.groupBy("new_product_id", "product_id", "month")
            .agg(
                _count_if(F.col("_adopter")).alias("n_adopters_holding"),
                _count_if(F.col("_adopter") & ~F.col("_kept")).alias("n_adopters_dropped"),
                _count_if(~F.col("_adopter")).alias("n_others_holding"),
                _count_if(~F.col("_adopter") & ~F.col("_kept")).alias("n_others_dropped"),
            )
            .transform(conform_to("ads_product_switching"))
        )

    return _summarise


# ---------------------------------------------------------------- models


def _with_earlier(ctx: BuildContext, n: int) -> list[str]:
    wanted = {add_months(m, -i) for m in ctx.months for i in range(n + 1)}
    return sorted(wanted & (set(ctx.all_months) | set(ctx.months)))


def _last(ctx: BuildContext) -> str:
    return max([*ctx.all_months, *ctx.months])


def _build_complaints(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dwd_fct_complaint", ctx.months).transform(
        summarise_complaints(read("dws_subscriber_month", ctx.months))
    )


def _build_cell_churn(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(
        summarise_cell_churn(read("dwd_fct_cell_quality_daily", ctx.months), _last(ctx))
    )


def _build_competition(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(summarise_competition(_last(ctx)))


def _build_risers(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", _with_earlier(ctx, RISING_LOOKBACK)).transform(
        flag_competitor_risers(ctx.months, _last(ctx))
    )


def _build_adopters(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(
        summarise_adopters(
            read("dwd_dim_product", None), read("dwd_fct_product_holding", ctx.months)
        )
    )


def _build_switching(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dwd_fct_product_holding", _with_earlier(ctx, 1)).transform(
        summarise_switching(read("dws_subscriber_month", ctx.months), ctx.months)
    )


def network_models(horizon_months: int = 3) -> list[Model]:
    """The network subjects' ADS models. Churn next month looks one month ahead."""
    del horizon_months  # the marts use the next-month label only
    sm = "dws_subscriber_month"
    return [
        Model("ads_complaint_summary", ("dwd_fct_complaint", sm), _build_complaints),
        Model(
            "ads_cell_churn",
            (sm, "dwd_fct_cell_quality_daily"),
            _build_cell_churn,
            lookahead_months=1,
        ),
        Model("ads_competition_bands", (sm,), _build_competition, lookahead_months=1),
        Model(
            "ads_competitor_risers",
            (sm,),
            _build_risers,
            lookback_months=RISING_LOOKBACK,
            lookahead_months=1,
        ),
        Model(
            "ads_product_adopters",
            (sm, "dwd_dim_product", "dwd_fct_product_holding"),
            _build_adopters,
        ),
        Model(
            "ads_product_switching",
            ("dwd_fct_product_holding", sm),
            _build_switching,
            lookback_months=1,
        ),
    ]
