"""Campaign ROI: treated vs control response and churn, uplift with confidence intervals,
incremental revenue against campaign cost.

Two steps, as for channels: contacts (one row per targeted subscriber) are reduced to sufficient
statistics per campaign and group (:func:`summarize_campaign_groups` in pandas,
:func:`spark_summarize_campaign_groups` in Spark), and :func:`campaign_roi` does the arithmetic
on that small table.

Interval choices:

* a difference of two proportions (churn uplift = control - treated, response uplift =
  treated - control) uses Newcombe's hybrid score interval (Newcombe 1998, method 10), built
  from the two Wilson intervals. Unlike Wald it stays inside [-1, 1] and keeps its coverage
  when a rate is near 0 or 1 (responses to a campaign often are);
* the difference of revenue per head uses the normal (z) interval with unequal variances
  (Welch's standard error); campaign groups are large, and it needs only counts, sums and sums
  of squares, so Spark can compute its inputs. Incremental revenue is that difference times
  the number treated, and its interval scales the same way; the ROI interval follows from it
  (ROI is increasing in incremental revenue).

Horizon: churn and revenue are measured over the k months after the contact month. While those
months are not all in the warehouse (a campaign exported last month), :func:`mark_horizons`
blanks the churn and revenue measures and ROI, which a partial window would understate, and says
"horizon incomplete"; the response rates and their uplift stand on their own.

Cost = treated contacts x cost per contact + offers accepted by the treated x offer cost (the
control group is not contacted; ``is_accepted`` when the contacts have it, else every treated
responder is taken to have accepted). ROI = (incremental revenue - cost) / cost.
"""

from __future__ import annotations

import logging
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.analysis.checks import check_cost_table
from workbench.analysis.checks import show_value as _show
from workbench.errors import InputDataError, ParameterError, require_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame

log = logging.getLogger(__name__)


TREATMENT = "treatment"
CONTROL = "control"
#: one row per targeted subscriber (the names of the ``ads_campaign_results`` mart); churn and
#: revenue over the campaign's measurement window. An optional ``is_accepted`` column says who
#: took the offer (what the offer cost is paid for); without it every responder did.
CONTACT_COLUMNS = (
    "campaign_id",
    "subscriber_id",
    "assignment",
    "is_responded",
    "is_churned_within_window",
    "revenue_in_window_cny",
)
ACCEPTED_COLUMN = "is_accepted"
#: sufficient statistics per campaign and assignment
GROUP_COLUMNS = (
    "campaign_id",
    "assignment",
    "n",
    "n_responded",
    "n_accepted",
    "n_churned",
    "revenue_cny",
    "revenue_sq_cny",
)
#: what a campaign costs
CAMPAIGN_COST_COLUMNS = ("campaign_id", "cost_per_contact_cny", "offer_cost_cny")


#: measures that need the campaign's whole horizon (churn and revenue within the window)
HORIZON_COLUMNS = (
    "churn_rate_treated",
    "churn_rate_control",
    "churn_uplift",
    "churn_uplift_low",
    "churn_uplift_high",
    "revenue_per_head_treated_cny",
    "revenue_per_head_control_cny",
    "incremental_revenue_cny",
    "incremental_revenue_low_cny",
    "incremental_revenue_high_cny",
    "roi",
    "roi_low",
    "roi_high",
)
#: each campaign's window state: complete or not, months observed of how many
WINDOW_COLUMNS = ("campaign_id", "is_window_complete", "months_observed", "window_months")
COMPLETE = "complete"


class NoControlGroupError(InputDataError):
    """A campaign has no control (or no treated) subscribers, so nothing can be compared."""


def _z(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ParameterError(f"confidence must be a float in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(
    count: np.ndarray | float, n: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``count / n`` (vectorised)."""
    z = _z(confidence)
    k = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def newcombe_interval(
    count1: np.ndarray | float,
    n1: np.ndarray | float,
    count2: np.ndarray | float,
    n2: np.ndarray | float,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for ``p1 - p2`` (vectorised).

    Returns:
        ``(difference, low, high)``.
    """
    p1 = np.asarray(count1, dtype=float) / np.asarray(n1, dtype=float)
    p2 = np.asarray(count2, dtype=float) / np.asarray(n2, dtype=float)
    l1, u1 = wilson_interval(count1, n1, confidence)
    l2, u2 = wilson_interval(count2, n2, confidence)
    diff = p1 - p2
    low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return diff, low, high


def _flags(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    ok = values.isin([True, False, 0, 1]) & values.notna()
    if not ok.all():
        row = frame.index[~ok.to_numpy()][0]
        raise InputDataError(
            f"campaign contacts: column {column!r} must be true/false "
            f"(row {row}: {_show(values[row])!r})"
        )
    return values.astype(bool)


def summarize_campaign_groups(contacts: pd.DataFrame) -> pd.DataFrame:
    """Counts, sums and sums of squares per campaign and assignment, from pandas contacts.

    Args:
        contacts: :data:`CONTACT_COLUMNS`, one row per targeted subscriber.

    Returns:
        :data:`GROUP_COLUMNS`, one row per campaign and assignment present.
    """
    require_columns(contacts.columns, CONTACT_COLUMNS, "campaign contacts")
    contacts = contacts.reset_index(drop=True)  # messages name rows by position
    if contacts.empty:
        raise InputDataError("campaign contacts: the table is empty")
    for key in ("campaign_id", "subscriber_id"):
        if contacts[key].isna().any():
            row = contacts.index[contacts[key].isna().to_numpy()][0]
            raise InputDataError(f"campaign contacts: column {key!r} is null in row {row}")
    bad = ~contacts["assignment"].isin([TREATMENT, CONTROL])
    if bad.any():
        row = contacts.index[bad.to_numpy()][0]
        raise InputDataError(
            f"campaign contacts: assignment must be {TREATMENT!r} or {CONTROL!r} "
            f"(row {row}: {_show(contacts.at[row, 'assignment'])!r})"
        )
    dup = contacts.duplicated(["campaign_id", "subscriber_id"])
    if dup.any():
        row = contacts.index[dup.to_numpy()][0]
        raise InputDataError(
            f"campaign contacts: subscriber {_show(contacts.at[row, 'subscriber_id'])!r} "
            f"appears twice in campaign {_show(contacts.at[row, 'campaign_id'])!r}"
        )
    revenue = pd.to_numeric(contacts["revenue_in_window_cny"], errors="coerce")
    if revenue.isna().any():
        row = contacts.index[revenue.isna().to_numpy()][0]
        raise InputDataError(
            f"campaign contacts: column 'revenue_in_window_cny' must be a number (row {row}: "
            f"{_show(contacts.at[row, 'revenue_in_window_cny'])!r})"
        )
    accepted = ACCEPTED_COLUMN if ACCEPTED_COLUMN in contacts.columns else "is_responded"
    frame = pd.DataFrame(
        {
            "campaign_id": contacts["campaign_id"],
            "assignment": contacts["assignment"],
            "is_responded": _flags(contacts, "is_responded").astype("int64"),
            "is_accepted": _flags(contacts, accepted).astype("int64"),
            "is_churned": _flags(contacts, "is_churned_within_window").astype("int64"),
            "revenue_cny": revenue.astype(float),
            "revenue_sq_cny": revenue.astype(float) ** 2,
        }
    )
    out = frame.groupby(["campaign_id", "assignment"], as_index=False).agg(
        n=("is_churned", "size"),
        n_responded=("is_responded", "sum"),
        n_accepted=("is_accepted", "sum"),
        n_churned=("is_churned", "sum"),
        revenue_cny=("revenue_cny", "sum"),
        revenue_sq_cny=("revenue_sq_cny", "sum"),
    )
    for column in ("n", "n_responded", "n_accepted", "n_churned"):
        out[column] = out[column].astype("int64")
    return (
        out[list(GROUP_COLUMNS)].sort_values(["campaign_id", "assignment"]).reset_index(drop=True)
    )


def spark_summarize_campaign_groups(contacts: SparkDataFrame) -> SparkDataFrame:
    """:func:`summarize_campaign_groups` in Spark (same columns); rows with an assignment other
    than treatment/control are left out."""
    from pyspark.sql import functions as F

    require_columns(contacts.columns, CONTACT_COLUMNS, "campaign contacts")
    revenue = F.coalesce(F.col("revenue_in_window_cny").cast("double"), F.lit(0.0))
    accepted = ACCEPTED_COLUMN if ACCEPTED_COLUMN in contacts.columns else "is_responded"
    return (
        contacts.where(F.col("assignment").isin(TREATMENT, CONTROL))
        .groupBy("campaign_id", "assignment")
        .agg(
            F.count("*").cast("bigint").alias("n"),
            F.sum(F.col("is_responded").cast("int")).cast("bigint").alias("n_responded"),
            F.sum(F.col(accepted).cast("int")).cast("bigint").alias("n_accepted"),
            F.sum(F.col("is_churned_within_window").cast("int")).cast("bigint").alias("n_churned"),
            F.sum(revenue).alias("revenue_cny"),
            F.sum(revenue * revenue).alias("revenue_sq_cny"),
        )
        .select(*GROUP_COLUMNS)
    )


def _check_costs(costs: pd.DataFrame) -> pd.DataFrame:
    checked = check_cost_table(
        costs,
        what="campaign costs",
        keys={"campaign_id": "campaign"},
        amounts=CAMPAIGN_COST_COLUMNS[1:],
    )
    return checked[list(CAMPAIGN_COST_COLUMNS)]


def _check_groups(groups: pd.DataFrame) -> None:
    bad = ~groups["assignment"].isin([TREATMENT, CONTROL])
    if bad.any():
        raise InputDataError(
            f"campaign groups: assignment must be {TREATMENT!r} or {CONTROL!r}, got "
            f"{_show(groups.loc[bad, 'assignment'].iloc[0])!r}"
        )
    dup = groups.duplicated(["campaign_id", "assignment"])
    if dup.any():
        first = groups[dup].iloc[0]
        raise InputDataError(
            f"campaign groups: campaign {_show(first['campaign_id'])!r} has more than one "
            f"{first['assignment']} row"
        )
    counts = groups[["n", "n_responded", "n_accepted", "n_churned"]].apply(
        pd.to_numeric, errors="coerce"
    )
    bad = (
        counts.isna().any(axis=1)
        | (counts < 0).any(axis=1)
        | (counts["n_responded"] > counts["n"])
        | (counts["n_accepted"] > counts["n"])
        | (counts["n_churned"] > counts["n"])
    )
    if bad.any():
        first = groups[bad.to_numpy()].iloc[0]
        raise InputDataError(
            f"campaign groups: campaign {_show(first['campaign_id'])!r} {first['assignment']}: "
            "counts must be whole numbers with 0 <= n_responded, n_accepted, n_churned <= n"
        )


def campaign_roi(
    groups: pd.DataFrame, costs: pd.DataFrame, *, confidence: float = 0.95
) -> pd.DataFrame:
    """Response, churn, uplift with intervals, incremental revenue, cost and ROI per campaign.

    Args:
        groups: :data:`GROUP_COLUMNS` (from either summarize function).
        costs: :data:`CAMPAIGN_COST_COLUMNS`, one row per campaign.
        confidence: two-sided confidence level of every interval.

    Returns:
        One row per campaign: ``n_treated, n_control``, response and churn rates of both
        groups, ``churn_uplift`` (control - treated) and ``response_uplift`` (treated -
        control) with ``_low``/``_high`` bounds, revenue per head of both groups,
        ``incremental_revenue_cny`` with bounds, ``n_accepted``, ``campaign_cost_cny``, ``roi``
        with bounds (null when the cost is zero).
    """
    z = _z(confidence)
    require_columns(groups.columns, GROUP_COLUMNS, "campaign groups")
    _check_groups(groups)
    cost = _check_costs(costs)
    wide = groups.pivot(index="campaign_id", columns="assignment", values=list(GROUP_COLUMNS[2:]))
    for side in (TREATMENT, CONTROL):
        if side not in wide.columns.get_level_values(1):
            wide[[(c, side) for c in GROUP_COLUMNS[2:]]] = np.nan
    n_t = wide[("n", TREATMENT)].fillna(0)
    n_c = wide[("n", CONTROL)].fillna(0)
    for side, n in ((CONTROL, n_c), (TREATMENT, n_t)):
        empty = n[n <= 0]
        if not empty.empty:
            raise NoControlGroupError(
                f"campaign {_show(empty.index[0])!r} has no {side} subscribers: "
                "uplift needs both groups"
            )
    out = pd.DataFrame(index=wide.index)
    out["n_treated"] = n_t.astype("int64")
    out["n_control"] = n_c.astype("int64")
    resp_t, resp_c = wide[("n_responded", TREATMENT)], wide[("n_responded", CONTROL)]
    churn_t, churn_c = wide[("n_churned", TREATMENT)], wide[("n_churned", CONTROL)]
    out["response_rate_treated"] = resp_t / n_t
    out["response_rate_control"] = resp_c / n_c
    out["churn_rate_treated"] = churn_t / n_t
    out["churn_rate_control"] = churn_c / n_c
    diff, low, high = newcombe_interval(churn_c, n_c, churn_t, n_t, confidence)
    out["churn_uplift"], out["churn_uplift_low"], out["churn_uplift_high"] = diff, low, high
    diff, low, high = newcombe_interval(resp_t, n_t, resp_c, n_c, confidence)
    out["response_uplift"], out["response_uplift_low"], out["response_uplift_high"] = (
        diff,
        low,
        high,
    )
    sum_t, sum_c = wide[("revenue_cny", TREATMENT)], wide[("revenue_cny", CONTROL)]
    sq_t, sq_c = wide[("revenue_sq_cny", TREATMENT)], wide[("revenue_sq_cny", CONTROL)]
    mean_t, mean_c = sum_t / n_t, sum_c / n_c
    # sample variances from sums; clip tiny negative values left by floating point
    var_t = ((sq_t - n_t * mean_t**2) / (n_t - 1).where(n_t > 1)).clip(lower=0)
    var_c = ((sq_c - n_c * mean_c**2) / (n_c - 1).where(n_c > 1)).clip(lower=0)
    se = np.sqrt(var_t / n_t + var_c / n_c)
    out["revenue_per_head_treated_cny"] = mean_t
    out["revenue_per_head_control_cny"] = mean_c
    out["incremental_revenue_cny"] = (mean_t - mean_c) * n_t
    out["incremental_revenue_low_cny"] = (mean_t - mean_c - z * se) * n_t
    out["incremental_revenue_high_cny"] = (mean_t - mean_c + z * se) * n_t
    out["n_accepted"] = wide[("n_accepted", TREATMENT)].astype("int64")
    out = out.reset_index().merge(cost, on="campaign_id", how="left")
    missing = out[out["cost_per_contact_cny"].isna()]
    if not missing.empty:
        raise InputDataError(
            f"campaign costs: no cost row for campaign {_show(missing['campaign_id'].iloc[0])!r}"
        )
    out["campaign_cost_cny"] = (
        out["n_treated"] * out["cost_per_contact_cny"] + out["n_accepted"] * out["offer_cost_cny"]
    )
    paid = out["campaign_cost_cny"].where(out["campaign_cost_cny"] > 0)
    for suffix in ("", "_low", "_high"):
        revenue = out[f"incremental_revenue{suffix}_cny"]
        out[f"roi{suffix}"] = (revenue - out["campaign_cost_cny"]) / paid
    log.info("campaign ROI for %d campaign(s)", len(out))
    out.columns.name = None
    return out.drop(columns=["cost_per_contact_cny", "offer_cost_cny"])


def mark_horizons(summary: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Add ``is_window_complete`` and ``measurement`` to a :func:`campaign_roi` summary and
    blank :data:`HORIZON_COLUMNS` where the horizon is not complete.

    Args:
        windows: :data:`WINDOW_COLUMNS`, one row per campaign of ``summary``.

    Returns:
        ``summary`` with ``measurement`` = ``"complete"`` or ``"horizon incomplete: m of k
        months observed"``.
    """
    require_columns(windows.columns, WINDOW_COLUMNS, "campaign windows")
    state = windows[list(WINDOW_COLUMNS)].drop_duplicates("campaign_id")
    out = summary.drop(columns=["is_window_complete"], errors="ignore").merge(
        state, on="campaign_id", how="left"
    )
    missing = out[out["is_window_complete"].isna()]
    if not missing.empty:
        raise InputDataError(
            f"campaign windows: no window state for campaign "
            f"{_show(missing['campaign_id'].iloc[0])!r}"
        )
    complete = out["is_window_complete"].astype(bool)
    out["is_window_complete"] = complete
    seen = out["months_observed"].clip(lower=0).astype("int64").astype(str)
    out["measurement"] = np.where(
        complete,
        COMPLETE,
        "horizon incomplete: "
        + seen
        + " of "
        + out["window_months"].astype("int64").astype(str)
        + " months observed",
    )
    out.loc[~complete, list(HORIZON_COLUMNS)] = np.nan
    return out.drop(columns=["months_observed", "window_months"])
