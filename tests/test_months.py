"""The running month number: one numbering in Python and in both Spark column helpers."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from workbench.months import (
    add_months,
    date_month_index_series,
    month_end,
    month_index,
    month_index_series,
    month_start,
    months_between,
)
from workbench.warehouse.columns import date_month_index_col, month_index_col

MONTHS = ["2024-12", "2025-01", "2025-02", "2025-11", "2025-12", "2026-01"]


def test_month_index_is_zero_based_and_consecutive_across_years():
    assert month_index("0000-01") == 0
    assert month_index("2026-01") == 2026 * 12
    assert month_index("2026-01") - month_index("2025-12") == 1
    assert months_between("2025-11", "2026-02") == 3
    assert add_months("2025-12", 1) == "2026-01"
    assert add_months("2026-01", -1) == "2025-12"


def test_spark_month_indices_agree_with_month_index(spark):
    rows = [(m, month_start(m), month_end(m)) for m in MONTHS]
    frame = spark.createDataFrame(rows, "month string, first date, last date").select(
        "month",
        month_index_col("month").alias("from_month"),
        date_month_index_col("first").alias("from_first"),
        date_month_index_col(F.col("last").cast("timestamp")).alias("from_last"),
    )
    got = {r["month"]: (r["from_month"], r["from_first"], r["from_last"]) for r in frame.collect()}
    assert got == {m: (month_index(m),) * 3 for m in MONTHS}


def test_pandas_month_indices_agree_with_month_index():
    expected = [month_index(m) for m in MONTHS]
    assert month_index_series(pd.Series(MONTHS)).tolist() == expected
    days = pd.to_datetime(pd.Series([str(month_end(m)) for m in MONTHS]))
    assert date_month_index_series(days).tolist() == expected
