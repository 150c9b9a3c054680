"""``workbench campaigns refresh``: measure exported campaigns without a full build.

Exports and response loads write the loop's own tables (``ads_target_campaigns``,
``ads_target_contacts``, ``ads_target_responses``); the warehouse models read them
(``dwd_dim_campaign`` and ``ads_campaign_results`` union them with the operator's campaigns,
contacts and responses). A build of month M rebuilds the campaign results of M-k..M, so it picks
up whatever the loop wrote for those months. This refresh does the same for exactly the months
the exported campaigns contacted in, with the same model code, contracts checked and an atomic
publish, and records itself in the build ledger. Contacts of a month the warehouse does not hold
yet wait for that month's build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from workbench.targets.errors import TargetError
from workbench.targets.tables import replace_months, table_lock
from workbench.warehouse.lock import warehouse_lock

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

REFRESHED = ("dwd_dim_campaign", "ads_campaign_results")


def _table_path(settings: Settings, name: str) -> Path:
    from workbench.catalog import get_table

    return get_table(name).path(settings)


@dataclass(frozen=True)
class RefreshResult:
    run_id: str
    campaigns: list[str]
    months: list[str]  # campaign-results months rebuilt
    waiting: list[str]  # contact months not in the warehouse yet
    rows_written: int


def contact_months(
    contacts: DataFrame, campaigns: Sequence[str] | None, known: set[str]
) -> tuple[list[str], list[str]]:
    """The campaigns to refresh and the months they contacted in.

    Raises:
        TargetError: a named campaign was never exported.
    """
    wanted = contacts
    if campaigns:
        unknown = sorted(set(campaigns) - known)
        if unknown:
            raise TargetError(
                f"--campaign {unknown[0]!r}: no export of this campaign in ads_target_contacts"
            )
        wanted = contacts.where(F.col("campaign_id").isin(list(campaigns)))
    rows = wanted.select("campaign_id", "month").distinct().collect()
    return sorted({r["campaign_id"] for r in rows}), sorted({r["month"] for r in rows})


def refresh_campaign_results(
    spark: SparkSession, settings: Settings, campaigns: Sequence[str] | None = None
) -> RefreshResult:
    """Rebuild ``dwd_dim_campaign`` and the ``ads_campaign_results`` months of the exported
    campaigns (all of them, or ``campaigns``) from the published warehouse.

    Holds the warehouse write lock throughout: the contacts it reads and the results it writes
    belong together, so no export or build may write in between.
    """
    with warehouse_lock(settings, "campaigns refresh"):
        return _refresh_holding_lock(spark, settings, campaigns)


def _refresh_holding_lock(
    spark: SparkSession, settings: Settings, campaigns: Sequence[str] | None
) -> RefreshResult:
    from workbench.warehouse import ledger
    from workbench.warehouse.build import BuildResult, TableStats, new_run_id
    from workbench.warehouse.model import BuildContext
    from workbench.warehouse.models import get_models
    from workbench.warehouse.storage import file_rows, read_table, rows_by_month, table_months

    started = datetime.now(UTC).isoformat(timespec="seconds")
    all_months = table_months(settings, "ods_crm__subscribers")
    if not all_months:
        raise TargetError("the warehouse has no month yet: run `workbench build` first")
    contacts = read_table(spark, settings, "ads_target_contacts")
    known = {r["campaign_id"] for r in contacts.select("campaign_id").distinct().collect()}
    chosen, months = contact_months(contacts, campaigns, known)
    if not chosen:
        raise TargetError("no campaign has been exported yet: run `workbench targets export`")
    ready = [m for m in months if m in set(all_months)]
    waiting = [m for m in months if m not in set(all_months)]
    if waiting:
        log.info("contacts of %s wait for the build of that month", ", ".join(waiting))

    def read(name: str, wanted: list[str] | None = None) -> DataFrame:
        return read_table(spark, settings, name, wanted)

    models = {m.table: m for m in get_models(settings.warehouse.churn_horizon_months)}
    params = {
        **settings.warehouse.model_dump(),
        "kpi_dictionary": settings.resolve(settings.warehouse.kpi_dictionary),
    }
    run_id = f"{new_run_id()}-campaigns"
    result = BuildResult(run_id, started, "", ready, spark.sparkContext.master)
    try:
        dim = models["dwd_dim_campaign"].run(read, BuildContext(spark, [], all_months, params))
        with table_lock(settings, "dwd_dim_campaign"):
            replace_months(settings, "dwd_dim_campaign", dim, [])
        result.tables.append(
            TableStats(
                "dwd_dim_campaign",
                "dwd",
                [],
                rows_written=file_rows(_table_path(settings, REFRESHED[0])),
            )
        )
        written = 0
        if ready:
            ctx = BuildContext(spark, ready, all_months, params)
            df = models["ads_campaign_results"].run(read, ctx).where(F.col("month").isin(ready))
            with table_lock(settings, "ads_campaign_results"):
                replace_months(settings, "ads_campaign_results", df, ready)
            counts = rows_by_month(_table_path(settings, REFRESHED[1]))
            written = sum(counts.get(m, 0) for m in ready)
            result.tables.append(
                TableStats("ads_campaign_results", "ads", ready, rows_written=written)
            )
    except BaseException as exc:
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
        ledger.append_run(settings, result.to_record())
        raise
    result.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
    ledger.append_run(settings, result.to_record())
    log.info("refreshed %s: months %s (%d rows)", ", ".join(chosen), ", ".join(ready), written)
    return RefreshResult(run_id, chosen, ready, waiting, written)
