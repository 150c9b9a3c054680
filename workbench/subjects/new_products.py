"""New products subject: a product's adoption curve since launch, who adopts it (plan,
segment, ARPU, data use against the base) and whether adopters drop the packs they held
(cannibalisation against the drop rate of the other holders). Reads ``dws_product_month``,
``dwd_dim_product``, ``ads_product_adopters`` and ``ads_product_switching`` with DuckDB.

The functions below :func:`run` are what a dashboard calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import InputDataError, ParameterError
from workbench.filters import Condition, equals
from workbench.months import months_between, parse_month
from workbench.params import defaults
from workbench.subjects.service_quality import (
    check_confidence,
    difference_interval,
    read_required,
    with_rates,
)

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

NEWEST = "NEWEST"  # the product parameter's default: the most recently launched product


@dataclass(frozen=True)
class NewProducts:
    """``adoption``: holders, new adopters and penetration by month since launch;
    ``profile``: holders' share of each plan type and segment against the base's (index 100 =
    like the base); ``values``: holders' mean ARPU and data use against non-holders';
    ``cannibalisation``: per existing product, the drop rate of adopters against other holders
    over the months since launch, with the difference and its interval."""

    product_id: str
    product_name_en: str
    product_name_zh: str
    launch_month: str
    adoption: pd.DataFrame
    profile: pd.DataFrame
    values: pd.DataFrame
    cannibalisation: pd.DataFrame
    period: str


def resolve_product(settings: Settings, product_id: str = NEWEST) -> pd.Series:
    """The product's catalogue row; ``NEWEST``: the latest launch (product id breaks ties)."""
    products = read_required("dwd_dim_product", settings)
    if product_id == NEWEST:
        if products["launch_month"].isna().all():
            raise InputDataError("dwd_dim_product has no launch_month to find the newest product")
        ordered = products.sort_values(["launch_month", "product_id"], ascending=[False, False])
        return ordered.iloc[0]
    match = products[products["product_id"] == product_id]
    if match.empty:
        raise ParameterError(
            f"parameter 'product_id': {product_id!r} is not in dwd_dim_product "
            f"(known: {', '.join(sorted(products['product_id']))})"
        )
    return match.iloc[0]


def adoption_curve(settings: Settings, product_id: str, period: str) -> pd.DataFrame:
    """Holders, new adopters and penetration of ``product_id`` by month up to ``period``, with
    the months since launch (negative before it)."""
    period = parse_month(period)
    product = resolve_product(settings, product_id)
    frame = read_required(
        "dws_product_month", settings, [equals("product_id", product["product_id"])]
    )
    if period not in set(frame["month"]):
        raise InputDataError(f"dws_product_month has no month {period} for {product_id}")
    frame = frame[frame["month"] <= period].sort_values("month").reset_index(drop=True)
    launch = product["launch_month"]
    frame["months_since_launch"] = [
        months_between(launch, m) if isinstance(launch, str) else np.nan for m in frame["month"]
    ]
    cols = [
        "month",
        "months_since_launch",
        "n_holders",
        "n_new",
        "n_unsubscribed",
        "n_active_base",
        "penetration",
        "fee_revenue_cny",
    ]
    return frame[cols]


def adopter_profile(settings: Settings, product_id: str, period: str) -> pd.DataFrame:
    """Holders' share of each plan type and segment in ``period`` against the live base's.

    Returns:
        rows of ``dimension`` (plan_type | segment), ``value``, holders, base, both shares and
        ``index`` (holders' share / base share x 100).
    """
    period = parse_month(period)
    frame = _adopters(settings, product_id, period)
    parts = []
    for dimension in ("plan_type", "segment"):
        g = frame.groupby(dimension)[["n_holders", "n_base"]].sum().reset_index()
        g = g.rename(columns={dimension: "value"})
        g.insert(0, "dimension", dimension)
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    holders = out.groupby("dimension")["n_holders"].transform("sum")
    base = out.groupby("dimension")["n_base"].transform("sum")
    out["holders_share"] = out["n_holders"] / holders.where(holders > 0)
    out["base_share"] = out["n_base"] / base.where(base > 0)
    out["index"] = 100 * out["holders_share"] / out["base_share"].where(out["base_share"] > 0)
    return out


#: the compared measures as a report names them
METRIC_LABELS = {"arpu_cny": "每户月收入 ARPU (¥)", "data_mb": "户均流量 Data use (MB)"}


def adopter_values(settings: Settings, product_id: str, period: str) -> pd.DataFrame:
    """Holders' mean monthly revenue (ARPU) and data use in ``period`` against non-holders'
    (``metric`` a code, ``label`` its name in the report)."""
    frame = _adopters(settings, product_id, parse_month(period))
    sums = ["n_holders", "n_base", "revenue_holders_cny", "revenue_base_cny"]
    s = frame[[*sums, "data_mb_holders", "data_mb_base"]].sum()
    n_h, n_o = float(s["n_holders"]), float(s["n_base"] - s["n_holders"])
    rows = []
    for metric, holders, base in (
        ("arpu_cny", s["revenue_holders_cny"], s["revenue_base_cny"]),
        ("data_mb", s["data_mb_holders"], s["data_mb_base"]),
    ):
        mean_h = holders / n_h if n_h else np.nan
        mean_o = (base - holders) / n_o if n_o else np.nan
        rows.append(
            {
                "metric": metric,
                "label": METRIC_LABELS[metric],
                "holders_mean": mean_h,
                "non_holders_mean": mean_o,
                "ratio": mean_h / mean_o if mean_o else np.nan,
                "n_holders": int(n_h),
                "n_non_holders": int(n_o),
            }
        )
    return pd.DataFrame(rows)


def _adopters(settings: Settings, product_id: str, period: str) -> pd.DataFrame:
    frame = read_required(
        "ads_product_adopters",
        settings,
        [equals("product_id", product_id), equals("month", period)],
    )
    if frame.empty:
        raise InputDataError(f"ads_product_adopters has no rows for {product_id} in {period}")
    return frame


def cannibalisation(
    settings: Settings, product_id: str, period: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Per existing product: among its holders at the end of M-1 still live at the end of M,
    the share who dropped it among those who adopted ``product_id`` in M against the others,
    pooled over every month up to ``period``; the difference (adopters - others) has a
    Newcombe interval. A positive difference whose interval excludes 0 suggests cannibalisation.
    """
    check_confidence(confidence)
    period = parse_month(period)
    frame = read_required(
        "ads_product_switching",
        settings,
        [equals("new_product_id", product_id), Condition("month", "<=", period)],
    )
    columns = ["n_adopters_holding", "n_adopters_dropped", "n_others_holding", "n_others_dropped"]
    sums = frame.groupby("product_id")[columns].sum().reset_index()
    sums = with_rates(
        sums, "n_adopters_dropped", "n_adopters_holding", "adopter_drop_rate", confidence
    )
    sums = with_rates(
        sums, "n_others_dropped", "n_others_holding", "baseline_drop_rate", confidence
    )
    diffs = pd.DataFrame(
        [
            difference_interval(
                r.n_adopters_dropped,
                r.n_adopters_holding,
                r.n_others_dropped,
                r.n_others_holding,
                confidence,
            )
            for r in sums.itertuples()
        ],
        columns=["difference", "difference_low", "difference_high"],
        index=sums.index,
    )
    sums = pd.concat([sums, diffs], axis=1)
    return sums.sort_values(
        ["difference", "product_id"], ascending=[False, True], na_position="last"
    ).reset_index(drop=True)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("new_products")


def run(
    settings: Settings,
    period: str,
    *,
    product_id: str = DEFAULTS["product_id"],
    confidence: float = DEFAULTS["confidence"],
) -> NewProducts:
    """Adoption, adopter profile and cannibalisation of a product (default: the newest)."""
    period = parse_month(period)
    product = resolve_product(settings, product_id)
    pid = str(product["product_id"])
    launch = product["launch_month"]
    if isinstance(launch, str) and launch > period:
        raise InputDataError(f"{pid} is launched in {launch}, after the period {period}")
    adoption = adoption_curve(settings, pid, period)
    profile = adopter_profile(settings, pid, period)
    values = adopter_values(settings, pid, period)
    cannibal = cannibalisation(settings, pid, period, confidence)
    log.info(
        "new products %s %s: %d holder(s), launched %s",
        period,
        pid,
        int(adoption["n_holders"].iloc[-1]),
        launch,
    )
    return NewProducts(
        pid,
        str(product.get("product_name_en", pid)),
        str(product.get("product_name_zh", pid)),
        str(launch),
        adoption,
        profile,
        values,
        cannibal,
        period,
    )
