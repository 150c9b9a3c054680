"""ADS transforms: the marts the analyses and dashboards read."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog import get_table
from workbench.catalog.kpis import KPI_SOURCES, MAX_PERSIST_MONTHS, load_alert_policy, load_kpis
from workbench.errors import require_columns
from workbench.months import add_months, month_index
from workbench.warehouse.columns import (
    Transform,
    conform_to,
    date_month_index_col,
    exact_sum,
    month_index_col,
    safe_ratio,
)
from workbench.warehouse.kpi import compute_kpi_alerts, compute_kpi_cube
from workbench.warehouse.model import BuildContext, InputReader, Model

COMPLAINT_LOOKBACK = 2  # n_complaints_3m covers M-2..M


def to_churn_features(subscriber_month: DataFrame) -> DataFrame:
    """Features and label per subscriber live at month end; earlier months (if present) feed
    ``n_complaints_3m`` and are then dropped along with lines not live at month end."""
    require_columns(
        subscriber_month,
        ["subscriber_id", "month", "is_active", "n_complaints", "is_label_complete"],
        "dws_subscriber_month",
    )
    recent = Window.partitionBy("subscriber_id").orderBy("_mi").rangeBetween(-COMPLAINT_LOOKBACK, 0)
    return (
        subscriber_month.withColumn("_mi", month_index_col("month"))
        .withColumn("n_complaints_3m", F.sum("n_complaints").over(recent))
        .where("is_active")
        .transform(conform_to("ads_churn_features"))
    )


def to_product_holdings(subscriber_month: DataFrame) -> Transform:
    """Holdings of lines live at month end, with region, segment and plan type for filters."""

    def _holdings(holdings: DataFrame) -> DataFrame:
        require_columns(
            holdings, ["subscriber_id", "product_id", "month"], "dwd_fct_product_holding"
        )
        require_columns(
            subscriber_month,
            ["subscriber_id", "month", "is_active", "region_id", "segment", "plan_type"],
            "dws_subscriber_month",
        )
        live = subscriber_month.where("is_active").select(
            "subscriber_id", "month", "region_id", "segment", "plan_type"
        )
        return holdings.join(live, ["subscriber_id", "month"]).transform(
            conform_to("ads_product_holdings")
        )

    return _holdings


def to_channel_cohorts(history: DataFrame, channel_costs: DataFrame, first_month: str) -> Transform:
    """Cohorts by channel and activation month observed in each month of the subscriber-month
    table. Cohort size comes from the subscriber history, so lines that left before the observed
    month still count; cohorts activated before ``first_month`` lack lines that left earlier."""

    def _cohorts(subscriber_month: DataFrame) -> DataFrame:
        require_columns(
            subscriber_month,
            [
                "channel_id",
                "activation_month",
                "month",
                "is_active",
                "is_churned_this_month",
                "revenue_cny",
            ],
            "dws_subscriber_month",
        )
        require_columns(
            history, ["subscriber_id", "channel_id", "activation_date", "is_current"], "history"
        )
        require_columns(
            channel_costs,
            ["channel_id", "month", "commission_per_gross_add_cny", "fixed_cost_cny"],
            "dwd_fct_channel_cost",
        )
        sizes = (
            history.where("is_current and channel_id is not null")
            .groupBy(
                "channel_id", F.date_format("activation_date", "yyyy-MM").alias("activation_month")
            )
            .agg(F.count("*").alias("n_gross_adds"))
        )
        observed = (
            subscriber_month.where("channel_id is not null and activation_month is not null")
            .groupBy("channel_id", "activation_month", "month")
            .agg(
                F.sum(F.col("is_active").cast("bigint")).alias("n_survivors"),
                F.sum(F.col("is_churned_this_month").cast("bigint")).alias("n_churned"),
                exact_sum("revenue_cny").alias("revenue_cny"),
            )
        )
        costs = channel_costs.select(
            "channel_id",
            F.col("month").alias("activation_month"),
            "commission_per_gross_add_cny",
            "fixed_cost_cny",
        )
        since = month_index_col("month") - month_index_col("activation_month")
        return (
            observed.join(sizes, ["channel_id", "activation_month"], "left")
            .fillna(0, subset=["n_gross_adds"])
            .join(costs, ["channel_id", "activation_month"], "left")
            .withColumn("months_since_activation", since)
            .withColumn(
                "cost_cny",
                F.when(
                    since == 0,
                    F.col("n_gross_adds") * F.col("commission_per_gross_add_cny")
                    + F.col("fixed_cost_cny"),
                ).otherwise(F.lit(0.0)),
            )
            .withColumn("is_cohort_complete", F.col("activation_month") >= F.lit(first_month))
            .transform(conform_to("ads_channel_cohorts"))
        )

    return _cohorts


def to_campaign_results(
    responses: DataFrame,
    campaigns: DataFrame,
    subscriber_month: DataFrame,
    history: DataFrame,
    *,
    window_months: int,
    last_month: str,
) -> Transform:
    """One row per campaign contact with response, churn and revenue in the window.

    Churned within the window: deactivated after the contact day and no later than k months
    after the contact month. Revenue in the window: revenue of months M+1..M+k.
    ``subscriber_month`` must hold the contact months and the window months that exist.
    """

    def _results(contacts: DataFrame) -> DataFrame:
        require_columns(
            contacts,
            ["contact_id", "campaign_id", "subscriber_id", "assignment", "contact_date", "month"],
            "dwd_fct_campaign_contact",
        )
        require_columns(
            responses, ["campaign_id", "subscriber_id", "responded_at", "is_accepted"], "responses"
        )
        require_columns(
            subscriber_month, ["subscriber_id", "month", "revenue_cny"], "dws_subscriber_month"
        )
        # a response answers the contact it follows (a subscriber may be contacted again later)
        answered = (
            contacts.select("contact_id", "campaign_id", "subscriber_id", "contact_date")
            .join(responses, ["campaign_id", "subscriber_id"])
            .where(F.to_date("responded_at") >= F.col("contact_date"))
            .groupBy("contact_id")
            .agg(
                F.lit(True).alias("is_responded"),
                F.max("is_accepted").alias("is_accepted"),
                F.min("responded_at").alias("responded_at"),
            )
        )
        final = history.groupBy("subscriber_id").agg(
            F.max("deactivation_date").alias("_deactivation_date")
        )
        attrs = subscriber_month.select(
            "subscriber_id", "month", "region_id", "segment", "plan_type"
        )
        c = contacts.withColumn("_mi", month_index_col("month"))
        revenue = (
            c.select("contact_id", "subscriber_id", "_mi")
            .join(
                subscriber_month.select(
                    "subscriber_id", month_index_col("month").alias("_smi"), "revenue_cny"
                ),
                "subscriber_id",
            )
            .where((F.col("_smi") > F.col("_mi")) & (F.col("_smi") <= F.col("_mi") + window_months))
            .groupBy("contact_id")
            .agg(exact_sum("revenue_cny").alias("revenue_in_window_cny"))
        )
        deact = F.col("_deactivation_date")
        deact_mi = date_month_index_col(deact)
        return (
            c.join(answered, "contact_id", "left")
            .join(
                F.broadcast(campaigns.select("campaign_id", "campaign_type", "offer_product_id")),
                "campaign_id",
                "left",
            )
            .join(attrs, ["subscriber_id", "month"], "left")
            .join(final, "subscriber_id", "left")
            .join(revenue, "contact_id", "left")
            .fillna(False, subset=["is_responded", "is_accepted"])
            .fillna(0.0, subset=["revenue_in_window_cny"])
            .withColumn("window_months", F.lit(window_months))
            .withColumn(
                "is_churned_within_window",
                F.coalesce(
                    (deact > F.col("contact_date")) & (deact_mi - F.col("_mi") <= window_months),
                    F.lit(False),
                ),
            )
            .withColumn(
                "is_window_complete",
                F.lit(month_index(last_month)) - F.col("_mi") >= window_months,
            )
            .transform(conform_to("ads_campaign_results"))
        )

    return _results


def to_key_accounts(subscriber_month: DataFrame, months: list[str]) -> DataFrame:
    """Enterprise customers per month ranked by revenue; earlier months in the input feed the
    trend columns."""
    require_columns(
        subscriber_month,
        [
            "customer_id",
            "is_enterprise",
            "region_id",
            "revenue_cny",
            "is_active",
            "is_churned_this_month",
            "n_complaints",
            "month",
        ],
        "dws_subscriber_month",
    )
    totals = subscriber_month.groupBy("month").agg(exact_sum("revenue_cny").alias("_month_revenue"))
    enterprise = subscriber_month.where("is_enterprise and customer_id is not null")
    regions = (
        enterprise.groupBy("customer_id", "month", "region_id")
        .agg(F.count("*").alias("_n"))
        .groupBy("customer_id", "month")
        # the region of most lines; the region id breaks ties reproducibly
        .agg(F.max_by("region_id", F.struct("_n", F.col("region_id"))).alias("region_id"))
    )
    per_month = enterprise.groupBy("customer_id", "month").agg(
        F.count("*").alias("n_lines"),
        F.sum(F.col("is_active").cast("bigint")).alias("n_active_lines"),
        exact_sum("revenue_cny").alias("revenue_cny"),
        F.sum("n_complaints").alias("n_complaints"),
        F.sum(F.col("is_churned_this_month").cast("bigint")).alias("n_churned_lines"),
    )
    trend = Window.partitionBy("customer_id").orderBy("_mi")
    ranking = Window.partitionBy("month").orderBy(F.col("revenue_cny").desc(), "customer_id")
    return (
        per_month.join(regions, ["customer_id", "month"])
        .join(totals, "month")
        .withColumn("_mi", month_index_col("month"))
        .withColumn("revenue_prev_cny", F.sum("revenue_cny").over(trend.rangeBetween(-1, -1)))
        .withColumn("revenue_3m_cny", F.sum("revenue_cny").over(trend.rangeBetween(-2, 0)))
        .withColumn(
            "revenue_change_ratio",
            safe_ratio(F.col("revenue_cny"), F.col("revenue_prev_cny")) - 1,
        )
        .where(F.col("month").isin(sorted(months)))
        .withColumn("revenue_share", safe_ratio(F.col("revenue_cny"), F.col("_month_revenue")))
        .withColumn("revenue_rank", F.row_number().over(ranking))
        .withColumn(
            "cumulative_revenue_share",
            F.sum("revenue_share").over(ranking.rowsBetween(Window.unboundedPreceding, 0)),
        )
        .transform(conform_to("ads_key_accounts"))
    )


# ---------------------------------------------------------------- models


def _earlier(ctx: BuildContext, n: int, ahead: int = 0) -> list[str]:
    """ctx.months widened by n earlier and ``ahead`` later months that exist."""
    wanted = {add_months(m, i) for m in ctx.months for i in range(-n, ahead + 1)}
    return sorted(wanted & (set(ctx.all_months) | set(ctx.months)))


def _kpis(ctx: BuildContext):
    return load_kpis(Path(ctx.params["kpi_dictionary"]))


def _build_kpi_cube(read: InputReader, ctx: BuildContext) -> DataFrame:
    kpis = _kpis(ctx)
    sources = {name: read(name, ctx.months) for name in sorted({k.source for k in kpis})}
    return compute_kpi_cube(kpis, sources)


#: months of the cube before a built month the alerts read: the month-on-month change of the
#: oldest month a persistence rule looks at
ALERT_LOOKBACK = MAX_PERSIST_MONTHS


def _build_kpi_alerts(read: InputReader, ctx: BuildContext) -> DataFrame:
    cube = read("ads_kpi_cube", _earlier(ctx, ALERT_LOOKBACK))
    dictionary = Path(ctx.params["kpi_dictionary"])
    alerts = compute_kpi_alerts(_kpis(ctx), cube, load_alert_policy(dictionary))
    return alerts.where(F.col("month").isin(ctx.months))


def _build_churn_features(read: InputReader, ctx: BuildContext) -> DataFrame:
    df = read("dws_subscriber_month", _earlier(ctx, COMPLAINT_LOOKBACK))
    return to_churn_features(df).where(F.col("month").isin(ctx.months))


def _build_product_holdings(read: InputReader, ctx: BuildContext) -> DataFrame:
    return read("dwd_fct_product_holding", ctx.months).transform(
        to_product_holdings(read("dws_subscriber_month", ctx.months))
    )


def _build_channel_cohorts(read: InputReader, ctx: BuildContext) -> DataFrame:
    first = min(ctx.all_months) if ctx.all_months else min(ctx.months)
    return read("dws_subscriber_month", ctx.months).transform(
        to_channel_cohorts(
            read("dwd_dim_subscriber", None), read("dwd_fct_channel_cost", ctx.months), first
        )
    )


def as_campaign_contacts(exported: DataFrame) -> DataFrame:
    """``ads_target_contacts`` rows in the columns of ``dwd_fct_campaign_contact``, to union
    with the operator's contacts (the closed loop: exported lists count like the operator's
    own campaigns)."""
    return exported.select(*get_table("dwd_fct_campaign_contact").column_names)


def as_campaign_responses(loaded: DataFrame) -> DataFrame:
    """``ads_target_responses`` rows in the columns of ``dwd_fct_campaign_response``."""
    return loaded.select(*get_table("dwd_fct_campaign_response").column_names)


def _build_campaign_results(read: InputReader, ctx: BuildContext) -> DataFrame:
    k = int(ctx.params.get("churn_horizon_months", 3))
    window = _earlier(ctx, 0, ahead=k)
    # the closed loop: contacts and responses of target-list exports count like the operator's
    contacts = read("dwd_fct_campaign_contact", ctx.months).unionByName(
        as_campaign_contacts(read("ads_target_contacts", ctx.months))
    )
    responses = read("dwd_fct_campaign_response", window).unionByName(
        as_campaign_responses(read("ads_target_responses", window))
    )
    return contacts.transform(
        to_campaign_results(
            responses,
            read("dwd_dim_campaign", None),
            read("dws_subscriber_month", window),
            read("dwd_dim_subscriber", None),
            window_months=k,
            last_month=max(ctx.all_months),
        )
    )


def _build_key_accounts(read: InputReader, ctx: BuildContext) -> DataFrame:
    return to_key_accounts(read("dws_subscriber_month", _earlier(ctx, 2)), ctx.months)


def ads_models(horizon_months: int = 3) -> list[Model]:
    """The ADS models in build order. Campaign results look ahead over the churn window."""
    return [
        Model("ads_kpi_cube", KPI_SOURCES, _build_kpi_cube),
        Model(
            "ads_kpi_alerts",
            ("ads_kpi_cube",),
            _build_kpi_alerts,
            lookback_months=ALERT_LOOKBACK,
        ),
        Model(
            "ads_churn_features",
            ("dws_subscriber_month",),
            _build_churn_features,
            lookback_months=COMPLAINT_LOOKBACK,
        ),
        Model(
            "ads_product_holdings",
            ("dwd_fct_product_holding", "dws_subscriber_month"),
            _build_product_holdings,
        ),
        Model(
            "ads_channel_cohorts",
            ("dws_subscriber_month", "dwd_dim_subscriber", "dwd_fct_channel_cost"),
            _build_channel_cohorts,
        ),
        Model(
            "ads_campaign_results",
            (
                "dwd_fct_campaign_contact",
                "dwd_fct_campaign_response",
                "ads_target_contacts",
                "ads_target_responses",
                "dwd_dim_campaign",
                "dws_subscriber_month",
                "dwd_dim_subscriber",
            ),
            _build_campaign_results,
            lookahead_months=horizon_months,
        ),
        Model(
            "ads_key_accounts", ("dws_subscriber_month",), _build_key_accounts, lookback_months=2
        ),
    ]
