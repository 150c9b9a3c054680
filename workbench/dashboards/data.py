"""Mart reads for the apps: DuckDB over the warehouse's Parquet, scoped to the viewer's regions.

No Spark here (and no import of it): a dashboard kernel must never start a JVM. Every read of a
mart that has ``region_id`` is filtered to the viewer's regions inside the SQL, so rows of other
regions never reach the kernel, whatever the app does with the frame afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.catalog import get_table
from workbench.dashboards.access import AccessDenied, Viewer
from workbench.errors import WorkbenchError
from workbench.filters import Condition, among, duckdb_where, from_records, to_records

if TYPE_CHECKING:
    import pandas as pd

    from workbench.config import Settings

log = logging.getLogger(__name__)

REGION_COLUMN = "region_id"


class MartUnavailable(WorkbenchError):
    """A mart the app needs has not been written (or has no rows); the message says which and how
    to produce it."""


def available_months(name: str, settings: Settings) -> list[str]:
    """The month partitions a mart has, oldest first (empty when it was never written)."""
    from workbench.warehouse.storage import table_months

    return table_months(settings, name)


def require_access(viewer: Viewer) -> None:
    """Check ``viewer``'s access again (:meth:`~workbench.dashboards.access.Viewer.allowed_now`)
    before a read or an export: a viewer whose link expired, who was removed from the
    configuration or given other regions since their page was built gets nothing (the page is
    rebuilt for them).

    Raises:
        AccessDenied: the viewer is denied, or their access changed.
    """
    if viewer.denied:
        raise AccessDenied(viewer.denied)
    if not viewer.allowed_now():
        now = viewer.session.viewer if viewer.session is not None else viewer
        raise AccessDenied(now.denied or "access denied: your access changed; the page was rebuilt")


def region_filter(name: str, viewer: Viewer) -> tuple[Condition, ...]:
    """The bound filter (:mod:`workbench.filters`) that keeps ``viewer`` inside their regions,
    for DuckDB reads and Spark exports alike (empty: no filter needed). Every read asks for it
    first, so access is checked again here (:func:`require_access`).

    Raises:
        AccessDenied: the viewer is denied, or their access changed.
    """
    require_access(viewer)
    if viewer.regions is None or REGION_COLUMN not in get_table(name).column_names:
        return ()
    return (among(REGION_COLUMN, viewer.regions),)


def load_mart(
    name: str,
    settings: Settings,
    viewer: Viewer,
    *,
    months: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    filters: Sequence[Condition] = (),
) -> pd.DataFrame:
    """A mart as pandas, read by DuckDB and limited to the viewer's regions.

    Args:
        months: only these month partitions (default: all).
        columns: only these columns (default: all, in catalog order).
        filters: the app's conditions, as bound values (:mod:`workbench.filters`): the export
            reads the same conditions in Spark.

    Raises:
        MartUnavailable: the mart has never been written.
        AccessDenied: the viewer's link did not verify.
    """
    import duckdb

    from workbench.marts import _files, table_sql

    table = get_table(name)
    bound, params = duckdb_where((*region_filter(name, viewer), *filters))
    if not _files(table, table.path(settings), None):
        raise MartUnavailable(
            f"No data yet: {name} has not been built. Ask the analytics team to run it."
        )
    known = set(table.column_names)
    chosen = list(columns) if columns is not None else list(table.column_names)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise WorkbenchError(f"{name}: no column(s) {', '.join(unknown)}")
    picked = list(months) if months is not None else None
    select = ", ".join(f'"{c}"' for c in chosen)
    sql = f"SELECT {select} FROM ({table_sql(table, settings, picked)}) WHERE {bound}"
    order = [c for c in (*table.partition_by, *table.keys) if c in chosen]
    if order:
        sql += " ORDER BY " + ", ".join(f'"{c}"' for c in order)
    with duckdb.connect() as con:
        frame = con.execute(sql, params).df()
    log.debug("%s for %s: %d row(s)", name, viewer.user, len(frame))
    return frame


def require_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """``frame`` unless it is empty; then an :class:`EmptySelection` naming ``what``."""
    if frame.empty:
        raise EmptySelection(f"No data for {what}.")
    return frame


class EmptySelection(WorkbenchError):
    """The filters select nothing; shown as a plain message."""


def export_target_list(
    settings: Settings,
    viewer: Viewer,
    *,
    source: str,
    campaign: str,
    period: str,
    filters: Sequence[Condition] = (),
    region: str | None = None,
    fmt: str = "csv",
    timeout_seconds: float = 600,
) -> dict:
    """Export a selection as a campaign target list with
    :func:`workbench.targets.export.export_targets` (every suppression rule, control group,
    masking, recorded contacts, export log), limited to the viewer's regions.

    The export needs Spark and a dashboard kernel must never hold a JVM, so it runs in a child
    process (this module's ``__main__``) that exits once the list is written.

    A dashboard export is never authorised for full numbers: MSISDNs are masked whatever
    ``targets.mask_msisdn`` says (that switch is for the CLI's authorised exports), so the
    export log's ``authorised: false`` and ``masked: true`` are what the file holds.

    The viewer is the exporter: their user owns the campaign it creates (or must own the
    campaign it adds a wave to) and the export log names them; their regions bound the
    campaign's.

    Args:
        filters: the app's selection over the source mart's columns, as bound conditions
            (:mod:`workbench.filters`): Spark receives the same values the page's DuckDB did.
        region: passed to ``export_targets`` (e.g. a one-region manager's region).

    Returns:
        the export-log record (``file``, ``control_file``, ``n_treated``, ``n_control``, ...).
    """
    import json
    import subprocess
    import sys

    require_access(viewer)  # first: a viewer denied now exports nothing, whatever they ask
    from workbench.targets.export import SOURCE_TABLES
    from workbench.targets.names import check_name

    check_name(campaign)  # here, before paying for a Spark start in the child
    if source not in SOURCE_TABLES:
        raise WorkbenchError(f"source {source!r}: choose one of {', '.join(SOURCE_TABLES)}")
    conditions = (*region_filter(SOURCE_TABLES[source], viewer), *filters)
    payload = {
        "settings": masked_settings(settings).model_dump(mode="json"),
        "root": str(settings.root),
        "kwargs": {
            "campaign": campaign,
            "source": source,
            "period": period,
            "filters": to_records(conditions),
            "region": region,
            "fmt": fmt,
            "owner": viewer.user,
            "regions": None if viewer.regions is None else sorted(viewer.regions),
        },
    }
    log.info("exporting %s for %s where %s", campaign, viewer.user, to_records(conditions))
    done = subprocess.run(
        [sys.executable, "-m", __name__],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        log.error("export failed (%s): %s", done.returncode, done.stderr[-4000:])
        reason = lines[-1] if lines and done.returncode == 2 else "see the server log"
        raise WorkbenchError(f"The export of {campaign} failed: {reason}")
    return json.loads(lines[-1])


def masked_settings(settings: Settings) -> Settings:
    """``settings`` with MSISDN masking on: what every dashboard export runs with."""
    targets = settings.targets.model_copy(update={"mask_msisdn": True})
    return settings.model_copy(update={"targets": targets})


def _export_main() -> int:
    """Child process of :func:`export_target_list`: JSON in on stdin, the export-log record out
    as the last stdout line (exit 2 with the message for a workbench error)."""
    import json
    import sys

    from workbench.config import Settings
    from workbench.spark import get_spark
    from workbench.targets.export import export_targets

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    payload = json.loads(sys.stdin.read())
    settings = Settings.model_validate({**payload["settings"], "root": payload["root"]})
    try:
        kwargs = {**payload["kwargs"], "filters": from_records(payload["kwargs"].get("filters"))}
        result = export_targets(get_spark(settings.spark), settings, **kwargs)
    except WorkbenchError as exc:
        sys.stdout.write(str(exc).replace("\n", " ") + "\n")
        return 2
    sys.stdout.write(json.dumps(result.to_record()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_export_main())
