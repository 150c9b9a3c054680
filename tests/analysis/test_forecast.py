"""The monthly forecast on synthetic series whose future is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.intervals import assert_simple_smoothing_interval
from workbench.analysis.forecast import backtest, forecast_monthly
from workbench.errors import InputDataError, ParameterError
from workbench.months import add_months


def monthly(values, start="2023-01") -> pd.Series:
    return pd.Series(values, index=[add_months(start, i) for i in range(len(values))])


def seasonal_series(n: int, seed: int = 3) -> np.ndarray:
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 4.0, n)
    return 1000 + 5 * t + 60 * np.sin(2 * np.pi * t / 12) + noise


def test_a_long_seasonal_series_is_forecast_within_its_interval():
    full = seasonal_series(42)
    result = forecast_monthly(monthly(full[:36]), horizon=6, confidence=0.95)
    assert "seasonality" in result.method and result.message is None
    future = full[36:]
    f = result.forecast
    assert list(f["month"]) == [add_months("2025-12", i + 1) for i in range(6)]
    assert ((f["lower"] <= future) & (future <= f["upper"])).mean() >= 5 / 6
    # the seasonal swing (±60) is forecast, not averaged away
    assert np.abs(f["forecast"] - future).max() < 30
    assert (f["upper"] - f["lower"]).iloc[-1] >= (f["upper"] - f["lower"]).iloc[0]
    # back-test: 6 one-step forecasts; its MAPE is the mean of its errors, recomputed here
    bt = result.backtest
    assert list(bt["month"]) == [add_months("2023-01", i) for i in range(30, 36)]
    expected = np.mean(np.abs(bt["actual"] - bt["predicted"]) / np.abs(bt["actual"]))
    assert result.mape == pytest.approx(expected)
    assert result.mape < 0.02


def test_backtest_never_sees_the_month_it_predicts():
    series = monthly([100.0, 100, 100, 100, 100, 100, 500])
    bt = backtest(series, min_train=4, origins=3)
    assert list(bt["month"]) == ["2023-05", "2023-06", "2023-07"]
    # a level model fitted on flat history predicts ~100 for the jump to 500
    assert bt["predicted"].iloc[-1] == pytest.approx(100, abs=1)
    assert bt["ape"].iloc[-1] == pytest.approx(0.8, abs=0.01)


def test_six_months_forecast_with_a_rough_backtest_and_three_months_none():
    six = forecast_monthly(monthly([100.0, 104, 98, 103, 101, 99]), horizon=3)
    assert len(six.forecast) == 3 and len(six.backtest) == 2
    assert six.message and "rough guide" in six.message
    assert six.method == "ETS(A,N,N) simple exponential smoothing"
    assert_simple_smoothing_interval(six.forecast)
    short = forecast_monthly(monthly([100.0, 104, 98]))
    assert short.forecast.empty and short.mape is None
    assert "Only 3 month(s)" in short.message


def test_bad_input_is_named():
    with pytest.raises(ParameterError, match="'horizon'"):
        forecast_monthly(monthly([1.0] * 8), horizon=0)
    with pytest.raises(ParameterError, match="'confidence'"):
        forecast_monthly(monthly([1.0] * 8), confidence=1.0)
    with pytest.raises(InputDataError, match="2023-03"):
        forecast_monthly(monthly([1.0, 2.0, float("nan"), 4.0]))
    gap = pd.Series([1.0, 2.0, 3.0], index=["2023-01", "2023-02", "2023-04"])
    with pytest.raises(InputDataError, match="2023-03"):
        forecast_monthly(gap)
    with pytest.raises(InputDataError, match="empty"):
        forecast_monthly(pd.Series([], dtype=float))
