"""Row filters reach DuckDB and Spark as bound values: the same conditions select the same rows
in both engines, whatever quotes or backslashes the values hold, and a column name that is not
one is refused."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from workbench.filters import (
    Condition,
    FilterError,
    among,
    at_least,
    duckdb_where,
    equals,
    from_records,
    is_true,
    spark_condition,
    to_records,
)

TRICKY = ["it's", "back\\slash", "back\\'quote", 'dq"x', "%_", "GZ"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(range(1, len(TRICKY) + 2)),
            "segment": [*TRICKY, None],
            "score": [0.1, 0.5, 0.9, 0.5, 0.2, 0.7, 0.95],
            "flag": [True, False, None, True, True, False, True],
        }
    )


def _duckdb_ids(conditions) -> list[int]:
    frame = _frame()  # noqa: F841 (read by name in the SQL)
    where, params = duckdb_where(conditions)
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT id FROM frame WHERE {where} ORDER BY id", params).fetchall()
    return [r[0] for r in rows]


def _spark_ids(spark, conditions) -> list[int]:
    df = spark.createDataFrame(_frame().astype(object).where(_frame().notna(), None))
    return sorted(r["id"] for r in df.where(spark_condition(conditions)).collect())


@pytest.mark.parametrize(
    "conditions",
    [
        (),
        *[(equals("segment", v),) for v in TRICKY],
        (among("segment", TRICKY[:3]),),
        (among("segment", []),),
        (at_least("score", 0.5), is_true("flag")),
        (Condition("segment", "!=", "it's"),),
    ],
    ids=repr,
)
def test_duckdb_and_spark_select_the_same_rows(spark, conditions):
    expected = _duckdb_ids(conditions)
    assert _spark_ids(spark, conditions) == expected
    assert from_records(to_records(conditions)) == tuple(conditions)


def test_each_tricky_value_matches_exactly_its_row(spark):
    for i, value in enumerate(TRICKY, start=1):
        assert _duckdb_ids((equals("segment", value),)) == [i]
        assert _spark_ids(spark, (equals("segment", value),)) == [i]


@pytest.mark.parametrize(
    "make",
    [
        lambda: equals("segment) OR (1=1", "x"),
        lambda: equals("seg\nment", "x"),
        lambda: Condition("segment", "LIKE", "x"),  # type: ignore[arg-type]
        lambda: Condition("segment", "in", "x"),
        lambda: equals("score", float("nan")),
        lambda: equals("segment", ["x"]),  # type: ignore[arg-type]
        lambda: from_records([{"column": "a", "op": "=", "value": 1, "sql": "x"}]),
    ],
)
def test_bad_filters_are_refused(make):
    with pytest.raises(FilterError):
        make()
