"""The pure simulation: counter-based draws and the per-line lifecycle (no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.generate.hashing import hash64, uniform
from workbench.generate.lifecycle import LIFECYCLE_COLUMNS, Scenario, simulate_lifecycles
from workbench.generate.params import Params, Timeline
from workbench.months import parse_month_range


def _scenario(months: str = "2026-01..2026-06", seed: int = 7, subscribers: int = 600) -> Scenario:
    timeline = Timeline.for_range(parse_month_range(months), window_months=3)
    return Scenario(seed, subscribers, timeline, Params())


def test_draws_depend_only_on_their_keys():
    ids = np.arange(1, 1001)
    a = uniform(1, "churn", ids, 5)
    assert ((a >= 0) & (a < 1)).all()
    assert np.array_equal(a[::-1], uniform(1, "churn", ids[::-1], 5))
    assert not np.array_equal(a, uniform(2, "churn", ids, 5))
    assert not np.array_equal(a, uniform(1, "churn", ids, 6))
    assert 0.45 < a.mean() < 0.55
    assert hash64(1, "x", np.array([3])).dtype == np.uint64


def test_lifecycle_does_not_depend_on_batching():
    scenario = _scenario()
    whole = simulate_lifecycles(np.arange(1, 601), scenario)
    parts = pd.concat(
        [
            simulate_lifecycles(np.arange(600, 300, -1), scenario),
            simulate_lifecycles(np.arange(1, 301), scenario),
        ]
    )
    key = ["subscriber_id", "month_idx"]
    pd.testing.assert_frame_equal(
        whole.sort_values(key).reset_index(drop=True), parts.sort_values(key).reset_index(drop=True)
    )
    assert list(whole.columns) == [name for name, _ in LIFECYCLE_COLUMNS]


def test_a_line_lives_from_activation_to_deactivation_month():
    frame = simulate_lifecycles(np.arange(1, 601), _scenario())
    for _, rows in frame.groupby("subscriber_id"):
        idx = rows["month_idx"].to_numpy()
        assert (np.diff(idx) == 1).all(), "a line's months are contiguous"
        churned = rows["is_churned"].to_numpy()
        assert churned[:-1].sum() == 0, "nothing after the deactivation month"
        if rows["is_gross_add"].any():
            assert rows["is_gross_add"].to_numpy()[0]
    assert frame["is_churned"].sum() > 0
    assert (frame.loc[frame["is_churned"], "deactivation_day"] >= 0).all()
    assert (frame.loc[~frame["is_churned"], "deactivation_day"] == -1).all()


def test_treatment_never_adds_churn_and_helps_some_targets():
    frame = simulate_lifecycles(np.arange(1, 3001), _scenario(subscribers=3000))
    targets = frame[frame["is_targeted"]].drop_duplicates("subscriber_id")
    assert len(targets) > 50
    assert (targets["churn_if_treated"] <= targets["churn_if_untreated"]).all()
    helped = targets[targets["churn_if_treated"] < targets["churn_if_untreated"]]
    assert len(helped) > 0 and helped["is_persuadable"].all()


def test_a_single_month_has_no_campaign_and_no_ids_give_an_empty_frame():
    timeline = Timeline.for_range(parse_month_range("2026-01"), window_months=3)
    assert timeline.campaign_contact is None
    empty = simulate_lifecycles(np.array([], dtype=np.int64), _scenario())
    assert empty.empty and list(empty.columns) == [name for name, _ in LIFECYCLE_COLUMNS]
    frame = simulate_lifecycles(np.arange(1, 200), Scenario(1, 200, timeline, Params()))
    assert not frame["is_targeted"].any()


def test_month_range_must_be_valid():
    with pytest.raises(ValueError, match="2026-13"):
        parse_month_range("2026-13..2026-14")
