"""Service quality subject: complaints per 10k lines by category and region, how fast they are
resolved, and whether lines homed on poor cells churn more. Reads ``ads_complaint_summary`` and
``ads_cell_churn`` with DuckDB (no Spark); writes nothing.

The functions below :func:`run` are what a dashboard calls: settings, period and filters in,
small frames out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.catalog.ads import ALL
from workbench.errors import InputDataError, ParameterError
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import cell_filters, read_small

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workbench.config import Settings
    from workbench.filters import Condition

log = logging.getLogger(__name__)

PER = 10_000  # complaints are counted per 10k lines, as in the KPI dictionary


@dataclass(frozen=True)
class ServiceQuality:
    """``by_category`` / ``by_region``: complaints per 10k lines and resolution of ``period``;
    ``region_category``: the rate of every region and category; ``resolution``: the share of
    tickets per resolution-time band and category; ``trend``: the rate by month;
    ``poor_cells``: cells above the drop-rate threshold; ``poor_cell_churn``: next-month churn of
    lines on poor cells against the others, with intervals, over ``churn_months``."""

    by_category: pd.DataFrame
    by_region: pd.DataFrame
    region_category: pd.DataFrame
    resolution: pd.DataFrame
    trend: pd.DataFrame
    poor_cells: pd.DataFrame
    poor_cell_churn: pd.DataFrame
    churn_months: list[str]
    period: str
    region_id: str


# ---------------------------------------------------------------- statistics (pure)


def rate_interval(
    events: pd.Series | np.ndarray, trials: pd.Series | np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of events / trials (NaN where there are no trials)."""
    from statsmodels.stats.proportion import proportion_confint

    events = np.asarray(events, dtype=float)
    trials = np.asarray(trials, dtype=float)
    low = np.full(events.shape, np.nan)
    high = np.full(events.shape, np.nan)
    ok = trials > 0
    if ok.any():
        lo, hi = proportion_confint(events[ok], trials[ok], alpha=1 - confidence, method="wilson")
        low[ok], high[ok] = lo, hi
    return low, high


def with_rates(
    frame: pd.DataFrame,
    events: str,
    trials: str,
    name: str = "rate",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """``frame`` with ``name``, ``name_low`` and ``name_high`` (Wilson interval) added."""
    out = frame.copy()
    n = out[trials].astype(float)
    out[name] = out[events].astype(float) / n.where(n > 0)
    out[f"{name}_low"], out[f"{name}_high"] = rate_interval(out[events], n, confidence)
    return out


def difference_interval(
    events_a: float, n_a: float, events_b: float, n_b: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference of two rates (a - b) with a Newcombe (Wilson-based) interval."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n_a <= 0 or n_b <= 0:
        return float("nan"), float("nan"), float("nan")
    low, high = confint_proportions_2indep(
        events_a, n_a, events_b, n_b, method="newcomb", compare="diff", alpha=1 - confidence
    )
    return events_a / n_a - events_b / n_b, float(low), float(high)


def check_confidence(confidence: float) -> None:
    if not 0.5 <= confidence < 1:
        raise ParameterError(f"parameter 'confidence': {confidence!r} must be in [0.5, 1)")


# ---------------------------------------------------------------- reads


def read_required(name: str, settings: Settings, filters: Sequence[Condition] = ()) -> pd.DataFrame:
    """A mart, or InputDataError naming it when it has not been built."""
    from workbench.catalog import get_table
    from workbench.warehouse import storage

    table = get_table(name)
    path = table.path(settings)
    built = storage.list_months(path) if table.partition_by else storage._parquet_files(path)
    if not built:
        raise InputDataError(
            f"table {name} has no data under {settings.warehouse_dir}: build the warehouse "
            "(workbench build) first"
        )
    return read_small(name, settings, filters)


def _complaints(settings: Settings, period: str, region_id: str) -> pd.DataFrame:
    period = parse_month(period)
    frame = read_required("ads_complaint_summary", settings, cell_filters(region_id=region_id))
    if frame.empty:
        raise InputDataError(f"ads_complaint_summary has no rows for region {region_id!r}")
    if period not in set(frame["month"]):
        raise InputDataError(
            f"ads_complaint_summary has no month {period} "
            f"(it has {', '.join(sorted(set(frame['month'])))})"
        )
    return frame


def _summarise(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rates per 10k and resolution figures of complaint-summary rows grouped by ``by``.

    The line base is per region and month (repeated on each category row), so it is summed over
    distinct regions and months only.
    """
    sums = frame.groupby(by, dropna=False)[
        [
            "n_complaints",
            "n_open_at_month_end",
            "n_resolved",
            "resolution_hours_sum",
            "n_resolved_within_24h",
            "n_resolved_within_72h",
            "n_resolved_within_168h",
        ]
    ].sum()
    out = sums.reset_index()
    keys = [b for b in by if b != "category"]
    base = frame.drop_duplicates(["region_id", "month"])
    if keys:
        lines = base.groupby(keys, dropna=False)["n_lines"].sum().reset_index()
        out = out.merge(lines, on=keys, how="left")
    else:
        out["n_lines"] = int(base["n_lines"].sum())
    n_lines = out["n_lines"].astype(float)
    out["complaints_per_10k"] = out["n_complaints"] * PER / n_lines.where(n_lines > 0)
    resolved = out["n_resolved"].astype(float)
    out["mean_resolution_hours"] = out["resolution_hours_sum"] / resolved.where(resolved > 0)
    out["share_within_24h"] = out["n_resolved_within_24h"] / resolved.where(resolved > 0)
    out["share_open_at_month_end"] = out["n_open_at_month_end"] / out["n_complaints"].where(
        out["n_complaints"] > 0
    )
    return out


def complaint_rates(
    settings: Settings, period: str, region_id: str = ALL, by: str = "category"
) -> pd.DataFrame:
    """Complaints per 10k lines of ``period`` by ``category``, ``region_id`` or both
    (``"region_category"``), for one region or ALL."""
    groups = {
        "category": ["category"],
        "region_id": ["region_id"],
        "region_category": ["region_id", "category"],
    }
    if by not in groups:
        raise ParameterError(f"parameter 'by': {by!r} is not one of {', '.join(groups)}")
    frame = _complaints(settings, period, region_id)
    month = frame[frame["month"] == parse_month(period)]
    out = _summarise(month, groups[by])
    return out.sort_values(groups[by]).reset_index(drop=True)


def resolution_distribution(settings: Settings, period: str, region_id: str = ALL) -> pd.DataFrame:
    """Share of the month's tickets per resolution-time band (and still open), by category."""
    frame = _complaints(settings, period, region_id)
    month = frame[frame["month"] == parse_month(period)]
    sums = month.groupby("category")[
        [
            "n_complaints",
            "n_resolved",
            "n_resolved_within_24h",
            "n_resolved_within_72h",
            "n_resolved_within_168h",
        ]
    ].sum()
    counts = pd.DataFrame(
        {
            "<=24h": sums["n_resolved_within_24h"],
            "24-72h": sums["n_resolved_within_72h"] - sums["n_resolved_within_24h"],
            "72-168h": sums["n_resolved_within_168h"] - sums["n_resolved_within_72h"],
            ">168h": sums["n_resolved"] - sums["n_resolved_within_168h"],
            "unresolved": sums["n_complaints"] - sums["n_resolved"],
        }
    )
    long = counts.reset_index().melt("category", var_name="band", value_name="n_complaints")
    totals = long.groupby("category")["n_complaints"].transform("sum")
    long["share"] = long["n_complaints"] / totals.where(totals > 0)
    order = {b: i for i, b in enumerate(counts.columns)}
    return long.sort_values(
        ["category", "band"], key=lambda s: s.map(order) if s.name == "band" else s
    ).reset_index(drop=True)


def complaint_trend(settings: Settings, period: str, region_id: str = ALL) -> pd.DataFrame:
    """Complaints per 10k lines by month and category up to ``period``."""
    frame = _complaints(settings, period, region_id)
    frame = frame[frame["month"] <= parse_month(period)]
    return _summarise(frame, ["month", "category"]).sort_values(["month", "category"])


def churn_window(available: list[str], period: str, months: int) -> list[str]:
    """The ``months`` latest months up to ``period`` whose next-month churn is observed."""
    observed = sorted(m for m in available if m <= parse_month(period))
    if not observed:
        raise InputDataError(
            f"no month up to {period} has an observed next-month churn yet (a month's churn "
            "is known once the following month is built)"
        )
    return observed[-months:]


def _cells(settings: Settings, region_id: str) -> pd.DataFrame:
    frame = read_required("ads_cell_churn", settings, cell_filters(region_id=region_id))
    if frame.empty:
        raise InputDataError(f"ads_cell_churn has no rows for region {region_id!r}")
    return frame


def poor_cell_list(
    settings: Settings, period: str, region_id: str = ALL, poor_drop_rate: float = 0.03
) -> pd.DataFrame:
    """Cells whose mean drop rate in ``period`` is at least ``poor_drop_rate``, worst first."""
    period = parse_month(period)
    cells = _cells(settings, region_id)
    month = cells[cells["month"] == period]
    if month.empty:
        raise InputDataError(f"ads_cell_churn has no month {period}")
    poor = month[month["mean_drop_rate"] >= poor_drop_rate]
    cols = ["cell_id", "region_id", "mean_drop_rate", "mean_throughput_mbps", "n_lines"]
    return poor.sort_values(["mean_drop_rate", "cell_id"], ascending=[False, True])[
        cols
    ].reset_index(drop=True)


def poor_cell_churn(
    settings: Settings,
    period: str,
    region_id: str = ALL,
    poor_drop_rate: float = 0.03,
    churn_months: int = 3,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, list[str]]:
    """Next-month churn of lines homed on poor cells (mean drop rate of the month at least
    ``poor_drop_rate``) against lines on the other cells, pooled over the ``churn_months``
    latest months up to ``period`` with an observed churn.

    Returns:
        one row per group (``poor``, ``other``) with lines, churned, the rate and its interval,
        plus the difference ``poor - other`` with its interval and the ratio on each row; and
        the months pooled.
    """
    check_confidence(confidence)
    cells = _cells(settings, region_id)
    observed = cells.loc[cells["is_next_month_observed"].astype(bool), "month"].unique()
    window = churn_window(list(observed), period, churn_months)
    data = cells[cells["month"].isin(window) & cells["mean_drop_rate"].notna()].copy()
    data["cell_group"] = np.where(data["mean_drop_rate"] >= poor_drop_rate, "poor", "other")
    out = (
        data.groupby("cell_group")
        .agg(
            n_cells=("cell_id", "nunique"),
            n_lines=("n_lines", "sum"),
            n_churned=("n_churned_next_month", "sum"),
            mean_drop_rate=("mean_drop_rate", "mean"),
        )
        .reindex(["poor", "other"])
        .fillna(0)
        .reset_index()
    )
    out = with_rates(out, "n_churned", "n_lines", "churn_rate", confidence)
    p, o = out.iloc[0], out.iloc[1]
    diff, low, high = difference_interval(
        p["n_churned"], p["n_lines"], o["n_churned"], o["n_lines"], confidence
    )
    out["difference"], out["difference_low"], out["difference_high"] = diff, low, high
    out["ratio"] = p["churn_rate"] / o["churn_rate"] if o["churn_rate"] else float("nan")
    return out, window


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("service_quality")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    poor_drop_rate: float = DEFAULTS["poor_drop_rate"],
    churn_months: int = DEFAULTS["churn_months"],
    confidence: float = DEFAULTS["confidence"],
) -> ServiceQuality:
    """Complaints, resolution and the poor-cell churn effect of ``period`` for a region or ALL."""
    period = parse_month(period)
    if not 0 < poor_drop_rate < 1:
        raise ParameterError(f"parameter 'poor_drop_rate': {poor_drop_rate!r} must be in (0, 1)")
    if churn_months < 1:
        raise ParameterError(f"parameter 'churn_months': {churn_months!r} must be at least 1")
    by_category = complaint_rates(settings, period, region_id, "category")
    by_region = complaint_rates(settings, period, region_id, "region_id")
    region_category = complaint_rates(settings, period, region_id, "region_category")
    resolution = resolution_distribution(settings, period, region_id)
    trend = complaint_trend(settings, period, region_id)
    trend = trend[trend["month"] >= add_months(period, -11)].reset_index(drop=True)
    cells = poor_cell_list(settings, period, region_id, poor_drop_rate)
    churn, window = poor_cell_churn(
        settings, period, region_id, poor_drop_rate, churn_months, confidence
    )
    log.info(
        "service quality %s %s: %d complaint(s), %d poor cell(s)",
        period,
        region_id,
        int(by_category["n_complaints"].sum()),
        len(cells),
    )
    return ServiceQuality(
        by_category,
        by_region,
        region_category,
        resolution,
        trend,
        cells,
        churn,
        window,
        period,
        region_id,
    )
