"""DWD transforms: cleaned facts and conformed dimensions from the ODS tables.

Each public function is a ``DataFrame -> DataFrame`` transform (parameterised ones take their
parameters first and return the transform). The ``Model`` declarations at the bottom wire them to
catalog tables; :mod:`workbench.warehouse.models` lists them in build order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog.dwd import SUBSCRIBER_TRACKED
from workbench.errors import require_columns
from workbench.warehouse.columns import (
    Transform,
    conform_to,
    exact_sum,
    latest_snapshot,
    month_index_col,
    month_of,
    month_start_col,
    months_frame,
)
from workbench.warehouse.model import BuildContext, InputReader, Model

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# ---------------------------------------------------------------- dimensions


def to_dim_product(products: DataFrame) -> DataFrame:
    """Latest product attributes, with the launch month."""
    require_columns(products, ["product_id", "launch_date", "month"], "ods_crm__products")
    return (
        products.transform(latest_snapshot("product_id"))
        .withColumn("launch_month", month_of(F.col("launch_date")))
        .transform(conform_to("dwd_dim_product"))
    )


def to_dim_channel(channel_costs: DataFrame) -> Transform:
    """Latest channel attributes joined with the latest cost terms."""

    def _dim(channels: DataFrame) -> DataFrame:
        require_columns(channels, ["channel_id", "month"], "ods_crm__channels")
        require_columns(
            channel_costs,
            ["channel_id", "commission_per_gross_add_cny", "fixed_cost_cny", "clawback_days"],
            "ods_finance__channel_costs",
        )
        costs = channel_costs.transform(latest_snapshot("channel_id")).drop("month")
        return (
            channels.transform(latest_snapshot("channel_id"))
            .drop("month")
            .join(costs, "channel_id", "left")
            .transform(conform_to("dwd_dim_channel"))
        )

    return _dim


def build_calendar(spark: SparkSession, months: list[str]) -> DataFrame:
    """Every day of ``months`` with calendar attributes."""
    frame = months_frame(spark, sorted(set(months)))
    days = frame.select(
        F.explode(F.sequence(month_start_col("month"), F.last_day(month_start_col("month")))).alias(
            "calendar_date"
        )
    )
    return days.select(
        "calendar_date",
        month_of(F.col("calendar_date")).alias("calendar_month"),
        F.year("calendar_date").alias("year"),
        F.quarter("calendar_date").alias("quarter"),
        F.dayofmonth("calendar_date").alias("day_of_month"),
        # dayofweek is 1 = Sunday; shift to ISO (1 = Monday)
        (((F.dayofweek("calendar_date") + 5) % 7) + 1).alias("day_of_week"),
        F.dayofweek("calendar_date").isin(1, 7).alias("is_weekend"),
        (F.col("calendar_date") == F.last_day("calendar_date")).alias("is_month_end"),
        F.dayofmonth(F.last_day("calendar_date")).alias("days_in_month"),
    ).transform(conform_to("dwd_dim_calendar"))


def to_subscriber_history(snapshots: DataFrame) -> DataFrame:
    """SCD type 2 history from monthly CRM snapshots.

    A new version starts when any tracked attribute differs from the previous snapshot month or
    when the subscriber was missing from the month before (a gap), so versions never span months
    the line was absent.
    """
    require_columns(
        snapshots, ["subscriber_id", *SUBSCRIBER_TRACKED, "month"], "ods_crm__subscribers"
    )
    by_line = Window.partitionBy("subscriber_id").orderBy("month")
    # to_json keeps field names, so the fingerprint tells "a=x, b=null" from "a=null, b=x"
    fingerprint = F.to_json(F.struct(*(F.col(c) for c in SUBSCRIBER_TRACKED)))
    flagged = (
        snapshots.withColumn("_fp", fingerprint)
        .withColumn("_mi", month_index_col("month"))
        .withColumn(
            "_is_new",
            F.coalesce(
                (F.lag("_fp").over(by_line) != F.col("_fp"))
                | (F.col("_mi") - F.lag("_mi").over(by_line) != 1),
                F.lit(True),
            ),
        )
        .withColumn(
            "_version",
            F.sum(F.col("_is_new").cast("int")).over(
                by_line.rowsBetween(Window.unboundedPreceding, Window.currentRow)
            ),
        )
    )
    versions = flagged.groupBy("subscriber_id", "_version").agg(
        F.min("month").alias("valid_from_month"),
        F.max("month").alias("valid_to_month"),
        F.min_by(F.struct(*SUBSCRIBER_TRACKED), F.col("month")).alias("_attrs"),
    )
    latest = Window.partitionBy("subscriber_id")
    return (
        versions.withColumn(
            "is_current", F.col("valid_to_month") == F.max("valid_to_month").over(latest)
        )
        .select("subscriber_id", "valid_from_month", "valid_to_month", "is_current", "_attrs.*")
        .transform(conform_to("dwd_dim_subscriber"))
    )


# ---------------------------------------------------------------- facts


def summarise_usage_daily(usage: DataFrame) -> DataFrame:
    """One pass over the usage records: a single aggregation per subscriber, day and month."""
    require_columns(
        usage,
        [
            "subscriber_id",
            "event_type",
            "started_at",
            "duration_sec",
            "data_volume_mb",
            "counterpart_operator",
            "is_roaming",
            "month",
        ],
        "ods_cdr__usage",
    )
    voice = F.col("event_type") == "voice"
    sms = F.col("event_type") == "sms"
    data = F.col("event_type") == "data"
    roaming = F.coalesce(F.col("is_roaming"), F.lit(False))
    operator = F.coalesce(F.col("counterpart_operator"), F.lit(""))
    seconds = F.coalesce(F.col("duration_sec"), F.lit(0))
    volume = F.coalesce(F.col("data_volume_mb"), F.lit(0.0))

    def count_where(cond: Column) -> Column:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("bigint")

    def minutes_where(cond: Column) -> Column:
        # whole seconds sum exactly; dividing once keeps rebuilds bit-identical
        return F.sum(F.when(cond, seconds).otherwise(0)) / 60.0

    def sum_where(cond: Column, value: Column) -> Column:
        return exact_sum(F.when(cond, value).otherwise(0.0))

    return (
        usage.groupBy("subscriber_id", F.to_date("started_at").alias("usage_date"), "month")
        .agg(
            count_where(voice).alias("n_calls"),
            minutes_where(voice).alias("voice_min"),
            minutes_where(voice & (operator == "own")).alias("onnet_min"),
            minutes_where(voice & (operator != "own")).alias("offnet_min"),
            minutes_where(voice & (operator == "competitor_a")).alias("competitor_a_min"),
            minutes_where(voice & (operator == "competitor_b")).alias("competitor_b_min"),
            count_where(sms).alias("n_sms"),
            count_where(data).alias("n_data_sessions"),
            sum_where(data, volume).alias("data_mb"),
            count_where(roaming).alias("n_roaming_events"),
            minutes_where(voice & roaming).alias("roaming_min"),
            sum_where(data & roaming, volume).alias("roaming_data_mb"),
        )
        .transform(conform_to("dwd_fct_usage_daily"))
    )


def clean_bills(bills: DataFrame) -> DataFrame:
    """Bills with arrears (amount due not paid, never negative) and a paid flag."""
    require_columns(bills, ["bill_id", "total_cny", "paid_cny", "paid_at"], "ods_billing__bills")
    arrears = F.coalesce(F.col("total_cny"), F.lit(0.0)) - F.coalesce(F.col("paid_cny"), F.lit(0.0))
    return (
        bills.withColumn("arrears_cny", F.greatest(arrears, F.lit(0.0)))
        .withColumn("is_paid", F.col("paid_at").isNotNull() & (arrears <= 0.005))
        .transform(conform_to("dwd_fct_bill"))
    )


def clean_recharges(recharges: DataFrame) -> DataFrame:
    """Recharges with their date."""
    require_columns(recharges, ["recharge_id", "recharged_at"], "ods_billing__recharges")
    return recharges.withColumn("recharge_date", F.to_date("recharged_at")).transform(
        conform_to("dwd_fct_recharge")
    )


def clean_product_orders(orders: DataFrame) -> DataFrame:
    """Product orders with a subscribe flag and their date."""
    require_columns(orders, ["order_id", "action", "ordered_at"], "ods_crm__product_orders")
    return (
        orders.withColumn("is_subscribe", F.col("action") == "subscribe")
        .withColumn("order_date", F.to_date("ordered_at"))
        .transform(conform_to("dwd_fct_product_order"))
    )


def replay_holdings(months: DataFrame) -> Transform:
    """Products held at the end of each month of ``months``: the latest order for a subscriber
    and product up to that month is a subscription. ``orders`` must hold every earlier month."""

    def _replay(orders: DataFrame) -> DataFrame:
        require_columns(
            orders,
            ["order_id", "subscriber_id", "product_id", "is_subscribe", "ordered_at", "month"],
            "dwd_fct_product_order",
        )
        upto = orders.alias("o").join(
            F.broadcast(months.select(F.col("month").alias("as_of"))),
            F.col("o.month") <= F.col("as_of"),
        )
        last = upto.groupBy("subscriber_id", "product_id", "as_of").agg(
            F.max_by(
                F.struct("is_subscribe", "ordered_at", F.col("o.month").alias("order_month")),
                # order_id breaks ties between orders of the same second, reproducibly
                F.struct("ordered_at", "order_id"),
            ).alias("_last")
        )
        return (
            last.where("_last.is_subscribe")
            .select(
                "subscriber_id",
                "product_id",
                F.col("_last.ordered_at").alias("subscribed_at"),
                (F.col("_last.order_month") == F.col("as_of")).alias("is_new"),
                F.col("as_of").alias("month"),
            )
            .transform(conform_to("dwd_fct_product_holding"))
        )

    return _replay


def clean_complaints(complaints: DataFrame) -> DataFrame:
    """Complaints with resolution time and whether they were still open at month end."""
    require_columns(
        complaints, ["complaint_id", "opened_at", "resolved_at", "month"], "ods_service__complaints"
    )
    next_month = F.add_months(month_start_col("month"), 1).cast("timestamp")
    hours = (F.unix_timestamp("resolved_at") - F.unix_timestamp("opened_at")) / 3600.0
    return (
        complaints.withColumn("is_resolved", F.col("resolved_at").isNotNull())
        .withColumn(
            "is_open_at_month_end",
            F.col("resolved_at").isNull() | (F.col("resolved_at") >= next_month),
        )
        # a resolution stamped before the opening is a source error: keep the row, not the time
        .withColumn("resolution_hours", F.when(hours >= 0, hours))
        .transform(conform_to("dwd_fct_complaint"))
    )


def clean_campaign_contacts(contacts: DataFrame) -> DataFrame:
    """Campaign contacts with a treatment flag and their date."""
    require_columns(
        contacts, ["contact_id", "assignment", "contacted_at"], "ods_marketing__campaign_contacts"
    )
    return (
        contacts.withColumn("is_treated", F.col("assignment") == "treatment")
        .withColumn("contact_date", F.to_date("contacted_at"))
        .transform(conform_to("dwd_fct_campaign_contact"))
    )


def clean_campaign_responses(responses: DataFrame) -> DataFrame:
    """Campaign responses with an accepted flag."""
    require_columns(responses, ["response_id", "response"], "ods_marketing__campaign_responses")
    return responses.withColumn("is_accepted", F.col("response") == "accepted").transform(
        conform_to("dwd_fct_campaign_response")
    )


def with_exported_campaigns(exported: DataFrame) -> Transform:
    """The operator's campaigns plus the campaigns of target-list exports
    (``ads_target_campaigns``), so exported campaigns get names, type and costs like any other.
    An operator campaign keeps its row if an export ever used the same id."""

    def _union(campaigns: DataFrame) -> DataFrame:
        require_columns(exported, ["campaign_id"], "ads_target_campaigns")
        ours = exported.join(campaigns.select("campaign_id"), "campaign_id", "left_anti")
        return campaigns.transform(conform_to("dwd_dim_campaign")).unionByName(
            ours.transform(conform_to("dwd_dim_campaign"))
        )

    return _union


# ---------------------------------------------------------------- models


def _read_months(ctx: BuildContext) -> list[str] | None:
    return ctx.months or None


def _simple(table: str, source: str, transform: Transform) -> Model:
    def build(read: InputReader, ctx: BuildContext) -> DataFrame:
        return read(source, _read_months(ctx)).transform(transform)

    return Model(table=table, inputs=(source,), build=build)


def _dim_latest(table: str, source: str, key: str) -> Model:
    def build(read: InputReader, ctx: BuildContext) -> DataFrame:
        return read(source, None).transform(latest_snapshot(key)).transform(conform_to(table))

    return Model(table=table, inputs=(source,), build=build)


def _build_dim_product(read: InputReader, ctx: BuildContext) -> DataFrame:
    return to_dim_product(read("ods_crm__products", None))


def _build_dim_channel(read: InputReader, ctx: BuildContext) -> DataFrame:
    costs = read("ods_finance__channel_costs", None)
    return read("ods_crm__channels", None).transform(to_dim_channel(costs))


def _build_dim_campaign(read: InputReader, ctx: BuildContext) -> DataFrame:
    return (
        read("ods_marketing__campaigns", None)
        .transform(latest_snapshot("campaign_id"))
        .transform(with_exported_campaigns(read("ads_target_campaigns", None)))
    )


def _build_dim_calendar(read: InputReader, ctx: BuildContext) -> DataFrame:
    return build_calendar(ctx.spark, ctx.all_months)


def _build_dim_subscriber(read: InputReader, ctx: BuildContext) -> DataFrame:
    return to_subscriber_history(read("ods_crm__subscribers", None))


def _build_product_holding(read: InputReader, ctx: BuildContext) -> DataFrame:
    # every order up to the last month built: a holding is the replay of all earlier orders
    orders = read("dwd_fct_product_order", None).where(F.col("month") <= max(ctx.months))
    return orders.transform(replay_holdings(months_frame(ctx.spark, ctx.months)))


DWD_MODELS: list[Model] = [
    _dim_latest("dwd_dim_region", "ods_crm__regions", "region_id"),
    _dim_latest("dwd_dim_plan", "ods_crm__plans", "plan_id"),
    Model("dwd_dim_product", ("ods_crm__products",), _build_dim_product),
    Model(
        "dwd_dim_channel", ("ods_crm__channels", "ods_finance__channel_costs"), _build_dim_channel
    ),
    Model(
        "dwd_dim_campaign",
        ("ods_marketing__campaigns", "ads_target_campaigns"),
        _build_dim_campaign,
    ),
    Model("dwd_dim_calendar", (), _build_dim_calendar),
    Model("dwd_dim_subscriber", ("ods_crm__subscribers",), _build_dim_subscriber),
    _simple("dwd_fct_usage_daily", "ods_cdr__usage", summarise_usage_daily),
    _simple("dwd_fct_bill", "ods_billing__bills", clean_bills),
    _simple("dwd_fct_recharge", "ods_billing__recharges", clean_recharges),
    _simple("dwd_fct_product_order", "ods_crm__product_orders", clean_product_orders),
    Model("dwd_fct_product_holding", ("dwd_fct_product_order",), _build_product_holding),
    _simple("dwd_fct_complaint", "ods_service__complaints", clean_complaints),
    _simple(
        "dwd_fct_campaign_contact", "ods_marketing__campaign_contacts", clean_campaign_contacts
    ),
    _simple(
        "dwd_fct_campaign_response", "ods_marketing__campaign_responses", clean_campaign_responses
    ),
    _simple(
        "dwd_fct_cell_quality_daily",
        "ods_network__cell_quality",
        conform_to("dwd_fct_cell_quality_daily"),
    ),
    _simple(
        "dwd_fct_channel_cost", "ods_finance__channel_costs", conform_to("dwd_fct_channel_cost")
    ),
]
