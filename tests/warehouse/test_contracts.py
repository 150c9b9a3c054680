"""Each contract kind on a few inline rows: holds, and is violated with a named error."""

from __future__ import annotations

import pytest

from workbench.catalog import Table
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.schema import col
from workbench.warehouse.contracts import (
    ContractViolation,
    SchemaMismatch,
    check_contracts,
    check_frame,
)

COLUMNS = (
    col("sub_id", "bigint"),
    col("plan_type", "string"),
    col("revenue_cny", "double"),
    col("month", "string", nullable=False),
)
SCHEMA = "sub_id bigint, plan_type string, revenue_cny double, month string"


def table(*contracts) -> Table:
    return Table(
        "t_contract_test",
        "dws",
        "one row per sub and month",
        "test",
        COLUMNS,
        keys=("sub_id",),
        contracts=contracts,
    )


ROWS = [
    (1, "prepaid", 10.0, "2026-01"),
    (2, "postpaid", None, "2026-01"),
    (1, "prepaid", 12.0, "2026-02"),
]


def check(spark, rows, *contracts):
    return check_contracts(spark.createDataFrame(rows, SCHEMA), table(*contracts))


def test_all_kinds_hold_in_one_pass(spark):
    counts = check(
        spark,
        ROWS,
        Unique(("sub_id",)),
        NotNull(("sub_id", "plan_type")),
        AcceptedValues("plan_type", ("prepaid", "postpaid")),
        Expression("non-negative revenue", "revenue_cny >= 0"),
    )
    assert set(counts.values()) == {0} and len(counts) == 4


def test_unique_violation_names_table_contract_count_and_keys(spark):
    rows = [*ROWS, (1, "prepaid", 5.0, "2026-01"), (1, "prepaid", 6.0, "2026-01")]
    with pytest.raises(ContractViolation) as info:
        check(spark, rows, Unique(("sub_id",)))
    err = info.value
    assert (err.table, err.contract, err.count) == ("t_contract_test", "unique(sub_id)", 2)
    assert "'sub_id': 1" in str(err) and "'month': '2026-01'" in str(err)


def test_not_null_violation(spark):
    with pytest.raises(ContractViolation, match=r"not_null\(plan_type\) violated by 1 row"):
        check(spark, [*ROWS, (3, None, 1.0, "2026-01")], NotNull(("plan_type",)))


def test_accepted_values_violation(spark):
    with pytest.raises(ContractViolation, match=r"accepted_values\(plan_type\).*'gold'"):
        check(
            spark,
            [*ROWS, (4, "gold", 1.0, "2026-01")],
            AcceptedValues("plan_type", ("prepaid", "postpaid")),
        )


def test_expression_violation_and_null_counts_as_satisfied(spark):
    with pytest.raises(ContractViolation, match=r"non-negative revenue.*by 2 row"):
        check(
            spark,
            [*ROWS, (5, "prepaid", -1.0, "2026-01"), (6, "prepaid", -2.0, "2026-02")],
            Expression("non-negative revenue", "revenue_cny >= 0"),
        )


def test_schema_mismatch_is_named(spark):
    df = spark.createDataFrame(ROWS, SCHEMA).withColumnRenamed("revenue_cny", "revenue")
    with pytest.raises(SchemaMismatch, match=r"t_contract_test.*revenue_cny"):
        check_contracts(df, table())


def test_write_check_counts_contracts_during_the_write_and_names_the_violation(spark, tmp_path):
    """The contracts of a write are counted by the write itself; an unguaranteed Unique is
    counted on what was written; a broken contract stops with its samples."""
    from workbench.warehouse.contracts import WriteCheck

    contracts = (
        Unique(("sub_id",)),
        NotNull(("plan_type",)),
        Expression("rev", "revenue_cny >= 0"),
    )
    rows = [*ROWS, (3, None, -1.0, "2026-01"), (3, "prepaid", 1.0, "2026-01")]
    check = WriteCheck(table(*contracts), name="t/write-check")
    check.attach(spark.createDataFrame(rows, SCHEMA)).write.parquet(str(tmp_path / "t"))
    written = spark.read.parquet(str(tmp_path / "t"))
    assert check.metrics["_rows"] == len(rows)
    with pytest.raises(ContractViolation, match=r"unique\(sub_id\) violated by 1 row.*'sub_id': 3"):
        check.verify(lambda: written)


# Values an accepted-values list or a row may hold that SQL quoting can get wrong
AWKWARD = ["o'brien", "back\\slash", "预付费", 'say "hi"']


def _violation(check, rows, contract):
    """(count, samples) of one broken contract, or (0, []) when it holds."""
    try:
        check(rows, table(contract))
    except ContractViolation as err:
        return err.count, err.samples
    return 0, []


@pytest.mark.parametrize(
    "contract",
    [
        Unique(("sub_id",)),
        NotNull(("plan_type",)),
        AcceptedValues("plan_type", ("prepaid", *AWKWARD[:2])),
        Expression("non-negative revenue", "revenue_cny >= 0"),
    ],
    ids=lambda c: c.name.split("(")[0],
)
def test_spark_and_duckdb_find_the_same_violations_and_samples(spark, contract):
    """One SQL text per contract, run by either engine: the build's Spark writes and the small
    pandas results are held to the same rule, quoted values and all."""
    import pandas as pd

    rows = [
        *ROWS,
        *[(10 + i, value, -1.0 * i, "2026-01") for i, value in enumerate(AWKWARD)],
        (1, None, 3.0, "2026-01"),
        # a row without its key: not a copy of anything (a null key is NotNull's business)
        (None, "prepaid", 1.0, "2026-01"),
    ]
    in_spark = _violation(
        lambda r, t: check_contracts(spark.createDataFrame(r, SCHEMA), t), rows, contract
    )
    in_duckdb = _violation(
        lambda r, t: check_frame(
            # the key a nullable integer, as the catalog types it (not a float because of a null)
            pd.DataFrame(r, columns=[c.name for c in COLUMNS]).astype({"sub_id": "Int64"}),
            t,
        ),
        rows,
        contract,
    )
    assert in_spark[0] > 0, "the rows break every contract listed"
    assert in_duckdb == in_spark


@pytest.mark.slow
def test_every_unique_contract_holds_on_the_tiny_warehouse(tiny_warehouse):
    """Checked in DuckDB for every table, including the contracts the build claims to guarantee
    (``guaranteed_by``), which no build re-checks: a wrong claim fails here."""
    import duckdb

    from workbench.catalog import tables
    from workbench.marts import table_sql
    from workbench.warehouse.contracts import unique_columns

    checked = 0
    with duckdb.connect() as con:
        for built in tables():
            if built.layer in ("raw",):
                continue
            for contract in [c for c in built.contracts if isinstance(c, Unique)]:
                keys = ", ".join(f'"{c}"' for c in unique_columns(contract, built))
                sql = (
                    f"SELECT count(*) FILTER (WHERE n > 1), sum(n) FROM (SELECT {keys}, count(*) n "
                    f"FROM ({table_sql(built, tiny_warehouse)}) GROUP BY ALL)"
                )
                duplicates, rows = con.execute(sql).fetchone()
                assert duplicates == 0, f"{built.name}: {contract.name} has {duplicates} duplicates"
                checked += bool(rows)
    assert checked >= 40  # the tables with rows on `tiny`: every ODS, DWD, DWS and ADS table
