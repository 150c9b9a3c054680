"""Checks on prediction intervals worked out from the model's own algebra, so an interval is
never only compared with its own centre."""

from __future__ import annotations

import numpy as np
import pandas as pd


def assert_simple_smoothing_interval(forecast: pd.DataFrame, rtol: float = 1e-6) -> None:
    """``forecast`` (``forecast``, ``lower``, ``upper``, three or more months) is what simple
    exponential smoothing, ETS(A,N,N), gives: a flat forecast, an interval centred on it, and
    half-widths ``w_h = z * sigma * sqrt(1 + (h - 1) * alpha**2)``, so that
    ``w_h**2 - w_1**2 = (h - 1) * (w_2**2 - w_1**2)`` whatever alpha and sigma the fit found.
    ``rtol``: floating point only, the identities are exact."""
    centre = forecast["forecast"].to_numpy(dtype=float)
    lower = forecast["lower"].to_numpy(dtype=float)
    upper = forecast["upper"].to_numpy(dtype=float)
    assert len(centre) >= 3
    np.testing.assert_allclose(centre, centre[0], rtol=rtol)
    half = (upper - lower) / 2
    np.testing.assert_allclose(upper - centre, half, rtol=rtol)
    assert half[0] > 0
    steps = np.arange(len(half))
    growth = half**2 - half[0] ** 2
    expected = steps * (half[1] ** 2 - half[0] ** 2)
    np.testing.assert_allclose(growth, expected, rtol=rtol, atol=rtol * half[0] ** 2)
