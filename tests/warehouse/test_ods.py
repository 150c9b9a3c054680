"""ODS validation rules on a few inline rows each, and the raw schema check."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from workbench.catalog import get_table
from workbench.catalog.ods import ODS_TABLES
from workbench.warehouse import ods
from workbench.warehouse.ods import (
    RawSchemaError,
    accepted_rows,
    check_raw_schema,
    label_rows,
    quarantined_rows,
    validate,
)

USAGE = get_table("usage")
SUBSCRIBERS = get_table("subscribers")


def usage_row(
    record_id="U1",
    subscriber_id=1,
    started_at="2026-01-05 10:00:00",
    duration=60,
    file="usage/month=2026-01/a.parquet",
    row=0,
    month="2026-01",
):
    return (
        record_id,
        subscriber_id,
        "voice",
        started_at,
        duration,
        0.0,
        "own",
        False,
        "C1",
        month,
        file,
        row,
    )


def usage_df(spark, rows):
    schema = USAGE.spark_schema.add("_source_file", T.StringType()).add("_source_row", T.LongType())
    return spark.createDataFrame(rows, schema)


def known(spark, ids=(1,), month="2026-01"):
    return spark.createDataFrame([(i, month) for i in ids], "subscriber_id bigint, month string")


def reasons(spark, rows, subscribers=(1,), month="2026-01"):
    labelled = usage_df(spark, rows).transform(label_rows(USAGE, known(spark, subscribers, month)))
    return {r["record_id"]: r["_reason"] for r in labelled.collect()}


def test_clean_row_is_accepted_and_typed(spark):
    accepted, rejected = validate(usage_df(spark, [usage_row()]), USAGE, known(spark))
    assert rejected.count() == 0
    assert accepted.columns == ODS_TABLES["usage"].column_names
    row = accepted.collect()[0]
    assert row["started_at"] == dt.datetime(2026, 1, 5, 10, 0, 0)
    assert dict(accepted.dtypes)["started_at"] == "timestamp"


def test_missing_key(spark):
    got = reasons(
        spark,
        [
            usage_row(record_id=None),
            usage_row(record_id="  ", row=1),
            usage_row(record_id="U3", subscriber_id=None, row=2),
            usage_row(record_id="U4", row=3),
        ],
    )
    assert got == {None: "missing_key", "  ": "missing_key", "U3": "missing_key", "U4": None}


def test_bad_timestamp(spark):
    got = reasons(
        spark,
        [
            usage_row("U1", started_at="2026-02-30 25:61:00"),
            usage_row("U2", started_at="N/A", row=1),
            usage_row("U3", started_at="2026-01-31 23:59:59", row=2),
        ],
    )
    assert got == {"U1": "bad_timestamp", "U2": "bad_timestamp", "U3": None}


# Text at the edges of the layout: another separator, a missing digit, fractions, zones, spaces,
# impossible days and times, full-width digits, year 0 and 9999.
TRICKY_TIMES = [
    "2026-01-05 10:00:00", "2024-02-29 23:59:59", "2026-02-29 00:00:00", "2026-02-30 10:00:00",
    "2026-01-05 24:00:00", "2026-01-05 23:60:00", "2026-01-05 23:59:60", "2026-13-01 00:00:00",
    "2026-00-10 00:00:00", "2026-01-00 00:00:00", "2026-1-05 10:00:00", "2026-01-05T10:00:00",
    "2026-01-05", " 2026-01-05 10:00:0", "2026-01-05 10:00:00 ", "2026-01-05 10:00:00.5",
    "2026-01-05 10:00:00Z", "2026-01-05 10:00:00+08:00", "2026/01/05 10:00:00", "not a time",
    "", "\uff12\uff10\uff12\uff16-01-05 10:00:00", "0000-01-01 00:00:00", "9999-12-31 23:59:59",
    "99999-01-01 00:00:00", None,
]  # fmt: skip
TRICKY_DATES = [
    "2026-01-05", "2024-02-29", "2026-02-29", "2026-02-30", "2026-13-01", "2026-00-01",
    "2026-01-32", "2026-1-5", "20260105", "2026-01-05 00:00:00", " 2026-01-05", "2026-01-05 ",
    "", "0000-01-01", "9999-12-31", None,
]  # fmt: skip


def test_times_parse_exactly_as_the_declared_formats_parse_them(spark):
    """The validation's fast parse (a shape check and a cast) accepts and reads every text as
    Spark's own parser of TIMESTAMP_FORMAT and DATE_FORMAT does, edge cases included."""
    from workbench.catalog.ods import DATE_FORMAT, TIMESTAMP_FORMAT
    from workbench.warehouse.ods import _parse

    for column, texts, reference in (
        ("started_at", TRICKY_TIMES, F.try_to_timestamp("started_at", F.lit(TIMESTAMP_FORMAT))),
        ("contact_date", TRICKY_DATES, F.try_to_date("contact_date", DATE_FORMAT)),
    ):
        df = spark.createDataFrame([(t,) for t in texts], f"{column} string")
        rows = df.select(
            column,
            reference.cast("string").alias("reference"),  # as text: Python has no year 0
            _parse(column).cast("string").alias("parsed"),
        ).collect()
        assert len(rows) == len(texts)
        assert [(r[column], r["parsed"]) for r in rows] == [
            (r[column], r["reference"]) for r in rows
        ]
        accepted = {r[column] for r in rows if r["parsed"] is not None}
        assert accepted == (
            {"2026-01-05 10:00:00", "2024-02-29 23:59:59", "0000-01-01 00:00:00",
             "9999-12-31 23:59:59"}
            if column == "started_at"
            else {"2026-01-05", "2024-02-29", "0000-01-01", "9999-12-31"}
        )  # fmt: skip


def test_future_date_across_a_year_end(spark):
    rows = [
        usage_row("U1", started_at="2027-01-01 00:00:00", month="2026-12"),
        usage_row("U2", started_at="2026-12-31 23:59:59", month="2026-12", row=1),
        usage_row("U3", started_at="2025-12-31 23:59:59", month="2026-12", row=2),
    ]
    got = reasons(spark, rows, month="2026-12")
    assert got == {"U1": "future_date", "U2": None, "U3": None}


def test_future_date_is_after_the_partition_month(spark):
    got = reasons(
        spark,
        [
            usage_row("U1", started_at="2026-02-01 00:00:00"),
            usage_row("U2", started_at="2026-01-31 23:59:59", row=1),
        ],
    )
    assert got == {"U1": "future_date", "U2": None}


def test_future_date_on_a_date_column(spark):
    rows = [(1, "2026-02-03", "a"), (2, "2026-01-31", "b")]
    df = spark.createDataFrame(rows, "subscriber_id bigint, activation_date string, f string")
    full = df.select(
        *[
            F.col(c.name)
            if c.name in ("subscriber_id", "activation_date")
            else F.lit("2026-01" if c.name == "month" else None).cast(c.type).alias(c.name)
            for c in SUBSCRIBERS.columns
        ],
        F.col("f").alias("_source_file"),
        F.lit(0).cast("bigint").alias("_source_row"),
    )
    got = {
        r["subscriber_id"]: r["_reason"] for r in full.transform(label_rows(SUBSCRIBERS)).collect()
    }
    assert got == {1: "future_date", 2: None}


def test_negative_duration(spark):
    got = reasons(spark, [usage_row("U1", duration=-5), usage_row("U2", duration=0, row=1)])
    assert got == {"U1": "negative_duration", "U2": None}


def test_unknown_subscriber_is_checked_within_the_month(spark):
    rows = [
        usage_row("U1", subscriber_id=7),
        usage_row("U2", subscriber_id=1, row=1),
        usage_row("U3", subscriber_id=1, month="2026-02", row=2),
    ]
    got = reasons(spark, rows, subscribers=(1,))
    assert got == {"U1": "unknown_subscriber", "U2": None, "U3": "unknown_subscriber"}


# Both plans of the duplicate search: broadcast of the repeated keys, and the window over every
# key once there are more repeated keys than the limit.
BOTH_DUPLICATE_PLANS = pytest.mark.parametrize("broadcast_limit", [1_000_000, 0])


@BOTH_DUPLICATE_PLANS
def test_duplicate_keeps_the_first_by_file_and_row(spark, monkeypatch, broadcast_limit):
    monkeypatch.setattr(ods, "BROADCAST_DUPLICATE_KEYS", broadcast_limit)
    rows = [
        usage_row("U1", file="usage/month=2026-01/b.parquet", row=0, duration=2),
        usage_row("U1", file="usage/month=2026-01/a.parquet", row=5, duration=1),
        usage_row("U1", file="usage/month=2026-01/a.parquet", row=9, duration=3),
    ]
    labelled = usage_df(spark, rows).transform(label_rows(USAGE, known(spark)))
    kept = labelled.where("_reason IS NULL").collect()
    assert [(r["_source_file"], r["_source_row"]) for r in kept] == [
        ("usage/month=2026-01/a.parquet", 5)
    ]
    assert labelled.where("_reason = 'duplicate'").count() == 2


def test_duplicate_across_months_is_not_a_duplicate(spark):
    rows = [usage_row("U1"), usage_row("U1", month="2026-02", started_at="2026-02-01 00:00:00")]
    labelled = (
        usage_df(spark, rows)
        .transform(label_rows(USAGE, known(spark, month="2026-02")))
        .transform(lambda d: d)
    )
    # 2026-01 row: subscriber unknown in that month; 2026-02 row: accepted, no duplicate
    got = {r["month"]: r["_reason"] for r in labelled.collect()}
    assert got == {"2026-01": "unknown_subscriber", "2026-02": None}


@BOTH_DUPLICATE_PLANS
def test_first_reason_wins_and_a_rejected_row_does_not_make_a_duplicate(
    spark, monkeypatch, broadcast_limit
):
    monkeypatch.setattr(ods, "BROADCAST_DUPLICATE_KEYS", broadcast_limit)
    rows = [
        usage_row("U1", subscriber_id=None, started_at="bad", duration=-1, row=0),
        usage_row("U1", started_at="bad", duration=-1, row=1),
        usage_row("U1", subscriber_id=7, row=2),  # not a subscriber of the month
        usage_row("U1", row=3),
        usage_row("U1", row=4),
    ]
    labelled = usage_df(spark, rows).transform(label_rows(USAGE, known(spark)))
    got = {r["_source_row"]: r["_reason"] for r in labelled.collect()}
    # the first accepted copy stays, whatever was rejected before it
    assert got == {
        0: "missing_key",
        1: "bad_timestamp",
        2: "unknown_subscriber",
        3: None,
        4: "duplicate",
    }


def test_quarantine_rows_carry_source_and_json(spark):
    rows = [usage_row("U1", duration=-5, row=3)]
    labelled = usage_df(spark, rows).transform(label_rows(USAGE, known(spark)))
    q = labelled.transform(quarantined_rows(USAGE)).collect()[0].asDict()
    assert q["source_table"] == "usage" and q["reason"] == "negative_duration"
    assert (q["source_file"], q["source_row"], q["month"]) == (
        "usage/month=2026-01/a.parquet",
        3,
        "2026-01",
    )
    assert (
        '"duration_sec":-5' in q["record_json"]
        and '"counterpart_operator":"own"' in q["record_json"]
    )
    assert labelled.transform(accepted_rows(USAGE)).count() == 0


def test_events_need_the_months_subscribers(spark):
    with pytest.raises(ValueError, match="accepted subscribers"):
        label_rows(USAGE)


RAW_SCHEMA = pa.schema([f for f in USAGE.arrow_schema if f.name != "month"])


def test_raw_schema_check_passes_a_matching_file():
    check_raw_schema(USAGE, {"usage/month=2026-01/a.parquet": RAW_SCHEMA})


def test_raw_schema_missing_column_names_file_and_column():
    drifted = RAW_SCHEMA.remove(RAW_SCHEMA.get_field_index("cell_id"))
    with pytest.raises(RawSchemaError, match=r"usage/month=2026-01/b\.parquet.*'cell_id'"):
        check_raw_schema(
            USAGE,
            {"usage/month=2026-01/a.parquet": RAW_SCHEMA, "usage/month=2026-01/b.parquet": drifted},
        )


def test_raw_schema_wrong_type_names_file_and_column():
    index = RAW_SCHEMA.get_field_index("duration_sec")
    drifted = RAW_SCHEMA.set(index, pa.field("duration_sec", pa.string()))
    with pytest.raises(RawSchemaError, match=r"a\.parquet column 'duration_sec' is string"):
        check_raw_schema(USAGE, {"usage/month=2026-01/a.parquet": drifted})
