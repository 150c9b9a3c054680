"""KPI overview subject: the month against last month, last year and target; the alerts."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.tables import ALL_CELL
from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import kpi_overview


def test_compare_periods_on_inline_data():
    cube = pd.DataFrame(
        {
            "kpi_code": ["arpu", "arpu", "arpu", "churn_rate", "churn_rate"],
            "value": [100.0, 110.0, 121.0, 0.03, 0.02],
            "month": ["2025-06", "2026-05", "2026-06", "2026-05", "2026-06"],
        }
    )
    kpis = pd.DataFrame(
        {
            "kpi_code": ["arpu", "churn_rate"],
            "better": ["higher", "lower"],
            "target": [130.0, 0.025],
        }
    )
    out = kpi_overview.compare_periods(cube, "2026-06", kpis).set_index("kpi_code")
    assert out.loc["arpu", "change_mom"] == pytest.approx(0.1)
    assert out.loc["arpu", "change_yoy"] == pytest.approx(0.21)
    assert not out.loc["arpu", "is_on_target"]
    assert out.loc["churn_rate", "is_on_target"]
    assert math.isnan(out.loc["churn_rate", "value_ly"])


ALERT = {
    "region_id": "MZ",
    "segment": "business",
    "plan_type": "postpaid",
    "kpi_code": "active_subscribers",
    "kpi_name_en": "Active subscribers",
    "kpi_name_zh": "活跃用户数",
    "severity": "alarm",
    "basis": "mom_change",
    "measured": -0.0625,
    "threshold": -0.05,
    "direction": "below",
}


def test_an_alert_reads_as_a_sentence_in_both_languages():
    """Where by name (the region's from dwd_dim_region, segment and plan type from the one
    table of value names), what, how much and the limit."""
    regions = {"MZ": ("Maoming", "茂名")}
    assert kpi_overview.describe_alert(ALERT, "lines", "en", regions) == (
        "Maoming · Business · Postpaid: Active subscribers -6.2% on last month (alarm below -5.0%)"
    )
    assert kpi_overview.describe_alert(ALERT, "lines", "zh", regions) == (
        "茂名 · 政企客户 · 后付费：活跃用户数 环比 -6.2%（低于告警线 -5.0%）"
    )
    # a region without a name (an operator's new one) is shown by its id
    assert kpi_overview.describe_alert(ALERT, "lines").startswith("MZ · Business · Postpaid:")
    level = {
        **ALERT,
        "region_id": "ALL",
        "segment": "ALL",
        "plan_type": "ALL",
        "kpi_name_en": "Churn rate",
        "severity": "warning",
        "basis": "level",
        "measured": 0.0412,
        "threshold": 0.035,
        "direction": "above",
    }
    assert kpi_overview.describe_alert(level, "share of the opening base") == (
        "province: Churn rate 4.12% (warning above 3.50%)"
    )


def test_alerts_rank_by_severity_then_by_the_size_of_the_breach():
    alerts = pd.DataFrame(
        [
            {**ALERT, "region_id": "A", "severity": "warning", "measured": -0.50},
            {**ALERT, "region_id": "B", "measured": -0.051},
            {**ALERT, "region_id": "C", "measured": -0.09},
        ]
    )
    ranked = kpi_overview.rank_alerts(alerts)
    # alarms first, the larger overshoot of the limit first; the huge warning after them
    assert list(ranked["region_id"]) == ["C", "B", "A"]
    assert ranked["breach"].iloc[0] == pytest.approx(0.8)


def test_the_kpi_table_shows_each_figure_in_its_unit():
    cube = pd.DataFrame(
        {
            "kpi_code": ["churn_rate", "churn_rate", "active_subscribers", "active_subscribers"],
            "value": [0.030, 0.034, 36000.0, 36760.0],
            "month": ["2026-05", "2026-06", "2026-05", "2026-06"],
        }
    )
    dictionary = pd.DataFrame(
        {
            "kpi_code": ["active_subscribers", "churn_rate"],
            "kpi_name_en": ["Active subscribers", "Churn rate"],
            "kpi_name_zh": ["活跃用户数", "离网率"],
            "unit": ["lines", "share of the opening base"],
            "better": ["higher", "lower"],
            "target": [None, 0.035],
        }
    )
    table = kpi_overview.compare_periods(cube, "2026-06", dictionary)
    shown = kpi_overview.display_table(table).set_index("指标 KPI")
    assert list(shown.index) == ["活跃用户数 Active subscribers", "离网率 Churn rate"]
    assert shown.loc["活跃用户数 Active subscribers", "本月 This month"] == "36,760"
    assert shown.loc["活跃用户数 Active subscribers", "环比 MoM"] == "+2.1%"
    assert shown.loc["活跃用户数 Active subscribers", "目标差 vs target"] == "-"
    churn = shown.loc["离网率 Churn rate"]
    assert (churn["本月 This month"], churn["环比 MoM"]) == ("3.40%", "+0.40 pp")
    assert churn["目标差 vs target"] == "-0.10 pp ✓"  # below the ceiling: met


def test_overview_of_the_tiny_operator(tiny_warehouse, tiny_manifest):
    months = tiny_manifest["months"]
    overview = kpi_overview.run(tiny_warehouse, months[-1])
    cube = read_mart(
        "ads_kpi_cube",
        tiny_warehouse,
        filters=ALL_CELL,
    )
    prev = cube[(cube["month"] == months[-2])].set_index("kpi_code")["value"]
    table = overview.table.set_index("kpi_code")
    assert set(table.index) == set(cube["kpi_code"])
    assert (table["value_prev"] - prev.reindex(table.index)).abs().max() < 1e-9
    alerts = read_mart("ads_kpi_alerts", tiny_warehouse, months=[months[-1]])
    assert len(overview.alerts) == len(alerts)
    if len(overview.alerts):
        assert overview.alerts["severity"].iloc[0] == alerts["severity"].min()  # alarm first


def test_unknown_cell_or_month_is_refused(tiny_warehouse):
    with pytest.raises(InputDataError, match="no rows for the cell"):
        kpi_overview.run(tiny_warehouse, "2026-06", region_id="NOWHERE")
    with pytest.raises(InputDataError, match="no month 2030-01"):
        kpi_overview.run(tiny_warehouse, "2030-01")
