"""Check a table against its catalog contracts: one SQL text per contract, run by Spark or DuckDB.

Each contract is rendered once as SQL (:func:`violations_sql`, :func:`breaking_rows_sql`) in
the dialect of the engine that runs it, so the build, the target lists and the subjects' results
apply the same checks whether their rows are a Spark DataFrame or a small pandas frame:

- :class:`WriteCheck` counts the violations while a Spark table is being written
  (``DataFrame.observe``), so a write pays no pass of its own for them; :func:`write_checked` is
  that write. ``Unique`` needs a distinct count, which an observation cannot hold: it runs on what
  was written, and only for contracts the catalog does not declare ``guaranteed_by`` the build.
- :func:`check_contracts` runs the same aggregation on a Spark DataFrame (one job).
- :func:`check_frame` runs it on a pandas frame in DuckDB, with no JVM.

``Unique`` holds within each partition: for a month-partitioned table the partition column is
added to the unique columns (a key repeats once per monthly snapshot). ``Expression`` treats a
null result as satisfied (SQL ``CHECK`` semantics); ``AcceptedValues`` ignores nulls.

Spark is imported only by the functions that use it: dashboards and the pandas results check
without loading it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.catalog import Table
from workbench.catalog.contracts import AcceptedValues, Contract, Expression, NotNull, Unique
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)
SAMPLES = 3


class ContractViolation(WorkbenchError):
    """A table breaks one of its declared contracts."""

    def __init__(self, table: str, contract: str, count: int, samples: list[str]) -> None:
        self.table, self.contract, self.count, self.samples = table, contract, count, samples
        shown = f"; e.g. {', '.join(samples)}" if samples else ""
        super().__init__(f"table {table}: contract {contract} violated by {count} row(s){shown}")


class SchemaMismatch(WorkbenchError):
    """A DataFrame does not have exactly the catalog columns and types."""


def check_schema(df: DataFrame, table: Table) -> None:
    """The DataFrame has exactly the catalog columns, in order, with the catalog types."""
    expected = [(f.name, f.dataType.simpleString()) for f in table.spark_schema.fields]
    found = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    if found != expected:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        raise SchemaMismatch(
            f"table {table.name}: columns differ from the catalog (missing or mistyped: "
            f"{missing}; unexpected: {extra}; order found: {[n for n, _ in found]})"
        )


def unique_columns(contract: Unique, table: Table) -> list[str]:
    return list(dict.fromkeys([*contract.columns, *table.partition_by]))


@dataclass(frozen=True)
class Dialect:
    """How an engine quotes identifiers and string literals; the rest of a contract's SQL is
    common to Spark and DuckDB."""

    name: str
    identifier: Callable[[str], str]
    string: Callable[[str], str]
    #: distinct combinations of already quoted columns, rows with a null in any left out
    distinct: Callable[[list[str]], str]

    def literal(self, value: object) -> str:
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        return self.string(str(value))


SPARK = Dialect(
    "spark",
    identifier=lambda name: "`" + name.replace("`", "``") + "`",
    # Spark reads a backslash in a string literal as an escape
    string=lambda text: "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'",
    # several arguments: a row with a null in any of them is not counted
    distinct=lambda cols: f"count(DISTINCT {', '.join(cols)})",
)
DUCKDB = Dialect(
    "duckdb",
    identifier=lambda name: '"' + name.replace('"', '""') + '"',
    string=lambda text: "'" + text.replace("'", "''") + "'",
    # one argument only: a row of the columns, null (so not counted) when any of them is
    distinct=lambda cols: (
        f"count(DISTINCT CASE WHEN {' AND '.join(f'{c} IS NOT NULL' for c in cols)} "
        f"THEN row({', '.join(cols)}) END)"
    ),
)


def breaking_rows_sql(contract: Contract, dialect: Dialect = SPARK) -> str:
    """A condition true on each row that breaks ``contract`` (``Unique`` is a property of row
    groups, not of a row: see :func:`violations_sql`)."""
    q = dialect.identifier
    if isinstance(contract, NotNull):
        return " OR ".join(f"{q(c)} IS NULL" for c in contract.columns)
    if isinstance(contract, AcceptedValues):
        values = ", ".join(dialect.literal(v) for v in contract.values)
        return f"{q(contract.column)} IS NOT NULL AND {q(contract.column)} NOT IN ({values})"
    if isinstance(contract, Expression):
        return f"NOT coalesce(({contract.sql}), TRUE)"
    raise TypeError(f"no row condition for a {type(contract).__name__} contract")


def violations_sql(contract: Contract, table: Table, dialect: Dialect = SPARK) -> str:
    """An aggregate counting the rows that break ``contract``.

    SQL text rather than composed ``Column`` objects: one Py4J call per contract instead of a
    few dozen, which is most of what checking a small table costs (an export checks three).
    """
    if isinstance(contract, Unique):
        cols = [dialect.identifier(c) for c in unique_columns(contract, table)]
        complete = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        # rows with every key present minus distinct keys = surplus copies
        return f"sum(CASE WHEN {complete} THEN 1 ELSE 0 END) - {dialect.distinct(cols)}"
    return f"sum(CASE WHEN {breaking_rows_sql(contract, dialect)} THEN 1 ELSE 0 END)"


def _sample_keys(table: Table, contract: Contract) -> list[str]:
    keys = list(dict.fromkeys([*table.keys, *table.partition_by])) or table.column_names[:3]
    if isinstance(contract, AcceptedValues):
        keys = list(dict.fromkeys([*keys, contract.column]))
    return keys


def samples_sql(contract: Contract, table: Table, source: str, dialect: Dialect = SPARK) -> str:
    """A query for a few rows (their keys) that break ``contract``, run once one is known."""
    if isinstance(contract, Unique):
        cols = ", ".join(dialect.identifier(c) for c in unique_columns(contract, table))
        return (
            f"SELECT {cols} FROM {source} GROUP BY {cols} HAVING count(*) > 1 "
            f"ORDER BY {cols} LIMIT {SAMPLES}"
        )
    keys = ", ".join(dialect.identifier(c) for c in _sample_keys(table, contract))
    return (
        f"SELECT {keys} FROM {source} WHERE {breaking_rows_sql(contract, dialect)} "
        f"ORDER BY {keys} LIMIT {SAMPLES}"
    )


def _violations(contract: Contract, table: Table, alias: str) -> Column:
    """:func:`violations_sql` as a Spark column named ``alias``."""
    from pyspark.sql import functions as F

    return F.expr(f"{violations_sql(contract, table)} AS {SPARK.identifier(alias)}")


def _spark_samples(df: DataFrame, contract: Contract, table: Table) -> list[str]:
    """A few offending keys of a Spark DataFrame."""
    view = f"contract_samples_{abs(hash((table.name, contract.name)))}"
    df.createOrReplaceTempView(view)
    try:
        rows = df.sparkSession.sql(samples_sql(contract, table, view)).collect()
    finally:
        df.sparkSession.catalog.dropTempView(view)
    return [str(r.asDict()) for r in rows]


def _raise_first(
    table: Table,
    counts: dict[str, int],
    samples: Callable[[Contract], list[str]],
    contracts: tuple[Contract, ...],
) -> None:
    for contract in contracts:
        if counts.get(contract.name):
            raise ContractViolation(
                table.name, contract.name, counts[contract.name], samples(contract)
            )


class WriteCheck:
    """A table's contracts counted during its write; :meth:`verify` once the write is done.

    Usage::

        check = WriteCheck(table, name=f"{run_id}/{table.name}")
        write(check.attach(df))
        counts = check.verify(lambda: read_back)  # raises ContractViolation
    """

    ROWS = "_rows"

    def __init__(self, table: Table, name: str) -> None:
        from pyspark.sql import Observation

        self.table = table
        self.observed = [c for c in table.contracts if not isinstance(c, Unique)]
        self.unchecked_unique = [
            c for c in table.contracts if isinstance(c, Unique) and c.guaranteed_by is None
        ]
        self.observation = Observation(name)
        self.extra: list[Column] = []

    def count(self, alias: str, expression: Column) -> None:
        """Observe one more aggregate during the write (e.g. rows per reason code)."""
        self.extra.append(expression.alias(alias))

    def attach(self, df: DataFrame) -> DataFrame:
        """``df`` with the schema checked and the contracts observed (nothing runs yet)."""
        from pyspark.sql import functions as F

        check_schema(df, self.table)
        aggs = [_violations(c, self.table, f"c{i}") for i, c in enumerate(self.observed)]
        return df.observe(self.observation, F.count(F.lit(1)).alias(self.ROWS), *aggs, *self.extra)

    @property
    def metrics(self) -> dict[str, int]:
        """What the write observed (blocks until the write has finished)."""
        return {k: int(v or 0) for k, v in self.observation.get.items()}

    def verify(self, written: Callable[[], DataFrame]) -> dict[str, int]:
        """Raise for the first broken contract, in declaration order; else violations per
        contract (all zero). ``written()`` reads the table as written, only when needed: the
        unguaranteed ``Unique`` contracts are counted on it, and a violation's samples come
        from it."""
        metrics = self.metrics
        counts = {c.name: metrics[f"c{i}"] for i, c in enumerate(self.observed)}
        rows = written() if self.unchecked_unique or any(counts.values()) else None
        if self.unchecked_unique:
            aggs = [_violations(c, self.table, c.name) for c in self.unchecked_unique]
            row = rows.agg(*aggs).collect()[0]
            counts.update({c.name: int(row[c.name] or 0) for c in self.unchecked_unique})
        if rows is not None:
            _raise_first(
                self.table,
                counts,
                lambda contract: _spark_samples(rows, contract, self.table),
                self.table.contracts,
            )
        return counts


def check_contracts(df: DataFrame, table: Table) -> dict[str, int]:
    """Check every contract of ``table`` on ``df`` in one aggregation.

    Returns:
        violations per contract name (all zero when it returns).

    Raises:
        ContractViolation: for the first contract (in declaration order) that is broken.
    """
    check_schema(df, table)
    if not table.contracts:
        return {}
    aggs = [_violations(c, table, f"c{i}") for i, c in enumerate(table.contracts)]
    row = df.agg(*aggs).collect()[0]
    counts = {c.name: int(row[f"c{i}"] or 0) for i, c in enumerate(table.contracts)}
    _raise_first(table, counts, lambda c: _spark_samples(df, c, table), table.contracts)
    log.debug("contracts of %s hold: %s", table.name, counts)
    return counts


def write_checked(df: DataFrame, table: Table, path: Path, run_id: str) -> int:
    """Write ``df`` (exactly the catalog columns) to the staging folder ``path`` with its
    contracts counted by the write itself; an unguaranteed ``Unique`` contract and a violation's
    samples read the staged rows back. The one checked write of the build, the target lists and
    the subjects' results.

    Returns:
        the number of rows written.

    Raises:
        ContractViolation: for the first broken contract (the staged files stay for the caller
            to discard with its run).
    """
    from workbench.warehouse import storage

    check = WriteCheck(table, f"{run_id}/{table.name}")
    storage.write_staged(check.attach(df), table, path)
    check.verify(lambda: storage.read_path(df.sparkSession, table, path))
    return check.metrics[WriteCheck.ROWS]


def check_frame(frame: pd.DataFrame, table: Table) -> dict[str, int]:
    """Every contract of ``table`` on a small pandas frame, in one DuckDB aggregation.

    Returns:
        violations per contract name (all zero when it returns).

    Raises:
        ContractViolation: for the first contract (in declaration order) that is broken.
    """
    import duckdb

    if not table.contracts:
        return {}
    with duckdb.connect() as con:
        con.register("frame", frame)
        aggs = ", ".join(violations_sql(c, table, DUCKDB) for c in table.contracts)
        row = con.execute(f"SELECT {aggs} FROM frame").fetchone()
        counts = {c.name: int(n or 0) for c, n in zip(table.contracts, row, strict=True)}

        def samples(contract: Contract) -> list[str]:
            result = con.execute(samples_sql(contract, table, "frame", DUCKDB))
            names = [d[0] for d in result.description]
            return [str(dict(zip(names, r, strict=True))) for r in result.fetchall()]

        _raise_first(table, counts, samples, table.contracts)
    return counts
