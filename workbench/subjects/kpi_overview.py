"""KPI overview subject: one cube cell's indicators for a month against last month, the same
month last year and target, the trend, and the alerts that fired. Reads ``ads_kpi_cube`` and
``ads_kpi_alerts`` with DuckDB (no Spark); writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.errors import InputDataError
from workbench.filters import equals
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import read_small

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KpiOverview:
    """``table``: one row per KPI; ``trend``: the cell's values by month; ``alerts``: the
    month's alerts of every cell, alarms first."""

    table: pd.DataFrame
    trend: pd.DataFrame
    alerts: pd.DataFrame
    period: str
    cell: dict[str, str]


def compare_periods(cube: pd.DataFrame, period: str, kpis: pd.DataFrame) -> pd.DataFrame:
    """Value this month, last month and last year per KPI, with changes and target status.

    Args:
        cube: the cell's cube rows (``kpi_code, value, month``).
        kpis: the dictionary (``kpi_code, better, target``).
    """
    wide = cube.pivot_table(index="kpi_code", columns="month", values="value", aggfunc="first")
    previous, last_year = add_months(period, -1), add_months(period, -12)
    out = pd.DataFrame(index=wide.index)
    for name, month in (("value", period), ("value_prev", previous), ("value_ly", last_year)):
        out[name] = wide[month] if month in wide.columns else float("nan")
    out["change_mom"] = out["value"] / out["value_prev"].where(out["value_prev"] != 0) - 1
    out["change_yoy"] = out["value"] / out["value_ly"].where(out["value_ly"] != 0) - 1
    out = out.reset_index().merge(kpis, on="kpi_code", how="left")
    sign = out["better"].map({"higher": 1.0, "lower": -1.0})
    on_target = ((sign * (out["value"] - out["target"])) >= 0).astype("boolean")
    # without a target (or a value) the question has no answer, not "no"
    out["is_on_target"] = on_target.mask(out["target"].isna() | out["value"].isna())
    return out


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("kpi_overview")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    segment: str = DEFAULTS["segment"],
    plan_type: str = DEFAULTS["plan_type"],
) -> KpiOverview:
    """The overview of one cube cell (``ALL`` rolls a dimension up) for ``period``."""
    from workbench.warehouse.kpi import load_kpis

    period = parse_month(period)
    cell = {"region_id": region_id, "segment": segment, "plan_type": plan_type}
    # the cube holds the rolled-up level as ALL: every dimension is filtered, ALL included
    cube = read_small("ads_kpi_cube", settings, [equals(k, v) for k, v in cell.items()])
    if cube.empty:
        raise InputDataError(f"ads_kpi_cube has no rows for the cell {cell}")
    if period not in set(cube["month"]):
        raise InputDataError(
            f"ads_kpi_cube has no month {period} (it has {', '.join(sorted(set(cube['month'])))})"
        )
    kpis = load_kpis(settings.resolve(settings.warehouse.kpi_dictionary))
    dictionary = pd.DataFrame(
        [
            {
                "kpi_code": k.code,
                "better": k.better,
                "target": k.target,
                "warning": k.warning,
                "alarm": k.alarm,
                "basis": k.basis,
            }
            for k in kpis
        ]
    )
    names = cube.drop_duplicates("kpi_code")[["kpi_code", "kpi_name_en", "kpi_name_zh", "unit"]]
    table = compare_periods(cube, period, dictionary).merge(names, on="kpi_code", how="left")
    order = {k.code: i for i, k in enumerate(kpis)}
    table = table.sort_values("kpi_code", key=lambda s: s.map(order)).reset_index(drop=True)
    alerts = read_small("ads_kpi_alerts", settings, [equals("month", period)])
    alerts = alerts.sort_values(
        ["severity", "kpi_code", "region_id", "segment", "plan_type"],
        key=lambda s: s.map({"alarm": 0, "warning": 1}).fillna(2) if s.name == "severity" else s,
    ).reset_index(drop=True)
    trend = cube[cube["month"] <= period][
        ["kpi_code", "kpi_name_en", "kpi_name_zh", "month", "value"]
    ]
    log.info("KPI overview %s %s: %d KPI(s), %d alert(s)", period, cell, len(table), len(alerts))
    return KpiOverview(table, trend.reset_index(drop=True), alerts, period, cell)
