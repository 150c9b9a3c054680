"""Channel ROI: acquisition cohorts, Kaplan-Meier survival, lifetime value, payback and ROI.

Two steps, so the large data never leaves Spark:

1. **Aggregate** subscriber-level acquisitions and monthly activity into the small *cohort table*
   (one row per channel x activation month x month since activation): in Spark with
   :func:`spark_summarize_channel_cohorts` at scale, or :func:`summarize_channel_cohorts` in
   pandas for small inputs (both give the same numbers), or :func:`cohorts_from_mart` from
   the ``ads_channel_cohorts`` mart.
2. **Value** the cohort table in pandas/numpy: :func:`channel_roi` (cost per gross add, survival,
   ARPU of survivors, lifetime value, payback month, ROI) and :func:`what_if` for dashboard
   sliders.
3. **Early-life warning signs** per channel (near-zero usage, churn right after the commission
   clawback window): :func:`spark_summarize_early_life` / :func:`summarize_early_life` count,
   :func:`flag_early_life_warnings` compares the channels.

Time convention: month 0 is the activation month. A line deactivated ``d`` months after its
activation month is *at risk* in months ``0..d`` and churns in month ``d`` (it still pays for
part of that month). A live line is censored in the as-of month ``c``: at risk in ``0..c``.
Kaplan-Meier then gives ``survival[m]`` = share of gross adds still live at the end of month m,
and ``p_active[m] = survival[m-1]`` (1 for month 0) = share that pays in month m. ARPU of
survivors in month m is the revenue of the lines at risk in m divided by their number.
Lifetime value discounts month m by ``(1 + r) ** m`` with ``r = (1 + annual_rate) ** (1/12) - 1``;
the acquisition cost is paid at activation (month 0, undiscounted).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.analysis.campaigns import wilson_interval
from workbench.analysis.checks import check_cost_table
from workbench.analysis.checks import show_value as _show
from workbench.errors import InputDataError, ParameterError, require_columns
from workbench.months import (
    date_month_index_series,
    month_end,
    month_index,
    month_index_series,
    parse_month,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame

log = logging.getLogger(__name__)


#: subscriber_id, channel_id, activation_date, deactivation_date (null while live)
ACQUISITION_COLUMNS = ("subscriber_id", "channel_id", "activation_date", "deactivation_date")
#: subscriber_id, month (YYYY-MM), revenue_cny (+ usage columns for the early-life signs)
ACTIVITY_COLUMNS = ("subscriber_id", "month", "revenue_cny")
#: channel_id, month (YYYY-MM), commission per gross add and fixed monthly cost (CNY)
COST_COLUMNS = ("channel_id", "month", "commission_per_gross_add_cny", "fixed_cost_cny")
#: the cohort table both aggregations produce and the valuation reads
COHORT_COLUMNS = (
    "channel_id",
    "activation_month",
    "months_since_activation",
    "n_at_risk",
    "n_churned",
    "revenue_cny",
)
COHORT_KEYS = ("channel_id", "activation_month")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Valuation:
    """How the channel ROI report values a channel by default: the subject's parameter
    declaration (:mod:`workbench.params`) and the synthetic operator's true per-channel economics
    (:mod:`workbench.generate.truth`) both take it from here, so the two value alike."""

    margin: float = 0.6  # contribution margin as a share of revenue
    horizon_months: int = 24  # lifetime value horizon, months from activation
    annual_discount_rate: float = 0.08  # of future margin
    min_at_risk: int = 5  # lines at risk for a survival month to count as observed


#: the channel ROI report's default valuation
DEFAULT_VALUATION = Valuation()


def monthly_rate(annual_rate: float) -> float:
    """The monthly discount rate equivalent to an annual one: ``(1 + a) ** (1/12) - 1``."""
    if isinstance(annual_rate, bool) or not isinstance(annual_rate, int | float):
        raise ParameterError(f"annual_discount_rate must be a number, got {annual_rate!r}")
    if not 0 <= annual_rate < 10:
        raise ParameterError(f"annual_discount_rate must be in [0, 10), got {annual_rate!r}")
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def _number(value: object, name: str, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ParameterError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)


def _whole(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


def _check_by(by: Sequence[str]) -> list[str]:
    keys = list(by)
    if not keys or "channel_id" not in keys or not set(keys) <= set(COHORT_KEYS):
        raise ParameterError(
            f"by must be ('channel_id',) or ('channel_id', 'activation_month'), got {by!r}"
        )
    return keys


# --------------------------------------------------------------------------- Kaplan-Meier


def kaplan_meier(durations: Sequence[float], events: Sequence[bool]) -> pd.DataFrame:
    """Kaplan-Meier estimate from one duration and event flag per subject.

    Censored subjects at a time of events count as at risk at that time (the usual convention).

    Returns:
        One row per distinct time: ``time, n_at_risk, n_events, n_censored, survival``.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise InputDataError("kaplan_meier: durations and events must be 1-d and of equal length")
    if len(t) == 0:
        raise InputDataError("kaplan_meier: no subjects")
    if np.isnan(t).any() or (t < 0).any():
        raise InputDataError("kaplan_meier: durations must be non-negative numbers")
    times, inverse = np.unique(t, return_inverse=True)
    n_events = np.bincount(inverse, weights=e, minlength=len(times))
    n_total = np.bincount(inverse, minlength=len(times))
    # at risk at time k: everyone whose duration is >= k
    n_at_risk = n_total[::-1].cumsum()[::-1]
    survival = np.cumprod(1.0 - n_events / n_at_risk)
    return pd.DataFrame(
        {
            "time": times,
            "n_at_risk": n_at_risk.astype("int64"),
            "n_events": n_events.astype("int64"),
            "n_censored": (n_total - n_events).astype("int64"),
            "survival": survival,
        }
    )


def survival_from_cohorts(
    cohorts: pd.DataFrame, by: Sequence[str] = ("channel_id",)
) -> pd.DataFrame:
    """Kaplan-Meier survival by month since activation from the cohort table's counts.

    Summing ``n_at_risk`` over cohorts at month m counts every line whose duration is >= m, and
    cohorts observed for fewer months simply stop contributing (censoring), so the product of
    ``1 - n_churned / n_at_risk`` is exactly Kaplan-Meier on the subscriber durations.

    Returns:
        ``by..., months_since_activation, n_at_risk, n_churned, revenue_cny, hazard, survival``.
    """
    keys = _check_by(by)
    table = _check_cohorts(cohorts)
    agg = (
        table.groupby([*keys, "months_since_activation"], as_index=False, sort=True)[
            ["n_at_risk", "n_churned", "revenue_cny"]
        ]
        .sum()
        .sort_values([*keys, "months_since_activation"], kind="stable")
    )
    agg = agg[agg["n_at_risk"] > 0].copy()
    agg["hazard"] = agg["n_churned"] / agg["n_at_risk"]
    agg["survival"] = (1.0 - agg["hazard"]).groupby([agg[k] for k in keys]).cumprod()
    return agg.reset_index(drop=True)


def _check_cohorts(cohorts: pd.DataFrame) -> pd.DataFrame:
    require_columns(cohorts.columns, COHORT_COLUMNS, "channel cohorts")
    cohorts = cohorts.reset_index(drop=True)  # messages name rows by position
    if cohorts.empty:
        raise InputDataError("channel cohorts: the table is empty")
    for column in ("n_at_risk", "n_churned", "revenue_cny", "months_since_activation"):
        values = pd.to_numeric(cohorts[column], errors="coerce")
        if values.isna().any() or (values < 0).any():
            row = cohorts.index[(values.isna() | (values < 0)).to_numpy()][0]
            raise InputDataError(
                f"channel cohorts: column {column!r} must be a non-negative number "
                f"(row {row}: {_show(cohorts.at[row, column])!r})"
            )
    bad = cohorts["n_churned"] > cohorts["n_at_risk"]
    if bad.any():
        row = cohorts.index[bad.to_numpy()][0]
        raise InputDataError(f"channel cohorts: n_churned > n_at_risk in row {row}")
    return cohorts


# --------------------------------------------------------------------------- aggregation


MART_COLUMNS = (
    "channel_id",
    "activation_month",
    "months_since_activation",
    "n_survivors",
    "n_churned",
    "revenue_cny",
)


def cohorts_from_mart(mart: pd.DataFrame) -> pd.DataFrame:
    """The cohort table from the ``ads_channel_cohorts`` mart (already small: read it whole).

    The mart counts the lines live at the *end* of each month (``n_survivors``) and those
    deactivated in it; the lines at risk in the month are their sum. Cohorts the mart marks
    incomplete (``is_cohort_complete`` false: activated before the warehouse's first month, so
    early leavers are missing) are left out, since they would overstate survival.
    """
    require_columns(mart.columns, MART_COLUMNS, "ads_channel_cohorts")
    table = mart
    if "is_cohort_complete" in mart.columns:
        table = mart[mart["is_cohort_complete"].fillna(False).astype(bool)]
        dropped = len(mart) - len(table)
        if dropped:
            log.info("left out %d row(s) of incomplete cohorts", dropped)
    out = pd.DataFrame(
        {
            "channel_id": table["channel_id"].astype(str),
            "activation_month": table["activation_month"].astype(str),
            "months_since_activation": table["months_since_activation"].astype("int64"),
            "n_at_risk": (table["n_survivors"] + table["n_churned"]).astype("int64"),
            "n_churned": table["n_churned"].astype("int64"),
            "revenue_cny": table["revenue_cny"].fillna(0.0).astype(float),
        }
    )
    out = out.sort_values(list(COHORT_COLUMNS[:3])).reset_index(drop=True)
    return _check_cohorts(out)


def _month_index(month: pd.Series, what: str) -> pd.Series:
    text = month.astype("string")
    ok = text.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False)
    if not ok.all():
        row = month.index[~ok.to_numpy()][0]
        raise InputDataError(
            f"{what}: column 'month' must be YYYY-MM (row {row}: {_show(month[row])!r})"
        )
    return month_index_series(text)


def _dates(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    try:
        return pd.to_datetime(frame[column], errors="raise")
    except (ValueError, TypeError) as exc:
        raise InputDataError(
            f"{what}: column {column!r} holds a value that is not a date: {exc}"
        ) from None


def _prepare_acquisitions(acquisitions: pd.DataFrame, as_of_month: str) -> pd.DataFrame:
    """Durations (months) and churn events of the lines activated up to the as-of month."""
    what = "acquisitions"
    require_columns(acquisitions.columns, ACQUISITION_COLUMNS, what)
    acquisitions = acquisitions.reset_index(drop=True)
    as_of = parse_month(as_of_month)
    as_of_end = pd.Timestamp(month_end(as_of))
    for key in ("subscriber_id", "channel_id", "activation_date"):
        if acquisitions[key].isna().any():
            row = acquisitions.index[acquisitions[key].isna().to_numpy()][0]
            raise InputDataError(f"{what}: column {key!r} is null in row {row}")
    if acquisitions["subscriber_id"].duplicated().any():
        dup = acquisitions.loc[acquisitions["subscriber_id"].duplicated(), "subscriber_id"].iloc[0]
        raise InputDataError(f"{what}: subscriber_id {_show(dup)!r} appears more than once")
    activated = _dates(acquisitions, "activation_date", what)
    deactivated = _dates(acquisitions, "deactivation_date", what)
    backwards = deactivated < activated
    if backwards.any():
        sub = acquisitions.loc[backwards.to_numpy(), "subscriber_id"].iloc[0]
        raise InputDataError(
            f"{what}: subscriber {_show(sub)!r} is deactivated before its activation"
        )
    frame = pd.DataFrame(
        {
            "subscriber_id": acquisitions["subscriber_id"].to_numpy(),
            "channel_id": acquisitions["channel_id"].astype(str).to_numpy(),
            "activation_date": activated.to_numpy(),
            "deactivation_date": deactivated.to_numpy(),
        }
    )
    frame = frame[frame["activation_date"] <= as_of_end].copy()
    if frame.empty:
        raise InputDataError(f"{what}: no line was activated by the as-of month {as_of}")
    act_idx = date_month_index_series(frame["activation_date"])
    deact = frame["deactivation_date"]
    # a deactivation after the as-of month is not known yet: the line is censored
    frame["is_event"] = deact.notna() & (deact <= as_of_end)
    deact_idx = date_month_index_series(deact)
    as_of_idx = month_index(as_of)
    frame["act_idx"] = act_idx
    frame["duration"] = np.where(frame["is_event"], deact_idx - act_idx, as_of_idx - act_idx)
    frame["duration"] = frame["duration"].astype("int64")
    frame["activation_month"] = frame["activation_date"].dt.strftime("%Y-%m")
    return frame


def summarize_channel_cohorts(
    acquisitions: pd.DataFrame, activity: pd.DataFrame, *, as_of_month: str
) -> pd.DataFrame:
    """The cohort table from small subscriber-level pandas inputs (see the module doc).

    Args:
        acquisitions: ``subscriber_id, channel_id, activation_date, deactivation_date`` (dates
            or ISO strings; deactivation null while live), one row per line.
        activity: ``subscriber_id, month, revenue_cny``, one row per line and month.
        as_of_month: last observed month (YYYY-MM); live lines are censored there.

    Returns:
        ``channel_id, activation_month, months_since_activation, n_at_risk, n_churned,
        revenue_cny`` sorted by those keys.
    """
    acq = _prepare_acquisitions(acquisitions, as_of_month)
    require_columns(activity.columns, ACTIVITY_COLUMNS, "activity")
    keys = [*COHORT_KEYS, "duration", "is_event"]
    groups = acq.groupby(keys, as_index=False).size().rename(columns={"size": "n"})
    expanded = groups.loc[groups.index.repeat(groups["duration"] + 1)].copy()
    expanded["months_since_activation"] = expanded.groupby(level=0).cumcount()
    churn_here = expanded["is_event"] & (
        expanded["months_since_activation"] == expanded["duration"]
    )
    expanded["n_churned"] = np.where(churn_here, expanded["n"], 0)
    counts = expanded.groupby([*COHORT_KEYS, "months_since_activation"], as_index=False).agg(
        n_at_risk=("n", "sum"), n_churned=("n_churned", "sum")
    )
    act = activity[["subscriber_id", "month", "revenue_cny"]].reset_index(drop=True)
    act["month_idx"] = _month_index(act["month"], "activity")
    joined = act.merge(
        acq[["subscriber_id", *COHORT_KEYS, "act_idx", "duration"]], on="subscriber_id"
    )
    joined["months_since_activation"] = joined["month_idx"] - joined["act_idx"]
    at_risk = joined["months_since_activation"].between(0, joined["duration"])
    revenue = (
        joined[at_risk]
        .groupby([*COHORT_KEYS, "months_since_activation"], as_index=False)["revenue_cny"]
        .sum()
    )
    out = counts.merge(revenue, on=[*COHORT_KEYS, "months_since_activation"], how="left")
    out["revenue_cny"] = out["revenue_cny"].fillna(0.0).astype(float)
    out["n_at_risk"] = out["n_at_risk"].astype("int64")
    out["n_churned"] = out["n_churned"].astype("int64")
    out["months_since_activation"] = out["months_since_activation"].astype("int64")
    return out.sort_values([*COHORT_KEYS, "months_since_activation"]).reset_index(drop=True)[
        list(COHORT_COLUMNS)
    ]


def to_acquisition_lines(
    as_of_month: str,
) -> Callable[[SparkDataFrame], SparkDataFrame]:
    """Spark twin of ``_prepare_acquisitions``: one row per line activated by the as-of month.

    Returns a transform of :data:`ACQUISITION_COLUMNS` to ``subscriber_id, channel_id,
    activation_month, activation_date, act_idx, is_event, lifetime_days, duration`` (see the
    module doc for the time convention). Lines with a deactivation before their activation are
    dropped (DWD quarantines them).
    """
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import date_month_index_col

    as_of = parse_month(as_of_month)
    as_of_idx = month_index(as_of)

    def _lines(acquisitions: SparkDataFrame) -> SparkDataFrame:
        require_columns(acquisitions.columns, ACQUISITION_COLUMNS, "acquisitions")
        as_of_end = F.lit(month_end(as_of))
        act_date = F.to_date("activation_date")
        deact_date = F.to_date("deactivation_date")
        is_event = deact_date.isNotNull() & (deact_date <= as_of_end)
        return (
            acquisitions.where(act_date <= as_of_end)
            .where(deact_date.isNull() | (deact_date >= act_date))
            .select(
                "subscriber_id",
                F.col("channel_id").cast("string").alias("channel_id"),
                F.date_format(act_date, "yyyy-MM").alias("activation_month"),
                act_date.alias("activation_date"),
                date_month_index_col(act_date).alias("act_idx"),
                is_event.alias("is_event"),
                F.datediff(deact_date, act_date).alias("lifetime_days"),
                F.when(is_event, date_month_index_col(deact_date) - date_month_index_col(act_date))
                .otherwise(F.lit(as_of_idx) - date_month_index_col(act_date))
                .alias("duration"),
            )
        )

    return _lines


def spark_summarize_channel_cohorts(
    acquisitions: SparkDataFrame, activity: SparkDataFrame, *, as_of_month: str
) -> SparkDataFrame:
    """The cohort table computed in Spark (same columns and numbers as the pandas version).

    Lines with a deactivation before their activation are dropped (DWD quarantines them).
    Only per-line aggregates are exploded over months, so the shuffle stays proportional to
    lines x months observed, never to usage records.
    """
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import month_index_col

    require_columns(activity.columns, ACTIVITY_COLUMNS, "activity")
    lines = acquisitions.transform(to_acquisition_lines(as_of_month))
    m = F.col("months_since_activation")
    counts = (
        lines.groupBy(*COHORT_KEYS, "duration", "is_event")
        .count()
        .select(
            *COHORT_KEYS,
            "duration",
            "is_event",
            "count",
            F.explode(F.sequence(F.lit(0), F.col("duration"))).alias("months_since_activation"),
        )
        .groupBy(*COHORT_KEYS, "months_since_activation")
        .agg(
            F.sum("count").cast("bigint").alias("n_at_risk"),
            F.sum(F.when(F.col("is_event") & (m == F.col("duration")), F.col("count")).otherwise(0))
            .cast("bigint")
            .alias("n_churned"),
        )
    )
    month_idx = month_index_col("month")
    revenue = (
        activity.select("subscriber_id", month_idx.alias("month_idx"), "revenue_cny")
        .join(lines.select("subscriber_id", *COHORT_KEYS, "act_idx", "duration"), "subscriber_id")
        .withColumn("months_since_activation", F.col("month_idx") - F.col("act_idx"))
        .where(m.between(F.lit(0), F.col("duration")))
        .groupBy(*COHORT_KEYS, "months_since_activation")
        .agg(F.sum("revenue_cny").cast("double").alias("revenue_cny"))
    )
    return (
        counts.join(revenue, [*COHORT_KEYS, "months_since_activation"], "left")
        .fillna(0.0, subset=["revenue_cny"])
        .select(
            "channel_id",
            "activation_month",
            m.cast("bigint").alias("months_since_activation"),
            "n_at_risk",
            "n_churned",
            "revenue_cny",
        )
    )


# --------------------------------------------------------------------------- costs


def cost_per_gross_add(
    cohorts: pd.DataFrame, costs: pd.DataFrame, *, by: Sequence[str] = ("channel_id",)
) -> pd.DataFrame:
    """Gross adds and acquisition cost per gross add (commission + allocated fixed cost).

    Gross adds are the month-0 lines of each cohort. The fixed cost of a channel-month is spread
    over that channel's adds: per channel, every cost month inside the analysis window (the
    activation months of the cohort table) counts, even a month without adds.

    Args:
        costs: ``channel_id, month, commission_per_gross_add_cny, fixed_cost_cny``.

    Returns:
        ``by..., n_gross_adds, commission_cny, fixed_cost_cny, acquisition_cost_cny,
        commission_per_add_cny, fixed_cost_per_add_cny, cac_cny`` (cac null without adds).
    """
    keys = _check_by(by)
    table = _check_cohorts(cohorts)
    require_columns(costs.columns, COST_COLUMNS, "channel costs")
    # channel ids compare as text (the cohort table's are), so 7 and "7" are one channel
    costs = check_cost_table(
        costs.assign(channel_id=costs["channel_id"].astype(str)),
        what="channel costs",
        keys={"channel_id": "channel", "month": "month"},
        amounts=COST_COLUMNS[2:],
    )
    cost = costs[list(COST_COLUMNS)].rename(columns={"month": "activation_month"})
    adds = (
        table[table["months_since_activation"] == 0]
        .groupby(list(COHORT_KEYS), as_index=False)["n_at_risk"]
        .sum()
        .rename(columns={"n_at_risk": "n_gross_adds"})
    )
    window = set(adds["activation_month"])
    merged = cost[cost["activation_month"].isin(window)].merge(
        adds, on=list(COHORT_KEYS), how="outer", indicator=True
    )
    missing = merged[merged["_merge"] == "right_only"]
    if not missing.empty:
        first = missing.iloc[0]
        raise InputDataError(
            f"channel costs: no cost row for channel {_show(first['channel_id'])!r} month "
            f"{_show(first['activation_month'])!r}, which has gross adds"
        )
    merged = merged[merged["channel_id"].isin(set(adds["channel_id"]))]
    merged["n_gross_adds"] = merged["n_gross_adds"].fillna(0).astype("int64")
    merged["commission_cny"] = merged["n_gross_adds"] * merged["commission_per_gross_add_cny"]
    out = merged.groupby(keys, as_index=False)[
        ["n_gross_adds", "commission_cny", "fixed_cost_cny"]
    ].sum()
    if "activation_month" in keys:
        out = out[out["n_gross_adds"] > 0]
    out["acquisition_cost_cny"] = out["commission_cny"] + out["fixed_cost_cny"]
    adds_or_nan = out["n_gross_adds"].where(out["n_gross_adds"] > 0)
    out["commission_per_add_cny"] = out["commission_cny"] / adds_or_nan
    out["fixed_cost_per_add_cny"] = out["fixed_cost_cny"] / adds_or_nan
    out["cac_cny"] = out["acquisition_cost_cny"] / adds_or_nan
    return out.sort_values(keys).reset_index(drop=True)


# --------------------------------------------------------------------------- valuation


def build_value_curves(
    cohorts: pd.DataFrame,
    *,
    by: Sequence[str] = ("channel_id",),
    max_months: int = 120,
    min_at_risk: int = 20,
    tail_months: int = 3,
) -> pd.DataFrame:
    """Survival and ARPU of survivors per month since activation, extended to ``max_months``.

    A month is *observed* while at least ``min_at_risk`` lines are at risk (month 0 always is).
    Beyond the last observed month the curve continues at the *median* monthly hazard and the
    mean ARPU of the last ``tail_months`` observed months (``is_extrapolated`` marks those
    rows), so a horizon longer than the data still gets a value, made explicit. The median
    keeps a one-off spike (churn right after the clawback window) from being repeated forever.

    Returns:
        ``by..., months_since_activation, n_at_risk, n_churned, hazard, survival, p_active,
        arpu_cny, is_extrapolated``.
    """
    keys = _check_by(by)
    max_months = _whole(max_months, "max_months", 1)
    min_at_risk = _whole(min_at_risk, "min_at_risk", 1)
    tail_months = _whole(tail_months, "tail_months", 1)
    km = survival_from_cohorts(cohorts, keys)
    frames = []
    for key, group in km.groupby(keys, sort=True):
        group = group.reset_index(drop=True)
        if group.at[0, "months_since_activation"] != 0:
            raise InputDataError(
                f"channel cohorts: {dict(zip(keys, key, strict=True))} has no month 0"
            )
        enough = (group["n_at_risk"] >= min_at_risk).to_numpy()
        n_obs = max(1, int(np.argmin(enough)) if not enough.all() else len(group))
        observed = group.iloc[:n_obs].head(max_months)
        hazard = observed["hazard"].to_numpy(dtype=float)
        arpu = (observed["revenue_cny"] / observed["n_at_risk"]).to_numpy(dtype=float)
        n_tail = max_months - len(observed)
        hazard = np.concatenate([hazard, np.full(n_tail, np.median(hazard[-tail_months:]))])
        arpu = np.concatenate([arpu, np.full(n_tail, arpu[-tail_months:].mean())])
        survival = np.cumprod(1.0 - hazard)
        frame = pd.DataFrame(
            {
                "months_since_activation": np.arange(max_months, dtype="int64"),
                "n_at_risk": np.concatenate(
                    [observed["n_at_risk"].to_numpy(dtype="int64"), np.zeros(n_tail, "int64")]
                ),
                "n_churned": np.concatenate(
                    [observed["n_churned"].to_numpy(dtype="int64"), np.zeros(n_tail, "int64")]
                ),
                "hazard": hazard,
                "survival": survival,
                "p_active": np.concatenate([[1.0], survival[:-1]]),
                "arpu_cny": arpu,
                "is_extrapolated": np.arange(max_months) >= len(observed),
            }
        )
        for k, v in zip(keys, key, strict=True):
            frame.insert(keys.index(k), k, v)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class ChannelRoi:
    """Everything :func:`what_if` needs to recompute, plus the result.

    Attributes:
        curves: :func:`build_value_curves` output.
        costs: :func:`cost_per_gross_add` output.
        summary: :func:`value_channels` output at the parameters below.
    """

    curves: pd.DataFrame
    costs: pd.DataFrame
    summary: pd.DataFrame
    by: tuple[str, ...]
    margin: float
    horizon_months: int
    annual_discount_rate: float


def value_channels(
    curves: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    margin: float,
    horizon_months: int,
    annual_discount_rate: float,
    by: Sequence[str] = ("channel_id",),
    commission_per_add_cny: float | Mapping[str, float] | None = None,
    arpu_factor: float = 1.0,
) -> pd.DataFrame:
    """Lifetime value, payback month and ROI per group from curves and costs per add.

    ``ltv_cny`` = sum over months m < horizon of ``margin * p_active[m] * arpu[m] *
    arpu_factor / (1 + r) ** m``; ``payback_month`` = first m whose cumulative discounted margin
    reaches the acquisition cost (null if none within the horizon); ``roi = (ltv - cac) / cac``.
    ``commission_per_add_cny`` replaces the commission (one value, or per ``channel_id``).

    Returns:
        ``by..., n_gross_adds, cac_cny, arpu_cny, survival_at_horizon, ltv_cny,
        payback_month, roi``.
    """
    keys = _check_by(by)
    margin = _number(margin, "margin", 0.0, 1.0)
    horizon = _whole(horizon_months, "horizon_months", 1)
    rate = monthly_rate(annual_discount_rate)
    arpu_factor = _number(arpu_factor, "arpu_factor", 0.0)
    require_columns(
        curves.columns,
        [*keys, "months_since_activation", "p_active", "survival", "arpu_cny"],
        "curves",
    )
    require_columns(
        costs.columns,
        [*keys, "n_gross_adds", "commission_per_add_cny", "fixed_cost_per_add_cny"],
        "costs",
    )
    available = curves.groupby(keys)["months_since_activation"].max().min() + 1
    if horizon > available:
        raise ParameterError(
            f"horizon_months={horizon} is longer than the value curves ({available} months); "
            "rebuild them with a larger max_months"
        )
    cost = costs[costs["n_gross_adds"] > 0][
        [*keys, "n_gross_adds", "commission_per_add_cny", "fixed_cost_per_add_cny"]
    ].copy()
    if commission_per_add_cny is not None:
        if isinstance(commission_per_add_cny, Mapping):
            for channel, value in commission_per_add_cny.items():
                _number(value, f"commission_per_add_cny[{channel!r}]", 0.0)
            override = cost["channel_id"].map(commission_per_add_cny)
            cost["commission_per_add_cny"] = override.fillna(cost["commission_per_add_cny"])
        else:
            cost["commission_per_add_cny"] = _number(
                commission_per_add_cny, "commission_per_add_cny", 0.0
            )
    cost["cac_cny"] = cost["commission_per_add_cny"] + cost["fixed_cost_per_add_cny"]

    window = curves[curves["months_since_activation"] < horizon]
    merged = window.merge(cost[[*keys, "cac_cny"]], on=keys, how="inner", validate="many_to_one")
    lonely = set(map(tuple, cost[keys].to_numpy())) ^ set(
        map(tuple, window[keys].drop_duplicates().to_numpy())
    )
    if lonely:
        raise InputDataError(
            f"curves and costs do not cover the same {keys}: {sorted(lonely)[:5]} only in one"
        )
    merged = merged.sort_values([*keys, "months_since_activation"], kind="stable")
    m = merged["months_since_activation"].to_numpy(dtype=float)
    merged["discounted_margin_cny"] = (
        margin * arpu_factor * merged["p_active"] * merged["arpu_cny"] / (1.0 + rate) ** m
    )
    grouped = merged.groupby(keys, sort=True)
    merged["cumulative_cny"] = grouped["discounted_margin_cny"].cumsum()
    paid_back = merged[merged["cumulative_cny"] >= merged["cac_cny"]]
    payback = paid_back.groupby(keys)["months_since_activation"].min().rename("payback_month")
    revenue_weight = merged["p_active"] * merged["arpu_cny"]
    summary = pd.DataFrame(
        {
            "ltv_cny": grouped["discounted_margin_cny"].sum(),
            # ARPU of survivors over the horizon, weighted by the share that pays each month
            "arpu_cny": revenue_weight.groupby([merged[k] for k in keys]).sum()
            / grouped["p_active"].sum(),
            "survival_at_horizon": grouped["survival"].last(),
        }
    ).reset_index()
    out = cost[[*keys, "n_gross_adds", "cac_cny"]].merge(summary, on=keys)
    out = out.merge(payback.reset_index(), on=keys, how="left")
    out["payback_month"] = out["payback_month"].astype("Int64")
    out["roi"] = (out["ltv_cny"] - out["cac_cny"]) / out["cac_cny"].where(out["cac_cny"] > 0)
    columns = [*keys, "n_gross_adds", "cac_cny", "arpu_cny", "survival_at_horizon", "ltv_cny"]
    return out[[*columns, "payback_month", "roi"]].sort_values(keys).reset_index(drop=True)


def channel_roi(
    cohorts: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    margin: float,
    horizon_months: int,
    annual_discount_rate: float,
    by: Sequence[str] = ("channel_id",),
    min_at_risk: int = 20,
    tail_months: int = 3,
) -> ChannelRoi:
    """Cost per gross add, survival, ARPU, LTV, payback and ROI per channel (or cohort).

    Args:
        cohorts: the cohort table (:data:`COHORT_COLUMNS`).
        costs: channel costs (:data:`COST_COLUMNS`).
        margin: contribution margin as a share of revenue, 0..1.
        horizon_months: lifetime value horizon, months from activation.
        annual_discount_rate: e.g. 0.08; converted to the equivalent monthly rate.
        by: ``("channel_id",)`` or ``("channel_id", "activation_month")`` for cohorts.
    """
    keys = _check_by(by)
    horizon = _whole(horizon_months, "horizon_months", 1)
    curves = build_value_curves(
        cohorts,
        by=keys,
        max_months=max(horizon, 120),
        min_at_risk=min_at_risk,
        tail_months=tail_months,
    )
    cost = cost_per_gross_add(cohorts, costs, by=keys)
    summary = value_channels(
        curves,
        cost,
        margin=margin,
        horizon_months=horizon,
        annual_discount_rate=annual_discount_rate,
        by=keys,
    )
    log.debug("channel ROI for %d group(s) over %d months", len(summary), horizon)
    return ChannelRoi(
        curves=curves,
        costs=cost,
        summary=summary,
        by=tuple(keys),
        margin=float(margin),
        horizon_months=horizon,
        annual_discount_rate=float(annual_discount_rate),
    )


def what_if(
    base: ChannelRoi,
    *,
    commission_per_add_cny: float | Mapping[str, float] | None = None,
    arpu_factor: float = 1.0,
    margin: float | None = None,
    annual_discount_rate: float | None = None,
    horizon_months: int | None = None,
) -> pd.DataFrame:
    """Recompute LTV, payback and ROI with changed assumptions (fast: small pandas only).

    Unchanged parameters keep their values from ``base``; ``arpu_factor`` scales ARPU
    (1.1 = ten per cent more). Returns the same columns as :func:`value_channels`.
    """
    return value_channels(
        base.curves,
        base.costs,
        margin=base.margin if margin is None else margin,
        horizon_months=base.horizon_months if horizon_months is None else horizon_months,
        annual_discount_rate=(
            base.annual_discount_rate if annual_discount_rate is None else annual_discount_rate
        ),
        by=base.by,
        commission_per_add_cny=commission_per_add_cny,
        arpu_factor=arpu_factor,
    )


# --------------------------------------------------------------------------- early-life signs

DEFAULT_USAGE_THRESHOLDS: Mapping[str, float] = {"mou_min": 1.0, "data_mb": 10.0}
EARLY_LIFE_COLUMNS = (
    "channel_id",
    "n_gross_adds",
    "n_near_zero_usage",
    "n_clawback_observed",
    "n_churned_after_clawback",
)


def _check_early_life_params(
    first_months: int, usage_thresholds: Mapping[str, float], post_clawback_days: int
) -> None:
    _whole(first_months, "first_months", 1)
    _whole(post_clawback_days, "post_clawback_days", 1)
    if not usage_thresholds:
        raise ParameterError("usage_thresholds must name at least one usage column")
    for column, value in usage_thresholds.items():
        _number(value, f"usage_thresholds[{column!r}]", 0.0)


def summarize_early_life(
    acquisitions: pd.DataFrame,
    activity: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    as_of_month: str,
    first_months: int = 3,
    usage_thresholds: Mapping[str, float] = DEFAULT_USAGE_THRESHOLDS,
    post_clawback_days: int = 30,
) -> pd.DataFrame:
    """Counts behind the early-life warning signs per channel, from small pandas inputs.

    * near-zero usage: the line's mean monthly usage over its first ``first_months`` months (the
      ones observed while it was live) is at or below the threshold for *every* column of
      ``usage_thresholds`` (months without an activity row count as zero usage);
    * churn right after clawback: deactivated more than ``clawback_days`` and at most
      ``clawback_days + post_clawback_days`` days after activation (``clawback_days`` from the
      cost row of the activation month). Only lines whose window has ended by the as-of month
      are counted in ``n_clawback_observed``, the denominator.

    Args:
        activity: ``subscriber_id, month`` and the usage columns.
        costs: ``channel_id, month, clawback_days``.
    """
    _check_early_life_params(first_months, usage_thresholds, post_clawback_days)
    acq = _prepare_acquisitions(acquisitions, as_of_month)
    usage_columns = list(usage_thresholds)
    require_columns(activity.columns, ["subscriber_id", "month", *usage_columns], "activity")
    require_columns(costs.columns, ["channel_id", "month", "clawback_days"], "channel costs")
    as_of_end = pd.Timestamp(month_end(parse_month(as_of_month)))

    act = activity[["subscriber_id", "month", *usage_columns]].reset_index(drop=True)
    act["month_idx"] = _month_index(act["month"], "activity")
    joined = act.merge(acq[["subscriber_id", "act_idx", "duration"]], on="subscriber_id")
    m = joined["month_idx"] - joined["act_idx"]
    early = joined[(m >= 0) & (m < first_months) & (m <= joined["duration"])]
    sums = early.groupby("subscriber_id")[usage_columns].sum()
    lines = acq.set_index("subscriber_id")
    months_seen = np.minimum(first_months, lines["duration"] + 1)
    usage = sums.reindex(lines.index).fillna(0.0).div(months_seen, axis=0)
    near_zero = np.logical_and.reduce([usage[c] <= usage_thresholds[c] for c in usage_columns])
    lines["is_near_zero_usage"] = np.asarray(near_zero)

    claw = costs[["channel_id", "month", "clawback_days"]].rename(
        columns={"month": "activation_month"}
    )
    claw = claw.assign(channel_id=claw["channel_id"].astype(str))
    lines = lines.reset_index().merge(claw, on=list(COHORT_KEYS), how="left")
    if lines["clawback_days"].isna().any():
        first = lines[lines["clawback_days"].isna()].iloc[0]
        raise InputDataError(
            f"channel costs: no clawback_days for channel {_show(first['channel_id'])!r} month "
            f"{_show(first['activation_month'])!r}"
        )
    window_end = lines["clawback_days"] + post_clawback_days
    lifetime = (lines["deactivation_date"] - lines["activation_date"]).dt.days
    observed = lines["activation_date"] + pd.to_timedelta(window_end, unit="D") <= as_of_end
    after = lines["is_event"] & (lifetime > lines["clawback_days"]) & (lifetime <= window_end)
    lines["is_clawback_observed"] = observed
    lines["is_churned_after_clawback"] = observed & after
    out = lines.groupby("channel_id", as_index=False).agg(
        n_gross_adds=("subscriber_id", "size"),
        n_near_zero_usage=("is_near_zero_usage", "sum"),
        n_clawback_observed=("is_clawback_observed", "sum"),
        n_churned_after_clawback=("is_churned_after_clawback", "sum"),
    )
    for column in EARLY_LIFE_COLUMNS[1:]:
        out[column] = out[column].astype("int64")
    return out.sort_values("channel_id").reset_index(drop=True)


def spark_summarize_early_life(
    acquisitions: SparkDataFrame,
    activity: SparkDataFrame,
    costs: SparkDataFrame,
    *,
    as_of_month: str,
    first_months: int = 3,
    usage_thresholds: Mapping[str, float] = DEFAULT_USAGE_THRESHOLDS,
    post_clawback_days: int = 30,
) -> SparkDataFrame:
    """:func:`summarize_early_life` in Spark: same rules, same columns, one row per channel."""
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import month_index_col

    _check_early_life_params(first_months, usage_thresholds, post_clawback_days)
    usage_columns = list(usage_thresholds)
    require_columns(acquisitions.columns, ACQUISITION_COLUMNS, "acquisitions")
    require_columns(activity.columns, ["subscriber_id", "month", *usage_columns], "activity")
    require_columns(costs.columns, ["channel_id", "month", "clawback_days"], "channel costs")
    as_of_end = F.lit(month_end(parse_month(as_of_month)))
    lines = acquisitions.transform(to_acquisition_lines(as_of_month))
    month_idx = month_index_col("month")
    m = F.col("month_idx") - F.col("act_idx")
    usage = (
        activity.select("subscriber_id", month_idx.alias("month_idx"), *usage_columns)
        .join(lines.select("subscriber_id", "act_idx", "duration"), "subscriber_id")
        .where((m >= 0) & (m < first_months) & (m <= F.col("duration")))
        .groupBy("subscriber_id")
        .agg(*[F.sum(c).alias(c) for c in usage_columns])
    )
    months_seen = F.least(F.lit(first_months), F.col("duration") + 1)
    near_zero = F.lit(True)
    for c in usage_columns:
        near_zero = near_zero & (
            F.coalesce(F.col(c), F.lit(0.0)) / months_seen <= F.lit(float(usage_thresholds[c]))
        )
    claw = costs.select(
        F.col("channel_id").cast("string").alias("channel_id"),
        F.col("month").alias("activation_month"),
        F.col("clawback_days").cast("int").alias("clawback_days"),
    )
    window_end = F.col("clawback_days") + post_clawback_days
    observed = F.date_add("activation_date", window_end) <= as_of_end
    after = (
        F.col("is_event")
        & (F.col("lifetime_days") > F.col("clawback_days"))
        & (F.col("lifetime_days") <= window_end)
    )
    return (
        lines.join(usage, "subscriber_id", "left")
        .join(claw, list(COHORT_KEYS), "left")
        .groupBy("channel_id")
        .agg(
            F.count("*").cast("bigint").alias("n_gross_adds"),
            F.sum(near_zero.cast("int")).cast("bigint").alias("n_near_zero_usage"),
            F.sum(F.coalesce(observed, F.lit(False)).cast("int"))
            .cast("bigint")
            .alias("n_clawback_observed"),
            F.sum(F.coalesce(observed & after, F.lit(False)).cast("int"))
            .cast("bigint")
            .alias("n_churned_after_clawback"),
        )
    )


def _median_of_others(share: np.ndarray, i: int) -> float:
    """Median share of every channel but ``i`` (NaN when no other channel has one)."""
    rest = np.delete(share, i)
    rest = rest[np.isfinite(rest)]
    return float(np.median(rest)) if len(rest) else math.nan


def flag_early_life_warnings(
    counts: pd.DataFrame,
    *,
    ratio: float = 2.0,
    min_share: float = 0.05,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Shares of the early-life signs per channel, flagged when far above the other channels.

    Rule: a channel is flagged on a sign when the lower bound of the Wilson interval of its
    share (at ``confidence``) is at least ``ratio`` times the median share of the *other*
    channels and at least ``min_share`` (2 % against others at 0.5 % is not a concern). Using
    the lower bound keeps a small channel from being flagged on one or two lines, even when
    the others' median is zero; the median of the others is robust to a second bad channel
    and does not let the flagged channel raise its own bar. A lone channel is never flagged.

    Returns:
        ``counts`` plus ``share_near_zero_usage, share_churned_after_clawback`` (null when no
        clawback window has ended yet), ``is_near_zero_usage_flag,
        is_churned_after_clawback_flag``, and ``is_warning`` (either flag).
    """
    require_columns(counts.columns, EARLY_LIFE_COLUMNS, "early-life counts")
    ratio = _number(ratio, "ratio", 1.0)
    min_share = _number(min_share, "min_share", 0.0, 1.0)
    out = counts.sort_values("channel_id").reset_index(drop=True).copy()
    adds = out["n_gross_adds"].where(out["n_gross_adds"] > 0)
    observed = out["n_clawback_observed"].where(out["n_clawback_observed"] > 0)
    out["share_near_zero_usage"] = out["n_near_zero_usage"] / adds
    out["share_churned_after_clawback"] = out["n_churned_after_clawback"] / observed
    denominators = {"near_zero_usage": adds, "churned_after_clawback": observed}
    for sign, denominator in denominators.items():
        share = out[f"share_{sign}"].to_numpy(dtype=float)
        others = np.array([_median_of_others(share, i) for i in range(len(share))])
        with np.errstate(invalid="ignore", divide="ignore"):
            low, _ = wilson_interval(out[f"n_{sign}"], denominator, confidence)
            flag = np.asarray(low) >= np.maximum(ratio * others, min_share)
        out[f"is_{sign}_flag"] = np.where(np.isfinite(share) & np.isfinite(others), flag, False)
    out["is_warning"] = out["is_near_zero_usage_flag"] | out["is_churned_after_clawback_flag"]
    return out
