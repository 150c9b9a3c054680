"""Monthly forecasts with a prediction interval and a rolling-origin back-test.

The model is an additive exponential-smoothing state-space model (statsmodels ``ETSModel``)
chosen by the length of the history: level only under 10 months, a damped additive trend from
10, plus additive yearly seasonality from 24 (two full cycles). Short histories get a plain
message instead of a forecast nobody should trust.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.errors import InputDataError, ParameterError
from workbench.months import add_months, parse_month

log = logging.getLogger(__name__)

MIN_HISTORY = 4  # months: fewer and a level-only model is a guess
TREND_HISTORY = 10  # months from which a (damped) trend is fitted
SEASONAL_HISTORY = 24  # months from which yearly seasonality is fitted


@dataclass(frozen=True)
class Forecast:
    """``forecast``: month, forecast, lower, upper (empty when the history is too short);
    ``backtest``: one-step-ahead forecasts from rolling origins (origin = last month used,
    month, actual, predicted, ape); ``mape``: their mean absolute percentage error."""

    history: pd.DataFrame
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    mape: float | None
    method: str
    confidence: float
    message: str | None


def _method(n: int) -> str:
    if n >= SEASONAL_HISTORY:
        return "ETS(A,Ad,A) damped trend, yearly seasonality"
    if n >= TREND_HISTORY:
        return "ETS(A,Ad,N) damped trend"
    return "ETS(A,N,N) simple exponential smoothing"


def _fit_predict(values: np.ndarray, steps: int, alpha: float) -> pd.DataFrame:
    """mean, pi_lower, pi_upper for the ``steps`` months after ``values``."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n = len(values)
    # The additive model's forecasts scale with the data, but its optimiser does not: fitted on
    # revenues of some 300,000 CNY, two series equal to 1e-10 gave forecasts 5 CNY apart (it
    # stops early on a flat likelihood). On values near 1 it converges to the same optimum.
    scale = float(np.abs(values).mean()) or 1.0
    options: dict[str, object] = {"error": "add"}
    if n >= TREND_HISTORY:
        options.update(trend="add", damped_trend=True)
    if n >= SEASONAL_HISTORY:
        # heuristic initial states: estimating 12 seasonal states is slow and overfits
        options.update(seasonal="add", seasonal_periods=12, initialization_method="heuristic")
    with warnings.catch_warnings():
        # tiny histories rarely converge perfectly; the back-test shows what that costs
        warnings.simplefilter("ignore")
        fitted = ETSModel(pd.Series(values / scale, dtype=float), **options).fit(disp=False)
        frame = fitted.get_prediction(start=n, end=n + steps - 1).summary_frame(alpha=alpha)
    return frame[["mean", "pi_lower", "pi_upper"]].reset_index(drop=True) * scale


def _check_series(series: pd.Series) -> pd.Series:
    if series.empty:
        raise InputDataError("forecast: the monthly series is empty")
    months = [parse_month(str(m)) for m in series.index]
    expected = [add_months(months[0], i) for i in range(len(months))]
    if months != expected:
        gaps = sorted(set(expected) - set(months))
        raise InputDataError(
            f"forecast: months must be consecutive and ascending (missing or out of order: "
            f"{', '.join(gaps) or 'order'})"
        )
    bad = series[~np.isfinite(series.to_numpy(dtype=float))]
    if len(bad):
        raise InputDataError(f"forecast: month {bad.index[0]} has no finite value ({bad.iloc[0]})")
    return pd.Series(series.to_numpy(dtype=float), index=months)


def backtest(series: pd.Series, *, min_train: int = MIN_HISTORY, origins: int = 6) -> pd.DataFrame:
    """One-step-ahead forecasts from the last ``origins`` rolling origins, each fitted on the
    months up to the origin only (never on the month it predicts)."""
    values = series.to_numpy(dtype=float)
    months = list(series.index)
    rows = []
    for t in range(max(min_train, len(values) - origins), len(values)):
        predicted = float(_fit_predict(values[:t], 1, 0.1)["mean"].iloc[0])
        actual = values[t]
        ape = abs(actual - predicted) / abs(actual) if actual != 0 else float("nan")
        rows.append(
            {
                "origin": months[t - 1],
                "month": months[t],
                "actual": actual,
                "predicted": predicted,
                "ape": ape,
            }
        )
    return pd.DataFrame(rows, columns=["origin", "month", "actual", "predicted", "ape"])


def forecast_monthly(
    series: pd.Series,
    *,
    horizon: int = 3,
    confidence: float = 0.9,
    min_history: int = MIN_HISTORY,
    backtest_origins: int = 6,
) -> Forecast:
    """Forecast the ``horizon`` months after a monthly series with a prediction interval.

    Args:
        series: values indexed by consecutive ``YYYY-MM`` months, ascending.
        horizon: months to forecast.
        confidence: coverage of the prediction interval (e.g. 0.9).
        min_history: fewer months give no forecast but a message saying so.
        backtest_origins: most rolling origins of the back-test.
    """
    if not 1 <= horizon <= 24:
        raise ParameterError(f"parameter 'horizon': {horizon!r} is out of range [1, 24]")
    if not 0.5 <= confidence < 1:
        raise ParameterError(f"parameter 'confidence': {confidence!r} is out of range [0.5, 1)")
    if min_history < 3:
        raise ParameterError(f"parameter 'min_history': {min_history!r} must be at least 3")
    clean = _check_series(series)
    history = pd.DataFrame({"month": clean.index, "value": clean.to_numpy()})
    n = len(clean)
    empty = pd.DataFrame(columns=["month", "forecast", "lower", "upper"])
    if n < min_history:
        message = (
            f"Only {n} month(s) of history: a forecast needs at least {min_history}. "
            f"仅有 {n} 个月数据，至少需要 {min_history} 个月才能预测。"
        )
        log.info("forecast skipped: %s", message)
        empty_bt = pd.DataFrame(columns=["origin", "month", "actual", "predicted", "ape"])
        return Forecast(history, empty, empty_bt, None, "none", confidence, message)
    predicted = _fit_predict(clean.to_numpy(), horizon, 1 - confidence)
    last = clean.index[-1]
    out = pd.DataFrame(
        {
            "month": [add_months(last, i + 1) for i in range(horizon)],
            "forecast": predicted["mean"],
            "lower": predicted["pi_lower"],
            "upper": predicted["pi_upper"],
        }
    )
    bt = backtest(clean, min_train=min_history, origins=backtest_origins)
    mape = float(bt["ape"].mean()) if bt["ape"].notna().any() else None
    message = None
    if len(bt) < 3:
        message = (
            f"The back-test has only {len(bt)} origin(s): its error is a rough guide. "
            f"回测仅有 {len(bt)} 个起点，误差仅供参考。"
        )
    log.info("forecast %s: %d months, back-test MAPE %s", _method(n), n, mape)
    return Forecast(history, out, bt, mape, _method(n), confidence, message)
