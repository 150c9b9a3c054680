"""Dirty rows: extra, corrupted copies of clean rows, of the kinds ODS must quarantine.

A dirty row is always added, never substituted, so the clean population (and every truth number
of the manifest) is unchanged once ODS has set the dirty rows aside. Each dirty row has exactly
one kind, carried in the helper column ``_dirty_kind`` (null for clean rows) until the writer
has counted it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.catalog.raw import DIRTY_KINDS
from workbench.generate.extracts import lookup
from workbench.generate.hashing import spark_hash, spark_uniform_from

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

KIND_COLUMN = "_dirty_kind"
UNKNOWN_SUBSCRIBER_BASE = 900_000_000_000  # ids are issued from 1 up: never this high
BAD_TIMESTAMPS = (
    "2026-02-30 25:61:00",
    "N/A",
    "0000-00-00 00:00:00",
    "2026-13-45 10:00:00",
    "20260115 1030",
)
BAD_DATES = ("2026-02-30", "N/A", "0000-00-00", "2026-13-45", "15/01/2026")

_EVENT_KINDS = ("missing_key", "bad_timestamp", "duplicate", "unknown_subscriber", "future_date")
_SNAPSHOT_KINDS = ("missing_key", "bad_timestamp", "duplicate", "future_date")


@dataclass(frozen=True)
class DirtySpec:
    """How one extract gets dirty: its record key, the time column to spoil, the kinds."""

    key: str
    time_column: str
    time_is_date: bool
    kinds: tuple[str, ...]
    fresh_key: bool = True  # corrupted copies get a new record key (string keys only)


DIRTY_SPECS: dict[str, DirtySpec] = {
    "usage": DirtySpec("record_id", "started_at", False, DIRTY_KINDS),
    "bills": DirtySpec("bill_id", "issued_at", False, _EVENT_KINDS),
    "recharges": DirtySpec("recharge_id", "recharged_at", False, _EVENT_KINDS),
    "product_orders": DirtySpec("order_id", "ordered_at", False, _EVENT_KINDS),
    "complaints": DirtySpec("complaint_id", "opened_at", False, _EVENT_KINDS),
    "campaign_contacts": DirtySpec("contact_id", "contacted_at", False, _EVENT_KINDS),
    "campaign_responses": DirtySpec("response_id", "responded_at", False, _EVENT_KINDS),
    "subscribers": DirtySpec(
        "subscriber_id", "activation_date", True, _SNAPSHOT_KINDS, fresh_key=False
    ),
    "cell_quality": DirtySpec("cell_id", "measured_date", True, _SNAPSHOT_KINDS, fresh_key=False),
}


def with_dirty_rows(table: str, seed: int, rate: float) -> Callable[[DataFrame], DataFrame]:
    """Transform adding dirty copies of about ``rate`` of the rows of ``table``.

    The returned DataFrame has the input's columns plus ``_dirty_kind``. Tables without a
    :data:`DIRTY_SPECS` entry (reference extracts) come back clean.
    """
    from pyspark.sql import functions as F

    spec = DIRTY_SPECS.get(table)

    def apply(df: DataFrame) -> DataFrame:
        if spec is None or rate <= 0:
            return df.withColumn(KIND_COLUMN, F.lit(None).cast("string"))
        base = spark_hash(
            seed, f"dirty:{table}", F.col(spec.key), F.col(spec.time_column), F.col("month")
        )
        df = df.withColumn("_dirty_hash", base)

        def r(stream: str) -> Column:
            return spark_uniform_from(F.col("_dirty_hash"), stream)

        picked = r("pick") < rate
        kind_idx = F.floor(r("kind") * len(spec.kinds))
        # One pass over the clean data: each picked row explodes into itself and one copy.
        copies = df.withColumn(
            "_copy",
            F.explode(F.when(picked, F.array(F.lit(0), F.lit(1))).otherwise(F.array(F.lit(0)))),
        ).withColumn(KIND_COLUMN, F.when(F.col("_copy") == 1, lookup(spec.kinds, kind_idx)))
        kind = F.col(KIND_COLUMN)
        columns = []
        for name in df.columns[:-1]:  # all but _dirty_hash
            value = F.col(name)
            if name == spec.key:
                new = value
                if spec.fresh_key:
                    new = F.when(
                        kind.isNotNull() & (kind != "duplicate"), F.concat(F.lit("X"), value)
                    ).otherwise(value)
                value = F.when(
                    kind == "missing_key", F.lit(None).cast(df.schema[name].dataType)
                ).otherwise(new)
            elif name == "subscriber_id":
                unknown = UNKNOWN_SUBSCRIBER_BASE + F.pmod(
                    F.xxhash64(F.lit(seed), F.col(spec.key)), F.lit(1_000_000)
                )
                value = F.when(kind == "unknown_subscriber", unknown).otherwise(value)
            elif name == "duration_sec":
                value = F.when(kind == "negative_duration", -(value + 1)).otherwise(value)
            if name == spec.time_column:
                value = (
                    F.when(kind == "bad_timestamp", _bad_time(spec, r("bad")))
                    .when(kind == "future_date", _future_time(spec, value, r("future")))
                    .otherwise(value)
                )
            columns.append(value.alias(name))
        return copies.select(*columns, kind)

    return apply


def _bad_time(spec: DirtySpec, draw: Column) -> Column:
    from pyspark.sql import functions as F

    values = BAD_DATES if spec.time_is_date else BAD_TIMESTAMPS
    return lookup(values, F.floor(draw * len(values)))


def _future_time(spec: DirtySpec, value: Column, draw: Column) -> Column:
    """A date 1..45 days after the end of the partition month (the time of day kept)."""
    from pyspark.sql import functions as F

    month_end = F.last_day(F.to_date(F.concat(F.col("month"), F.lit("-01"))))
    day = F.date_format(F.date_add(month_end, (1 + F.floor(draw * 45)).cast("int")), "yyyy-MM-dd")
    return day if spec.time_is_date else F.concat(day, F.substring(value, 11, 9))
