"""Campaign ROI subject: treated vs control over ``ads_campaign_results`` (contacts with
response, churn and revenue in the measurement window) and campaign costs
(``dwd_dim_campaign``), valued with :mod:`workbench.analysis.campaigns`. Writes
``ads_campaign_roi`` for the month: every campaign contacted up to it.

Contacts are reduced to sufficient statistics per campaign and group inside DuckDB, so only
two rows per campaign reach pandas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis import campaigns as engine
from workbench.analysis.errors import InputDataError
from workbench.months import parse_month
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
       bool_and(coalesce(is_window_complete, FALSE)) AS is_window_complete
FROM ads_campaign_results WHERE month <= ? GROUP BY campaign_id
"""


@dataclass(frozen=True)
class CampaignRoiResult:
    groups: pd.DataFrame
    summary: pd.DataFrame
    period: str


def campaign_groups(settings: Settings, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sufficient statistics per campaign and assignment, and each campaign's window state."""
    from workbench.marts import connect

    with connect(settings) as con:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "ads_campaign_results" not in tables:
            raise InputDataError("ads_campaign_results is empty: build the warehouse first")
        groups = con.execute(_GROUPS_SQL, [period]).df()
        windows = con.execute(_WINDOWS_SQL, [period]).df()
    for column in ("n", "n_responded", "n_accepted", "n_churned"):
        groups[column] = groups[column].astype("int64")
    return groups[list(engine.GROUP_COLUMNS)], windows


def run(
    settings: Settings,
    period: str,
    *,
    confidence: float = 0.95,
    include_incomplete: bool = False,
) -> CampaignRoiResult:
    """Uplift, incremental revenue and ROI of the campaigns contacted up to ``period``."""
    period = parse_month(period)
    groups, windows = campaign_groups(settings, period)
    if not include_incomplete:
        done = set(windows.loc[windows["is_window_complete"], "campaign_id"])
        groups = groups[groups["campaign_id"].isin(done)]
    if groups.empty:
        raise InputDataError(
            f"no campaign contacted by {period} has a complete measurement window"
            + ("" if include_incomplete else " (include_incomplete=True shows open ones)")
        )
    info = read_small("dwd_dim_campaign", settings)
    costs = info[list(engine.CAMPAIGN_COST_COLUMNS)]
    costs = costs[costs["campaign_id"].isin(set(groups["campaign_id"]))]
    summary = engine.campaign_roi(groups, costs, confidence=confidence)
    summary = summary.merge(
        info[["campaign_id", "campaign_name_en", "campaign_name_zh", "campaign_type"]],
        on="campaign_id",
        how="left",
    ).merge(windows, on="campaign_id", how="left")
    summary["confidence"] = float(confidence)
    write_result_frame(summary, "ads_campaign_roi", settings, period)
    log.info("campaign ROI %s: %d campaign(s)", period, len(summary))
    return CampaignRoiResult(groups.reset_index(drop=True), summary, period)
