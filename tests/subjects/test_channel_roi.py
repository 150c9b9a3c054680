"""Channel ROI subject: the fake-activation channel is worst, the online channel cheapest."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import channel_roi


def test_cohort_table_keeps_complete_cohorts_observed_by_the_period():
    mart = pd.DataFrame(
        {
            "channel_id": ["A", "A", "A", "B"],
            "activation_month": ["2026-01", "2026-01", "2026-01", "2025-12"],
            "months_since_activation": [0, 1, 2, 1],
            "n_gross_adds": [10, 10, 10, 5],
            "n_survivors": [9, 7, 6, 5],
            "n_churned": [1, 2, 1, 0],
            "revenue_cny": [100.0, 80.0, 70.0, 50.0],
            "cost_cny": [500.0, 0.0, 0.0, 0.0],
            "is_cohort_complete": [True, True, True, False],
            "month": ["2026-01", "2026-02", "2026-03", "2026-01"],
        }
    )
    table = channel_roi.cohort_table(mart, "2026-02")
    assert list(table["n_at_risk"]) == [10, 9]
    assert set(table["channel_id"]) == {"A"}
    with pytest.raises(InputDataError, match="no complete cohort observed by 2025-12"):
        channel_roi.cohort_table(mart, "2025-12")


@pytest.fixture(scope="module")
def roi_run(tiny_warehouse, tiny_manifest):
    return channel_roi.run(tiny_warehouse, tiny_manifest["months"][-1])


def test_fake_activation_channel_is_flagged_by_its_early_life(roi_run, tiny_manifest):
    """Truth: the bad agent's fake lines end just after the commission's clawback, so it has the
    largest share of lines churned after the clawback and carries the warning; the cheapest
    channel has the lowest cost per add. No ROI ranking is planted (ROI also rests on survival
    and ARPU, which the generator does not fix per channel), so none is asserted."""
    planted = tiny_manifest["planted"]["channels"]
    summary = roi_run.summary.set_index("channel_id")
    assert summary["share_churned_after_clawback"].idxmax() == planted["bad_channel_id"]
    assert summary.loc[planted["bad_channel_id"], "is_warning"]
    assert summary.loc[~summary.index.isin([planted["bad_channel_id"]]), "is_warning"].sum() == 0
    assert summary["cac_cny"].idxmin() == planted["cheapest_channel_id"]


def test_mart_matches_the_result_and_names_channels(roi_run, tiny_warehouse, tiny_manifest):
    mart = read_mart("ads_channel_roi", tiny_warehouse, months=[tiny_manifest["months"][-1]])
    assert len(mart) == len(roi_run.summary)
    assert mart["channel_name_zh"].notna().all()
    merged = mart.merge(roi_run.summary, on="channel_id", suffixes=("", "_r"))
    assert (merged["roi"] - merged["roi_r"]).abs().max() < 1e-9
