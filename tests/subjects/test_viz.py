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
    table = pd.DataFrame(
        {
            "kpi_code": ["arpu"],
            "kpi_name_zh": ["每用户平均收入"],
            "kpi_name_en": ["ARPU"],
            "value": [100.0],
            "value_prev": [90.0],
            "better": ["higher"],
        }
    )
    assert viz.kpi_tiles(table).data[0].type == "indicator"


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
