"""Light reads of warehouse tables into pandas through DuckDB: no Spark, no JVM.

Dashboards and notebooks read marts this way. Columns are selected explicitly in catalog order
with the catalog types; ``month`` is read from the Hive partition folder as text (``VARCHAR``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.catalog import PARTITION_COLUMN, Table, get_table, tables

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import duckdb
    import pandas as pd

    from workbench.config import Settings
    from workbench.filters import Condition

_DUCK_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _settings(settings: Settings | None) -> Settings:
    from workbench.config import load_settings

    return settings or load_settings()


def _files(table: Table, path: Path, months: list[str] | None) -> list[str]:
    from workbench.warehouse.storage import _parquet_files, list_months, partition_dir

    if not table.partition_by:
        return [str(p) for p in _parquet_files(path)]
    chosen = [m for m in list_months(path) if months is None or m in set(months)]
    return [str(p) for m in chosen for p in _parquet_files(partition_dir(path, m))]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_sql(table: Table, settings: Settings, months: list[str] | None = None) -> str:
    """A SELECT over the table's files with explicit, typed columns (an empty SELECT if none)."""
    return folder_sql(table, table.path(settings), months)


def folder_sql(table: Table, path: Path, months: list[str] | None = None) -> str:
    """:func:`table_sql` over a copy of the table stored in another folder."""
    columns = [
        f"CAST({_quote(c.name)} AS {_DUCK_TYPES[c.type]}) AS {_quote(c.name)}"
        for c in table.columns
    ]
    files = _files(table, path, months)
    if not files:
        empty = ", ".join(
            f"CAST(NULL AS {_DUCK_TYPES[c.type]}) AS {_quote(c.name)}" for c in table.columns
        )
        return f"SELECT {empty} WHERE FALSE"
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    options = ""
    if PARTITION_COLUMN in table.partition_by:
        options = f", hive_partitioning = true, hive_types = {{'{PARTITION_COLUMN}': VARCHAR}}"
    return f"SELECT {', '.join(columns)} FROM read_parquet([{listing}]{options})"


def read_mart(
    name: str,
    settings: Settings | None = None,
    months: list[str] | None = None,
    filters: Sequence[Condition] = (),
) -> pd.DataFrame:
    """Any catalog table as a pandas DataFrame, read by DuckDB (no JVM is started).

    Args:
        name: catalog table name, e.g. ``ads_kpi_cube``.
        settings: project settings (default: found from the current folder).
        months: only these month partitions.
        filters: conditions over the table's columns (:mod:`workbench.filters`, e.g.
            ``equals("region_id", "GZ")``), passed to DuckDB as bound values: a value is never
            SQL text, whatever quotes or characters it holds.
    """
    import duckdb

    from workbench.filters import duckdb_where

    table = get_table(name)
    condition, values = duckdb_where(filters)
    sql = f"SELECT * FROM ({table_sql(table, _settings(settings), months)}) WHERE {condition}"
    order = [*table.partition_by, *table.keys]
    if order:
        sql += " ORDER BY " + ", ".join(_quote(c) for c in order)
    with duckdb.connect() as con:
        return con.execute(sql, values).df()


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table that has data in the warehouse."""
    import duckdb

    settings = _settings(settings)
    con = duckdb.connect()
    for table in tables():
        if table.layer == "raw" or not _files(table, table.path(settings), None):
            continue
        con.execute(f"CREATE VIEW {_quote(table.name)} AS {table_sql(table, settings)}")
    return con
