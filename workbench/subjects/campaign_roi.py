"""Campaign ROI subject: treated vs control over ``ads_campaign_results`` (contacts with
response, churn and revenue in the measurement window) and campaign costs
(``dwd_dim_campaign``), valued with :mod:`workbench.analysis.campaigns`. Writes
``ads_campaign_roi`` for the month: every campaign contacted up to it.

Campaigns exported with ``workbench targets export`` are there too once their contacts are in
the warehouse (the closed loop: export, load responses, ``workbench campaigns refresh``). A
campaign whose horizon is not complete yet is shown with its response rates and response uplift
only, marked "horizon incomplete" (see :func:`workbench.analysis.campaigns.mark_horizons`).

Contacts are reduced to sufficient statistics per campaign and group inside DuckDB, so only
two rows per campaign reach pandas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis import campaigns as engine
from workbench.errors import InputDataError
from workbench.months import months_between, parse_month
from workbench.params import defaults
from workbench.subjects.common import read_small, write_result_frame

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

_GROUPS_SQL = """
SELECT campaign_id, assignment,
       count(*) AS n,
       sum(CAST(coalesce(is_responded, FALSE) AS BIGINT)) AS n_responded,
       sum(CAST(coalesce(is_accepted, FALSE) AS BIGINT)) AS n_accepted,
       sum(CAST(coalesce(is_churned_within_window, FALSE) AS BIGINT)) AS n_churned,
       sum(coalesce(revenue_in_window_cny, 0.0)) AS revenue_cny,
       sum(coalesce(revenue_in_window_cny, 0.0) ^ 2) AS revenue_sq_cny
FROM ads_campaign_results
WHERE month <= ? AND assignment IN ('treatment', 'control')
GROUP BY campaign_id, assignment
"""
_WINDOWS_SQL = """
SELECT campaign_id, min(month) AS contact_month,
       bool_and(coalesce(is_window_complete, FALSE)) AS is_window_complete,
       max(window_months) AS window_months
FROM ads_campaign_results WHERE month <= ? GROUP BY campaign_id
"""
ALL = "ALL"


@dataclass(frozen=True)
class CampaignRoiResult:
    groups: pd.DataFrame
    summary: pd.DataFrame
    period: str


def campaign_groups(settings: Settings, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sufficient statistics per campaign and assignment, and each campaign's window state
    (``contact_month`` and :data:`~workbench.analysis.campaigns.WINDOW_COLUMNS`)."""
    from workbench.marts import connect

    with connect(settings) as con:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "ads_campaign_results" not in tables:
            raise InputDataError("ads_campaign_results is empty: build the warehouse first")
        groups = con.execute(_GROUPS_SQL, [period]).df()
        windows = con.execute(_WINDOWS_SQL, [period]).df()
        last = (
            con.execute("SELECT max(month) FROM dws_subscriber_month").fetchone()[0]
            if "dws_subscriber_month" in tables
            else None
        ) or period
    for column in ("n", "n_responded", "n_accepted", "n_churned"):
        groups[column] = groups[column].astype("int64")
    k = windows["window_months"].astype("int64")
    since = windows["contact_month"].map(lambda m: months_between(m, last))
    windows["window_months"] = k
    windows["months_observed"] = since.clip(lower=0).where(
        ~windows["is_window_complete"].astype(bool), k
    )
    windows["months_observed"] = windows["months_observed"].clip(upper=k).astype("int64")
    return groups[list(engine.GROUP_COLUMNS)], windows


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("campaign_roi")


def run(
    settings: Settings,
    period: str,
    *,
    confidence: float = DEFAULTS["confidence"],
    include_incomplete: bool = DEFAULTS["include_incomplete"],
    campaign_id: str = DEFAULTS["campaign_id"],
) -> CampaignRoiResult:
    """Uplift, incremental revenue and ROI of the campaigns contacted up to ``period``.

    Args:
        include_incomplete: also campaigns whose horizon is still open (response measures
            only, marked "horizon incomplete"). On by default so that a monthly report run
            in the months right after a campaign shows its responses instead of failing.
        campaign_id: only this campaign, shown even when its horizon is open; ``ALL``: every
            campaign.
    """
    period = parse_month(period)
    groups, windows = campaign_groups(settings, period)
    if campaign_id != ALL:
        known = sorted(windows["campaign_id"])
        if campaign_id not in known:
            raise InputDataError(
                f"campaign_id {campaign_id!r}: no contact of this campaign by {period} in "
                f"ads_campaign_results (campaigns: {', '.join(known) or 'none'}); an exported "
                "campaign appears after `workbench campaigns refresh` or the build of its month"
            )
        groups = groups[groups["campaign_id"] == campaign_id]
    elif not include_incomplete:
        done = set(windows.loc[windows["is_window_complete"].astype(bool), "campaign_id"])
        groups = groups[groups["campaign_id"].isin(done)]
    if groups.empty:
        raise InputDataError(
            f"no campaign contacted by {period}"
            + ("" if include_incomplete else " has a complete measurement window")
            + ("" if include_incomplete else " (include_incomplete=True shows open ones)")
        )
    info = read_small("dwd_dim_campaign", settings)
    costs = info[list(engine.CAMPAIGN_COST_COLUMNS)]
    costs = costs[costs["campaign_id"].isin(set(groups["campaign_id"]))]
    summary = engine.campaign_roi(groups, costs, confidence=confidence)
    summary = engine.mark_horizons(summary, windows).merge(
        info[["campaign_id", "campaign_name_en", "campaign_name_zh", "campaign_type"]],
        on="campaign_id",
        how="left",
    )
    summary = summary.merge(windows[["campaign_id", "contact_month"]], on="campaign_id")
    summary["confidence"] = float(confidence)
    write_result_frame(summary, "ads_campaign_roi", settings, period)
    log.info("campaign ROI %s: %d campaign(s)", period, len(summary))
    return CampaignRoiResult(groups.reset_index(drop=True), summary, period)
