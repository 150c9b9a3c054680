"""Competition subject: competitor shares, rising-share lines and the churn effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_project
from workbench.errors import InputDataError, ParameterError
from workbench.filters import is_true
from workbench.marts import read_mart
from workbench.subjects import competition


def test_share_effect_recovers_a_known_slope():
    shares = np.array([0.05, 0.15, 0.25, 0.35, 0.5, 0.8])
    lines = np.full(shares.shape, 200_000.0)
    churned = np.round(lines / (1 + np.exp(-(-4.0 + 2.0 * shares))))
    bands = pd.DataFrame(
        {
            "share_band": [f"b{i}" for i in range(len(shares))] + ["no_calls"],
            "n_lines": [*lines, 50.0],
            "n_churned": [*churned, 49.0],  # left out: no share without calls
            "mean_competitor_share": [*shares, 0.0],
        }
    )
    effect = competition.share_effect(bands).iloc[0]
    assert effect["coefficient"] == pytest.approx(2.0, abs=0.05)
    assert effect["coefficient_low"] < 2.0 < effect["coefficient_high"]
    assert effect["odds_ratio_per_10pt"] == pytest.approx(np.exp(0.2), rel=0.01)
    assert effect["n_bands"] == 6
    empty = competition.share_effect(bands.iloc[:1])
    assert np.isnan(empty["coefficient"].iloc[0])


def test_competitor_shares_match_the_wide_table(tiny_warehouse, tiny_manifest):
    period = tiny_manifest["months"][-1]
    comp = competition.run(tiny_warehouse, period, top_n=5)
    wide = read_mart(
        "dws_subscriber_month", tiny_warehouse, months=[period], filters=[is_true("is_active")]
    )
    by_region = wide.groupby("region_id")[["competitor_a_min", "competitor_b_min", "mou_min"]].sum()
    expected = by_region["competitor_a_min"] / by_region["mou_min"]
    got = comp.by_region.set_index("region_id")["competitor_a_share"]
    assert got.to_numpy() == pytest.approx(expected.reindex(got.index).to_numpy())
    assert comp.trend["month"].max() == period
    assert len(comp.risers) == 5
    assert comp.risers["share_change"].is_monotonic_decreasing
    assert comp.risers_by_region["n_risers"].sum() == len(
        read_mart("ads_competitor_risers", tiny_warehouse, months=[period])
    )
    mass = competition.run(tiny_warehouse, period, region_id="GZ", segment="mass")
    assert set(mass.by_segment["segment"]) == {"mass"}
    assert set(mass.risers["region_id"]) <= {"GZ"}


def test_churn_rises_with_the_competitor_share(tiny_warehouse, tiny_manifest):
    """Truth: the generator puts +3.0 log-odds per unit of competitor share into the hazard."""
    period = tiny_manifest["months"][-1]
    planted = tiny_manifest["planted"]["churn_hazard"]["coefficients"]["competitor_share"]
    comp = competition.run(tiny_warehouse, period, churn_months=12)
    bands = comp.churn_by_band[comp.churn_by_band["share_band"] != "no_calls"]
    assert bands["band_low"].is_monotonic_increasing
    lowest, highest = bands.iloc[0], bands.iloc[-1]
    assert highest["churn_rate_low"] > lowest["churn_rate_high"]
    assert np.corrcoef(bands["band_low"], bands["churn_rate"])[0, 1] > 0.8
    effect = comp.share_effect.iloc[0]
    assert effect["coefficient_low"] > 0
    # a month's share is a noisy reading of the line's planted share, so the slope is
    # attenuated: positive, and not above the planted coefficient
    assert effect["coefficient"] < planted
    assert effect["n_lines"] == bands["n_lines"].sum()


def test_missing_mart_and_bad_parameters_are_refused(tiny_warehouse, tmp_path):
    empty = make_project(tmp_path / "empty")
    with pytest.raises(InputDataError, match="ads_competition_bands"):
        competition.run(empty, "2026-06")
    with pytest.raises(ParameterError, match="'top_n'"):
        competition.run(tiny_warehouse, "2026-06", top_n=0)
    with pytest.raises(ParameterError, match="'confidence'"):
        competition.run(tiny_warehouse, "2026-06", confidence=1.5)
    with pytest.raises(InputDataError, match="segment 'platinum'"):
        competition.run(tiny_warehouse, "2026-06", segment="platinum")
    with pytest.raises(InputDataError, match="no month 2030-01"):
        competition.run(tiny_warehouse, "2030-01")
