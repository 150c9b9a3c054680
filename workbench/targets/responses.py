"""``workbench campaigns load-responses FILE``: validate a responses file and load it.

The file (CSV or Parquet) has ``campaign`` (or ``campaign_id``), ``subscriber_id`` or
``msisdn``, ``responded_at`` and ``response`` (accepted | declined). Every row read is either
accepted into ``ads_target_responses`` or quarantined in ``quarantine_target_responses`` with its
1-based data row and the first reason that applies, in this order:

``missing_key``          no campaign, or neither subscriber_id nor msisdn
``unknown_campaign``     the campaign was never exported (not in ``ads_target_contacts``)
``bad_date``             responded_at unreadable, in the future, or before the contact date
``bad_response``         response is not accepted or declined
``unknown_subscriber``   the subscriber (or the MSISDN's current line) was not in that campaign
``duplicate``            the same campaign, subscriber and time as an earlier row of the file

Reloading a file is idempotent: responses are keyed by campaign, subscriber and time, and the
file's earlier quarantine rows are replaced. A file is known by its full identity, its resolved
path and the sha256 of its bytes: a second ``responses.csv`` from another folder keeps the first
one's quarantined rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from workbench.targets.errors import TargetError
from workbench.targets.tables import replace_months, table_lock
from workbench.warehouse.columns import conform_to
from workbench.warehouse.lock import warehouse_lock

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

RESPONSES = "ads_target_responses"
QUARANTINE = "quarantine_target_responses"
REASONS = (
    "missing_key",
    "unknown_campaign",
    "bad_date",
    "bad_response",
    "unknown_subscriber",
    "duplicate",
)
FIELDS = ["campaign_id", "subscriber_id", "msisdn", "responded_at", "response"]


@dataclass(frozen=True)
class LoadResult:
    source_file: str
    n_read: int
    n_accepted: int
    n_quarantined: int
    by_reason: dict[str, int]
    months: list[str]


def read_responses_file(path: Path) -> pd.DataFrame:
    """The file as strings with ``source_row`` (1-based data row); missing optional columns are
    added empty. A file without ``campaign``/``campaign_id`` or ``responded_at`` is refused."""
    import pandas as pd

    if not path.is_file():
        raise TargetError(f"{path}: no such responses file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path).astype("string").fillna("").astype(object)
    else:
        raise TargetError(f"{path}: responses must be a .csv or .parquet file")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.rename(columns={"campaign": "campaign_id"})
    missing = [c for c in ("campaign_id", "responded_at", "response") if c not in frame.columns]
    if missing:
        raise TargetError(f"{path}: missing column(s) {', '.join(missing)}")
    if "subscriber_id" not in frame.columns and "msisdn" not in frame.columns:
        raise TargetError(f"{path}: needs a subscriber_id or an msisdn column")
    for column in FIELDS:
        if column not in frame.columns:
            frame[column] = ""
    out = frame[FIELDS].astype(object).map(lambda v: None if str(v).strip() == "" else str(v))
    out.insert(0, "source_row", range(1, len(out) + 1))
    return out


def validate_responses(
    rows: DataFrame, contacts: DataFrame, subscribers: DataFrame, now: datetime
) -> DataFrame:
    """Add ``_subscriber_id``, ``_responded_at`` and ``reason`` (null when accepted).

    Args:
        rows: ``source_row`` and the string :data:`FIELDS`.
        contacts: exported contacts (campaign_id, subscriber_id, contact_date).
        subscribers: current lines (subscriber_id, msisdn) to resolve MSISDNs.
    """
    campaigns = contacts.select("campaign_id").distinct().withColumn("_known_campaign", F.lit(True))
    phones = (
        subscribers.where(F.col("msisdn").isNotNull())
        .groupBy("msisdn")
        .agg(F.min("subscriber_id").alias("_by_msisdn"))
    )
    # a subscriber in several waves of a campaign answers it from their first contact on
    members = contacts.groupBy("campaign_id", F.col("subscriber_id").alias("_subscriber_id")).agg(
        F.min("contact_date").alias("_contact_date")
    )
    at = F.col("_responded_at")
    resp = F.lower(F.trim(F.col("response")))
    df = (
        rows.join(campaigns, "campaign_id", "left")
        .join(phones, "msisdn", "left")
        .withColumn(
            "_subscriber_id",
            F.coalesce(F.col("subscriber_id").try_cast("bigint"), F.col("_by_msisdn")),
        )
        .join(members, ["campaign_id", "_subscriber_id"], "left")
        .withColumn("_responded_at", F.try_to_timestamp(F.trim(F.col("responded_at"))))
        .withColumn("response", resp)
    )
    reason = (
        F.when(
            F.col("campaign_id").isNull()
            | (F.col("subscriber_id").isNull() & F.col("msisdn").isNull()),
            "missing_key",
        )
        .when(F.col("_known_campaign").isNull(), "unknown_campaign")
        .when(at.isNull() | (at > F.lit(now.replace(tzinfo=None))), "bad_date")
        .when(~resp.isin("accepted", "declined") | resp.isNull(), "bad_response")
        .when(F.col("_contact_date").isNull(), "unknown_subscriber")
        .when(F.to_date(at) < F.col("_contact_date"), "bad_date")
    )
    df = df.withColumn("reason", reason)
    # only rows that passed every other check compete for "first of its key"
    first = Window.partitionBy(
        "campaign_id", "_subscriber_id", "_responded_at", F.col("reason").isNull()
    ).orderBy("source_row")
    dup = F.when(F.col("reason").isNull(), F.row_number().over(first))
    return df.withColumn("reason", F.when(dup > 1, F.lit("duplicate")).otherwise(F.col("reason")))


def accepted_rows(validated: DataFrame, source_file: str, loaded_at: datetime) -> DataFrame:
    """The rows without a reason as ``ads_target_responses``."""
    key = F.concat_ws(
        "|", "campaign_id", F.col("_subscriber_id").cast("string"), F.col("_responded_at")
    )
    out = validated.where(F.col("reason").isNull()).select(
        F.substring(F.sha2(key, 256), 1, 32).alias("response_id"),
        "campaign_id",
        F.col("_subscriber_id").alias("subscriber_id"),
        F.col("_responded_at").alias("responded_at"),
        "response",
        (F.col("response") == "accepted").alias("is_accepted"),
        F.lit(source_file).alias("source_file"),
        F.col("source_row").cast("bigint").alias("source_row"),
        F.lit(loaded_at).alias("loaded_at"),
        F.date_format("_responded_at", "yyyy-MM").alias("month"),
    )
    return out.transform(conform_to(RESPONSES))


@dataclass(frozen=True)
class SourceFile:
    """A responses file's identity: its name (shown), resolved path and sha256."""

    name: str
    path: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> SourceFile:
        from workbench.targets.writers import checksum

        return cls(path.name, str(path.resolve()), checksum(path))


def quarantined_rows(validated: DataFrame, source: SourceFile, loaded_at: datetime) -> DataFrame:
    """The rows with a reason as ``quarantine_target_responses`` (fields as read)."""
    out = validated.where(F.col("reason").isNotNull()).select(
        F.lit(source.name).alias("source_file"),
        F.col("source_row").cast("bigint").alias("source_row"),
        "reason",
        "campaign_id",
        "subscriber_id",
        "msisdn",
        "responded_at",
        "response",
        F.lit(loaded_at).alias("loaded_at"),
        F.lit(source.path).alias("source_path"),
        F.lit(source.sha256).alias("source_sha256"),
        F.lit(loaded_at.strftime("%Y-%m")).alias("month"),
    )
    return out.transform(conform_to(QUARANTINE))


def load_responses(
    spark: SparkSession, settings: Settings, path: Path, *, now: datetime | None = None
) -> LoadResult:
    """Validate ``path`` and load it (see the module doc); returns the counts.

    Holds the warehouse write lock throughout: the responses are validated against the contacts
    as they are when the load writes, not as an export running meanwhile leaves them.
    """
    with warehouse_lock(settings, f"load responses {path.name}"):
        return _load_holding_lock(spark, settings, path, now)


def _load_holding_lock(
    spark: SparkSession, settings: Settings, path: Path, now: datetime | None
) -> LoadResult:
    from workbench.warehouse.storage import read_table

    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    frame = read_responses_file(path)
    source = SourceFile.of(path)
    source_file = source.name
    schema = "source_row bigint, " + ", ".join(f"{c} string" for c in FIELDS)
    rows = spark.createDataFrame(frame.itertuples(index=False, name=None), schema)
    contacts = read_table(spark, settings, "ads_target_contacts")
    subscribers = read_table(spark, settings, "dwd_dim_subscriber").where(F.col("is_current"))
    validated = validate_responses(rows, contacts, subscribers, now).localCheckpoint()
    accepted = accepted_rows(validated, source_file, now).localCheckpoint()
    rejected = quarantined_rows(validated, source, now).localCheckpoint()
    by_reason = {
        r["reason"]: int(r["n"])
        for r in rejected.groupBy("reason").agg(F.count("*").alias("n")).collect()
    }
    months = sorted(r["month"] for r in accepted.select("month").distinct().collect())
    n_accepted, n_rejected = accepted.count(), rejected.count()
    if n_accepted + n_rejected != len(frame):
        raise TargetError(f"{path}: {len(frame)} rows read but {n_accepted + n_rejected} handled")
    if months:
        with table_lock(settings, RESPONSES):
            existing = read_table(spark, settings, RESPONSES, months)
            kept = existing.join(accepted.select("response_id"), "response_id", "left_anti")
            replace_months(
                settings, RESPONSES, kept.unionByName(accepted).localCheckpoint(), months
            )
    with table_lock(settings, QUARANTINE):
        existing = conformed_quarantine(read_table(spark, settings, QUARANTINE))
        same_file = (F.col("source_path") == F.lit(source.path)) & (
            F.col("source_sha256") == F.lit(source.sha256)
        )
        # this file's earlier rejects, in whichever month they were loaded, are replaced
        earlier = [
            r["month"] for r in existing.where(same_file).select("month").distinct().collect()
        ]
        months_q = sorted({now.strftime("%Y-%m"), *earlier})
        kept = existing.where(F.col("month").isin(months_q) & ~same_file)
        merged = kept.unionByName(rejected).localCheckpoint()
        if n_rejected or earlier:
            replace_months(settings, QUARANTINE, merged, months_q)
    log.info(
        "%s: %d read, %d loaded, %d quarantined %s",
        source_file,
        len(frame),
        n_accepted,
        n_rejected,
        by_reason,
    )
    return LoadResult(source_file, len(frame), n_accepted, n_rejected, by_reason, months)


def conformed_quarantine(rows: DataFrame) -> DataFrame:
    """Quarantine rows with the identity of rows written before files had one filled (the
    name as the path, an empty checksum), so a rewrite keeps its contracts."""
    return rows.withColumn(
        "source_path", F.coalesce(F.col("source_path"), F.col("source_file"))
    ).withColumn("source_sha256", F.coalesce(F.col("source_sha256"), F.lit("")))
