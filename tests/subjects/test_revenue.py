"""Revenue subject on the `tiny` warehouse (6 months), checked against dws_subscriber_month."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from tests.conftest import make_project
from tests.intervals import assert_simple_smoothing_interval
from workbench.analysis.forecast import forecast_monthly
from workbench.catalog import get_table
from workbench.errors import InputDataError, ParameterError
from workbench.marts import table_sql
from workbench.subjects import revenue


@pytest.fixture(scope="module")
def dws(tiny_warehouse):
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW dws AS {table_sql(get_table('dws_subscriber_month'), tiny_warehouse)}"
    )
    yield con
    con.close()


def test_trend_structure_and_changes_match_the_wide_table(tiny_warehouse, tiny_manifest, dws):
    months = tiny_manifest["months"]
    result = revenue.run(tiny_warehouse, months[-1], horizon_months=3)
    expected = dict(dws.execute("SELECT month, sum(revenue_cny) FROM dws GROUP BY 1").fetchall())
    assert dict(
        zip(result.trend["month"], result.trend["revenue_cny"], strict=True)
    ) == pytest.approx(expected)
    by_region = dict(
        dws.execute(
            f"SELECT region_id, sum(revenue_cny) FROM dws WHERE month = '{months[-2]}' GROUP BY 1"
        ).fetchall()
    )
    region = result.by_region.set_index("region_id")
    assert region["revenue_prev_cny"].to_dict() == pytest.approx(by_region)
    assert result.totals["change_mom"] == pytest.approx(
        expected[months[-1]] / expected[months[-2]] - 1
    )
    assert result.by_category["share"].sum() == pytest.approx(1.0)
    # six months: no last year, a forecast with a 2-origin back-test, both said plainly
    assert result.totals["change_yoy"] is None
    assert any("year-on-year" in m for m in result.messages)
    assert any("rough guide" in m for m in result.messages)
    fc = result.forecast
    assert list(fc.forecast["month"]) == ["2026-07", "2026-08", "2026-09"]
    # the forecast is of the wide table's monthly revenue (read here through DuckDB), at the
    # report's confidence; 1e-5: the sums differ from the subject's in the last bits only
    direct = forecast_monthly(pd.Series(expected).sort_index(), horizon=3, confidence=0.9)
    assert fc.confidence == 0.9
    pd.testing.assert_frame_equal(fc.forecast, direct.forecast, rtol=1e-5)
    assert_simple_smoothing_interval(fc.forecast)  # six months: simple exponential smoothing
    assert len(fc.backtest) == 2 and 0 <= fc.mape < 0.2


def test_filters_and_short_history(tiny_warehouse, tiny_manifest, dws):
    months = tiny_manifest["months"]
    prepaid = revenue.revenue_by(tiny_warehouse, months[-1], "category", plan_type="prepaid")
    recharge = dws.execute(
        f"SELECT sum(recharge_cny) FROM dws WHERE month = '{months[-1]}' AND plan_type = 'prepaid'"
    ).fetchone()[0]
    assert prepaid.set_index("category").loc["recharge", "revenue_cny"] == pytest.approx(recharge)
    assert prepaid.set_index("category").loc["plan_fee", "revenue_cny"] == 0
    early = revenue.run(tiny_warehouse, months[2])
    assert early.forecast.forecast.empty and early.forecast.mape is None
    assert any("needs at least 4" in m for m in early.messages)


def test_bad_input_is_named(tiny_warehouse, tmp_path):
    with pytest.raises(ParameterError, match="'by'"):
        revenue.revenue_by(tiny_warehouse, "2026-06", "colour")
    with pytest.raises(ParameterError, match="'horizon'"):
        revenue.run(tiny_warehouse, "2026-06", horizon_months=0)
    with pytest.raises(InputDataError, match="ads_revenue_structure has no rows"):
        revenue.run(make_project(tmp_path), "2026-06")


def test_forecast_figure(tiny_warehouse, tiny_manifest):
    from workbench import viz

    fc = revenue.revenue_forecast(tiny_warehouse, tiny_manifest["months"][-1], horizon_months=2)
    fig = viz.forecast_fan(fc.history, fc.forecast, fc.backtest)
    assert [t.name for t in fig.data] == [
        "实际 Actual",
        "预测区间 Interval",
        "预测 Forecast",
        "回测 Back-test",
    ]
    assert list(fig.data[2].x) == ["2026-07", "2026-08"]
    with pytest.raises(InputDataError, match="'value'"):
        viz.forecast_fan(fc.history.drop(columns="value"), fc.forecast, fc.backtest)
