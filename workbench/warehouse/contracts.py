"""Check a DataFrame against its catalog table's contracts, in one aggregation pass.

Two ways in: :func:`check_contracts` runs that aggregation on a DataFrame (one Spark job), and
:class:`WriteCheck` counts the violations while the table is being written
(``DataFrame.observe``), so a build pays no pass of its own for them. ``Unique`` needs a
distinct count, which an observation cannot hold: :class:`WriteCheck` runs it on what was written,
and only for contracts the catalog does not declare ``guaranteed_by`` the build.

``Unique`` holds within each partition: for a month-partitioned table the partition column is
added to the unique columns (a key repeats once per monthly snapshot). ``Expression`` treats a
null result as satisfied (SQL ``CHECK`` semantics); ``AcceptedValues`` ignores nulls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from workbench.catalog import Table
from workbench.catalog.contracts import AcceptedValues, Contract, Expression, NotNull, Unique
from workbench.errors import WorkbenchError
from workbench.warehouse.columns import quoted

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


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def violations_sql(contract: Contract, table: Table) -> str:
    """A Spark SQL aggregate counting the rows that break ``contract``.

    SQL text rather than composed ``Column`` objects: one Py4J call per contract instead of a
    few dozen, which is most of what checking a small table costs (an export checks three).
    """
    if isinstance(contract, NotNull):
        bad = " OR ".join(f"{quoted(c)} IS NULL" for c in contract.columns)
        return f"sum(CASE WHEN {bad} THEN 1 ELSE 0 END)"
    if isinstance(contract, AcceptedValues):
        column = quoted(contract.column)
        values = ", ".join(_literal(v) for v in contract.values)
        return (
            f"sum(CASE WHEN {column} IS NOT NULL AND {column} NOT IN ({values}) THEN 1 ELSE 0 END)"
        )
    if isinstance(contract, Expression):
        return f"sum(CASE WHEN NOT coalesce(({contract.sql}), TRUE) THEN 1 ELSE 0 END)"
    if isinstance(contract, Unique):
        cols = [quoted(c) for c in unique_columns(contract, table)]
        complete = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        # rows with every key present minus distinct keys = surplus copies
        return f"sum(CASE WHEN {complete} THEN 1 ELSE 0 END) - count(DISTINCT {', '.join(cols)})"
    raise TypeError(f"unknown contract type {type(contract).__name__}")


def _violations(contract: Contract, table: Table, alias: str) -> Column:
    """:func:`violations_sql` as a column named ``alias``."""
    return F.expr(f"{violations_sql(contract, table)} AS {quoted(alias)}")


def _samples(df: DataFrame, contract: Contract, table: Table) -> list[str]:
    """A few offending keys, queried only once a violation is known."""
    keys = list(dict.fromkeys([*table.keys, *table.partition_by])) or df.columns[:3]
    if isinstance(contract, Unique):
        cols = unique_columns(contract, table)
        rows = df.groupBy(*cols).count().where("count > 1").orderBy(*cols).limit(SAMPLES).collect()
        return [str({c: r[c] for c in cols}) for r in rows]
    if isinstance(contract, NotNull):
        cond = F.lit(False)
        for name in contract.columns:
            cond = cond | F.col(name).isNull()
    elif isinstance(contract, AcceptedValues):
        cond = ~F.col(contract.column).isin(list(contract.values))
        keys = list(dict.fromkeys([*keys, contract.column]))
    else:
        cond = ~F.coalesce(F.expr(contract.sql), F.lit(True))
    rows = df.where(cond).select(*keys).orderBy(*keys).limit(SAMPLES).collect()
    return [str(r.asDict()) for r in rows]


def _raise_first(
    table: Table, counts: dict[str, int], rows: DataFrame, contracts: tuple[Contract, ...]
) -> None:
    for contract in contracts:
        if counts.get(contract.name):
            raise ContractViolation(
                table.name, contract.name, counts[contract.name], _samples(rows, contract, table)
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
            _raise_first(self.table, counts, rows, self.table.contracts)
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
    _raise_first(table, counts, df, table.contracts)
    log.debug("contracts of %s hold: %s", table.name, counts)
    return counts
