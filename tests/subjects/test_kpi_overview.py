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
