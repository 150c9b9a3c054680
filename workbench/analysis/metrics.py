"""Model-quality tables for binary scores: lift and gains by decile, calibration, PR curve.

Pure functions of numpy arrays (labels 0/1, scores); they return small pandas tables that the
notebooks show and the reports save.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

from workbench.errors import InputDataError, ParameterError


def _check(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise InputDataError(f"labels {y.shape} and scores {s.shape} must be 1-d of equal length")
    if len(y) == 0:
        raise InputDataError("no rows to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise InputDataError("labels must be 0/1")
    if np.isnan(s).any():
        raise InputDataError("scores contain NaN")
    return y.astype(int), s


def binary_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """AUC, average precision, Brier score, log loss and base rate of probability scores."""
    y, p = _check(y_true, y_score)
    if y.min() == y.max():
        raise InputDataError("both classes are needed to evaluate; the labels hold only one")
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "n": float(len(y)),
        "base_rate": float(y.mean()),
        "auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, clipped)),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
    }


def rank_bins(y_score: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Bin 1 holds the highest scores; equal-sized bins by rank (ties broken by row order)."""
    if n_bins < 1:
        raise ParameterError(f"n_bins must be >= 1, got {n_bins}")
    s = np.asarray(y_score, dtype=float)
    order = np.argsort(-s, kind="stable")
    ranks = np.empty(len(s), dtype=np.int64)
    ranks[order] = np.arange(len(s))
    return (ranks * n_bins // max(len(s), 1)) + 1


def lift_table(y_true: np.ndarray, y_score: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score decile (decile 1 = highest risk).

    Columns: decile, n, n_positive, positive_rate, lift, cum_n_positive, cum_gain (share of all
    positives captured down to this decile), cum_lift, min_score, max_score.
    """
    y, s = _check(y_true, y_score)
    bins = rank_bins(s, n_bins)
    frame = pd.DataFrame({"decile": bins, "y": y, "s": s})
    table = (
        frame.groupby("decile")
        .agg(
            n=("y", "size"), n_positive=("y", "sum"), min_score=("s", "min"), max_score=("s", "max")
        )
        .reset_index()
    )
    base = y.mean()
    total_pos = max(int(y.sum()), 1)
    table["positive_rate"] = table["n_positive"] / table["n"]
    table["lift"] = table["positive_rate"] / base if base > 0 else np.nan
    table["cum_n_positive"] = table["n_positive"].cumsum()
    table["cum_gain"] = table["cum_n_positive"] / total_pos
    cum_rate = table["cum_n_positive"] / table["n"].cumsum()
    table["cum_lift"] = cum_rate / base if base > 0 else np.nan
    cols = ["decile", "n", "n_positive", "positive_rate", "lift", "cum_n_positive", "cum_gain"]
    return table[[*cols, "cum_lift", "min_score", "max_score"]]


def calibration_table(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed rate, by equal-sized probability bins.

    Bin 1 holds the highest probabilities, as in :func:`lift_table`.
    """
    y, p = _check(y_true, y_prob)
    frame = pd.DataFrame({"bin": rank_bins(p, n_bins), "y": y, "p": p})
    table = (
        frame.groupby("bin")
        .agg(n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
        .reset_index()
    )
    table["gap"] = table["observed_rate"] - table["mean_predicted"]
    return table


def pr_curve(y_true: np.ndarray, y_score: np.ndarray) -> pd.DataFrame:
    """The precision-recall curve as a table (threshold is NaN on the last point)."""
    y, s = _check(y_true, y_score)
    precision, recall, thresholds = precision_recall_curve(y, s)
    return pd.DataFrame(
        {
            "threshold": np.append(thresholds, np.nan),
            "precision": precision,
            "recall": recall,
        }
    )
