"""Key accounts subject: enterprise customers ranked by revenue, the share of revenue from the
top customers, each account's trend and warning signs, and the key-account manager's view.
Reads ``ads_key_account_health`` and ``ads_revenue_concentration`` with DuckDB (no Spark).

The CRM extract has no account manager, so one is derived: a stable hash (CRC-32) of the
customer id modulo the number of managers gives ``KAM-01``, ``KAM-02``... The same customer
keeps the same manager across runs and machines as long as the number of managers is unchanged.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.catalog.ads import ALL
from workbench.errors import InputDataError, ParameterError
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import cell_filters
from workbench.subjects.value_segments import read_mart_for

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

WARNINGS = {
    "revenue_falling": "收入下降 Revenue falling",
    "lines_falling": "在网号码减少 Fewer live lines",
    "lines_churned": "号码离网 Lines churned",
    "complaints": "投诉 Complaints",
}


@dataclass(frozen=True)
class KeyAccounts:
    """``accounts``: the month's enterprise customers ranked by revenue with manager, changes and
    warnings; ``at_risk``: those with a warning sign; ``trend``: revenue and lines by customer
    and month; ``managers``: one row per manager; ``concentration``: the customer revenue
    curve; ``top_share``: revenue share of the top ``top_fraction`` of customers;
    ``key_account_share``: enterprise share of revenue (billed) and of fee revenue."""

    accounts: pd.DataFrame
    at_risk: pd.DataFrame
    trend: pd.DataFrame
    managers: pd.DataFrame
    concentration: pd.DataFrame
    top_share: float
    top_fraction: float
    key_account_share: dict[str, float]
    period: str


def assign_manager(customer_id: int, n_managers: int = 3) -> str:
    """The derived key-account manager of a customer (stable hash, see the module docstring)."""
    if n_managers < 1:
        raise ParameterError(f"parameter 'n_managers': {n_managers!r} must be at least 1")
    return f"KAM-{zlib.crc32(str(int(customer_id)).encode()) % n_managers + 1:02d}"


def _check_manager(manager_id: str, n_managers: int, *, allow_all: bool = True) -> None:
    known = [f"KAM-{i + 1:02d}" for i in range(n_managers)]
    if manager_id not in known and not (allow_all and manager_id == ALL):
        raise ParameterError(
            f"parameter 'manager_id': {manager_id!r} is not one of {', '.join(known)}"
            + (" or ALL" if allow_all else "")
        )


def rank_accounts(
    health: pd.DataFrame, period: str, *, n_managers: int = 3, revenue_drop: float = 0.1
) -> pd.DataFrame:
    """The month's accounts ranked by revenue, with last month's figures and warning signs.

    Warnings: revenue below (1 - ``revenue_drop``) x last month's, fewer live lines than last
    month, churned lines, complaints this month.
    """
    now = health[health["month"] == period].copy()
    prev = health[health["month"] == add_months(period, -1)].set_index("customer_id")
    now["manager_id"] = [assign_manager(c, n_managers) for c in now["customer_id"]]
    now["revenue_prev_cny"] = now["customer_id"].map(prev["revenue_cny"])
    now["n_active_lines_prev"] = now["customer_id"].map(prev["n_active_lines"])
    now["revenue_change"] = (
        now["revenue_cny"] / now["revenue_prev_cny"].where(now["revenue_prev_cny"] > 0) - 1
    )
    signs = pd.DataFrame(
        {
            "revenue_falling": now["revenue_change"] < -revenue_drop,
            "lines_falling": now["n_active_lines"] < now["n_active_lines_prev"],
            "lines_churned": now["n_churned_lines"] > 0,
            "complaints": now["n_complaints"] > 0,
        }
    )
    now["warnings"] = (
        signs.apply(lambda r: ", ".join(k for k in WARNINGS if r[k]), axis=1) if len(now) else []
    )
    now["n_warnings"] = signs.sum(axis=1).astype(int)
    now = now.sort_values(["revenue_cny", "customer_id"], ascending=[False, True]).reset_index(
        drop=True
    )
    now["revenue_rank"] = range(1, len(now) + 1)
    return now


def top_share(concentration: pd.DataFrame, period: str, fraction: float = 0.2) -> float:
    """Share of the month's revenue from the top ``fraction`` of customers."""
    if not 0.01 <= fraction <= 1:
        raise ParameterError(f"parameter 'top_fraction': {fraction!r} is out of range [0.01, 1]")
    month = concentration[concentration["month"] == period]
    bucket = round(fraction * 100)
    row = month[month["percentile"] == bucket]
    if row.empty:
        raise InputDataError(f"ads_revenue_concentration has no percentile {bucket} in {period}")
    return float(row["cumulative_revenue_share"].iloc[0])


def _read_health(settings: Settings, period: str, region_id: str) -> pd.DataFrame:
    return read_mart_for(
        "ads_key_account_health", settings, period, cell_filters(region_id=region_id)
    )


def key_account_table(
    settings: Settings,
    period: str,
    region_id: str = ALL,
    manager_id: str = ALL,
    *,
    n_managers: int = 3,
    revenue_drop: float = 0.1,
) -> pd.DataFrame:
    """Dashboard: the ranked accounts of a region and/or manager (``ALL``: every one)."""
    period = parse_month(period)
    ranked = rank_accounts(
        _read_health(settings, period, region_id),
        period,
        n_managers=n_managers,
        revenue_drop=revenue_drop,
    )
    _check_manager(manager_id, n_managers)
    if manager_id != ALL:
        ranked = ranked[ranked["manager_id"] == manager_id].reset_index(drop=True)
    return ranked


def manager_view(
    settings: Settings,
    period: str,
    manager_id: str,
    *,
    n_managers: int = 3,
    revenue_drop: float = 0.1,
) -> pd.DataFrame:
    """Dashboard: one manager's accounts, most warnings first. Unknown managers are named."""
    period = parse_month(period)
    _check_manager(manager_id, n_managers, allow_all=False)
    table = key_account_table(
        settings, period, manager_id=manager_id, n_managers=n_managers, revenue_drop=revenue_drop
    )
    return table.sort_values(["n_warnings", "revenue_cny"], ascending=[False, False]).reset_index(
        drop=True
    )


def account_trend(health: pd.DataFrame, customer_ids: list[int] | None = None) -> pd.DataFrame:
    """Revenue, live lines and complaints by customer and month."""
    cols = [
        "customer_id",
        "month",
        "revenue_cny",
        "fee_revenue_cny",
        "n_active_lines",
        "n_complaints",
    ]
    out = health[cols]
    if customer_ids is not None:
        out = out[out["customer_id"].isin(customer_ids)]
    return out.sort_values(["customer_id", "month"]).reset_index(drop=True)


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("key_accounts")


def run(
    settings: Settings,
    period: str,
    *,
    region_id: str = DEFAULTS["region_id"],
    manager_id: str = DEFAULTS["manager_id"],
    n_managers: int = DEFAULTS["n_managers"],
    revenue_drop: float = DEFAULTS["revenue_drop"],
    top_fraction: float = DEFAULTS["top_fraction"],
) -> KeyAccounts:
    """Key accounts of a region and manager (``ALL``: every one) for ``period``."""
    period = parse_month(period)
    health = _read_health(settings, period, region_id)
    accounts = key_account_table(
        settings, period, region_id, manager_id, n_managers=n_managers, revenue_drop=revenue_drop
    )
    concentration = read_mart_for("ads_revenue_concentration", settings, period)
    concentration = concentration[concentration["month"] == period].reset_index(drop=True)
    share = top_share(concentration, period, top_fraction)
    managers = (
        accounts.groupby("manager_id", as_index=False)
        .agg(
            n_accounts=("customer_id", "size"),
            n_lines=("n_lines", "sum"),
            revenue_cny=("revenue_cny", "sum"),
            n_at_risk=("n_warnings", lambda s: int((s > 0).sum())),
        )
        .sort_values("manager_id")
        .reset_index(drop=True)
    )
    month = health[health["month"] == period]
    key_share = {
        "revenue_share": float(month["revenue_share"].sum()),
        "fee_revenue_share": float(month["fee_revenue_share"].sum()),
    }
    at_risk = accounts[accounts["n_warnings"] > 0].sort_values(
        ["n_warnings", "revenue_cny"], ascending=[False, False]
    )
    trend = account_trend(health, list(accounts["customer_id"]))
    log.info(
        "key accounts %s: %d account(s), %d with warnings", period, len(accounts), len(at_risk)
    )
    return KeyAccounts(
        accounts,
        at_risk.reset_index(drop=True),
        trend,
        managers,
        concentration,
        share,
        top_fraction,
        key_share,
        period,
    )
