"""Lift, gains, calibration and PR tables on small hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.metrics import (
    binary_metrics,
    calibration_table,
    lift_table,
    pr_curve,
    rank_bins,
)
from workbench.errors import InputDataError, ParameterError


def test_lift_table_by_hand():
    # 10 rows, 2 bins of 5: the top five scores hold 3 of the 4 positives.
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    s = np.linspace(0.9, 0.0, 10)
    table = lift_table(y, s, n_bins=2)
    assert table["n"].tolist() == [5, 5]
    assert table["n_positive"].tolist() == [3, 1]
    assert table["lift"].tolist() == pytest.approx([0.6 / 0.4, 0.2 / 0.4])
    assert table["cum_gain"].tolist() == pytest.approx([0.75, 1.0])
    assert table["cum_lift"].tolist() == pytest.approx([1.5, 1.0])


def test_rank_bins_are_equal_sized_and_stable():
    bins = rank_bins(np.array([0.5, 0.5, 0.5, 0.5, 0.1, 0.9]), n_bins=3)
    assert bins.tolist() == [1, 2, 2, 3, 3, 1]
    with pytest.raises(ParameterError, match="n_bins"):
        rank_bins(np.array([0.1]), n_bins=0)


def test_calibration_and_metrics():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.8, 0.9])
    cal = calibration_table(y, p, n_bins=2)
    assert cal["mean_predicted"].tolist() == pytest.approx([0.85, 0.15])
    assert cal["observed_rate"].tolist() == [1.0, 0.0]
    metrics = binary_metrics(y, p)
    assert metrics["auc"] == 1.0 and metrics["base_rate"] == 0.5
    assert metrics["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    curve = pr_curve(y, p)
    assert curve["precision"].iloc[0] == 0.5 and curve["recall"].iloc[-1] == 0.0


def test_metric_inputs_are_checked():
    with pytest.raises(InputDataError, match="one"):
        binary_metrics(np.array([1, 1]), np.array([0.2, 0.3]))
    with pytest.raises(InputDataError, match="NaN"):
        lift_table(np.array([0, 1]), np.array([np.nan, 0.3]))
    with pytest.raises(InputDataError, match="0/1"):
        lift_table(np.array([0, 2]), np.array([0.1, 0.3]))
    with pytest.raises(InputDataError, match="no rows"):
        pr_curve(np.array([]), np.array([]))
