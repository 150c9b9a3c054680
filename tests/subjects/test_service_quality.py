"""Service quality subject: complaint rates, resolution and the poor-cell churn effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_project
from tests.tables import ALL_CELL
from workbench.errors import InputDataError, ParameterError
from workbench.filters import among, equals, is_true
from workbench.marts import read_mart
from workbench.subjects import service_quality as sq


def _wilson(k: float, n: float, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_rates_and_intervals_on_inline_numbers():
    frame = pd.DataFrame({"k": [5, 0, 3], "n": [100, 40, 0]})
    out = sq.with_rates(frame, "k", "n", "churn_rate", confidence=0.95)
    low, high = _wilson(5, 100, 1.959963984540054)
    assert out.loc[0, "churn_rate"] == pytest.approx(0.05)
    assert (out.loc[0, "churn_rate_low"], out.loc[0, "churn_rate_high"]) == pytest.approx(
        (low, high)
    )
    assert out.loc[1, "churn_rate_low"] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(out.loc[2, "churn_rate"]) and np.isnan(out.loc[2, "churn_rate_low"])
    diff, d_low, d_high = sq.difference_interval(30, 300, 10, 300)
    assert diff == pytest.approx(20 / 300)
    assert 0 < d_low < diff < d_high
    assert sq.churn_window(["2026-01", "2026-02", "2026-03"], "2026-02", 5) == [
        "2026-01",
        "2026-02",
    ]
    with pytest.raises(InputDataError, match="observed next-month churn"):
        sq.churn_window(["2026-03"], "2026-02", 2)


def test_service_quality_of_the_tiny_operator(tiny_warehouse, tiny_manifest):
    months = tiny_manifest["months"]
    period = months[-2]
    quality = sq.run(tiny_warehouse, period)
    # the all-region rate equals the KPI dictionary's complaint rate in the cube
    kpi = read_mart(
        "ads_kpi_cube",
        tiny_warehouse,
        filters=[equals("kpi_code", "complaint_rate_per_10k"), *ALL_CELL],
        months=[period],
    )["value"].iloc[0]
    assert quality.by_category["complaints_per_10k"].sum() == pytest.approx(kpi)
    assert quality.by_region["n_complaints"].sum() == quality.by_category["n_complaints"].sum()
    shares = quality.resolution.groupby("category")["share"].sum()
    assert shares.to_numpy() == pytest.approx(1.0)
    assert quality.trend["month"].max() == period
    # one region: only its rows
    gz = sq.run(tiny_warehouse, period, region_id="GZ")
    assert set(gz.by_region["region_id"]) == {"GZ"}
    assert set(gz.poor_cells["region_id"]) <= {"GZ"}


def test_lines_on_poor_cells_churn_more(tiny_warehouse, tiny_manifest):
    """Truth: the planted poor cells are found, and their lines churn more (interval > 0)."""
    period = tiny_manifest["months"][-1]
    planted = set(tiny_manifest["planted"]["churn_hazard"]["poor_cells"])
    quality = sq.run(tiny_warehouse, period, churn_months=12)
    assert set(quality.poor_cells["cell_id"]) == planted
    assert quality.churn_months == tiny_manifest["months"][:-1]  # the last has no churn yet
    churn = quality.poor_cell_churn.set_index("cell_group")
    assert churn.loc["poor", "churn_rate"] > churn.loc["other", "churn_rate"]
    assert churn.loc["poor", "difference_low"] > 0
    assert churn.loc["poor", "churn_rate_low"] > churn.loc["other", "churn_rate_high"]
    # the same split recomputed from the wide table's home-cell drop rate
    wide = read_mart(
        "dws_subscriber_month",
        tiny_warehouse,
        filters=[is_true("is_active"), among("month", quality.churn_months)],
    )
    on_poor = wide["home_cell_id"].isin(planted)
    assert churn.loc["poor", "n_lines"] == on_poor.sum()
    assert churn.loc["poor", "n_churned"] == wide.loc[on_poor, "is_churned_next_month"].sum()


def test_missing_mart_and_bad_parameters_are_refused(tiny_warehouse, tmp_path):
    empty = make_project(tmp_path / "empty")
    with pytest.raises(InputDataError, match="ads_complaint_summary"):
        sq.run(empty, "2026-06")
    with pytest.raises(ParameterError, match="'poor_drop_rate'"):
        sq.run(tiny_warehouse, "2026-06", poor_drop_rate=2.0)
    with pytest.raises(ParameterError, match="'by'"):
        sq.complaint_rates(tiny_warehouse, "2026-06", by="weekday")
    with pytest.raises(InputDataError, match="no month 2030-01"):
        sq.run(tiny_warehouse, "2030-01")
    with pytest.raises(InputDataError, match="no rows for region 'NOWHERE'"):
        sq.run(tiny_warehouse, "2026-06", region_id="NOWHERE")


def test_report_run_for_one_region_through_the_cli(tiny_warehouse, tiny_manifest):
    """`workbench report run service_quality --region GZ` publishes the region's report."""
    import json

    import typer
    from typer.testing import CliRunner

    from workbench.cli import _register, app

    if "report" not in typer.main.get_command(app).commands:  # other tests may have registered
        _register()

    period = tiny_manifest["months"][-1]
    config = str(tiny_warehouse.root / "pipelines" / "config.yml")
    result = CliRunner().invoke(
        app,
        [
            *("--config", config, "report", "run", "service_quality", "--period", period),
            *("--region", "GZ", "-p", "churn_months=2"),
        ],
    )
    assert result.exit_code == 0, result.output
    folder = tiny_warehouse.reports_dir / "service_quality" / period / "GZ"
    shown = json.loads((folder / "poor_cell_churn.json").read_text())
    expected = sq.run(tiny_warehouse, period, region_id="GZ", churn_months=2).poor_cell_churn
    assert [r["n_lines"] for r in shown] == list(expected["n_lines"])
    assert "plotly" in (folder / "service_quality.html").read_text().lower()
