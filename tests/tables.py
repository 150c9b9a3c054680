"""Comparing warehouse tables in tests: rows as multisets, read by DuckDB through the catalog's
typed columns. Another engine than the one that wrote them, and seconds instead of the minute a
Spark ``exceptAll`` per table and direction costs on the small test data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from workbench.catalog import get_table
from workbench.catalog.ads import ALL
from workbench.config import Settings
from workbench.filters import equals
from workbench.marts import folder_sql, table_sql

# Where a side's copy of a table lives: a project (its warehouse) or any name -> folder mapping.
Side = Settings | Callable[[str], Path]


def _sql(name: str, side: Side) -> str:
    table = get_table(name)
    if isinstance(side, Settings):
        return table_sql(table, side)
    return folder_sql(table, side(name))


def table_rows(name: str, side: Side) -> list[tuple]:
    """Every row of ``name`` on one side, in a stable order (for a before/after comparison of one
    project; small tables only)."""
    import duckdb

    with duckdb.connect() as con:
        return sorted(con.execute(_sql(name, side)).fetchall(), key=repr)


def table_differences(name: str, left: Side, right: Side) -> tuple[int, int, int, int]:
    """Rows of ``name`` on each side and rows only on each side (multisets: duplicates count)."""
    import duckdb

    a, b = _sql(name, left), _sql(name, right)
    with duckdb.connect() as con:
        counts = con.execute(
            f"SELECT (SELECT count(*) FROM ({a})), (SELECT count(*) FROM ({b})), "
            f"(SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))), "
            f"(SELECT count(*) FROM (({b}) EXCEPT ALL ({a})))"
        ).fetchone()
    return tuple(int(n) for n in counts)  # type: ignore[return-value]


def assert_same_tables(names: Iterable[str], left: Side, right: Side) -> int:
    """Every table holds the same rows on both sides; returns how many tables were compared."""
    compared = 0
    for name in names:
        rows_left, rows_right, only_left, only_right = table_differences(name, left, right)
        assert (rows_left, only_left, only_right) == (rows_right, 0, 0), (
            f"{name}: {rows_left} rows against {rows_right}; {only_left} only on the left, "
            f"{only_right} only on the right"
        )
        compared += 1
    return compared


#: the KPI cube's top cell (every region, segment and plan type), as a bound filter
ALL_CELL = (equals("region_id", ALL), equals("segment", ALL), equals("plan_type", ALL))
