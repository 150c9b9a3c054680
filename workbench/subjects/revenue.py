"""Revenue subject: the monthly trend, the structure by category, region and plan against last
month and last year, and a forecast of the next months with a prediction interval and its
rolling-origin back-test error. Reads ``ads_revenue_structure`` with DuckDB (no Spark).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis.forecast import Forecast, forecast_monthly
from workbench.catalog.ads import ALL
from workbench.catalog.ads_value import REVENUE_CATEGORY_LABELS
from workbench.errors import ParameterError
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import cell_filters
from workbench.subjects.value_segments import read_mart_for

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

DIMENSIONS = ("category", "region_id", "plan_id", "plan_type", "segment")


@dataclass(frozen=True)
class Revenue:
    """``trend``: revenue, live lines and ARPU by month; ``by_category`` (with each category's
    ``category_name``), ``by_region``, ``by_plan``: this month against last month and last
    year; ``totals``: the headline figures; ``forecast``: the forecast with its back-test;
    ``messages``: plain notes on what could not be computed (no last year, short history)."""

    trend: pd.DataFrame
    by_category: pd.DataFrame
    by_region: pd.DataFrame
    by_plan: pd.DataFrame
    totals: dict[str, float | None]
    forecast: Forecast
    messages: list[str]
    period: str


def monthly_revenue(structure: pd.DataFrame) -> pd.DataFrame:
    """Revenue, live lines and ARPU (revenue / live lines) by month."""
    revenue = structure.groupby("month")["revenue_cny"].sum()
    # every cell carries its line counts on each category row: count them once
    lines = structure[structure["category"] == "plan_fee"].groupby("month")["n_active_lines"].sum()
    out = pd.DataFrame({"revenue_cny": revenue, "n_active_lines": lines}).reset_index()
    out["arpu_cny"] = out["revenue_cny"] / out["n_active_lines"].where(out["n_active_lines"] > 0)
    out["change_mom"] = out["revenue_cny"].pct_change()
    return out.sort_values("month").reset_index(drop=True)


def compare_structure(structure: pd.DataFrame, period: str, by: str) -> pd.DataFrame:
    """Revenue by ``by`` this month, last month and the same month last year, with changes and
    this month's share."""
    if by not in DIMENSIONS:
        raise ParameterError(f"parameter 'by': {by!r} is not one of {', '.join(DIMENSIONS)}")
    prev, last_year = add_months(period, -1), add_months(period, -12)
    wide = structure.pivot_table(index=by, columns="month", values="revenue_cny", aggfunc="sum")
    out = pd.DataFrame(index=wide.index)
    for name, month in (
        ("revenue_cny", period),
        ("revenue_prev_cny", prev),
        ("revenue_ly_cny", last_year),
    ):
        out[name] = wide[month] if month in wide.columns else float("nan")
    out["change_mom"] = (
        out["revenue_cny"] / out["revenue_prev_cny"].where(out["revenue_prev_cny"] > 0) - 1
    )
    out["change_yoy"] = (
        out["revenue_cny"] / out["revenue_ly_cny"].where(out["revenue_ly_cny"] > 0) - 1
    )
    out["share"] = out["revenue_cny"] / out["revenue_cny"].sum()
    return out.reset_index().sort_values("revenue_cny", ascending=False).reset_index(drop=True)


def read_structure(
    settings: Settings, period: str, region_id: str = ALL, plan_type: str = ALL
) -> pd.DataFrame:
    """Dashboard: ``ads_revenue_structure`` rows up to ``period`` of a region and plan type."""
    return read_mart_for(
        "ads_revenue_structure",
        settings,
        parse_month(period),
        cell_filters(region_id=region_id, plan_type=plan_type),
    )


def revenue_by(
    settings: Settings, period: str, by: str, region_id: str = ALL, plan_type: str = ALL
) -> pd.DataFrame:
    """Dashboard: revenue by category, region_id, plan_id, plan_type or segment vs last
    month and last year."""
    period = parse_month(period)
    return compare_structure(read_structure(settings, period, region_id, plan_type), period, by)


def revenue_forecast(
    settings: Settings,
    period: str,
    region_id: str = ALL,
    plan_type: str = ALL,
    *,
    horizon_months: int = 3,
    confidence: float = 0.9,
) -> Forecast:
    """Dashboard: forecast of the months after ``period`` from the history up to it."""
    trend = monthly_revenue(read_structure(settings, period, region_id, plan_type))
    series = pd.Series(trend["revenue_cny"].to_numpy(), index=trend["month"])
    return forecast_monthly(series, horizon=horizon_months, confidence=confidence)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("revenue")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    plan_type: str = DEFAULTS["plan_type"],
    horizon_months: int = DEFAULTS["horizon_months"],
    confidence: float = DEFAULTS["confidence"],
) -> Revenue:
    """Revenue trend, structure and forecast of a region and plan type for ``period``."""
    period = parse_month(period)
    structure = read_structure(settings, period, region_id, plan_type)
    trend = monthly_revenue(structure)
    series = pd.Series(trend["revenue_cny"].to_numpy(), index=trend["month"])
    forecast = forecast_monthly(series, horizon=horizon_months, confidence=confidence)
    by_category = compare_structure(structure, period, "category")
    by_category["category_name"] = by_category["category"].map(REVENUE_CATEGORY_LABELS)
    by_region = compare_structure(structure, period, "region_id")
    by_plan = compare_structure(structure, period, "plan_id")
    total = by_category[["revenue_cny", "revenue_prev_cny", "revenue_ly_cny"]].sum(min_count=1)
    totals: dict[str, float | None] = {
        k: (None if pd.isna(v) else float(v)) for k, v in total.items()
    }
    prev, ly = totals["revenue_prev_cny"], totals["revenue_ly_cny"]
    totals["change_mom"] = totals["revenue_cny"] / prev - 1 if prev else None
    totals["change_yoy"] = totals["revenue_cny"] / ly - 1 if ly else None
    messages = []
    if ly is None:
        messages.append(
            f"No revenue for {add_months(period, -12)} in the warehouse: the year-on-year "
            f"comparison is not available. 仓库中没有去年同期数据，无法计算同比。"
        )
    if forecast.message:
        messages.append(forecast.message)
    log.info(
        "revenue %s: %.2f CNY, %d month(s) of history", period, totals["revenue_cny"], len(trend)
    )
    return Revenue(trend, by_category, by_region, by_plan, totals, forecast, messages, period)
