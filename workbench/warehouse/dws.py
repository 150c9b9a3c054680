"""DWS transforms: the subscriber-month wide table and the channel, product and region summaries.

The churn label of month M looks ahead: ``is_churned_within_horizon`` says whether the line was
deactivated in M+1..M+k (k = ``warehouse.churn_horizon_months``). The label comes from the final
deactivation date in the subscriber history, so it is only as good as the later snapshots loaded:
``is_label_complete`` is true when M+k is loaded, and the model declares ``lookahead_months=k`` so
that building month M also rebuilds M-k..M-1, whose labels M's snapshot completes.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog.dws import KEY_PRODUCTS
from workbench.errors import require_columns
from workbench.months import add_months, month_index
from workbench.warehouse.columns import (
    Transform,
    conform_to,
    date_month_index_col,
    exact_avg,
    exact_sum,
    month_index_col,
    month_start_col,
    months_frame,
    safe_ratio,
)
from workbench.warehouse.model import BuildContext, InputReader, Model

LOOKBACK_MONTHS = 3  # bill shock compares with the mean of the three previous months


def expand_history(history: DataFrame, months: DataFrame) -> DataFrame:
    """One row per subscriber and month of ``months`` from the SCD2 history (the version valid
    in that month), with the line's final deactivation date as ``final_deactivation_date``."""
    require_columns(
        history,
        ["subscriber_id", "valid_from_month", "valid_to_month", "deactivation_date"],
        "dwd_dim_subscriber",
    )
    final = history.groupBy("subscriber_id").agg(
        F.max("deactivation_date").alias("final_deactivation_date")
    )
    lines = history.join(
        F.broadcast(months),
        (F.col("month") >= F.col("valid_from_month")) & (F.col("month") <= F.col("valid_to_month")),
    )
    return lines.join(final, "subscriber_id")


def _sum0(column: str) -> Column:
    return F.coalesce(exact_sum(column), F.lit(0.0))


def summarise_usage_month(usage_daily: DataFrame) -> DataFrame:
    """Usage per subscriber and month from the daily summary."""
    require_columns(
        usage_daily,
        [
            "subscriber_id",
            "month",
            "n_calls",
            "voice_min",
            "onnet_min",
            "offnet_min",
            "competitor_a_min",
            "competitor_b_min",
            "n_sms",
            "data_mb",
            "roaming_min",
        ],
        "dwd_fct_usage_daily",
    )
    return usage_daily.groupBy("subscriber_id", "month").agg(
        F.sum("n_calls").alias("n_calls"),
        exact_sum("voice_min").alias("mou_min"),
        exact_sum("onnet_min").alias("onnet_min"),
        exact_sum("offnet_min").alias("offnet_min"),
        exact_sum("competitor_a_min").alias("competitor_a_min"),
        exact_sum("competitor_b_min").alias("competitor_b_min"),
        F.sum("n_sms").alias("n_sms"),
        exact_sum("data_mb").alias("data_mb"),
        exact_sum("roaming_min").alias("roaming_min"),
        # the daily table is unique and not null on (subscriber, day, month) by contract, so
        # counting its rows counts the days, without a distinct aggregate's extra shuffle
        F.count("usage_date").cast("int").alias("n_active_days"),
    )


def to_subscriber_month(
    history: DataFrame,
    usage_daily: DataFrame,
    bills: DataFrame,
    recharges: DataFrame,
    complaints: DataFrame,
    holdings: DataFrame,
    cell_quality: DataFrame,
    *,
    months: list[str],
    horizon_months: int,
    last_month: str,
) -> DataFrame:
    """The subscriber-month wide table for ``months``.

    Fact inputs may hold earlier months too: up to three earlier months feed the change ratios
    and the bill shock. ``last_month`` is the latest month loaded (label completeness).
    """
    if horizon_months < 1:
        raise ValueError(f"churn_horizon_months must be >= 1, got {horizon_months}")
    spark = history.sparkSession
    first = min(months)
    wanted = [add_months(first, -i) for i in range(LOOKBACK_MONTHS, 0, -1)] + sorted(months)
    lines = expand_history(history, months_frame(spark, wanted))

    usage = summarise_usage_month(usage_daily)
    require_columns(bills, ["subscriber_id", "total_cny", "vas_cny", "arrears_cny"], "dwd_fct_bill")
    billed = bills.groupBy("subscriber_id", "month").agg(
        *(
            _sum0(c).alias(c)
            for c in ("plan_fee_cny", "voice_cny", "sms_cny", "data_cny", "vas_cny", "arrears_cny")
        ),
        _sum0("total_cny").alias("bill_total_cny"),
    )
    require_columns(recharges, ["subscriber_id", "amount_cny", "month"], "dwd_fct_recharge")
    topped = recharges.groupBy("subscriber_id", "month").agg(
        _sum0("amount_cny").alias("recharge_cny"), F.count("*").alias("n_recharges")
    )
    require_columns(complaints, ["subscriber_id", "is_open_at_month_end"], "dwd_fct_complaint")
    complained = complaints.groupBy("subscriber_id", "month").agg(
        F.count("*").alias("n_complaints"),
        F.sum(F.col("is_open_at_month_end").cast("bigint")).alias("n_complaints_open"),
    )
    require_columns(holdings, ["subscriber_id", "product_id", "month"], "dwd_fct_product_holding")
    held = holdings.groupBy("subscriber_id", "month").agg(
        F.count("*").alias("n_products"),
        *(F.max(F.col("product_id") == p).alias(flag) for p, flag in KEY_PRODUCTS.items()),
    )
    require_columns(cell_quality, ["cell_id", "drop_rate", "month"], "dwd_fct_cell_quality_daily")
    cells = cell_quality.groupBy(F.col("cell_id").alias("home_cell_id"), "month").agg(
        exact_avg("drop_rate").alias("home_cell_drop_rate")
    )

    keys = ["subscriber_id", "month"]
    wide = (
        lines.join(usage, keys, "left")
        .join(billed, keys, "left")
        .join(topped, keys, "left")
        .join(complained, keys, "left")
        .join(held, keys, "left")
        .join(cells, ["home_cell_id", "month"], "left")
    )
    zero_filled = [
        "n_calls",
        "mou_min",
        "onnet_min",
        "offnet_min",
        "competitor_a_min",
        "competitor_b_min",
        "n_sms",
        "data_mb",
        "roaming_min",
        "n_active_days",
        "plan_fee_cny",
        "voice_cny",
        "sms_cny",
        "data_cny",
        "vas_cny",
        "arrears_cny",
        "bill_total_cny",
        "recharge_cny",
        "n_recharges",
        "n_complaints",
        "n_complaints_open",
        "n_products",
        *KEY_PRODUCTS.values(),
    ]
    wide = wide.fillna(0, subset=zero_filled).fillna(False, subset=list(KEY_PRODUCTS.values()))

    start = month_start_col("month")
    end = F.last_day(start)
    mi = month_index_col("month")
    deact_mi = date_month_index_col("final_deactivation_date")
    ahead = deact_mi - mi
    is_prepaid = F.col("plan_type") == "prepaid"
    history_window = Window.partitionBy("subscriber_id").orderBy("_mi")
    wide = (
        wide.withColumn("_mi", mi)
        .withColumn("is_enterprise", F.col("customer_type") == "enterprise")
        .withColumn("activation_month", F.date_format("activation_date", "yyyy-MM"))
        .withColumn(
            "tenure_months",
            F.greatest(mi - month_index_col("activation_month"), F.lit(0)),
        )
        .withColumn(
            "months_to_contract_end",
            date_month_index_col("contract_end_date") - mi,
        )
        .withColumn("is_opening", F.col("activation_date") < start)
        .withColumn("is_gross_add", F.col("activation_date").between(start, end))
        .withColumn(
            "is_churned_this_month",
            F.coalesce(F.col("deactivation_date").between(start, end), F.lit(False)),
        )
        .withColumn(
            "is_active",
            F.coalesce(F.col("activation_date") <= end, F.lit(True))
            & (F.col("deactivation_date").isNull() | (F.col("deactivation_date") > end)),
        )
        .withColumn(
            "revenue_cny",
            F.when(is_prepaid, F.col("recharge_cny")).otherwise(F.col("bill_total_cny")),
        )
        .withColumn("onnet_share", _share(F.col("onnet_min"), F.col("mou_min")))
        .withColumn("offnet_share", _share(F.col("offnet_min"), F.col("mou_min")))
        .withColumn(
            "competitor_share",
            _share(F.col("competitor_a_min") + F.col("competitor_b_min"), F.col("mou_min")),
        )
        # range windows over the month number: a month the line was absent yields null, not 0
        .withColumn(
            "revenue_prev_cny", F.sum("revenue_cny").over(history_window.rangeBetween(-1, -1))
        )
        .withColumn("_mou_prev", F.sum("mou_min").over(history_window.rangeBetween(-1, -1)))
        .withColumn("_data_prev", F.sum("data_mb").over(history_window.rangeBetween(-1, -1)))
        .withColumn(
            "_revenue_mean_3m",
            F.avg("revenue_cny").over(history_window.rangeBetween(-LOOKBACK_MONTHS, -1)),
        )
        .withColumn("bill_shock_ratio", safe_ratio(F.col("revenue_cny"), F.col("_revenue_mean_3m")))
        .withColumn("mou_change_ratio", safe_ratio(F.col("mou_min"), F.col("_mou_prev")) - 1)
        .withColumn("data_change_ratio", safe_ratio(F.col("data_mb"), F.col("_data_prev")) - 1)
        .withColumn("is_churned_next_month", F.coalesce(ahead == 1, F.lit(False)))
        .withColumn(
            "is_churned_within_horizon",
            F.coalesce(ahead.between(1, horizon_months), F.lit(False)),
        )
        .withColumn(
            "is_label_complete",
            F.lit(month_index(last_month)) - mi >= horizon_months,
        )
    )
    return wide.where(F.col("month").isin(sorted(months))).transform(
        conform_to("dws_subscriber_month")
    )


def _share(part: Column, whole: Column) -> Column:
    """part / whole clipped to [0, 1]: sums of the same minutes in another order can differ in
    the last bit, and a share of 1.0000000000000002 is still everything."""
    ratio = safe_ratio(part, whole)
    # least/greatest skip nulls, so keep "no calls" null explicitly
    return F.when(ratio.isNotNull(), F.least(F.greatest(ratio, F.lit(0.0)), F.lit(1.0)))


def _horizon(ctx: BuildContext) -> int:
    return int(ctx.params.get("churn_horizon_months", 3))


def _with_lookback(ctx: BuildContext, n: int) -> list[str]:
    """The output months and up to ``n`` earlier months that exist in the warehouse."""
    earlier = {add_months(m, -i) for m in ctx.months for i in range(1, n + 1)}
    return sorted(set(ctx.months) | (earlier & set(ctx.all_months)))


def _build_subscriber_month(read: InputReader, ctx: BuildContext) -> DataFrame:
    facts = _with_lookback(ctx, LOOKBACK_MONTHS)
    return to_subscriber_month(
        read("dwd_dim_subscriber", None),
        read("dwd_fct_usage_daily", facts),
        read("dwd_fct_bill", facts),
        read("dwd_fct_recharge", facts),
        read("dwd_fct_complaint", ctx.months),
        read("dwd_fct_product_holding", ctx.months),
        read("dwd_fct_cell_quality_daily", ctx.months),
        months=ctx.months,
        horizon_months=_horizon(ctx),
        last_month=max(ctx.all_months),
    )


def summarise_status(by: str, *extra: Column) -> Transform:
    """Per ``by`` and month of the wide table: gross adds, active and churned lines and revenue
    (the status aggregates every summary shares), plus ``extra`` aggregates. Rows whose ``by``
    is null are left out."""

    def _summarise(subscriber_month: DataFrame) -> DataFrame:
        return (
            subscriber_month.where(F.col(by).isNotNull())
            .groupBy(by, "month")
            .agg(
                F.sum(F.col("is_gross_add").cast("bigint")).alias("n_gross_adds"),
                F.sum(F.col("is_active").cast("bigint")).alias("n_active"),
                F.sum(F.col("is_churned_this_month").cast("bigint")).alias("n_churned"),
                exact_sum("revenue_cny").alias("revenue_cny"),
                *extra,
            )
        )

    return _summarise


def to_channel_month(channel_costs: DataFrame, channels: DataFrame) -> Transform:
    """Channel summary from the subscriber-month table, with the month's cost terms."""

    def _channel_month(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "channel_id",
                "month",
                "is_gross_add",
                "is_active",
                "is_churned_this_month",
                "revenue_cny",
            ],
            "dws_subscriber_month",
        )
        require_columns(
            channel_costs,
            ["channel_id", "month", "commission_per_gross_add_cny", "fixed_cost_cny"],
            "dwd_fct_channel_cost",
        )
        subs = subscriber_month.transform(summarise_status("channel_id"))
        costs = channel_costs.select(
            "channel_id", "month", "commission_per_gross_add_cny", "fixed_cost_cny"
        )
        out = (
            subs.join(costs, ["channel_id", "month"], "full")
            .fillna(0, subset=["n_gross_adds", "n_active", "n_churned", "revenue_cny"])
            .fillna(0.0, subset=["commission_per_gross_add_cny", "fixed_cost_cny"])
            .join(F.broadcast(channels.select("channel_id", "channel_type")), "channel_id", "left")
            .withColumn(
                "commission_cny", F.col("n_gross_adds") * F.col("commission_per_gross_add_cny")
            )
            .withColumn("acquisition_cost_cny", F.col("commission_cny") + F.col("fixed_cost_cny"))
            .withColumn("cac_cny", safe_ratio(F.col("acquisition_cost_cny"), F.col("n_gross_adds")))
        )
        return out.transform(conform_to("dws_channel_month"))

    return _channel_month


def to_product_month(holdings: DataFrame, orders: DataFrame, products: DataFrame) -> Transform:
    """Product summary: live holders, new holders, cancellations and penetration."""

    def _product_month(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month, ["subscriber_id", "month", "is_active"], "dws_subscriber_month"
        )
        require_columns(holdings, ["subscriber_id", "product_id", "is_new", "month"], "holdings")
        require_columns(orders, ["product_id", "is_subscribe", "month"], "dwd_fct_product_order")
        require_columns(products, ["product_id", "category", "monthly_fee_cny"], "dwd_dim_product")
        live = subscriber_month.where("is_active").select("subscriber_id", "month")
        base = live.groupBy("month").agg(F.count("*").alias("n_active_base"))
        held = (
            holdings.join(live, ["subscriber_id", "month"])
            .groupBy("product_id", "month")
            .agg(
                F.count("*").alias("n_holders"),
                F.sum(F.col("is_new").cast("bigint")).alias("n_new"),
            )
        )
        cancelled = (
            orders.where(~F.col("is_subscribe"))
            .groupBy("product_id", "month")
            .agg(F.count("*").alias("n_unsubscribed"))
        )
        grid = products.select("product_id", "category", "monthly_fee_cny").crossJoin(base)
        out = (
            grid.join(held, ["product_id", "month"], "left")
            .join(cancelled, ["product_id", "month"], "left")
            .fillna(0, subset=["n_holders", "n_new", "n_unsubscribed"])
            .withColumn("penetration", safe_ratio(F.col("n_holders"), F.col("n_active_base")))
            .withColumn(
                "fee_revenue_cny", F.col("n_holders") * F.coalesce("monthly_fee_cny", F.lit(0.0))
            )
        )
        return out.transform(conform_to("dws_product_month"))

    return _product_month


def to_region_month(cell_quality: DataFrame) -> Transform:
    """Region summary from the subscriber-month table and the cells' daily quality."""

    def _region_month(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "region_id",
                "month",
                "is_active",
                "is_gross_add",
                "is_churned_this_month",
                "revenue_cny",
                "mou_min",
                "data_mb",
                "n_complaints",
            ],
            "dws_subscriber_month",
        )
        require_columns(
            cell_quality, ["region_id", "month", "drop_rate", "throughput_mbps"], "cell quality"
        )
        subs = subscriber_month.transform(
            summarise_status(
                "region_id",
                exact_sum("mou_min").alias("mou_min"),
                exact_sum("data_mb").alias("data_mb"),
                F.sum("n_complaints").alias("n_complaints"),
            )
        )
        quality = (
            cell_quality.where(F.col("region_id").isNotNull())
            .groupBy("region_id", "month")
            .agg(
                exact_avg("drop_rate").alias("mean_drop_rate"),
                exact_avg("throughput_mbps").alias("mean_throughput_mbps"),
            )
        )
        return subs.join(quality, ["region_id", "month"], "left").transform(
            conform_to("dws_region_month")
        )

    return _region_month


def _build_channel_month(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(
        to_channel_month(read("dwd_fct_channel_cost", ctx.months), read("dwd_dim_channel", None))
    )


def _build_product_month(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(
        to_product_month(
            read("dwd_fct_product_holding", ctx.months),
            read("dwd_fct_product_order", ctx.months),
            read("dwd_dim_product", None),
        )
    )


def _build_region_month(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dws_subscriber_month", ctx.months).transform(
        to_region_month(read("dwd_fct_cell_quality_daily", ctx.months))
    )


def subscriber_month_model(horizon_months: int = 3) -> Model:
    """The wide table's model; ``lookahead_months`` is the churn horizon (see module docstring)."""
    return Model(
        table="dws_subscriber_month",
        inputs=(
            "dwd_dim_subscriber",
            "dwd_fct_usage_daily",
            "dwd_fct_bill",
            "dwd_fct_recharge",
            "dwd_fct_complaint",
            "dwd_fct_product_holding",
            "dwd_fct_cell_quality_daily",
        ),
        build=_build_subscriber_month,
        lookback_months=LOOKBACK_MONTHS,
        lookahead_months=horizon_months,
    )


def dws_models(horizon_months: int = 3) -> list[Model]:
    """The DWS models in build order."""
    return [
        subscriber_month_model(horizon_months),
        Model(
            "dws_channel_month",
            ("dws_subscriber_month", "dwd_fct_channel_cost", "dwd_dim_channel"),
            _build_channel_month,
        ),
        Model(
            "dws_product_month",
            (
                "dws_subscriber_month",
                "dwd_fct_product_holding",
                "dwd_fct_product_order",
                "dwd_dim_product",
            ),
            _build_product_month,
        ),
        Model(
            "dws_region_month",
            ("dws_subscriber_month", "dwd_fct_cell_quality_daily"),
            _build_region_month,
        ),
    ]
