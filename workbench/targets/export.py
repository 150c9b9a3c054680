"""``workbench targets export``: from a scores or offers mart to the files marketing receives.

Steps: candidates of the period (latest month by default) -> region -> suppression rules in the
configured order (each counted) -> duplicates removed (best rank kept) -> ranked, top ``size``
-> control group by hash -> files (treated only in the marketing file, the control group in a
``_control`` file beside it) -> the campaign (offer, costs) recorded in ``ads_target_campaigns``
and its contacts in ``ads_target_contacts`` -> one export-log record. The list content
depends only on the warehouse, the settings and the arguments, so a re-run gives the same
people in the same groups (the log records each run).

Dates: the export's ``as_of`` date (default: the first day after the period) is the contact
date, the reference for open complaints and for "contacted within N days", and its month is
the partition of the recorded contacts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from workbench.months import month_end, parse_month
from workbench.targets import campaigns, control, select, suppress
from workbench.targets.errors import TargetError
from workbench.targets.log import LOG_NAME, append_record
from workbench.targets.privacy import check_name, masked_msisdn, safe_output_path
from workbench.targets.tables import replace_months, table_lock
from workbench.targets.writers import FORMATS, checksum, write_list

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings, SuppressionSettings

log = logging.getLogger(__name__)

SOURCE_TABLES = {"churn": "ads_churn_scores", "offers": "ads_offers"}
CONTACTS = "ads_target_contacts"
LIST_COLUMNS = [
    "list_rank",
    "campaign_id",
    "subscriber_id",
    "msisdn",
    "region_id",
    "segment",
    "offer_product_id",
    "score",
    "reason",
    "assignment",
    "contact_channel",
]


@dataclass(frozen=True)
class SuppressionInputs:
    """Reference data of the rules (each with the columns its rule needs)."""

    subscribers: DataFrame  # subscriber_id, is_do_not_contact
    complaints: DataFrame  # subscriber_id, opened_at, resolved_at
    bills: DataFrame  # subscriber_id, arrears_cny (the period's bills)
    contacts: DataFrame  # campaign_id, subscriber_id, contact_date (all campaigns)
    holdings: DataFrame  # subscriber_id, product_id (held in the period)


def suppression_rules(
    config: SuppressionSettings,
    inputs: SuppressionInputs,
    *,
    source: str,
    campaign: str,
    as_of: date,
) -> list[tuple[str, suppress.Transform]]:
    """The enabled rules in their fixed order: do-not-contact (always), open complaint,
    arrears, contacted recently, already holds the offer (offers source only)."""
    rules = [("do_not_contact", suppress.suppress_do_not_contact(inputs.subscribers))]
    if config.open_complaint:
        rules.append(
            ("open_complaint", suppress.suppress_open_complaints(inputs.complaints, as_of))
        )
    if config.arrears:
        rules.append(
            ("arrears", suppress.suppress_arrears(inputs.bills, config.arrears_threshold_cny))
        )
    if config.recent_contact:
        rules.append(
            (
                "recent_contact",
                suppress.suppress_recent_contacts(
                    inputs.contacts, as_of, config.contacted_within_days, campaign
                ),
            )
        )
    if config.holds_offer and source == "offers":
        rules.append(("holds_offer", suppress.suppress_holders(inputs.holdings)))
    return rules


def build_target_list(
    candidates: DataFrame,
    rules: list[tuple[str, suppress.Transform]],
    *,
    campaign: str,
    control_share: float,
    size: int | None = None,
    region: str | None = None,
) -> tuple[DataFrame, list[suppress.RuleCount]]:
    """Candidates -> the ranked, grouped list, with a count for every step.

    Returns:
        the list (candidate columns + ``list_rank``, ``assignment``, ``is_treated``) and the
        counts: ``region``, each rule, ``deduplicate``, ``size`` (rows before and after).
    """
    counts: list[suppress.RuleCount] = []
    steps = [("region", select.in_region(region)), *rules]
    kept, counts = suppress.apply_rules(candidates, steps)
    deduped = select.drop_duplicate_subscribers(kept).localCheckpoint()
    n_dedup = deduped.count()
    counts.append(suppress.RuleCount("deduplicate", counts[-1].after, n_dedup))
    ranked = deduped.transform(select.rank_list(size)).localCheckpoint()
    counts.append(suppress.RuleCount("size", n_dedup, ranked.count()))
    return ranked.transform(control.assign_groups(campaign, control_share)), counts


def list_rows(
    targets: DataFrame, subscribers: DataFrame, *, campaign: str, channel: str, mask: bool
) -> DataFrame:
    """The file columns: MSISDN joined from ``subscribers`` and masked unless ``mask`` is off."""
    phones = subscribers.select("subscriber_id", "msisdn").dropDuplicates(["subscriber_id"])
    rows = targets.join(phones, "subscriber_id", "left")
    if mask:
        rows = rows.withColumn("msisdn", masked_msisdn("msisdn"))
    return (
        rows.withColumn("campaign_id", F.lit(campaign))
        .withColumn("contact_channel", F.lit(channel))
        .select(*LIST_COLUMNS)
        .orderBy("list_rank")
    )


def contact_rows(
    targets: DataFrame,
    *,
    campaign: str,
    source: str,
    period: str,
    as_of: date,
    channel: str,
    export_id: str,
) -> DataFrame:
    """The list as ``ads_target_contacts`` rows (treated and control)."""
    from workbench.catalog import get_table

    key = F.concat(F.lit(f"{campaign}|"), F.col("subscriber_id").cast("string"))
    out = (
        targets.withColumn("contact_id", F.substring(F.sha2(key, 256), 1, 32))
        .withColumn("campaign_id", F.lit(campaign))
        .withColumn("contacted_at", F.lit(datetime.combine(as_of, time.min)))
        .withColumn("contact_date", F.lit(as_of))
        .withColumn("contact_channel", F.lit(channel))
        .withColumn("source", F.lit(source))
        .withColumn("period", F.lit(period))
        .withColumn("export_id", F.lit(export_id))
        .withColumn("month", F.lit(as_of.strftime("%Y-%m")))
    )
    table = get_table(CONTACTS)
    return out.select(*[F.col(c.name).cast(c.type).alias(c.name) for c in table.columns])


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    campaign: str
    source: str
    period: str
    as_of: str
    exported_at: str
    counts: list[dict[str, Any]]
    n_treated: int
    n_control: int
    file: str
    checksum: str
    control_file: str
    control_checksum: str
    format: str
    authorised: bool
    region: str | None = None
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _latest_month(settings: Settings, table: str) -> str:
    from workbench.warehouse.storage import table_months

    months = table_months(settings, table)
    if not months:
        raise TargetError(f"{table}: no month has been written yet; run the subject first")
    return months[-1]


def _read(spark: SparkSession, settings: Settings, name: str, months: list[str] | None = None):
    from workbench.warehouse.storage import read_table

    return read_table(spark, settings, name, months)


def _inputs(spark: SparkSession, settings: Settings, period: str) -> SuppressionInputs:
    from workbench.warehouse.storage import table_months

    subscribers = _read(spark, settings, "dwd_dim_subscriber").where(F.col("is_current"))
    upto = [m for m in table_months(settings, "dwd_fct_complaint") if m <= period]
    operator_contacts = _read(spark, settings, "dwd_fct_campaign_contact")
    exported = _read(spark, settings, CONTACTS)
    cols = ["campaign_id", "subscriber_id", "contact_date"]
    return SuppressionInputs(
        subscribers=subscribers.select("subscriber_id", "msisdn", "is_do_not_contact"),
        complaints=_read(spark, settings, "dwd_fct_complaint", upto),
        bills=_read(spark, settings, "dwd_fct_bill", [period]),
        contacts=operator_contacts.select(*cols).unionByName(exported.select(*cols)),
        holdings=_read(spark, settings, "dwd_fct_product_holding", [period]),
    )


def export_targets(
    spark: SparkSession,
    settings: Settings,
    *,
    campaign: str,
    source: str,
    size: int | None = None,
    region: str | None = None,
    fmt: str = "csv",
    authorised: bool = False,
    period: str | None = None,
    as_of: date | None = None,
    file_name: str | None = None,
    now: datetime | None = None,
    where: str | None = None,
    offer: str | None = None,
    cost_per_contact_cny: float | None = None,
    offer_cost_cny: float | None = None,
    campaign_name: str | None = None,
) -> ExportResult:
    """Select, suppress, split, write, record and log one target list (see the module doc).

    Args:
        file_name: the marketing file's name inside ``targets.output`` (default
            ``<campaign>_<period>.<fmt>``); names that would leave the folder are refused.
        authorised: write full MSISDNs (otherwise masked, 138****5678).
        now: the export time for the log (default: the clock, UTC).
        where: an extra Spark SQL filter over the source mart's columns (a dashboard's
            selection, e.g. ``"offer_product_id = 'VIDEO' AND region_id IN ('GZ')"``).
        offer: the retention offer of a churn list (written on its rows and contacts).
        cost_per_contact_cny, offer_cost_cny: the campaign's costs for its ROI (default:
            ``targets.cost_per_contact_cny`` / ``targets.offer_cost_cny``).
        campaign_name: display name of the campaign in reports (default: ``campaign``).
    """
    check_name(campaign)
    if source not in SOURCE_TABLES:
        raise TargetError(f"--source {source!r}: choose churn or offers")
    if fmt not in FORMATS:
        raise TargetError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if size is not None and size < 1:
        raise TargetError(f"--size {size}: must be a positive number")
    terms = campaigns.resolve_terms(
        settings,
        source=source,
        offer=offer,
        cost_per_contact_cny=cost_per_contact_cny,
        offer_cost_cny=offer_cost_cny,
        name=campaign_name,
    )
    campaigns.check_not_operator_campaign(
        _read(spark, settings, "ods_marketing__campaigns"), campaign
    )
    campaigns.check_offer(_read(spark, settings, "dwd_dim_product"), terms)
    cfg = settings.targets
    table = SOURCE_TABLES[source]
    period = parse_month(period) if period else _latest_month(settings, table)
    as_of = as_of or month_end(period) + timedelta(days=1)
    now = now or datetime.now(UTC)
    folder = settings.targets_dir
    name = file_name or f"{campaign}_{period}.{fmt}"
    path = safe_output_path(folder, name)
    stem, dot, ext = path.name.rpartition(".")
    control_path = safe_output_path(folder, f"{stem}_control.{ext}" if dot else f"{ext}_control")
    export_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"

    mart = _read(spark, settings, table, [period])
    if where:
        mart = mart.where(F.expr(where))
    candidates = (
        select.churn_candidates(mart) if source == "churn" else select.offer_candidates(mart)
    )
    inputs = _inputs(spark, settings, period)
    rules = suppression_rules(
        cfg.suppression, inputs, source=source, campaign=campaign, as_of=as_of
    )
    targets, counts = build_target_list(
        candidates,
        rules,
        campaign=campaign,
        control_share=cfg.control_share,
        size=size,
        region=region,
    )
    if counts[-1].after > cfg.max_rows:
        raise TargetError(
            f"the list has {counts[-1].after} rows, more than targets.max_rows={cfg.max_rows}; "
            "pass --size or --region"
        )
    if terms.offer_product_id is not None:
        # a churn list's rows and contacts carry the campaign's retention offer
        targets = targets.withColumn("offer_product_id", F.lit(terms.offer_product_id))
    targets = targets.localCheckpoint()
    rows = list_rows(
        targets,
        inputs.subscribers,
        campaign=campaign,
        channel=cfg.contact_channel,
        mask=cfg.mask_msisdn and not authorised,
    )
    # the list is bounded by max_rows: it is the deliverable, so it comes to the driver
    frame = rows.toPandas()
    treated = frame[frame["assignment"] == "treatment"].reset_index(drop=True)
    held_out = frame[frame["assignment"] == "control"].reset_index(drop=True)
    digest = write_list(treated, path, fmt)  # type: ignore[arg-type]
    control_digest = write_list(held_out, control_path, fmt, sheet="control")  # type: ignore[arg-type]

    contacts = contact_rows(
        targets,
        campaign=campaign,
        source=source,
        period=period,
        as_of=as_of,
        channel=cfg.contact_channel,
        export_id=export_id,
    )
    definition = campaigns.campaign_row(
        spark,
        terms,
        campaign=campaign,
        source=source,
        period=period,
        as_of=as_of,
        control_share=cfg.control_share,
        export_id=export_id,
        exported_at=now,
    )
    campaigns.record_campaign(spark, settings, definition, campaign)
    record_contacts(spark, settings, contacts, campaign, as_of.strftime("%Y-%m"))

    result = ExportResult(
        export_id=export_id,
        campaign=campaign,
        source=source,
        period=period,
        as_of=as_of.isoformat(),
        exported_at=now.isoformat(),
        counts=[asdict(c) | {"removed": c.removed} for c in counts],
        n_treated=len(treated),
        n_control=len(held_out),
        file=str(path),
        checksum=digest,
        control_file=str(control_path),
        control_checksum=control_digest,
        format=fmt,
        authorised=authorised,
        region=region,
        size=size,
        extra={
            "control_share": cfg.control_share,
            "masked": cfg.mask_msisdn and not authorised,
            "offer_product_id": terms.offer_product_id,
            "cost_per_contact_cny": terms.cost_per_contact_cny,
            "offer_cost_cny": terms.offer_cost_cny,
            **({"where": where} if where else {}),
        },
    )
    append_record(folder / LOG_NAME, result.to_record())
    log.info(
        "exported %s: %d treated, %d control -> %s", campaign, len(treated), len(held_out), path
    )
    return result


def record_contacts(
    spark: SparkSession, settings: Settings, contacts: DataFrame, campaign: str, month: str
) -> None:
    """Replace the campaign's rows in ``ads_target_contacts`` by ``contacts`` (every month the
    campaign had rows in, plus ``month``), atomically per partition."""
    with table_lock(settings, CONTACTS):
        existing = _read(spark, settings, CONTACTS)
        old_months = [
            r["month"]
            for r in existing.where(F.col("campaign_id") == campaign)
            .select("month")
            .distinct()
            .collect()
        ]
        months = sorted({month, *old_months})
        kept = existing.where(F.col("month").isin(months) & (F.col("campaign_id") != campaign))
        replace_months(settings, CONTACTS, kept.unionByName(contacts).localCheckpoint(), months)


def file_checksum_ok(path: str, expected: str) -> bool:
    """Whether a file still has the checksum the export log recorded."""
    from pathlib import Path

    return Path(path).is_file() and checksum(Path(path)) == expected
