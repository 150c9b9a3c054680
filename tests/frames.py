"""Small Spark frames for unit tests: rows with a catalog table's schema, and the date and time
literals the rows are written with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pyspark.sql import DataFrame

from workbench.catalog import get_table


def frame(spark, table: str, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> DataFrame:
    """Rows with the catalog schema of ``table``; columns a row leaves out are null."""
    schema = get_table(table).spark_schema
    names = [f.name for f in schema.fields]
    unknown = {k for r in rows for k in r} - set(names)
    assert not unknown, f"test rows name columns {table} lacks: {unknown}"
    df = spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], schema)
    return df.drop(*drop)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def d(text: str) -> date:
    return date.fromisoformat(text)
