"""Writing the result marts of the subject analyses, one month partition at a time.

Results go through the warehouse's own staging and atomic publish (:mod:`workbench.warehouse.
storage`) after their catalog contracts are checked, so a dashboard never reads half a result,
holding the warehouse write lock (:mod:`workbench.warehouse.lock`) like every other writer.
Big results (scores, offers) are Spark DataFrames; small ones (ROI tables) are pandas frames,
written with pyarrow and checked with DuckDB so no JVM is needed.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import TYPE_CHECKING

import pandas as pd

from workbench.catalog import Table, get_table
from workbench.catalog.ads import ALL
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
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
    """Check a Spark result against its catalog contracts and publish it as ``month``.

    Returns:
        the number of rows written.
    """
    from pyspark.sql import functions as F

    from workbench.warehouse.contracts import check_contracts

    table = get_table(name)
    month = parse_month(month)
    df = df.withColumn("month", F.lit(month)).select(*table.column_names)
    df = df.select(*[F.col(f.name).cast(f.dataType) for f in table.spark_schema.fields])
    # the result is computed inside the lock too: it reads the warehouse a build may republish
    with warehouse_lock(settings, f"subject result {name} {month}"):
        df = df.persist()
        try:
            check_contracts(df, table)
            n_rows = df.count()
            run_id = _run_id(name)
            storage.write_staged(df, table, storage.staged_path(settings, run_id, table))
        finally:
            df.unpersist()
        storage.publish(settings, run_id, storage.plan_moves(settings, run_id, table, [month]))
    log.info("%s: %d row(s) published for %s", name, n_rows, month)
    return n_rows


def _check_frame(frame: pd.DataFrame, table: Table) -> None:
    """The catalog contracts on a small pandas frame (DuckDB evaluates the expressions)."""
    import duckdb

    # imported here: the contracts module loads pyspark, and dashboards read marts without it
    from workbench.warehouse.contracts import ContractViolation

    counts: dict[str, int] = {}
    with duckdb.connect() as con:
        con.register("result", frame)
        for contract in table.contracts:
            if isinstance(contract, Unique):
                cols = ", ".join(f'"{c}"' for c in contract.columns)
                sql = (
                    f"SELECT count(*) - count(DISTINCT ({cols})) FROM result "
                    f"WHERE {' AND '.join(f'{c} IS NOT NULL' for c in contract.columns)}"
                )
            elif isinstance(contract, NotNull):
                cond = " OR ".join(f'"{c}" IS NULL' for c in contract.columns)
                sql = f"SELECT count(*) FROM result WHERE {cond}"
            elif isinstance(contract, AcceptedValues):
                values = ", ".join("'" + v.replace("'", "''") + "'" for v in contract.values)
                sql = (
                    f'SELECT count(*) FROM result WHERE "{contract.column}" IS NOT NULL '
                    f'AND "{contract.column}" NOT IN ({values})'
                )
            elif isinstance(contract, Expression):
                sql = f"SELECT count(*) FROM result WHERE NOT coalesce(({contract.sql}), TRUE)"
            else:
                raise TypeError(f"unknown contract type {type(contract).__name__}")
            counts[contract.name] = int(con.execute(sql).fetchone()[0])
    for contract in table.contracts:
        if counts[contract.name]:
            raise ContractViolation(table.name, contract.name, counts[contract.name], [])


def write_result_frame(frame: pd.DataFrame, name: str, settings: Settings, month: str) -> int:
    """Check a small pandas result against its catalog entry and publish it as ``month``.

    The frame must hold every catalog column but ``month``; extra columns are an error.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.warehouse.contracts import SchemaMismatch

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
    _check_frame(data, table)
    schema = pa.schema([f for f in table.arrow_schema if f.name != "month"])
    try:
        arrow = pa.Table.from_pandas(data[wanted], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaMismatch(
            f"table {name}: a column does not fit the catalog type: {exc}"
        ) from None
    with warehouse_lock(settings, f"subject result {name} {month}"):
        run_id = _run_id(name)
        target = storage.partition_dir(storage.staged_path(settings, run_id, table), month)
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(arrow, target / "part-00000.parquet")
        storage.publish(settings, run_id, storage.plan_moves(settings, run_id, table, [month]))
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
