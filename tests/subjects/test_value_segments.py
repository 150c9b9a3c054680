"""Value segments subject on the `tiny` warehouse, checked against dws_subscriber_month."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import make_project
from workbench.catalog import get_table
from workbench.errors import InputDataError
from workbench.marts import table_sql
from workbench.subjects import value_segments


@pytest.fixture(scope="module")
def dws(tiny_warehouse):
    con = duckdb.connect()
    sql = table_sql(get_table("dws_subscriber_month"), tiny_warehouse)
    con.execute(f"CREATE VIEW dws AS {sql}")
    yield con
    con.close()


def test_tiers_stages_and_matrix_cover_the_base(tiny_warehouse, tiny_manifest, dws):
    period = tiny_manifest["months"][-1]
    result = value_segments.run(tiny_warehouse, period)
    n_lines, n_churned = dws.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_churned_this_month) FROM dws "
        f"WHERE month = '{period}'"
    ).fetchone()
    assert result.tiers["n_lines"].sum() == n_lines
    assert result.tiers["line_share"].sum() == pytest.approx(1.0)
    stages = result.stages.set_index("lifecycle_stage")
    assert stages.loc["lost", "n_lines"] == n_churned
    assert stages["n_lines"].sum() == n_lines
    # the matrix: every line of the month once; lost lines in the 'lost' column
    assert result.transitions.to_numpy().sum() == n_lines
    assert result.transitions["lost"].sum() == n_churned
    rates = result.transition_rates
    assert rates.sum(axis=1).to_numpy() == pytest.approx([1.0] * 4)
    # tiers are sticky month to month but not frozen
    assert all(rates.loc[t, t] > 0.6 for t in ("high", "medium", "low"))
    assert rates.loc["medium", ["high", "low"]].sum() > 0
    # high-value lines bring a larger share of revenue than of lines
    high = result.tiers[result.tiers["value_tier"] == "high"]
    assert high["revenue_share"].sum() > high["line_share"].sum()
    assert result.message is None


def test_filters_and_the_first_month(tiny_warehouse, tiny_manifest, dws):
    months = tiny_manifest["months"]
    region = dws.execute(
        f"SELECT region_id FROM dws WHERE month = '{months[-1]}' GROUP BY 1 ORDER BY count(*) DESC"
    ).fetchone()[0]
    n_region = dws.execute(
        f"SELECT count(*) FROM dws WHERE month = '{months[-1]}' AND region_id = '{region}'"
    ).fetchone()[0]
    tiers = value_segments.tier_summary(tiny_warehouse, months[-1], region_id=region)
    assert tiers["n_lines"].sum() == n_region
    matrix = value_segments.transition_matrix(tiny_warehouse, months[-1], region_id=region)
    assert matrix.to_numpy().sum() == n_region
    first = value_segments.run(tiny_warehouse, months[0])
    assert "first month" in first.message
    assert first.transitions.loc[["high", "medium", "low"]].to_numpy().sum() == 0


def test_missing_mart_period_or_cell_is_named(tiny_warehouse, tmp_path):
    empty = make_project(tmp_path)
    with pytest.raises(InputDataError, match="ads_value_segments has no rows"):
        value_segments.run(empty, "2026-06")
    with pytest.raises(InputDataError, match="ads_value_segments has no month 2030-01"):
        value_segments.run(tiny_warehouse, "2030-01")
    with pytest.raises(InputDataError, match="region_id = 'NOWHERE'"):
        value_segments.lifecycle_summary(tiny_warehouse, "2026-06", region_id="NOWHERE")


def test_value_figures(tiny_warehouse, tiny_manifest):
    from workbench import viz

    result = value_segments.run(tiny_warehouse, tiny_manifest["months"][-1])
    heat = viz.transition_heatmap(result.transition_rates)
    assert heat.data[0].type == "heatmap" and list(heat.data[0].y) == [
        "high",
        "medium",
        "low",
        "new",
    ]
    assert "%" in heat.data[0].text[0][0]
    bars = viz.tier_bars(result.tiers)
    assert {t.type for t in bars.data} == {"bar"} and len(bars.data) == 3
    trend = viz.group_trend(result.stage_trend, "lifecycle_stage", "n_lines", "t")
    assert len(trend.data) == 6
    with pytest.raises(InputDataError, match="tenure_band"):
        viz.tier_bars(result.tiers.drop(columns="tenure_band"))
    with pytest.raises(InputDataError, match="empty"):
        viz.transition_heatmap(result.transitions.iloc[0:0])
