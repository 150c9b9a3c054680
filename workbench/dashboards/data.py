"""Mart reads for the apps: DuckDB over the warehouse's Parquet, scoped to the viewer's regions.

No Spark here (and no import of it): a dashboard kernel must never start a JVM. Every read of a
mart that has ``region_id`` is filtered to the viewer's regions inside the SQL, so rows of other
regions never reach the kernel, whatever the app does with the frame afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from workbench.catalog import get_table
from workbench.dashboards.access import AccessDenied, Viewer
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.config import Settings

log = logging.getLogger(__name__)

REGION_COLUMN = "region_id"


class MartUnavailable(WorkbenchError):
    """A mart the app needs has not been written (or has no rows); the message says which and how
    to produce it."""


def literal(value: object) -> str:
    """A SQL literal for a filter value (strings quoted and escaped)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def in_list(column: str, values: Iterable[object]) -> str:
    """``column IN (...)`` for DuckDB and Spark SQL alike; an empty list matches nothing."""
    if not column.isidentifier():
        raise WorkbenchError(f"{column!r} is not a column name")
    items = [literal(v) for v in values]
    # unquoted: the same filter is read by DuckDB and by Spark SQL ("x" is a string in Spark)
    return f"{column} IN ({', '.join(items)})" if items else "FALSE"


def available_months(name: str, settings: Settings) -> list[str]:
    """The month partitions a mart has, oldest first (empty when it was never written)."""
    from workbench.warehouse.storage import table_months

    return table_months(settings, name)


def region_scope(name: str, viewer: Viewer) -> str | None:
    """The SQL filter that keeps ``viewer`` inside their regions (None: no filter needed)."""
    if viewer.denied:
        raise AccessDenied(viewer.denied)
    if viewer.regions is None:
        return None
    table = get_table(name)
    if REGION_COLUMN not in table.column_names:
        return None
    return in_list(REGION_COLUMN, sorted(viewer.regions))


def load_mart(
    name: str,
    settings: Settings,
    viewer: Viewer,
    *,
    months: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    """A mart as pandas, read by DuckDB and limited to the viewer's regions.

    Args:
        months: only these month partitions (default: all).
        columns: only these columns (default: all, in catalog order).
        where: an extra SQL filter built by the app (use :func:`literal` / :func:`in_list`).

    Raises:
        MartUnavailable: the mart has never been written.
        AccessDenied: the viewer's link did not verify.
    """
    import duckdb

    from workbench.marts import _files, table_sql

    table = get_table(name)
    scope = region_scope(name, viewer)
    if not _files(table, table.path(settings), None):
        raise MartUnavailable(
            f"No data yet: {name} has not been built. Ask the analytics team to run it."
        )
    known = set(table.column_names)
    chosen = list(columns) if columns is not None else list(table.column_names)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise WorkbenchError(f"{name}: no column(s) {', '.join(unknown)}")
    filters = [f for f in (scope, where) if f]
    picked = list(months) if months is not None else None
    select = ", ".join(f'"{c}"' for c in chosen)
    sql = f"SELECT {select} FROM ({table_sql(table, settings, picked)})"
    if filters:
        sql += " WHERE " + " AND ".join(f"({f})" for f in filters)
    order = [c for c in (*table.partition_by, *table.keys) if c in chosen]
    if order:
        sql += " ORDER BY " + ", ".join(f'"{c}"' for c in order)
    with duckdb.connect() as con:
        frame = con.execute(sql).df()
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
    where: str | None = None,
    region: str | None = None,
    fmt: str = "csv",
    timeout_seconds: float = 600,
) -> dict:
    """Export a selection as a campaign target list with
    :func:`workbench.targets.export.export_targets` (every suppression rule, control group,
    masking, recorded contacts, export log), limited to the viewer's regions.

    The export needs Spark and a dashboard kernel must never hold a JVM, so it runs in a child
    process (this module's ``__main__``) that exits once the list is written.

    Args:
        where: the app's selection as SQL over the source mart's columns (see :func:`literal`).
        region: passed to ``export_targets`` (e.g. a one-region manager's region).

    Returns:
        the export-log record (``file``, ``control_file``, ``n_treated``, ``n_control``, ...).
    """
    import json
    import subprocess
    import sys

    from workbench.targets.export import SOURCE_TABLES
    from workbench.targets.privacy import check_name

    check_name(campaign)  # here, before paying for a Spark start in the child
    if source not in SOURCE_TABLES:
        raise WorkbenchError(f"source {source!r}: choose one of {', '.join(SOURCE_TABLES)}")
    scope = region_scope(SOURCE_TABLES[source], viewer)
    condition = " AND ".join(f"({f})" for f in (scope, where) if f) or None
    payload = {
        "settings": settings.model_dump(mode="json"),
        "root": str(settings.root),
        "kwargs": {
            "campaign": campaign,
            "source": source,
            "period": period,
            "where": condition,
            "region": region,
            "fmt": fmt,
        },
    }
    log.info("exporting %s for %s where %s", campaign, viewer.user, condition)
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
    record = json.loads(lines[-1])
    record.setdefault("extra", {})["user"] = viewer.user
    return record


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
        result = export_targets(get_spark(settings.spark), settings, **payload["kwargs"])
    except WorkbenchError as exc:
        sys.stdout.write(str(exc).replace("\n", " ") + "\n")
        return 2
    sys.stdout.write(json.dumps(result.to_record()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_export_main())
