"""Campaign ROI subject: the uplift interval contains the planted uplift; one campaign can be
asked for by id."""

from __future__ import annotations

import pytest

from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import campaign_roi


def test_uplift_interval_contains_the_planted_uplift(tiny_warehouse, tiny_manifest):
    truth = tiny_manifest["campaign_truth"]
    period = tiny_manifest["months"][-1]
    result = campaign_roi.run(tiny_warehouse, period)
    row = result.summary.set_index("campaign_id").loc[truth["campaign_id"]]
    assert row["n_treated"] == truth["n_treatment"] and row["n_control"] == truth["n_control"]
    assert row["churn_uplift_low"] <= truth["true_uplift"] <= row["churn_uplift_high"]
    assert row["is_window_complete"] and row["contact_month"] == truth["contact_month"]
    assert row["measurement"] == "complete"
    mart = read_mart("ads_campaign_roi", tiny_warehouse, months=[period])
    assert list(mart["campaign_id"]) == list(result.summary["campaign_id"])


def test_group_statistics_match_the_contacts(tiny_warehouse, tiny_manifest):
    groups, _ = campaign_roi.campaign_groups(tiny_warehouse, tiny_manifest["months"][-1])
    contacts = read_mart("ads_campaign_results", tiny_warehouse)
    expected = contacts.groupby("assignment").size()
    got = groups.groupby("assignment")["n"].sum()
    assert got.to_dict() == expected.to_dict()


def test_no_campaign_yet_is_refused(tiny_warehouse, tiny_manifest):
    with pytest.raises(InputDataError, match="no campaign contacted by"):
        campaign_roi.run(tiny_warehouse, tiny_manifest["months"][0])
    with pytest.raises(InputDataError, match="complete measurement window"):
        campaign_roi.run(tiny_warehouse, tiny_manifest["months"][0], include_incomplete=False)


def test_one_campaign_by_id_and_an_unknown_one_is_named(tiny_warehouse, tiny_manifest):
    truth = tiny_manifest["campaign_truth"]
    period = tiny_manifest["months"][-1]
    result = campaign_roi.run(tiny_warehouse, period, campaign_id=truth["campaign_id"])
    assert list(result.summary["campaign_id"]) == [truth["campaign_id"]]
    with pytest.raises(InputDataError, match=rf"campaign_id 'NOPE'.*{truth['campaign_id']}"):
        campaign_roi.run(tiny_warehouse, period, campaign_id="NOPE")
