"""Value segments and lifecycle subject: lines by value tier (3-month ARPU) and tenure band,
lifecycle stages and their trend, and the month-to-month migration between tiers (a transition
matrix). Reads ``ads_value_segments`` and ``ads_value_migration`` with DuckDB (no Spark).

The dashboard functions (:func:`tier_summary`, :func:`lifecycle_summary`,
:func:`transition_matrix`) take settings, a period and region/segment filters and return frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.catalog.ads import ALL
from workbench.catalog.ads_value import LIFECYCLE_STAGES, MIGRATION_FROM, MIGRATION_TO, VALUE_TIERS
from workbench.errors import InputDataError
from workbench.filters import describe
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import cell_filters, read_small

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workbench.config import Settings
    from workbench.filters import Condition

log = logging.getLogger(__name__)

TENURE_ORDER = ("new", "established", "loyal")


@dataclass(frozen=True)
class ValueSegments:
    """``tiers``: lines, shares and ARPU by value tier and tenure band; ``stages``: lines by
    lifecycle stage this month and last; ``stage_trend``: lines by stage and month;
    ``transitions``/``transition_rates``: tier in M-1 (rows) to tier in M (columns), counts and
    row shares; ``message``: why the matrix is missing, if it is."""

    tiers: pd.DataFrame
    stages: pd.DataFrame
    stage_trend: pd.DataFrame
    transitions: pd.DataFrame
    transition_rates: pd.DataFrame
    period: str
    cell: dict[str, str]
    message: str | None


def read_mart_for(
    name: str, settings: Settings, period: str, filters: Sequence[Condition] = ()
) -> pd.DataFrame:
    """A value mart's rows up to ``period``; :class:`InputDataError` names the mart when it
    is empty or lacks the period."""
    frame = read_small(name, settings, filters)
    if frame.empty:
        where = f" for {describe(filters)}" if filters else ""
        raise InputDataError(
            f"{name} has no rows{where}: build the warehouse (workbench build) or check the filter"
        )
    months = sorted(set(frame["month"]))
    if period not in months:
        raise InputDataError(f"{name} has no month {period} (it has {', '.join(months)})")
    return frame[frame["month"] <= period].reset_index(drop=True)


def summarise_tiers(segments: pd.DataFrame, period: str) -> pd.DataFrame:
    """Lines, share of lines, revenue, share of revenue and ARPU per tier and tenure band."""
    now = segments[segments["month"] == period]
    out = (
        now.groupby(["value_tier", "tenure_band"], as_index=False)[
            ["n_lines", "revenue_cny", "arpu_3m_sum_cny"]
        ]
        .sum()
        .assign(
            line_share=lambda d: d["n_lines"] / d["n_lines"].sum(),
            revenue_share=lambda d: d["revenue_cny"] / d["revenue_cny"].sum(),
            arpu_3m_cny=lambda d: d["arpu_3m_sum_cny"] / d["n_lines"],
        )
        .drop(columns="arpu_3m_sum_cny")
    )
    order = {t: i for i, t in enumerate(VALUE_TIERS)} | {
        b: 10 + i for i, b in enumerate(TENURE_ORDER)
    }
    return out.sort_values(["value_tier", "tenure_band"], key=lambda s: s.map(order)).reset_index(
        drop=True
    )


def summarise_stages(segments: pd.DataFrame, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lines per lifecycle stage this month and last (with the change), and the monthly trend."""
    trend = (
        segments.groupby(["month", "lifecycle_stage"], as_index=False)["n_lines"]
        .sum()
        .sort_values(["month", "lifecycle_stage"], key=_stage_key)
        .reset_index(drop=True)
    )
    wide = trend.pivot_table(
        index="lifecycle_stage", columns="month", values="n_lines", aggfunc="sum"
    )
    wide = wide.reindex(list(LIFECYCLE_STAGES)).fillna(0)
    prev = add_months(period, -1)
    stages = pd.DataFrame({"lifecycle_stage": list(LIFECYCLE_STAGES)})
    stages["n_lines"] = wide[period].to_numpy().astype(int)
    stages["n_lines_prev"] = wide[prev].to_numpy() if prev in wide.columns else float("nan")
    stages["change_mom"] = (
        stages["n_lines"] / stages["n_lines_prev"].where(stages["n_lines_prev"] > 0) - 1
    )
    stages["share"] = stages["n_lines"] / stages["n_lines"].sum()
    revenue = segments[segments["month"] == period].groupby("lifecycle_stage")["revenue_cny"].sum()
    stages["revenue_cny"] = stages["lifecycle_stage"].map(revenue).fillna(0.0)
    return stages, trend


def _stage_key(s: pd.Series) -> pd.Series:
    if s.name == "lifecycle_stage":
        return s.map({st: i for i, st in enumerate(LIFECYCLE_STAGES)})
    return s


def to_transition_matrix(
    migration: pd.DataFrame, period: str, *, rates: bool = False
) -> pd.DataFrame:
    """Tier in M-1 (rows: high, medium, low, new) to tier in M (columns: high, medium, low,
    lost); ``rates`` divides each row by its total (the probability of moving)."""
    now = migration[migration["month"] == period]
    matrix = (
        now.pivot_table(index="from_tier", columns="to_tier", values="n_lines", aggfunc="sum")
        .reindex(index=list(MIGRATION_FROM), columns=list(MIGRATION_TO))
        .fillna(0)
        .astype(int)
    )
    if rates:
        totals = matrix.sum(axis=1)
        matrix = matrix.div(totals.where(totals > 0), axis=0)
    matrix.index.name, matrix.columns.name = "from_tier", "to_tier"
    return matrix


def tier_summary(
    settings: Settings, period: str, region_id: str = ALL, segment: str = ALL
) -> pd.DataFrame:
    """Dashboard: the tier x tenure table of one region/segment (``ALL``: every one)."""
    period = parse_month(period)
    frame = read_mart_for(
        "ads_value_segments", settings, period, cell_filters(region_id=region_id, segment=segment)
    )
    return summarise_tiers(frame, period)


def lifecycle_summary(
    settings: Settings, period: str, region_id: str = ALL, segment: str = ALL
) -> pd.DataFrame:
    """Dashboard: lines per lifecycle stage this month and last."""
    period = parse_month(period)
    frame = read_mart_for(
        "ads_value_segments", settings, period, cell_filters(region_id=region_id, segment=segment)
    )
    return summarise_stages(frame, period)[0]


def transition_matrix(
    settings: Settings,
    period: str,
    region_id: str = ALL,
    segment: str = ALL,
    *,
    rates: bool = False,
) -> pd.DataFrame:
    """Dashboard: the tier transition matrix from the month before ``period`` to ``period``."""
    period = parse_month(period)
    frame = read_mart_for(
        "ads_value_migration", settings, period, cell_filters(region_id=region_id, segment=segment)
    )
    return to_transition_matrix(frame, period, rates=rates)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("value_segments")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    segment: str = DEFAULTS["segment"],
) -> ValueSegments:
    """Value tiers, lifecycle stages and tier migration of one region/segment for ``period``."""
    period = parse_month(period)
    cell = cell_filters(region_id=region_id, segment=segment)
    segments = read_mart_for("ads_value_segments", settings, period, cell)
    migration = read_mart_for("ads_value_migration", settings, period, cell)
    tiers = summarise_tiers(segments, period)
    stages, trend = summarise_stages(segments, period)
    counts = to_transition_matrix(migration, period)
    rates = to_transition_matrix(migration, period, rates=True)
    message = None
    if add_months(period, -1) not in set(migration["month"]) and add_months(period, -1) not in set(
        segments["month"]
    ):
        # the first warehouse month: every line looks new
        message = (
            f"{period} is the first month in the warehouse: there is no earlier tier to migrate "
            f"from. {period} 是仓库第一个月，无法计算迁移。"
        )
    cell = {"region_id": region_id, "segment": segment}
    log.info("value segments %s %s: %d line(s)", period, cell, int(tiers["n_lines"].sum()))
    return ValueSegments(tiers, stages, trend, counts, rates, period, cell, message)
