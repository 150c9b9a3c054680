"""Competition subject: the share of voice minutes going to competitors A and B by region and
segment, the lines whose competitor share is rising, and how churn rises with that share.
Reads ``ads_competition_bands`` and ``ads_competitor_risers`` with DuckDB (no Spark).

The functions below :func:`run` are what a dashboard calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.catalog.ads import ALL
from workbench.errors import InputDataError, ParameterError
from workbench.filters import equals
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import cell_filters
from workbench.subjects.service_quality import (
    check_confidence,
    churn_window,
    read_required,
    with_rates,
)

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

NO_CALLS_BAND = "no_calls"
_MINUTES = ["mou_min", "offnet_min", "competitor_a_min", "competitor_b_min"]


@dataclass(frozen=True)
class Competition:
    """``by_region`` / ``by_segment``: the competitor shares of ``period``; ``trend``: the shares
    by month; ``churn_by_band``: next-month churn by competitor-share band with intervals over
    ``churn_months``; ``share_effect``: the logistic slope of churn on the share (one row);
    ``risers``: the period's lines with a rising competitor share, highest change first;
    ``risers_by_region``: how many per region."""

    by_region: pd.DataFrame
    by_segment: pd.DataFrame
    trend: pd.DataFrame
    churn_by_band: pd.DataFrame
    share_effect: pd.DataFrame
    risers: pd.DataFrame
    risers_by_region: pd.DataFrame
    churn_months: list[str]
    period: str
    region_id: str
    segment: str


def _bands(settings: Settings, region_id: str, segment: str) -> pd.DataFrame:
    frame = read_required(
        "ads_competition_bands", settings, cell_filters(region_id=region_id, segment=segment)
    )
    if frame.empty:
        raise InputDataError(
            f"ads_competition_bands has no rows for region {region_id!r} and segment {segment!r}"
        )
    return frame


def with_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Shares of voice minutes: off-net, to competitor A, B and either (null without minutes)."""
    out = frame.copy()
    mou = out["mou_min"].astype(float)
    mou = mou.where(mou > 0)
    out["offnet_share"] = out["offnet_min"] / mou
    out["competitor_a_share"] = out["competitor_a_min"] / mou
    out["competitor_b_share"] = out["competitor_b_min"] / mou
    out["competitor_share"] = (out["competitor_a_min"] + out["competitor_b_min"]) / mou
    return out


def competitor_shares(
    settings: Settings, period: str, by: str = "region_id", region_id: str = ALL, segment: str = ALL
) -> pd.DataFrame:
    """Competitor shares of voice minutes of ``period`` by ``region_id``, ``segment`` or
    ``month`` (all months up to ``period``)."""
    if by not in ("region_id", "segment", "month"):
        raise ParameterError(f"parameter 'by': {by!r} is not one of region_id, segment, month")
    period = parse_month(period)
    frame = _bands(settings, region_id, segment)
    if period not in set(frame["month"]):
        raise InputDataError(
            f"ads_competition_bands has no month {period} "
            f"(it has {', '.join(sorted(set(frame['month'])))})"
        )
    frame = frame[frame["month"] <= period] if by == "month" else frame[frame["month"] == period]
    sums = frame.groupby(by)[["n_lines", *_MINUTES]].sum().reset_index()
    return with_shares(sums).sort_values(by).reset_index(drop=True)


def churn_by_band(
    settings: Settings,
    period: str,
    region_id: str = ALL,
    segment: str = ALL,
    churn_months: int = 3,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, list[str]]:
    """Next-month churn of lines live at month end by competitor-share band, pooled over the
    ``churn_months`` latest months up to ``period`` whose churn is observed.

    Returns:
        one row per band in share order (``no_calls`` last) with lines, churned, the rate and
        its interval and the mean share; and the months pooled.
    """
    check_confidence(confidence)
    frame = _bands(settings, region_id, segment)
    observed = frame.loc[frame["is_next_month_observed"].astype(bool), "month"].unique()
    window = churn_window(list(observed), period, churn_months)
    data = frame[frame["month"].isin(window)]
    out = (
        data.groupby("share_band", dropna=False)
        .agg(
            band_low=("band_low", "first"),
            band_high=("band_high", "first"),
            n_lines=("n_lines", "sum"),
            n_churned=("n_churned_next_month", "sum"),
            competitor_share_sum=("competitor_share_sum", "sum"),
        )
        .reset_index()
    )
    out["mean_competitor_share"] = out["competitor_share_sum"] / out["n_lines"].where(
        out["n_lines"] > 0
    )
    out = with_rates(
        out.drop(columns="competitor_share_sum"), "n_churned", "n_lines", "churn_rate", confidence
    )
    out["_order"] = out["band_low"].fillna(np.inf)
    return out.sort_values("_order").drop(columns="_order").reset_index(drop=True), window


def share_effect(bands: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Logistic regression of next-month churn on the competitor share, fitted on the banded
    counts (each band at its lines' mean share; lines without calls left out).

    Returns:
        one row: ``coefficient`` (change in log-odds of churn per unit of share), its interval,
        ``p_value``, the odds ratio for +10 points of share, and the lines used.
    """
    import statsmodels.api as sm

    used = bands[(bands["share_band"] != NO_CALLS_BAND) & (bands["n_lines"] > 0)]
    row = {
        "coefficient": np.nan,
        "coefficient_low": np.nan,
        "coefficient_high": np.nan,
        "p_value": np.nan,
        "odds_ratio_per_10pt": np.nan,
        "n_lines": int(used["n_lines"].sum()),
        "n_bands": len(used),
    }
    if len(used) >= 2 and used["n_churned"].sum() > 0:
        endog = np.column_stack(
            [
                used["n_churned"].to_numpy(float),
                (used["n_lines"] - used["n_churned"]).to_numpy(float),
            ]
        )
        exog = sm.add_constant(used["mean_competitor_share"].to_numpy(float))
        fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
        low, high = fit.conf_int(alpha=1 - confidence)[1]
        row.update(
            coefficient=float(fit.params[1]),
            coefficient_low=float(low),
            coefficient_high=float(high),
            p_value=float(fit.pvalues[1]),
            odds_ratio_per_10pt=float(np.exp(0.1 * fit.params[1])),
        )
    return pd.DataFrame([row])


def rising_share_list(
    settings: Settings, period: str, region_id: str = ALL, segment: str = ALL, top_n: int = 100
) -> pd.DataFrame:
    """The period's lines whose competitor share rose (see ``ads_competitor_risers``), largest
    change first, at most ``top_n``."""
    period = parse_month(period)
    frame = read_required(
        "ads_competitor_risers",
        settings,
        [equals("month", period), *cell_filters(region_id=region_id, segment=segment)],
    )
    ordered = frame.sort_values(["share_change", "subscriber_id"], ascending=[False, True])
    return ordered.head(top_n).reset_index(drop=True)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("competition")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    segment: str = DEFAULTS["segment"],
    churn_months: int = DEFAULTS["churn_months"],
    top_n: int = DEFAULTS["top_n"],
    confidence: float = DEFAULTS["confidence"],
) -> Competition:
    """Competitor shares, rising-share lines and the churn effect for a region and segment."""
    period = parse_month(period)
    if churn_months < 1:
        raise ParameterError(f"parameter 'churn_months': {churn_months!r} must be at least 1")
    if top_n < 1:
        raise ParameterError(f"parameter 'top_n': {top_n!r} must be at least 1")
    by_region = competitor_shares(settings, period, "region_id", region_id, segment)
    by_segment = competitor_shares(settings, period, "segment", region_id, segment)
    trend = competitor_shares(settings, period, "month", region_id, segment)
    trend = trend[trend["month"] >= add_months(period, -11)].reset_index(drop=True)
    bands, window = churn_by_band(settings, period, region_id, segment, churn_months, confidence)
    effect = share_effect(bands, confidence)
    risers = rising_share_list(settings, period, region_id, segment, top_n=10**9)
    by_region_risers = (
        risers.groupby("region_id")
        .agg(n_risers=("subscriber_id", "count"), mean_share_change=("share_change", "mean"))
        .reset_index()
        .merge(by_region[["region_id", "n_lines"]], on="region_id", how="left")
    )
    by_region_risers["risers_per_1k"] = (
        by_region_risers["n_risers"] * 1000 / by_region_risers["n_lines"]
    )
    log.info(
        "competition %s %s/%s: %d riser(s), share slope %.2f",
        period,
        region_id,
        segment,
        len(risers),
        effect["coefficient"].iloc[0],
    )
    return Competition(
        by_region,
        by_segment,
        trend,
        bands,
        effect,
        risers.head(top_n).reset_index(drop=True),
        by_region_risers.sort_values("n_risers", ascending=False).reset_index(drop=True),
        window,
        period,
        region_id,
        segment,
    )
