"""ODS transforms: validate a raw extract into accepted (typed) rows and quarantined rows.

Pure functions: a raw DataFrame in (its catalog columns plus ``_source_file`` and
``_source_row``, see :func:`workbench.warehouse.storage.read_raw`), DataFrames out. Each rejected
row gets exactly one reason, the first that applies in this order (``DIRTY_KINDS`` codes):

1. ``missing_key``: a key column (or ``subscriber_id`` where the extract has one) is null or blank;
2. ``bad_timestamp``: an ``*_at`` / ``*_date`` value does not parse;
3. ``future_date``: the event time (``EVENT_TIME_COLUMNS``) is after the end of the extract month;
4. ``negative_duration``: ``duration_sec < 0``;
5. ``unknown_subscriber``: ``subscriber_id`` is not among that month's accepted subscribers;
6. ``duplicate``: the key was already seen that month (the first by source file and row stays).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog import Table
from workbench.catalog.ods import (
    DATE_FORMAT,
    EVENT_TIME_COLUMNS,
    ODS_TABLES,
    QUARANTINE_ROWS,
    TIMESTAMP_FORMAT,
)
from workbench.catalog.schema import arrow_type
from workbench.errors import WorkbenchError
from workbench.warehouse.columns import date_month_index_col, month_index_col
from workbench.warehouse.storage import relative_source_file

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
REASON = "_reason"
_PARSED = "_parsed__"
_KEY_HASH = "_key_hash__"
_DUP_FILE = "_duplicate_file__"
_DUP_ROW = "_duplicate_row__"


class RawSchemaError(WorkbenchError):
    """A raw file lacks a catalog column or has it with the wrong type."""


def check_raw_schema(table: Table, file_schemas: Mapping[str, pa.Schema]) -> None:
    """Fail on the first file missing a column or holding it with another type.

    Args:
        table: the raw catalog table.
        file_schemas: Parquet schema of every file of the extract, by file path.

    Raises:
        RawSchemaError: naming the file, the column and the expected type.
    """
    import pyarrow as pa

    for path, schema in sorted(file_schemas.items()):
        for column in table.data_columns:
            expected = arrow_type(column.type)
            if column.name not in schema.names:
                raise RawSchemaError(
                    f"raw extract {table.name}: file {path} has no column {column.name!r} "
                    f"(expected {column.type})"
                )
            found = schema.field(column.name).type
            if pa.types.is_large_string(found):
                found = pa.string()
            if found != expected:
                raise RawSchemaError(
                    f"raw extract {table.name}: file {path} column {column.name!r} is {found}, "
                    f"expected {column.type}"
                )


def _time_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name.endswith(("_at", "_date"))]


def layout_pattern(fmt: str) -> str:
    r"""A regular expression for text laid out exactly as a datetime format of digits
    (``yyyy-MM-dd`` -> ``^\d\d\d\d\-\d\d\-\d\d$``)."""
    return "^" + "".join(r"\d" if ch in "yMdHms" else re.escape(ch) for ch in fmt) + "$"


def _parse(name: str) -> Column:
    """An ``*_at`` or ``*_date`` text as a timestamp or date; null when it is not laid out as
    :data:`TIMESTAMP_FORMAT` or :data:`DATE_FORMAT` or is no real time (2026-02-30, 24:00:00).

    Why a shape check and a cast, not ``try_to_timestamp(value, format)``: a pattern formatter
    builds a java.time field map for every value, about a sixth of the CPU of validating the
    usage extract; Spark's cast reads the same text without one (the demo's 11.9M usage rows:
    57 to 60 s instead of 67, bench/NOTES.md). The cast alone is lenient
    (it also takes ``2026-01-05T10:00``, a date alone, a time zone), so it only sees text already
    in the format's exact shape, and both together accept what the format accepts.
    """
    timestamp = name.endswith("_at")
    fmt = TIMESTAMP_FORMAT if timestamp else DATE_FORMAT
    value = F.col(name)
    return F.when(
        value.rlike(layout_pattern(fmt)), value.try_cast("timestamp" if timestamp else "date")
    )


def _missing(name: str, is_string: bool) -> Column:
    value = F.col(name)
    return value.isNull() | (F.trim(value) == "") if is_string else value.isNull()


def required_columns(table: Table) -> list[str]:
    """Columns that make a row ``missing_key`` when null: the keys and the subscriber link."""
    extra = ["subscriber_id"] if "subscriber_id" in table.column_names else []
    return list(dict.fromkeys([*table.keys, *extra]))


def label_rows(table: Table, known_subscribers: DataFrame | None = None):
    """Transform adding ``_reason`` (null for accepted rows) and parsed time columns.

    Args:
        table: the raw catalog table the rows come from.
        known_subscribers: ``subscriber_id, month`` of accepted subscribers, one row each (the
            ODS subscribers table's grain); required for extracts with a ``subscriber_id``
            (other than subscribers itself). Pass it through ``F.broadcast`` when it is small
            enough, so the extract's rows are checked where they are read, without a shuffle.
    """
    types = {c.name: c.type for c in table.columns}
    times = _time_columns(table)
    events = EVENT_TIME_COLUMNS.get(table.name, ())
    checks_fk = "subscriber_id" in types and table.name != "subscribers"
    if checks_fk and known_subscribers is None:
        raise ValueError(f"{table.name}: the month's accepted subscribers are needed")

    def label(raw: DataFrame) -> DataFrame:
        """Every reason but ``duplicate``."""
        df = raw.select("*", *[_parse(t).alias(_PARSED + t) for t in times])
        # after the extract month: compared as month numbers, not as dates built from the
        # month's text for every row (a date parse and a month addition per row)
        extract_month = month_index_col("month")
        rules: list[tuple[str, Column]] = []
        missing = [_missing(c, types[c] == "string") for c in required_columns(table)]
        rules.append(("missing_key", _any(missing)))
        bad = [F.col(t).isNotNull() & F.col(_PARSED + t).isNull() for t in times]
        rules.append(("bad_timestamp", _any(bad)))
        future = [date_month_index_col(_PARSED + t) > extract_month for t in events]
        rules.append(("future_date", _any(future)))
        if "duration_sec" in types:
            rules.append(("negative_duration", F.col("duration_sec") < 0))
        if checks_fk:
            known = known_subscribers.select(
                F.col("subscriber_id").alias("_known_id"), F.col("month").alias("_known_month")
            )
            df = df.join(
                known,
                (df["subscriber_id"] == known["_known_id"])
                & (df["month"] == known["_known_month"]),
                "left",
            )
            rules.append(("unknown_subscriber", F.col("_known_id").isNull()))
            df = df.drop("_known_month")
        reason = F.lit(None).cast("string")
        for code, condition in reversed(rules):
            reason = F.when(F.coalesce(condition, F.lit(False)), F.lit(code)).otherwise(reason)
        df = df.withColumn(REASON, reason)
        if "_known_id" in df.columns:
            df = df.drop("_known_id")
        return df

    def transform(raw: DataFrame) -> DataFrame:
        return label(raw).transform(_flag_duplicates(table.keys, raw, label))

    return transform


# Repeated keys (and their later copies) are broadcast to every task when at most this many (a
# dirty extract has a few); more than that, and the rows are ranked by a window over every key.
BROADCAST_DUPLICATE_KEYS = 1_000_000


def _flag_duplicates(
    keys: tuple[str, ...], raw: DataFrame, label: Callable[[DataFrame], DataFrame]
) -> Callable[[DataFrame], DataFrame]:
    """Reason ``duplicate`` for every otherwise accepted row whose key was already seen that month
    (the first by source file and row stays).

    Args:
        raw: the extract's rows as read; ``label`` gives them every other reason.

    Why not just a window ordered by file and row over each key: it shuffles and sorts every
    full row (69 s of a 200 s ODS step on the demo's 16.2M usage rows). Here a hash aggregation
    of the narrow key columns of the raw rows finds the keys read more than once (one small
    job); only their rows are labelled and ranked, and their later copies are joined back by
    broadcast, so the wide rows never leave their task. The search reads the raw rows, not the
    labelled ones: labelling every row (times parsed, subscribers looked up) only to count keys
    made it 26 s of the demo's usage step instead of 13, and a key repeated among the accepted
    rows is repeated among the raw rows, so no duplicate is missed. With more repeated
    keys than :data:`BROADCAST_DUPLICATE_KEYS` the window is the cheaper plan and is used.
    """

    def transform(df: DataFrame) -> DataFrame:
        by = ["month", *keys]
        first_seen = Window.partitionBy(*by).orderBy(F.col(SOURCE_FILE), F.col(SOURCE_ROW))
        # one long per row aggregates several times faster than the key strings; a collision
        # only makes two keys candidates, and candidates are compared on the keys themselves
        key_hash = F.xxhash64(*[F.col(c) for c in by]).alias(_KEY_HASH)
        keyed = raw.where(_all_present(keys))
        repeated = (
            keyed.select(key_hash).groupBy(_KEY_HASH).count().where(F.col("count") > 1)
        ).persist()
        n_repeated = repeated.count()
        if n_repeated == 0:
            repeated.unpersist()
            return df
        if n_repeated > BROADCAST_DUPLICATE_KEYS:
            repeated.unpersist()
            # ranked among the accepted rows only: a rejected first copy leaves the next one
            accepted_first = Window.partitionBy(*by, F.col(REASON).isNull()).orderBy(
                F.col(SOURCE_FILE), F.col(SOURCE_ROW)
            )
            duplicate = F.col(REASON).isNull() & (F.row_number().over(accepted_first) > 1)
            return df.withColumn(REASON, F.when(duplicate, "duplicate").otherwise(F.col(REASON)))
        candidates = keyed.withColumn(_KEY_HASH, key_hash).join(
            F.broadcast(repeated.select(_KEY_HASH)), _KEY_HASH, "left_semi"
        )
        later = (
            label(candidates.drop(_KEY_HASH))
            .where(F.col(REASON).isNull())
            .select(*by, SOURCE_FILE, SOURCE_ROW, F.row_number().over(first_seen).alias("_copy"))
            .where(F.col("_copy") > 1)
            .select(F.col(SOURCE_FILE).alias(_DUP_FILE), F.col(SOURCE_ROW).alias(_DUP_ROW))
        ).localCheckpoint()  # computed once here, read by both writes of the extract
        repeated.unpersist()
        joined = df.join(
            F.broadcast(later),
            (df[SOURCE_FILE] == later[_DUP_FILE]) & (df[SOURCE_ROW] == later[_DUP_ROW]),
            "left",
        )
        duplicate = F.col(REASON).isNull() & F.col(_DUP_ROW).isNotNull()
        flagged = joined.withColumn(REASON, F.when(duplicate, "duplicate").otherwise(F.col(REASON)))
        return flagged.drop(_DUP_FILE, _DUP_ROW)

    return transform


def _all_present(keys: tuple[str, ...]) -> Column:
    """Rows whose keys are all there (rows missing one are rejected as ``missing_key``)."""
    present = F.lit(True)
    for key in keys:
        present = present & F.col(key).isNotNull()
    return present


def _any(conditions: list[Column]) -> Column:
    if not conditions:
        return F.lit(False)
    result = F.coalesce(conditions[0], F.lit(False))
    for condition in conditions[1:]:
        result = result | F.coalesce(condition, F.lit(False))
    return result


def accepted_rows(table: Table):
    """Transform from labelled rows to the typed ODS table (accepted rows only)."""
    ods = ODS_TABLES[table.name]
    times = set(_time_columns(table))

    def transform(labelled: DataFrame) -> DataFrame:
        return labelled.where(F.col(REASON).isNull()).select(
            *[
                (F.col(_PARSED + c.name) if c.name in times else F.col(c.name)).alias(c.name)
                for c in ods.columns
            ]
        )

    return transform


def quarantined_rows(table: Table):
    """Transform from labelled rows to ``quarantine_rows`` (rejected rows only)."""
    data = [c.name for c in table.data_columns]

    def transform(labelled: DataFrame) -> DataFrame:
        record = F.to_json(F.struct(*data), {"ignoreNullFields": "false"})
        return (
            labelled.where(F.col(REASON).isNotNull())
            .select(
                F.lit(table.name).alias("source_table"),
                F.col(REASON).alias("reason"),
                relative_source_file(F.col(SOURCE_FILE), table.name).alias("source_file"),
                F.col(SOURCE_ROW).cast("bigint").alias("source_row"),
                record.alias("record_json"),
                F.col("month"),
            )
            .select(*QUARANTINE_ROWS.column_names)
        )

    return transform


def validate(
    raw: DataFrame, table: Table, known_subscribers: DataFrame | None = None
) -> tuple[DataFrame, DataFrame]:
    """Split a raw extract into (accepted ODS rows, quarantine rows)."""
    labelled = raw.transform(label_rows(table, known_subscribers))
    return labelled.transform(accepted_rows(table)), labelled.transform(quarantined_rows(table))
