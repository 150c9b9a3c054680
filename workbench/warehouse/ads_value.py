"""ADS transforms of the value subjects: value tiers and lifecycle stages, tier migration,
key-account health, revenue concentration and revenue structure.

Every mart is a small aggregate by month; the subject modules read them through DuckDB.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog.ads_value import UNKNOWN
from workbench.errors import require_columns
from workbench.warehouse.columns import (
    Transform,
    conform_to,
    exact_sum,
    month_index_col,
    safe_ratio,
)
from workbench.warehouse.model import BuildContext, InputReader, Model

ARPU_MONTHS = 3  # value tiers use the mean revenue of M-2..M: prepaid recharges are lumpy
HIGH_TIER_CNY = 300.0  # default 3-month ARPU from which a line is high value
MEDIUM_TIER_CNY = 80.0  # default 3-month ARPU from which a line is medium value
NEW_TENURE_MONTHS = 3  # lifecycle stage "new" below this tenure
# revenue / mean of the previous 3 months (dws bill_shock_ratio) bounding the trend stages
AT_RISK_RATIO, DECLINING_RATIO, GROWING_RATIO = 0.5, 0.8, 1.25
AT_RISK_COMPETITOR_SHARE = 0.5  # half the voice minutes to competitors: one foot out
BILL_CATEGORIES = ("plan_fee", "voice", "sms", "data", "vas")

_DIMENSIONS = ("region_id", "segment", "plan_type")


def _dimension(name: str) -> Column:
    return F.coalesce(F.col(name), F.lit(UNKNOWN)).alias(name)


def with_value_tiers(
    high_cny: float = HIGH_TIER_CNY, medium_cny: float = MEDIUM_TIER_CNY
) -> Transform:
    """Add ``arpu_3m_cny``, ``value_tier``, ``tenure_band`` and ``lifecycle_stage`` per
    subscriber-month. Earlier months in the input feed the 3-month ARPU.

    Stages, first match wins: lost (left this month), new (tenure < 3 months), at_risk (an
    open complaint, revenue under half its 3-month mean, or half the minutes to competitors),
    declining (under 80%), growing (over 125%), stable.
    """
    if not 0 < medium_cny < high_cny:
        raise ValueError(f"value tiers: need 0 < medium ({medium_cny}) < high ({high_cny})")

    def _tiers(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "subscriber_id",
                "month",
                "revenue_cny",
                "tenure_months",
                "is_churned_this_month",
                "n_complaints_open",
                "bill_shock_ratio",
                "competitor_share",
                *_DIMENSIONS,
            ],
            "dws_subscriber_month",
        )
        recent = (
            Window.partitionBy("subscriber_id").orderBy("_mi").rangeBetween(-(ARPU_MONTHS - 1), 0)
        )
        arpu = F.col("arpu_3m_cny")
        ratio = F.col("bill_shock_ratio")
        tenure = F.col("tenure_months")
        return (
            subscriber_month.withColumn("_mi", month_index_col("month"))
            .withColumn("revenue_cny", F.coalesce(F.col("revenue_cny"), F.lit(0.0)))
            .withColumn("arpu_3m_cny", F.avg("revenue_cny").over(recent))
            .withColumn(
                "value_tier",
                F.when(arpu >= high_cny, "high")
                .when(arpu >= medium_cny, "medium")
                .otherwise("low"),
            )
            .withColumn(
                "tenure_band",
                F.when(tenure < 12, "new").when(tenure < 36, "established").otherwise("loyal"),
            )
            .withColumn(
                "lifecycle_stage",
                F.when(F.col("is_churned_this_month"), "lost")
                .when(tenure < NEW_TENURE_MONTHS, "new")
                .when(
                    (F.coalesce(F.col("n_complaints_open"), F.lit(0)) > 0)
                    | (ratio < AT_RISK_RATIO)
                    | (F.col("competitor_share") >= AT_RISK_COMPETITOR_SHARE),
                    "at_risk",
                )
                .when(ratio < DECLINING_RATIO, "declining")
                .when(ratio > GROWING_RATIO, "growing")
                .otherwise("stable"),
            )
        )

    return _tiers


def to_value_segments(tiered: DataFrame) -> DataFrame:
    """Lines and revenue by cell, value tier, tenure band and lifecycle stage."""
    require_columns(
        tiered, ["value_tier", "tenure_band", "lifecycle_stage", "arpu_3m_cny"], "value tiers"
    )
    keys = [*_DIMENSIONS, "value_tier", "tenure_band", "lifecycle_stage", "month"]
    return (
        tiered.select(
            *[_dimension(c) for c in _DIMENSIONS], *keys[3:], "revenue_cny", "arpu_3m_cny"
        )
        .groupBy(*keys)
        .agg(
            F.count("*").alias("n_lines"),
            exact_sum("revenue_cny").alias("revenue_cny"),
            exact_sum("arpu_3m_cny").alias("arpu_3m_sum_cny"),
        )
        .transform(conform_to("ads_value_segments"))
    )


def to_value_migration(tiered: DataFrame) -> DataFrame:
    """Lines by tier in M-1 and in M: 'new' without a row in M-1, 'lost' when they left in M.
    Region and segment are those of month M."""
    require_columns(
        tiered, ["subscriber_id", "value_tier", "is_churned_this_month", "_mi"], "value tiers"
    )
    before = tiered.select(
        "subscriber_id",
        (F.col("_mi") + 1).alias("_mi"),
        F.col("value_tier").alias("from_tier"),
        F.col("revenue_cny").alias("revenue_prev_cny"),
    )
    now = tiered.select(
        "subscriber_id",
        "_mi",
        "month",
        _dimension("region_id"),
        _dimension("segment"),
        F.when(F.col("is_churned_this_month"), "lost")
        .otherwise(F.col("value_tier"))
        .alias("to_tier"),
        "revenue_cny",
    )
    return (
        now.join(before, ["subscriber_id", "_mi"], "left")
        .withColumn("from_tier", F.coalesce(F.col("from_tier"), F.lit("new")))
        .groupBy("region_id", "segment", "from_tier", "to_tier", "month")
        .agg(
            F.count("*").alias("n_lines"),
            exact_sum(F.coalesce(F.col("revenue_prev_cny"), F.lit(0.0))).alias("revenue_prev_cny"),
            exact_sum("revenue_cny").alias("revenue_cny"),
        )
        .transform(conform_to("ads_value_migration"))
    )


def with_fee_revenue(plans: DataFrame, products: DataFrame, holdings: DataFrame) -> Transform:
    """Add ``fee_revenue_cny``: the plan's monthly fee plus the fees of products held at month
    end (the contracted revenue, independent of usage and of when prepaid lines recharge)."""

    def _fee(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month, ["subscriber_id", "month", "plan_id"], "dws_subscriber_month"
        )
        require_columns(plans, ["plan_id", "monthly_fee_cny"], "dwd_dim_plan")
        require_columns(products, ["product_id", "monthly_fee_cny"], "dwd_dim_product")
        require_columns(
            holdings, ["subscriber_id", "product_id", "month"], "dwd_fct_product_holding"
        )
        vas = (
            holdings.join(
                F.broadcast(products.select("product_id", F.col("monthly_fee_cny").alias("_fee"))),
                "product_id",
            )
            .groupBy("subscriber_id", "month")
            .agg(exact_sum("_fee").alias("_vas_fee"))
        )
        plan_fee = F.broadcast(plans.select("plan_id", F.col("monthly_fee_cny").alias("_plan_fee")))
        return (
            subscriber_month.join(plan_fee, "plan_id", "left")
            .join(vas, ["subscriber_id", "month"], "left")
            .withColumn(
                "fee_revenue_cny",
                F.coalesce(F.col("_plan_fee"), F.lit(0.0))
                + F.coalesce(F.col("_vas_fee"), F.lit(0.0)),
            )
            .drop("_plan_fee", "_vas_fee")
        )

    return _fee


def to_key_account_health(subscriber_month: DataFrame) -> DataFrame:
    """One row per enterprise customer and month; shares are of all lines' totals."""
    require_columns(
        subscriber_month,
        [
            "customer_id",
            "is_enterprise",
            "region_id",
            "is_active",
            "is_gross_add",
            "is_churned_this_month",
            "revenue_cny",
            "fee_revenue_cny",
            "n_complaints",
            "n_complaints_open",
            "mou_min",
            "data_mb",
            "month",
        ],
        "dws_subscriber_month",
    )
    totals = subscriber_month.groupBy("month").agg(
        exact_sum("revenue_cny").alias("_revenue"), exact_sum("fee_revenue_cny").alias("_fee")
    )
    enterprise = subscriber_month.where("is_enterprise and customer_id is not null")
    regions = (
        enterprise.groupBy("customer_id", "month", "region_id")
        .agg(F.count("*").alias("_n"))
        .groupBy("customer_id", "month")
        # the region of most lines; the region id breaks ties reproducibly
        .agg(F.max_by("region_id", F.struct("_n", F.col("region_id"))).alias("region_id"))
    )

    def _count(flag: str) -> Column:
        return F.sum(F.col(flag).cast("bigint"))

    return (
        enterprise.groupBy("customer_id", "month")
        .agg(
            F.count("*").alias("n_lines"),
            _count("is_active").alias("n_active_lines"),
            _count("is_gross_add").alias("n_gross_adds"),
            _count("is_churned_this_month").alias("n_churned_lines"),
            exact_sum("revenue_cny").alias("revenue_cny"),
            exact_sum("fee_revenue_cny").alias("fee_revenue_cny"),
            F.sum("n_complaints").alias("n_complaints"),
            F.sum("n_complaints_open").alias("n_complaints_open"),
            exact_sum("mou_min").alias("mou_min"),
            exact_sum("data_mb").alias("data_mb"),
        )
        .join(regions, ["customer_id", "month"])
        .join(totals, "month")
        .withColumn("revenue_share", safe_ratio(F.col("revenue_cny"), F.col("_revenue")))
        .withColumn("fee_revenue_share", safe_ratio(F.col("fee_revenue_cny"), F.col("_fee")))
        .transform(conform_to("ads_key_account_health"))
    )


def to_revenue_concentration(subscriber_month: DataFrame) -> DataFrame:
    """Customers of each month in 100 revenue buckets (1 = top 1%). A line without a customer
    counts as its own customer."""
    require_columns(
        subscriber_month,
        ["subscriber_id", "customer_id", "is_enterprise", "revenue_cny", "month"],
        "dws_subscriber_month",
    )
    customers = (
        subscriber_month.withColumn(
            "_customer", F.coalesce(F.col("customer_id"), -F.col("subscriber_id"))
        )
        .groupBy("month", "_customer")
        .agg(
            exact_sum(F.coalesce(F.col("revenue_cny"), F.lit(0.0))).alias("revenue_cny"),
            F.max(F.coalesce(F.col("is_enterprise"), F.lit(False))).alias("_ent"),
        )
    )
    # the customer key breaks revenue ties so buckets are reproducible
    ranked = customers.withColumn(
        "percentile",
        F.ntile(100).over(
            Window.partitionBy("month").orderBy(F.col("revenue_cny").desc(), "_customer")
        ),
    )
    buckets = ranked.groupBy("month", "percentile").agg(
        F.count("*").alias("n_customers"),
        F.sum(F.col("_ent").cast("bigint")).alias("n_enterprise_customers"),
        exact_sum("revenue_cny").alias("revenue_cny"),
    )
    order = Window.partitionBy("month").orderBy("percentile")
    total = F.sum("revenue_cny").over(Window.partitionBy("month"))
    cumulative = F.sum("revenue_cny").over(order.rowsBetween(Window.unboundedPreceding, 0))
    return buckets.withColumn(
        "cumulative_revenue_share", F.least(F.lit(1.0), safe_ratio(cumulative, total))
    ).transform(conform_to("ads_revenue_concentration"))


def to_revenue_structure(subscriber_month: DataFrame) -> DataFrame:
    """Revenue by region, plan, segment and category: a postpaid line's bill lines, a prepaid
    line's recharges, so the categories of a line add up to its ``revenue_cny``."""
    require_columns(
        subscriber_month,
        [
            "region_id",
            "plan_id",
            "plan_type",
            "segment",
            "is_active",
            "revenue_cny",
            "recharge_cny",
            *(f"{c}_cny" for c in BILL_CATEGORIES),
            "month",
        ],
        "dws_subscriber_month",
    )
    prepaid = F.col("plan_type") == "prepaid"
    amounts = F.array(
        *[
            F.struct(
                F.lit(c).alias("category"),
                F.when(prepaid, 0.0)
                .otherwise(F.coalesce(F.col(f"{c}_cny"), F.lit(0.0)))
                .alias("amount"),
            )
            for c in BILL_CATEGORIES
        ],
        F.struct(
            F.lit("recharge").alias("category"),
            F.when(prepaid, F.coalesce(F.col("revenue_cny"), F.lit(0.0)))
            .otherwise(0.0)
            .alias("amount"),
        ),
    )
    keys = ["region_id", "plan_id", "plan_type", "segment", "month"]
    lines = subscriber_month.select(
        *[_dimension(c) for c in ("region_id", "plan_id", "plan_type", "segment")],
        "month",
        "is_active",
        F.explode(amounts).alias("_item"),
    )
    return (
        lines.groupBy(*keys, F.col("_item.category").alias("category"))
        .agg(
            exact_sum("_item.amount").alias("revenue_cny"),
            F.count("*").alias("n_lines"),
            F.sum(F.col("is_active").cast("bigint")).alias("n_active_lines"),
        )
        .transform(conform_to("ads_revenue_structure"))
    )


# ---------------------------------------------------------------- models


def _with_lookback(ctx: BuildContext, n: int) -> list[str]:
    from workbench.months import add_months

    wanted = {add_months(m, -i) for m in ctx.months for i in range(n + 1)}
    return sorted(wanted & (set(ctx.all_months) | set(ctx.months)))


def _tiers(ctx: BuildContext) -> Transform:
    return with_value_tiers(
        float(ctx.params.get("value_tier_high_cny", HIGH_TIER_CNY)),
        float(ctx.params.get("value_tier_medium_cny", MEDIUM_TIER_CNY)),
    )


def _build_value_segments(read: InputReader, ctx: BuildContext) -> DataFrame:
    tiered = read("dws_subscriber_month", _with_lookback(ctx, ARPU_MONTHS - 1)).transform(
        _tiers(ctx)
    )
    return to_value_segments(tiered.where(F.col("month").isin(ctx.months)))


def _build_value_migration(read: InputReader, ctx: BuildContext) -> DataFrame:
    tiered = read("dws_subscriber_month", _with_lookback(ctx, ARPU_MONTHS)).transform(_tiers(ctx))
    return to_value_migration(tiered).where(F.col("month").isin(ctx.months))


def _build_key_account_health(read: InputReader, ctx: BuildContext) -> DataFrame:
    lines = read("dws_subscriber_month", ctx.months).transform(
        with_fee_revenue(
            read("dwd_dim_plan", None),
            read("dwd_dim_product", None),
            read("dwd_fct_product_holding", ctx.months),
        )
    )
    return to_key_account_health(lines)


def _build_revenue_concentration(read: InputReader, ctx: BuildContext) -> DataFrame:
    return to_revenue_concentration(read("dws_subscriber_month", ctx.months))


def _build_revenue_structure(read: InputReader, ctx: BuildContext) -> DataFrame:
    return to_revenue_structure(read("dws_subscriber_month", ctx.months))


def value_models(horizon_months: int = 3) -> list[Model]:
    """The value subjects' ADS models (the horizon is unused: none looks ahead)."""
    del horizon_months
    return [
        Model(
            "ads_value_segments",
            ("dws_subscriber_month",),
            _build_value_segments,
            lookback_months=ARPU_MONTHS - 1,
        ),
        Model(
            "ads_value_migration",
            ("dws_subscriber_month",),
            _build_value_migration,
            lookback_months=ARPU_MONTHS,
        ),
        Model(
            "ads_key_account_health",
            ("dws_subscriber_month", "dwd_dim_plan", "dwd_dim_product", "dwd_fct_product_holding"),
            _build_key_account_health,
        ),
        Model("ads_revenue_concentration", ("dws_subscriber_month",), _build_revenue_concentration),
        Model("ads_revenue_structure", ("dws_subscriber_month",), _build_revenue_structure),
    ]
