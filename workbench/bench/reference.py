"""The DuckDB reference: ``dws_subscriber_month`` and ``ads_kpi_cube`` as plain SQL over the
same raw Parquet (``bench/sql/*.sql``), and the check that Spark's tables equal it.

The SQL files are templates with ``$raw``, ``$horizon`` and ``$last_month``; they run in order
in one in-memory DuckDB database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from workbench.bench.measure import timed
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SQL_FILES = ("ods.sql", "dws_subscriber_month.sql", "ads_kpi_cube.sql")
REFERENCE_TABLES = {
    "dws_subscriber_month": ("subscriber_id", "month"),
    "ads_kpi_cube": ("month", "region_id", "segment", "plan_type", "kpi_code"),
}
KPI_ROUNDING = 1e-6  # both engines round KPI values to 6 decimals (see warehouse/kpi.py)


class BenchError(WorkbenchError):
    """The benchmark cannot run or its inputs are wrong; the message names what."""


def default_sql_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "bench" / "sql"


@dataclass
class Reference:
    """What the DuckDB reference computed and how long it took (SQL only, no Python)."""

    tables: dict[str, pa.Table]
    seconds: float


def run_reference(
    raw_dir: Path, last_month: str, horizon_months: int, sql_dir: Path | None = None
) -> Reference:
    """Run the reference SQL over the raw extracts in ``raw_dir``.

    Raises:
        BenchError: a SQL file is missing or fails (named, with DuckDB's reason).
    """
    import duckdb

    sql_dir = sql_dir or default_sql_dir()
    values = {"raw": str(Path(raw_dir).resolve()), "horizon": int(horizon_months)}
    values["last_month"] = last_month
    scripts = []
    for name in SQL_FILES:
        path = sql_dir / name
        if not path.is_file():
            raise BenchError(f"DuckDB reference SQL not found: {path}")
        scripts.append((path, Template(path.read_text(encoding="utf-8")).substitute(values)))
    con = duckdb.connect()
    try:
        with timed() as clock:
            for path, sql in scripts:
                try:
                    con.execute(sql).fetchall()
                except duckdb.Error as exc:
                    raise BenchError(f"{path}: {exc}") from None
        # each result is drained before the next query (an open result blocks the connection)
        tables = {name: _as_table(con.table(name).arrow()) for name in REFERENCE_TABLES}
    finally:
        con.close()
    return Reference(tables, clock.seconds)


def _as_table(value) -> pa.Table:
    import pyarrow as pa

    return value if isinstance(value, pa.Table) else value.read_all()


@dataclass
class Comparison:
    """Spark's table against the reference: equal when ``problems`` is empty."""

    table: str
    rows_spark: int
    rows_reference: int
    columns: int
    values_compared: int = 0
    within_rounding: int = 0  # KPI values one 6th-decimal rounding step apart
    problems: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.problems


def compare_tables(
    table: str,
    spark_rows: pd.DataFrame,
    reference_rows: pd.DataFrame,
    *,
    rel_tol: float = 1e-9,
    columns: list[str] | None = None,
    max_problems: int = 10,
) -> Comparison:
    """Compare two versions of a table row by row on its keys.

    Keys and counts must be equal exactly, doubles within ``rel_tol`` relative (KPI cube values
    may also differ by one rounding step of their 6th decimal), nulls where the other has nulls.
    """
    import numpy as np
    import pandas as pd

    keys = list(REFERENCE_TABLES[table])
    columns = columns or [c for c in spark_rows.columns if c in reference_rows.columns]
    missing = [c for c in columns if c not in reference_rows.columns]
    result = Comparison(table, len(spark_rows), len(reference_rows), len(columns))
    if missing:
        result.problems.append(f"reference lacks column(s) {', '.join(missing)}")
        return result
    for side, frame in (("spark", spark_rows), ("reference", reference_rows)):
        dupes = int(frame.duplicated(keys).sum())
        if dupes:
            result.problems.append(f"{side}: {dupes} duplicate key(s) {keys}")
    left = spark_rows[columns].astype({k: str for k in keys})
    right = reference_rows[columns].astype({k: str for k in keys})
    merged = left.merge(right, on=keys, how="outer", suffixes=("", "__ref"), indicator=True)
    only = merged["_merge"].value_counts()
    for side, label in (("left_only", "only in Spark"), ("right_only", "only in DuckDB")):
        if only.get(side, 0):
            sample = merged.loc[merged["_merge"] == side, keys].head(3).to_dict("records")
            result.problems.append(f"{only[side]} row(s) {label}, e.g. {sample}")
    both = merged[merged["_merge"] == "both"]
    for column in (c for c in columns if c not in keys):
        a, b = both[column], both[column + "__ref"]
        result.values_compared += len(both)
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            x, y = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
            nulls = np.isnan(x) != np.isnan(y)
            close = np.isclose(x, y, rtol=rel_tol, atol=0.0, equal_nan=True)
            if table == "ads_kpi_cube":
                step = np.abs(x - y) <= KPI_ROUNDING * (1 + 1e-6)
                result.within_rounding += int((~close & step & ~nulls).sum())
                close = close | step
            bad = nulls | ~close
        else:
            x, y = a.astype("object"), b.astype("object")
            bad = ~((x == y) | (x.isna() & y.isna())).to_numpy()
            x, y = x.to_numpy(), y.to_numpy()
        if bad.any():
            first = np.flatnonzero(bad)[0]
            where = both.iloc[first][keys].to_dict()
            result.problems.append(
                f"{column}: {int(bad.sum())} value(s) differ, e.g. at {where}: "
                f"spark {x[first]!r} vs duckdb {y[first]!r}"
            )
        if len(result.problems) >= max_problems:
            break
    return result


def read_spark_table(warehouse_table_dir: Path, columns: list[str]) -> pd.DataFrame:
    """A published warehouse table read back through DuckDB (no JVM)."""
    import duckdb

    if not any(warehouse_table_dir.rglob("*.parquet")):
        raise BenchError(f"no Parquet files under {warehouse_table_dir}")
    pattern = str(warehouse_table_dir / "**" / "*.parquet")
    select = ", ".join(f'"{c}"' for c in columns)
    con = duckdb.connect()
    try:
        # through Arrow, like the reference, so dates and nulls convert the same way
        relation = con.sql(
            f"SELECT {select} FROM read_parquet($pattern, hive_partitioning = true, "
            "hive_types = {'month': VARCHAR})",
            params={"pattern": pattern},  # a bound value: any path, quotes included
        )
        return _as_table(relation.arrow()).to_pandas()
    finally:
        con.close()
