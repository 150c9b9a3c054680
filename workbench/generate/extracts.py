"""Row generators: each raw extract derived, inside Spark, from the lifecycle frame.

Every function takes the persisted lifecycle DataFrame (see :mod:`.lifecycle`) or small
reference data and returns a DataFrame with exactly the catalog's columns for that extract.
Per-row draws are xxhash64 expressions keyed by the row's identity, so output does not depend
on partitioning. High-volume rows (usage) come from ``explode(sequence(...))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from workbench.catalog import get_table
from workbench.generate import reference as ref
from workbench.generate.hashing import spark_hash, spark_uniform, spark_uniform_from
from workbench.generate.lifecycle import RESPONSES, STATUSES
from workbench.generate.params import Params, Timeline
from workbench.months import month_end, month_start

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SECONDS_PER_DAY = 86_400


def _f():
    from pyspark.sql import functions as F

    return F


def lookup(values: Sequence[object], index: Column) -> Column:
    """``values[index]`` as a Spark expression (index is 0-based)."""
    F = _f()
    return F.element_at(F.array(*[F.lit(v) for v in values]), index.cast("int") + 1)


def date_text(epoch_day: Column) -> Column:
    """``yyyy-MM-dd`` for a day number since 1970-01-01 (no time zone involved)."""
    F = _f()
    return F.date_format(
        F.date_add(F.lit("1970-01-01").cast("date"), epoch_day.cast("int")), "yyyy-MM-dd"
    )


def timestamp_text(epoch_second: Column) -> Column:
    """``yyyy-MM-dd HH:mm:ss`` for seconds since 1970-01-01 00:00 local time."""
    F = _f()
    day = F.floor(epoch_second / SECONDS_PER_DAY)
    rest = (epoch_second - day * SECONDS_PER_DAY).cast("int")

    def two(c: Column) -> Column:
        return F.lpad(c.cast("string"), 2, "0")

    return F.concat(
        date_text(day),
        F.lit(" "),
        two(F.floor(rest / 3600)),
        F.lit(":"),
        two(F.floor((rest % 3600) / 60)),
        F.lit(":"),
        two(rest % 60),
    )


def _yyyymm() -> Column:
    F = _f()
    return F.regexp_replace(F.col("month"), "-", "")


def _conform(df: DataFrame, table: str) -> DataFrame:
    """Exactly the catalog's columns, in order, with the catalog's types."""
    from workbench.catalog.schema import spark_type

    F = _f()
    return df.select(
        *[F.col(c.name).cast(spark_type(c.type)).alias(c.name) for c in get_table(table).columns]
    )


def _day_in_live_window(draw: Column, last_day_cap: Column | None = None) -> Column:
    """Epoch day within the days the line is live this month."""
    F = _f()
    last = F.col("live_to") if last_day_cap is None else F.least(F.col("live_to"), last_day_cap)
    last = F.greatest(last, F.col("live_from"))
    span = last - F.col("live_from") + 1
    return F.col("month_start_day") + F.col("live_from") - 1 + F.floor(draw * span)


def _channel_id(index: Column) -> Column:
    return lookup(ref.CHANNEL_IDS, index)


# --- reference extracts ---------------------------------------------------------------------


def make_reference_extracts(
    spark: SparkSession, timeline: Timeline, params: Params, seed: int, subscribers: int
) -> dict[str, DataFrame]:
    """Regions, plans, products, channels, channel costs and campaigns: one snapshot a month."""
    scale = subscribers / 50_000
    launch = month_start(timeline.months[timeline.new_product_launch]).isoformat()
    rows: dict[str, list[tuple]] = {
        name: []
        for name in ("regions", "plans", "products", "channels", "channel_costs", "campaigns")
    }
    contact = timeline.campaign_contact
    for m_idx, month in enumerate(timeline.months):
        for rid, en, zh, tier, _w in ref.REGIONS:
            rows["regions"].append((rid, en, zh, ref.PROVINCE_EN, ref.PROVINCE_ZH, tier, month))
        for pl in ref.PLANS:
            rows["plans"].append(
                (
                    pl.plan_id,
                    pl.name_en,
                    pl.name_zh,
                    pl.plan_type,
                    pl.brand_en,
                    pl.brand_zh,
                    pl.monthly_fee_cny,
                    float(pl.included_data_mb),
                    float(pl.included_voice_min),
                    month,
                )
            )
        for pr in ref.PRODUCTS:
            is_new = pr.product_id == ref.NEW_PRODUCT
            if is_new and m_idx < timeline.new_product_launch:
                continue
            launch_date = launch if is_new else "2019-06-01"
            rows["products"].append(
                (
                    pr.product_id,
                    pr.name_en,
                    pr.name_zh,
                    pr.category,
                    pr.monthly_fee_cny,
                    launch_date,
                    month,
                )
            )
        for ch in ref.CHANNELS:
            rows["channels"].append(
                (ch.channel_id, ch.name_en, ch.name_zh, ch.channel_type, ch.region_id, month)
            )
            rows["channel_costs"].append(
                (
                    ch.channel_id,
                    ch.commission_per_gross_add_cny,
                    round(ch.fixed_cost_cny * scale, 2),
                    ch.clawback_days,
                    month,
                )
            )
        if contact is not None and m_idx >= contact:
            c_month = timeline.months[contact]
            rows["campaigns"].append(
                (
                    campaign_id(timeline),
                    f"Retention care offer {c_month}",
                    f"{c_month[:4]}年{int(c_month[5:])}月存量客户挽留关怀活动",
                    "retention",
                    None,
                    month_start(c_month).replace(day=20).isoformat(),
                    month_end(c_month).isoformat(),
                    2.0,
                    30.0,
                    params.control_share,
                    month,
                )
            )
    return {
        name: spark.createDataFrame(data, get_table(name).spark_schema).coalesce(1)
        for name, data in rows.items()
    }


def campaign_id(timeline: Timeline) -> str | None:
    if timeline.campaign_contact is None:
        return None
    return "CMP_RET_" + timeline.months[timeline.campaign_contact].replace("-", "")


def make_cell_quality(
    spark: SparkSession, timeline: Timeline, seed: int, cells: ref.Cells
) -> DataFrame:
    """Daily drop rate and throughput per cell; poor cells drop several times more calls."""
    F = _f()
    region_ids = [r[0] for r in ref.REGIONS]
    cell_rows = [
        (
            cid,
            region_ids[int(cells.region_index[i])],
            float(cells.base_drop_rate[i]),
            float(cells.base_throughput_mbps[i]),
        )
        for i, cid in enumerate(cells.cell_ids)
    ]
    base = spark.createDataFrame(
        cell_rows, "cell_id string, region_id string, base_drop double, base_tput double"
    )
    from workbench.generate.lifecycle import EPOCH

    month_rows = [
        (m, month_start(m).toordinal() - EPOCH, month_end(m).day) for m in timeline.months
    ]
    months = spark.createDataFrame(month_rows, "month string, start_day int, n_days int")
    days = base.crossJoin(months).select(
        "*", F.explode(F.sequence(F.lit(0), F.col("n_days") - 1)).alias("d")
    )
    epoch_day = F.col("start_day") + F.col("d")
    drop_u = spark_uniform(seed, "cell_quality:drop", F.col("cell_id"), epoch_day)
    tput_u = spark_uniform(seed, "cell_quality:tput", F.col("cell_id"), epoch_day)
    out = days.select(
        "cell_id",
        "region_id",
        date_text(epoch_day).alias("measured_date"),
        F.round(F.col("base_drop") * (0.7 + 0.6 * drop_u), 5).alias("drop_rate"),
        F.round(F.col("base_tput") * (0.8 + 0.4 * tput_u), 2).alias("throughput_mbps"),
        "month",
    )
    return _conform(out, "cell_quality")


# --- subscriber-driven extracts -------------------------------------------------------------


def make_subscribers(life: DataFrame) -> DataFrame:
    """The month-end CRM snapshot of every line live in the month."""
    F = _f()
    plans = ref.PLANS
    region_ids = [r[0] for r in ref.REGIONS]
    out = life.select(
        "subscriber_id",
        F.concat(
            F.col("msisdn_prefix").cast("string"),
            F.lpad(F.col("msisdn_suffix").cast("string"), 8, "0"),
        ).alias("msisdn"),
        "customer_id",
        F.when(F.col("is_enterprise"), "enterprise").otherwise("individual").alias("customer_type"),
        lookup(region_ids, F.col("region_idx")).alias("region_id"),
        lookup([p.plan_id for p in plans], F.col("plan_idx")).alias("plan_id"),
        lookup(ref.PLAN_TYPES, F.col("plan_type_idx")).alias("plan_type"),
        lookup([p.brand_en for p in plans], F.col("plan_idx")).alias("brand"),
        lookup(ref.SEGMENTS, F.col("segment_idx")).alias("segment"),
        date_text(F.col("activation_day")).alias("activation_date"),
        F.when(F.col("deactivation_day") >= 0, date_text(F.col("deactivation_day"))).alias(
            "deactivation_date"
        ),
        _channel_id(F.col("channel_idx")).alias("channel_id"),
        F.when(F.col("contract_end_day") >= 0, date_text(F.col("contract_end_day"))).alias(
            "contract_end_date"
        ),
        lookup(ref.DEVICE_GENERATIONS, F.col("device_idx")).alias("device_generation"),
        "birth_year",
        lookup(ref.GENDERS, F.col("gender_idx")).alias("gender"),
        "is_do_not_contact",
        lookup(STATUSES, F.col("status_idx")).alias("status"),
        F.col("home_cell_idx").alias("_home"),
        "month",
    )
    return out.transform(_with_cell_id("_home", "home_cell_id")).transform(
        lambda df: _conform(df, "subscribers")
    )


def _with_cell_id(index_col: str, name: str) -> Callable[[DataFrame], DataFrame]:
    def apply(df: DataFrame) -> DataFrame:
        F = _f()
        return df.withColumn(name, lookup(_cell_ids(), F.col(index_col)))

    return apply


def _cell_ids() -> tuple[str, ...]:
    # Cell ids do not depend on the seed (only their quality does).
    return ref.build_cells(0, 0.0).cell_ids


def make_usage(life: DataFrame, seed: int) -> DataFrame:
    """Voice calls, SMS and data sessions: ``n_events`` rows per line and month."""
    F = _f()
    events = life.filter(F.col("n_events") > 0).select(
        "subscriber_id",
        "month",
        "month_start_day",
        "live_from",
        "live_to",
        "usage_level",
        "competitor_share",
        "is_traveller",
        "home_cell_idx",
        "region_cell_offset",
        "region_cell_count",
        F.explode(F.sequence(F.lit(0), F.col("n_events") - 1)).alias("seq"),
    )

    events = events.withColumn(
        "_h", spark_hash(seed, "usage", F.col("subscriber_id"), F.col("month"), F.col("seq"))
    )

    def r(stream: str) -> Column:
        return spark_uniform_from(F.col("_h"), stream)

    u_type = r("type")
    kind = F.when(u_type < 0.45, "voice").when(u_type < 0.65, "sms").otherwise("data")
    day = _day_in_live_window(r("day"))
    second = day * SECONDS_PER_DAY + 7 * 3600 + F.floor(r("time") * 17 * 3600)
    u_dur = r("duration")
    duration = (
        F.when(kind == "voice", 5 + F.floor(-F.log(1 - u_dur) * 150))
        .when(kind == "data", 30 + F.floor(u_dur * 3600))
        .otherwise(0)
    )
    volume = F.when(kind == "data", F.round(-F.log(1 - r("volume")) * 40.0, 3)).otherwise(0.0)
    u_op = r("operator")
    share = F.col("competitor_share")
    operator = (
        F.when(kind == "data", F.lit(None).cast("string"))
        .when(u_op < share * 0.6, "competitor_a")
        .when(u_op < share, "competitor_b")
        .otherwise("own")
    )
    roaming = r("roaming") < F.when(F.col("is_traveller"), 0.12).otherwise(0.005)
    cell_idx = F.when(r("cell") < 0.7, F.col("home_cell_idx")).otherwise(
        F.col("region_cell_offset") + F.floor(r("other_cell") * F.col("region_cell_count"))
    )
    out = events.select(
        F.concat(
            F.lit("U"),
            _yyyymm(),
            F.lit("-"),
            F.col("subscriber_id").cast("string"),
            F.lit("-"),
            F.col("seq").cast("string"),
        ).alias("record_id"),
        "subscriber_id",
        kind.alias("event_type"),
        timestamp_text(second).alias("started_at"),
        duration.cast("bigint").alias("duration_sec"),
        volume.alias("data_volume_mb"),
        operator.alias("counterpart_operator"),
        roaming.alias("is_roaming"),
        cell_idx.alias("_cell"),
        "month",
    )
    return out.transform(_with_cell_id("_cell", "cell_id")).transform(
        lambda df: _conform(df, "usage")
    )


def make_bills(life: DataFrame, seed: int) -> DataFrame:
    """One bill per postpaid line and month; a bill shock shows as a large data charge."""
    F = _f()
    lines = life.filter(F.col("plan_type_idx") > 0)

    def r(stream: str) -> Column:
        return spark_uniform(seed, "bills:" + stream, F.col("subscriber_id"), F.col("month"))

    share = (F.col("live_to") - F.col("live_from") + 1) / F.col("days_in_month")
    plan_fee = F.round(lookup([p.monthly_fee_cny for p in ref.PLANS], F.col("plan_idx")) * share, 2)
    voice = F.round(F.col("n_events") * 0.12 * r("voice"), 2)
    sms = F.round(F.col("n_events") * 0.02 * r("sms"), 2)
    data = F.round(
        F.when(F.col("is_bill_shock"), 150 + 350 * r("shock")).otherwise(
            8.0 * F.col("usage_level") * r("data")
        ),
        2,
    )
    vas = F.round(F.col("vas_cny"), 2)
    total = F.round(plan_fee + voice + sms + data + vas, 2)
    issued_day = F.col("month_start_day") + F.col("live_from") - 1
    is_paid = r("paid") < 0.94
    last_day = F.col("month_start_day") + F.col("days_in_month") - 1
    paid_day = F.least(issued_day + 1 + F.floor(r("paid_day") * 10), last_day)
    out = lines.select(
        F.concat(F.lit("B"), _yyyymm(), F.lit("-"), F.col("subscriber_id").cast("string")).alias(
            "bill_id"
        ),
        "subscriber_id",
        plan_fee.alias("plan_fee_cny"),
        voice.alias("voice_cny"),
        sms.alias("sms_cny"),
        data.alias("data_cny"),
        vas.alias("vas_cny"),
        total.alias("total_cny"),
        F.when(is_paid, total).otherwise(0.0).alias("paid_cny"),
        timestamp_text(issued_day * SECONDS_PER_DAY + 6 * 3600).alias("issued_at"),
        F.when(
            is_paid,
            timestamp_text(
                paid_day * SECONDS_PER_DAY + 8 * 3600 + F.floor(r("paid_time") * 14 * 3600)
            ),
        ).alias("paid_at"),
        "month",
    )
    return _conform(out, "bills")


def make_recharges(life: DataFrame, seed: int) -> DataFrame:
    """Prepaid top-ups, more and larger for heavier users."""
    F = _f()
    rows = life.filter(F.col("n_recharges") > 0).select(
        "*", F.explode(F.sequence(F.lit(0), F.col("n_recharges") - 1)).alias("seq")
    )

    def r(stream: str) -> Column:
        return spark_uniform(
            seed, "recharges:" + stream, F.col("subscriber_id"), F.col("month"), F.col("seq")
        )

    day = _day_in_live_window(r("day"))
    amount_idx = F.least(
        F.lit(len(ref.RECHARGE_AMOUNTS) - 1), F.floor(r("amount") * 3 + F.col("usage_level") * 1.2)
    )
    u_pay = r("payment")
    method = (
        F.when(u_pay < 0.45, "wechat_pay")
        .when(u_pay < 0.8, "alipay")
        .when(u_pay < 0.92, "bank_card")
        .otherwise("voucher")
    )
    channel = F.when(r("channel") < 0.6, F.lit(ref.ONLINE_CHANNEL_ID)).otherwise(
        _channel_id(F.col("channel_idx"))
    )
    out = rows.select(
        F.concat(
            F.lit("R"),
            _yyyymm(),
            F.lit("-"),
            F.col("subscriber_id").cast("string"),
            F.lit("-"),
            F.col("seq").cast("string"),
        ).alias("recharge_id"),
        "subscriber_id",
        timestamp_text(day * SECONDS_PER_DAY + 8 * 3600 + F.floor(r("time") * 15 * 3600)).alias(
            "recharged_at"
        ),
        lookup(ref.RECHARGE_AMOUNTS, amount_idx).alias("amount_cny"),
        method.alias("payment_method"),
        channel.alias("channel_id"),
        "month",
    )
    return _conform(out, "recharges")


def make_product_orders(life: DataFrame, seed: int) -> DataFrame:
    """Subscribe and unsubscribe orders: every change of a line's product holdings."""
    F = _f()
    changed = life.filter((F.col("subscribe_mask") + F.col("unsubscribe_mask")) > 0).select(
        "*", F.explode(F.sequence(F.lit(0), F.lit(len(ref.PRODUCTS) - 1))).alias("product_idx")
    )

    def bit(mask: str) -> Column:
        return F.expr(f"shiftright({mask}, product_idx) & 1 = 1")

    rows = changed.filter(bit("subscribe_mask") | bit("unsubscribe_mask"))

    def r(stream: str) -> Column:
        return spark_uniform(
            seed, "orders:" + stream, F.col("subscriber_id"), F.col("month"), F.col("product_idx")
        )

    # Holdings taken at activation are ordered on the activation day.
    day = F.when(
        F.col("is_gross_add"), F.col("month_start_day") + F.col("live_from") - 1
    ).otherwise(_day_in_live_window(r("day")))
    u_ch = r("channel")
    channel = (
        F.when(u_ch < 0.5, F.lit(ref.ONLINE_CHANNEL_ID))
        .when(u_ch < 0.7, F.lit(ref.TELESALES_CHANNEL_ID))
        .otherwise(_channel_id(F.col("channel_idx")))
    )
    out = rows.select(
        F.concat(
            F.lit("O"),
            _yyyymm(),
            F.lit("-"),
            F.col("subscriber_id").cast("string"),
            F.lit("-"),
            F.col("product_idx").cast("string"),
        ).alias("order_id"),
        "subscriber_id",
        lookup(ref.PRODUCT_IDS, F.col("product_idx")).alias("product_id"),
        F.when(bit("subscribe_mask"), "subscribe").otherwise("unsubscribe").alias("action"),
        timestamp_text(day * SECONDS_PER_DAY + 9 * 3600 + F.floor(r("time") * 12 * 3600)).alias(
            "ordered_at"
        ),
        channel.alias("channel_id"),
        "month",
    )
    return _conform(out, "product_orders")


def make_complaints(life: DataFrame, seed: int) -> DataFrame:
    """Complaint tickets; poor home cells raise coverage complaints, bill shocks disputes."""
    F = _f()
    rows = life.filter(F.col("n_complaints") > 0).select(
        "*", F.explode(F.sequence(F.lit(0), F.col("n_complaints") - 1)).alias("seq")
    )

    def r(stream: str) -> Column:
        return spark_uniform(
            seed, "complaints:" + stream, F.col("subscriber_id"), F.col("month"), F.col("seq")
        )

    coverage_p = F.when(F.col("is_poor_cell"), 0.65).otherwise(0.25)
    billing_p = F.when(F.col("is_bill_shock"), 0.7).otherwise(0.35)
    u_cat = r("category")
    category = (
        F.when(u_cat < coverage_p, "coverage")
        .when(u_cat < coverage_p + (1 - coverage_p) * billing_p, "billing_dispute")
        .when(r("category2") < 0.85, "service_attitude")
        .otherwise("fraud")
    )
    # Opened at least three days before month end so a resolution fits in the month.
    day = _day_in_live_window(r("day"), F.col("days_in_month") - 3)
    opened = day * SECONDS_PER_DAY + 8 * 3600 + F.floor(r("time") * 12 * 3600)
    unresolved = F.col("seq") < F.col("n_unresolved")
    resolved = opened + 3600 + F.floor(r("resolve") * 2 * SECONDS_PER_DAY)
    score = F.when(~unresolved & (r("score_given") < 0.85), 1 + F.floor(r("score") * 5)).cast("int")
    out = rows.select(
        F.concat(
            F.lit("C"),
            _yyyymm(),
            F.lit("-"),
            F.col("subscriber_id").cast("string"),
            F.lit("-"),
            F.col("seq").cast("string"),
        ).alias("complaint_id"),
        "subscriber_id",
        category.alias("category"),
        timestamp_text(opened).alias("opened_at"),
        F.when(~unresolved, timestamp_text(resolved)).alias("resolved_at"),
        score.alias("satisfaction_score"),
        "month",
    )
    return _conform(out, "complaints")


def _contacts(life: DataFrame, timeline: Timeline, seed: int) -> DataFrame:
    F = _f()
    contact = timeline.campaign_contact if timeline.campaign_contact is not None else -1
    rows = life.filter((F.col("month_idx") == contact) & F.col("is_targeted"))

    def r(stream: str) -> Column:
        return spark_uniform(seed, "contacts:" + stream, F.col("subscriber_id"))

    contacted = (
        (F.col("month_start_day") + 19 + F.floor(r("day") * 5)) * SECONDS_PER_DAY
        + 9 * 3600
        + F.floor(r("time") * 11 * 3600)
    )
    u_ch = r("channel")
    return rows.select(
        "*",
        contacted.alias("_contacted"),
        F.when(u_ch < 0.5, "sms")
        .when(u_ch < 0.8, "telesales")
        .otherwise("app_push")
        .alias("contact_channel"),
        F.lit(campaign_id(timeline)).alias("campaign_id"),
    )


def make_campaign_contacts(life: DataFrame, timeline: Timeline, seed: int) -> DataFrame:
    """Targeted at-risk lines of the retention campaign, treatment or hash-drawn control."""
    F = _f()
    out = _contacts(life, timeline, seed).select(
        F.concat(
            F.lit("K"), F.col("campaign_id"), F.lit("-"), F.col("subscriber_id").cast("string")
        ).alias("contact_id"),
        "campaign_id",
        "subscriber_id",
        F.when(F.col("is_control"), "control").otherwise("treatment").alias("assignment"),
        timestamp_text(F.col("_contacted")).alias("contacted_at"),
        "contact_channel",
        "month",
    )
    return _conform(out, "campaign_contacts")


def make_campaign_responses(life: DataFrame, timeline: Timeline, seed: int) -> DataFrame:
    """Answers of treated lines (accepted or declined); silence leaves no row."""
    F = _f()
    rows = _contacts(life, timeline, seed).filter(
        ~F.col("is_control") & (F.col("response_idx") > 0)
    )
    delay = 3600 + F.floor(
        spark_uniform(seed, "responses:delay", F.col("subscriber_id")) * 3 * SECONDS_PER_DAY
    )
    out = rows.select(
        F.concat(
            F.lit("P"), F.col("campaign_id"), F.lit("-"), F.col("subscriber_id").cast("string")
        ).alias("response_id"),
        "campaign_id",
        "subscriber_id",
        timestamp_text(F.col("_contacted") + delay).alias("responded_at"),
        lookup(RESPONSES, F.col("response_idx")).alias("response"),
        "month",
    )
    return _conform(out, "campaign_responses")
