"""Writing the result marts of the subject analyses, one month partition at a time.

Result marts are catalog tables like any other: they go through the warehouse's one contract
checker (:mod:`workbench.warehouse.contracts`) and its staging and atomic publish
(:mod:`workbench.warehouse.storage`), so a dashboard never reads half a result, holding the
warehouse write lock (:mod:`workbench.warehouse.lock`) like every other writer. Big results
(scores, offers) are Spark DataFrames; small ones (ROI tables) are pandas frames, written with
pyarrow and checked by the same contract SQL in DuckDB, so no JVM is needed.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import TYPE_CHECKING

import pandas as pd

from workbench.catalog import get_table
from workbench.catalog.ads import ALL
from workbench.months import parse_month
from workbench.warehouse import storage
from workbench.warehouse.lock import warehouse_lock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyspark.sql import DataFrame

    from workbench.config import Settings
    from workbench.filters import Condition

log = logging.getLogger(__name__)


def _run_id(name: str) -> str:
    from workbench.warehouse.build import new_run_id

    return f"{new_run_id()}-{name}"


def write_result(df: DataFrame, name: str, settings: Settings, month: str) -> int:
    """Publish a Spark result as ``month`` of its catalog table, its contracts counted by the
    staged write (:func:`~workbench.warehouse.contracts.write_checked`, as the build does).

    Returns:
        the number of rows written.
    """
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import conform_to
    from workbench.warehouse.contracts import write_checked

    table = get_table(name)
    month = parse_month(month)
    df = conform_to(name)(df.withColumn("month", F.lit(month)))
    # the result is computed inside the lock too: it reads the warehouse a build may republish
    with warehouse_lock(settings, f"subject result {name} {month}"):
        run_id = _run_id(name)
        try:
            n_rows = write_checked(df, table, storage.staged_path(settings, run_id, table), run_id)
            storage.publish(settings, run_id, storage.plan_moves(settings, run_id, table, [month]))
        except BaseException:
            storage.discard_unpublished(settings, run_id)
            raise
    log.info("%s: %d row(s) published for %s", name, n_rows, month)
    return n_rows


def write_result_frame(frame: pd.DataFrame, name: str, settings: Settings, month: str) -> int:
    """Publish a small pandas result as ``month`` of its catalog table, checked by the same
    contract SQL in DuckDB (:func:`~workbench.warehouse.contracts.check_frame`), so no JVM
    starts.

    The frame must hold every catalog column but ``month``; extra columns are an error.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.warehouse.contracts import SchemaMismatch, check_frame

    table = get_table(name)
    month = parse_month(month)
    wanted = [c.name for c in table.data_columns]
    missing = [c for c in wanted if c not in frame.columns]
    extra = [c for c in frame.columns if c not in wanted and c != "month"]
    if missing or extra:
        raise SchemaMismatch(
            f"table {name}: result columns differ from the catalog (missing: {missing}; "
            f"unexpected: {extra})"
        )
    data = frame[wanted].reset_index(drop=True).copy()
    data["month"] = month
    check_frame(data, table)
    schema = pa.schema([f for f in table.arrow_schema if f.name != "month"])
    try:
        arrow = pa.Table.from_pandas(data[wanted], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaMismatch(
            f"table {name}: a column does not fit the catalog type: {exc}"
        ) from None
    with warehouse_lock(settings, f"subject result {name} {month}"):
        run_id = _run_id(name)
        try:
            target = storage.partition_dir(storage.staged_path(settings, run_id, table), month)
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow, target / "part-00000.parquet")
            storage.publish(settings, run_id, storage.plan_moves(settings, run_id, table, [month]))
        except BaseException:
            storage.discard_unpublished(settings, run_id)
            raise
    log.info("%s: %d row(s) published for %s", name, len(data), month)
    return len(data)


def cell_filters(**dimensions: str) -> tuple[Condition, ...]:
    """``dimension = value`` (a bound filter) for each dimension of a cube cell that is not
    rolled up (``ALL``)."""
    from workbench.filters import equals

    return tuple(equals(column, value) for column, value in dimensions.items() if value != ALL)


#: how many small reads :func:`read_small` keeps (a dashboard tab reads a handful)
SMALL_CACHE_SIZE = 32
_small_cache: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()


def read_small(name: str, settings: Settings, filters: Sequence[Condition] = ()) -> pd.DataFrame:
    """A small catalog table (dimension, mart) as pandas through DuckDB: no JVM.

    The last :data:`SMALL_CACHE_SIZE` reads are kept, keyed by the table's files (path, inode,
    modification time, size): a dashboard's filter change re-reads the same marts, and a
    rebuild publishes new files, so a changed table is always read again. Callers get a copy.
    """
    from workbench.marts import _files, read_mart

    table = get_table(name)
    files = _files(table, table.path(settings), None)
    signature = tuple((f, *_stat(f)) for f in files)
    key = (name, str(table.path(settings)), tuple(filters), signature)
    if key in _small_cache:
        _small_cache.move_to_end(key)
        return _small_cache[key].copy()
    frame = read_mart(name, settings, filters=filters)
    _small_cache[key] = frame
    while len(_small_cache) > SMALL_CACHE_SIZE:
        _small_cache.popitem(last=False)
    return frame.copy()


def _stat(path: str) -> tuple[int, int, int]:
    # the inode too: a publish renames new files into place even where the name, size and a
    # coarse filesystem clock stay the same
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def latest_month(name: str, settings: Settings) -> str | None:
    """The newest month partition of a table, or None when it has none."""
    months = storage.table_months(settings, name)
    return months[-1] if months else None
