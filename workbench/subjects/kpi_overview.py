"""KPI overview subject: one cube cell's indicators for a month against last month, the same
month last year and target, the trend, and the alerts that fired. Reads ``ads_kpi_cube`` and
``ads_kpi_alerts`` with DuckDB (no Spark); writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.catalog.ads import ALL
from workbench.catalog.kpis import Kpi, load_kpis
from workbench.catalog.values import value_name
from workbench.errors import InputDataError
from workbench.filters import equals
from workbench.formats import MISSING, Lang, format_change, format_gap, format_value
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import read_small

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KpiOverview:
    """``table``: one row per KPI (:func:`compare_periods`); ``trend``: the cell's values by
    month; ``alerts``: the month's alerts of every cell, most serious first (:func:`rank_alerts`);
    ``dictionary``: the KPI dictionary (:func:`dictionary_frame`); ``regions``: each region's
    names (:func:`region_names`), for the alerts' sentences."""

    table: pd.DataFrame
    trend: pd.DataFrame
    alerts: pd.DataFrame
    dictionary: pd.DataFrame
    period: str
    cell: dict[str, str]
    regions: dict[str, tuple[str, str]]


DICTIONARY_COLUMNS = (
    "kpi_code",
    "kpi_name_en",
    "kpi_name_zh",
    "unit",
    "better",
    "target",
    "warning",
    "alarm",
    "basis",
)


def dictionary_frame(kpis: list[Kpi]) -> pd.DataFrame:
    """The KPI dictionary as a frame, in dictionary order: code, names, unit, direction,
    thresholds, basis and target (what the report and the cockpit show beside each value)."""
    return pd.DataFrame(
        [
            {
                "kpi_code": k.code,
                "kpi_name_en": k.name_en,
                "kpi_name_zh": k.name_zh,
                "unit": k.unit,
                "better": k.better,
                "target": k.target,
                "warning": k.warning,
                "alarm": k.alarm,
                "basis": k.basis,
            }
            for k in kpis
        ],
        columns=DICTIONARY_COLUMNS,
    )


def compare_periods(cube: pd.DataFrame, period: str, dictionary: pd.DataFrame) -> pd.DataFrame:
    """Per KPI of one cube cell, in dictionary order: the value of ``period``, last month and the
    same month last year, the relative changes, the target, the gap to it (``vs_target``,
    positive = better than target, whichever the direction) and whether it is met.

    Args:
        cube: the cell's cube rows of every month (``kpi_code, value, month``).
        dictionary: :func:`dictionary_frame` (at least ``kpi_code, better, target``).
    """
    wide = cube.pivot_table(index="kpi_code", columns="month", values="value", aggfunc="first")
    previous, last_year = add_months(period, -1), add_months(period, -12)
    out = pd.DataFrame(index=wide.index)
    for name, month in (("value", period), ("value_prev", previous), ("value_ly", last_year)):
        out[name] = wide[month] if month in wide.columns else float("nan")
    out["change_mom"] = out["value"] / out["value_prev"].where(out["value_prev"] != 0) - 1
    out["change_yoy"] = out["value"] / out["value_ly"].where(out["value_ly"] != 0) - 1
    order = {code: i for i, code in enumerate(dictionary["kpi_code"])}
    out = out.reset_index().merge(dictionary, on="kpi_code", how="left")
    sign = out["better"].map({"higher": 1.0, "lower": -1.0})
    out["vs_target"] = sign * (out["value"] - out["target"])
    # without a target (or a value) the question has no answer, not "no"
    out["is_on_target"] = (out["vs_target"] >= 0).astype("boolean").mask(out["vs_target"].isna())
    out = out.sort_values("kpi_code", key=lambda s: s.map(order).fillna(len(order)))
    return out.reset_index(drop=True)


def target_gap(row: Mapping[str, object], lang: Lang = "en") -> str:
    """A :func:`compare_periods` row's gap to its target in the KPI's unit, marked ✓ when the
    target is met and ✗ when not; ``-`` without a target."""
    if pd.isna(row["target"]):
        return MISSING
    met = row["is_on_target"]
    mark = "" if pd.isna(met) else " ✓" if met else " ✗"
    return format_gap(row["value"], row["target"], row["unit"], lang) + mark


def display_table(table: pd.DataFrame, lang: Lang = "en") -> pd.DataFrame:
    """:func:`compare_periods` as a manager reads it: each figure in its unit, changes of rates
    in points, bilingual headers."""
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            {
                "指标 KPI": f"{r.kpi_name_zh} {r.kpi_name_en}",
                "本月 This month": format_value(r.value, r.unit, lang),
                "上月 Last month": format_value(r.value_prev, r.unit, lang),
                "环比 MoM": format_change(r.value, r.value_prev, r.unit, lang),
                "去年同期 Last year": format_value(r.value_ly, r.unit, lang),
                "同比 YoY": format_change(r.value, r.value_ly, r.unit, lang),
                "目标 Target": format_value(r.target, r.unit, lang),
                "目标差 vs target": target_gap(r._asdict(), lang),
            }
        )
    return pd.DataFrame(rows)


SEVERITY = {"alarm": ("alarm", "告警"), "warning": ("warning", "预警")}
PROVINCE = {"en": "province", "zh": "全省"}  # the cell with every region rolled up


#: region id -> (English, Chinese) name, from ``dwd_dim_region`` (:func:`region_names`)
RegionNames = Mapping[str, tuple[str, str]]


def region_names(settings: Settings) -> dict[str, tuple[str, str]]:
    """Every region's names in English and Chinese (``dwd_dim_region``)."""
    regions = read_small("dwd_dim_region", settings)
    return {
        str(r.region_id): (str(r.region_name_en), str(r.region_name_zh))
        for r in regions.itertuples(index=False)
    }


def cell_name(
    alert: Mapping[str, object], lang: Lang = "en", regions: RegionNames | None = None
) -> str:
    """The cube cell an alert is about, by name: ``Maoming · Business · Postpaid`` (``茂名 ·
    政企客户 · 后付费``); rolled-up levels left out, the province when every level is rolled up.
    A region without a name in ``regions`` is shown by its id."""
    region = str(alert["region_id"])
    names = (regions or {}).get(region, (region, region))
    parts = [] if region == ALL else [names[lang == "zh"]]
    parts += [
        value_name(d, str(alert[d]), lang) for d in ("segment", "plan_type") if alert[d] != ALL
    ]
    if region == ALL:
        parts.insert(0, PROVINCE[lang])
    return " · ".join(parts)


def describe_alert(
    alert: Mapping[str, object],
    unit: str | None,
    lang: Lang = "en",
    regions: RegionNames | None = None,
) -> str:
    """One alert as a sentence naming where, what, how much and the limit, e.g. "Maoming ·
    Business · Postpaid: Active subscribers -6.3% on last month (alarm below -5.0%)"."""
    on_change = alert["basis"] == "mom_change"

    def shown(x: object) -> str:
        return f"{float(x):+.1%}" if on_change else format_value(float(x), unit, lang)

    severity = SEVERITY.get(str(alert["severity"]), (alert["severity"],) * 2)
    below = alert["direction"] == "below"
    if lang == "zh":
        what = f"{alert['kpi_name_zh']}{' 环比' if on_change else ''} {shown(alert['measured'])}"
        limit = f"{'低于' if below else '高于'}{severity[1]}线 {shown(alert['threshold'])}"
        return f"{cell_name(alert, lang, regions)}：{what}（{limit}）"
    what = f"{alert['kpi_name_en']} {shown(alert['measured'])}"
    what += " on last month" if on_change else ""
    limit = f"{severity[0]} {'below' if below else 'above'} {shown(alert['threshold'])}"
    return f"{cell_name(alert, lang, regions)}: {what} ({limit})"


def rank_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alarms before warnings, each by the size of the breach relative to its limit (a 40%
    overshoot before a 2% one), then by place: the order a digest lists them in."""
    if alerts.empty:
        return alerts.assign(breach=pd.Series(dtype="float64"))
    limit = alerts["threshold"].abs().where(alerts["threshold"] != 0, 1.0)
    ranked = alerts.assign(
        breach=(alerts["measured"] - alerts["threshold"]).abs() / limit,
        _severity=alerts["severity"].map({"alarm": 0, "warning": 1}).fillna(2),
    )
    ranked = ranked.sort_values(
        ["_severity", "breach", "kpi_code", "region_id", "segment", "plan_type"],
        ascending=[True, False, True, True, True, True],
    )
    return ranked.drop(columns="_severity").reset_index(drop=True)


def alert_sentences(
    alerts: pd.DataFrame, dictionary: pd.DataFrame, regions: RegionNames | None = None
) -> pd.DataFrame:
    """The alerts in :func:`rank_alerts` order, each with its sentence in English and Chinese
    (:func:`describe_alert`, in the unit the dictionary declares for the KPI, regions named as
    ``regions`` names them)."""
    units = dict(zip(dictionary["kpi_code"], dictionary["unit"], strict=True))
    ranked = rank_alerts(alerts)
    records = ranked.to_dict("records")
    for lang in ("en", "zh"):
        ranked[f"sentence_{lang}"] = pd.Series(
            [describe_alert(a, units.get(a["kpi_code"]), lang, regions) for a in records],
            index=ranked.index,
            dtype="object",
        )
    return ranked


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
    dictionary = dictionary_frame(load_kpis(settings.resolve(settings.warehouse.kpi_dictionary)))
    table = compare_periods(cube, period, dictionary)
    alerts = read_small("ads_kpi_alerts", settings, [equals("month", period)])
    alerts = rank_alerts(alerts)
    trend = cube[cube["month"] <= period][["kpi_code", "month", "value"]].merge(
        dictionary[["kpi_code", "kpi_name_en", "kpi_name_zh", "unit"]], on="kpi_code"
    )
    log.info("KPI overview %s %s: %d KPI(s), %d alert(s)", period, cell, len(table), len(alerts))
    return KpiOverview(
        table,
        trend.reset_index(drop=True),
        alerts,
        dictionary,
        period,
        cell,
        region_names(settings),
    )
