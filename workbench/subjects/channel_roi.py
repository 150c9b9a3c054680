"""Channel ROI subject: acquisition cohorts (``ads_channel_cohorts``) and channel costs valued
with :mod:`workbench.analysis.roi` (Kaplan-Meier survival, LTV, payback, ROI), plus the
early-life warning signs of fake activations. Writes ``ads_channel_roi`` for the month.

The cohort mart and the cost tables are small (channels x months), so they are read with DuckDB.
The early-life signs need one row per line: DuckDB reads them for small warehouses, or pass a
Spark session to aggregate them in Spark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis import roi as engine
from workbench.errors import InputDataError
from workbench.months import parse_month
from workbench.params import defaults
from workbench.subjects.common import read_small, write_result_frame

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelRoiResult:
    """The valuation (for what-if sliders), the early-life signs and the mart rows."""

    roi: engine.ChannelRoi
    early_life: pd.DataFrame
    summary: pd.DataFrame
    period: str


def cohort_table(cohorts: pd.DataFrame, period: str) -> pd.DataFrame:
    """The engine's cohort table from the mart rows observed up to ``period`` (complete cohorts
    only, see :func:`workbench.analysis.roi.cohorts_from_mart`)."""
    rows = cohorts[cohorts["month"] <= period]
    if rows.empty or not rows["is_cohort_complete"].fillna(False).any():
        raise InputDataError(f"ads_channel_cohorts has no complete cohort observed by {period}")
    return engine.cohorts_from_mart(rows)


def _early_life_inputs(settings: Settings, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from workbench.marts import connect

    with connect(settings) as con:
        acquisitions = con.execute(
            """
            SELECT subscriber_id, arg_max(channel_id, valid_from_month) AS channel_id,
                   arg_max(activation_date, valid_from_month) AS activation_date,
                   arg_max(deactivation_date, valid_from_month) AS deactivation_date
            FROM dwd_dim_subscriber GROUP BY subscriber_id
            """
        ).df()
        activity = con.execute(
            "SELECT subscriber_id, month, mou_min, data_mb FROM dws_subscriber_month "
            "WHERE month <= ?",
            [period],
        ).df()
    return acquisitions, activity


def early_life_signs(
    settings: Settings, period: str, costs: pd.DataFrame, spark: SparkSession | None = None
) -> pd.DataFrame:
    """Counts and flags of near-zero usage and churn right after the clawback window.

    Only lines activated in a month the warehouse holds costs for are judged: older lines
    were acquired under terms (clawback window) it does not know.
    """
    first = str(costs["month"].min())
    if spark is None:
        acquisitions, activity = _early_life_inputs(settings, period)
        activated = pd.to_datetime(acquisitions["activation_date"]).dt.strftime("%Y-%m")
        acquisitions = acquisitions[activated >= first].reset_index(drop=True)
        counts = engine.summarize_early_life(acquisitions, activity, costs, as_of_month=period)
    else:
        from pyspark.sql import functions as F

        from workbench.warehouse.storage import read_table

        history = read_table(spark, settings, "dwd_dim_subscriber")
        latest = history.groupBy("subscriber_id").agg(
            F.max_by(
                F.struct("channel_id", "activation_date", "deactivation_date"), "valid_from_month"
            ).alias("s")
        )
        acquisitions = latest.select("subscriber_id", "s.*").where(
            F.date_format("activation_date", "yyyy-MM") >= first
        )
        activity = read_table(spark, settings, "dws_subscriber_month").where(
            F.col("month") <= period
        )
        cost_df = spark.createDataFrame(costs[["channel_id", "month", "clawback_days"]])
        counts = engine.spark_summarize_early_life(
            acquisitions, activity, cost_df, as_of_month=period
        ).toPandas()  # one row per channel
    return engine.flag_early_life_warnings(counts)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("channel_roi")


def run(
    settings: Settings,
    period: str,
    *,
    margin: float = DEFAULTS["margin"],
    horizon_months: int = DEFAULTS["horizon_months"],
    annual_discount_rate: float = DEFAULTS["annual_discount_rate"],
    min_at_risk: int = DEFAULTS["min_at_risk"],
    spark: SparkSession | None = None,
) -> ChannelRoiResult:
    """Value every acquisition channel as of ``period`` and write ``ads_channel_roi``."""
    period = parse_month(period)
    cohorts = cohort_table(read_small("ads_channel_cohorts", settings), period)
    costs = read_small("dwd_fct_channel_cost", settings)
    costs = costs[costs["month"] <= period].reset_index(drop=True)
    valued = engine.channel_roi(
        cohorts,
        costs,
        margin=margin,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        min_at_risk=min_at_risk,
    )
    early = early_life_signs(settings, period, costs, spark)
    channels = read_small("dwd_dim_channel", settings)[
        ["channel_id", "channel_name_en", "channel_name_zh", "channel_type"]
    ]
    summary = (
        valued.summary.merge(channels, on="channel_id", how="left")
        .merge(
            early[
                [
                    "channel_id",
                    "share_near_zero_usage",
                    "share_churned_after_clawback",
                    "is_warning",
                ]
            ],
            on="channel_id",
            how="left",
        )
        .assign(
            margin=float(margin),
            horizon_months=int(horizon_months),
            annual_discount_rate=float(annual_discount_rate),
        )
    )
    summary["roi_rank"] = summary["roi"].rank(ascending=False, method="first").astype("Int64")
    summary["is_warning"] = summary["is_warning"].fillna(False).astype(bool)
    summary["payback_month"] = summary["payback_month"].astype("Int32")
    summary["roi_rank"] = summary["roi_rank"].astype("Int32")
    summary["n_gross_adds"] = summary["n_gross_adds"].astype("int64")
    summary = summary.sort_values("roi_rank").reset_index(drop=True)
    write_result_frame(summary, "ads_channel_roi", settings, period)
    log.info("channel ROI %s: %d channel(s)", period, len(summary))
    return ChannelRoiResult(valued, early, summary, period)
