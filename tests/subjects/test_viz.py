"""Figure builders: small frames in, labelled Plotly figures out; a missing column is named."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import viz
from workbench.analysis.metrics import calibration_table, lift_table, pr_curve
from workbench.errors import InputDataError


@pytest.fixture
def scored():
    y = [1, 0, 0, 1, 0, 0, 0, 1, 0, 0] * 5
    p = [0.9, 0.2, 0.1, 0.7, 0.3, 0.2, 0.1, 0.6, 0.4, 0.05] * 5
    return y, p


def test_model_figures(scored):
    y, p = scored
    fig = viz.lift_gains(lift_table(y, p))
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert "Lift" in fig.layout.title.text and "提升度" in fig.layout.title.text
    assert len(viz.calibration(calibration_table(y, p)).data) == 2
    assert viz.pr_curve(pr_curve(y, p), base_rate=0.3).data[0].x[-1] == 0.0
    drivers = pd.DataFrame({"feature": list("abc"), "mean_abs_contribution": [0.1, 0.3, 0.2]})
    assert list(viz.drivers(drivers, top=2).data[0].y) == ["c", "b"]


def test_rules_roi_and_kpi_figures():
    rules = pd.DataFrame(
        {
            "antecedent": ["A"],
            "consequent": ["B"],
            "support": [0.1],
            "confidence": [0.5],
            "lift": [2.5],
        }
    )
    assert viz.rules_scatter(rules).data[0].text[0] == "A ⇒ B"
    summary = pd.DataFrame({"channel_id": ["x", "y"], "roi": [0.5, -0.2]})
    bars = viz.roi_bars(summary)
    assert list(bars.data[0].x) == ["x", "y"] and bars.data[0].marker.color[1] == viz.BAD


def test_format_table_formats_and_translates():
    frame = pd.DataFrame({"n": [12345], "share": [0.1234], "cost": [None]})
    out = viz.format_table(
        frame, {"n": ("用户 Users", "int"), "share": ("占比 Share", "pct"), "cost": ("成本", "cny")}
    )
    assert out.iloc[0].tolist() == ["12,345", "12.3%", "—"]


def test_missing_columns_are_named():
    with pytest.raises(InputDataError, match="'cum_gain'"):
        viz.lift_gains(pd.DataFrame({"decile": [1], "lift": [2.0]}))
    with pytest.raises(InputDataError, match="'survival'"):
        viz.survival_curves(pd.DataFrame({"channel_id": ["a"], "months_since_activation": [0]}))


def test_kpi_tiles_and_trend_show_each_kpi_in_its_unit():
    table = pd.DataFrame(
        {
            "kpi_code": ["active_subscribers", "churn_rate"],
            "kpi_name_zh": ["活跃用户数", "离网率"],
            "kpi_name_en": ["Active subscribers", "Churn rate"],
            "unit": ["lines", "share of the opening base"],
            "better": ["higher", "lower"],
            "value": [36760.0, 0.034],
            "value_prev": [36000.0, 0.030],
            "value_ly": [float("nan"), 0.036],
            "target": [None, 0.03],
        }
    )
    tiles = viz.kpi_tiles(table)
    assert tiles.count("class='wb-kpi-tile'") == 2
    assert ">36,760<" in tiles and ">3.40%<" in tiles  # a count whole, a rate in percent
    assert "环比 MoM +2.1%" in tiles and "环比 MoM +0.40 pp" in tiles
    assert "同比 YoY -" in tiles  # no last year for the count
    # churn up 0.4 points is bad (red); subscribers up is good (green)
    assert f"color:{viz.BAD}'>环比 MoM +0.40 pp" in tiles
    assert f"color:{viz.GOOD}'>环比 MoM +2.1%" in tiles
    assert "Target 3.00% (+0.40 pp)" in tiles
    assert "display:grid" in tiles  # tiles wrap, never overlap

    trend = pd.DataFrame(
        {
            "kpi_code": ["active_subscribers"] * 2 + ["churn_rate"] * 2,
            "kpi_name_zh": ["活跃用户数"] * 2 + ["离网率"] * 2,
            "kpi_name_en": ["Active subscribers"] * 2 + ["Churn rate"] * 2,
            "unit": ["lines"] * 2 + ["share of the opening base"] * 2,
            "month": ["2026-05", "2026-06"] * 2,
            "value": [36000.0, 36760.0, 0.03, 0.034],
        }
    )
    fig = viz.kpi_trend(trend, ["active_subscribers", "churn_rate"])
    # one chart each, on axes of their own: the rate is not flattened against the count
    assert [t.yaxis for t in fig.data] == ["y", "y2"]
    assert fig.layout.yaxis.tickformat == ",.0f" and fig.layout.yaxis2.tickformat == ".1%"
