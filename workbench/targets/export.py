"""``workbench targets export``: from a scores or offers mart to the files marketing receives.

Steps: candidates of the period (latest month by default) -> region -> suppression rules in the
configured order (each counted) -> duplicates removed (best rank kept) -> ranked, top ``size``
-> control group by hash -> files (treated only in the marketing file, the control group in a
``_control`` file beside it), the wave's contacts in ``ads_target_contacts``, the wave in
``ads_target_waves``, the campaign (owner, offer, costs, regions) in ``ads_target_campaigns`` and
one export-log line naming the user, campaign, wave, counts by rule and the files' sha256.

Campaigns have owners and waves (see :mod:`workbench.targets.campaigns`): the first export of a
campaign id creates it; a later one by the same owner adds or re-runs a wave; anyone else is
refused. An export is one transaction (see :mod:`workbench.targets.transaction`): it holds the
warehouse write lock from reading the contacts it suppresses against to publishing, and its
rows, files and log line appear together or not at all. The list depends only on the warehouse,
the settings and the arguments, so a re-run of a wave gives the same people in the same groups
and changes nothing (the log records each run).

Dates: the export's ``as_of`` date (default: the first day after the period) is the contact
date, the reference for open complaints and for "contacted within N days", and its month is
the partition of the recorded contacts.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from workbench.filters import Condition, spark_condition, to_records
from workbench.months import month_end, parse_month
from workbench.targets import campaigns, control, select, suppress
from workbench.targets.errors import TargetError
from workbench.targets.names import (
    check_name,
    check_owner,
    default_wave_id,
    operator_name,
    safe_output_path,
)
from workbench.targets.privacy import masked_msisdn
from workbench.targets.tables import stage_replacements
from workbench.targets.transaction import Hook, Transaction, recover_pending
from workbench.targets.writers import FORMATS, checksum, write_temp
from workbench.warehouse.columns import conform_to

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings, SuppressionSettings

log = logging.getLogger(__name__)

SOURCE_TABLES = {"churn": "ads_churn_scores", "offers": "ads_offers"}
CONTACTS = "ads_target_contacts"
#: columns of the list that identify it: a re-run with the same values is the same wave
LIST_IDENTITY = ["subscriber_id", "assignment", "list_rank", "offer_product_id"]
ACTIONS = ("create", "add_wave", "rerun", "replace_wave")
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
    contacts: DataFrame  # campaign_id, wave_id, subscriber_id, contact_date (all campaigns)
    holdings: DataFrame  # subscriber_id, product_id (held in the period)


def suppression_rules(
    config: SuppressionSettings,
    inputs: SuppressionInputs,
    *,
    source: str,
    campaign: str,
    as_of: date,
    wave: str | None = None,
) -> list[tuple[str, suppress.Rule]]:
    """The enabled rules in their fixed order: do-not-contact (always), open complaint,
    arrears, contacted recently (by anyone but this very wave), already holds the offer
    (offers source only)."""
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
                    inputs.contacts, as_of, config.contacted_within_days, campaign, wave
                ),
            )
        )
    if config.holds_offer and source == "offers":
        rules.append(("holds_offer", suppress.suppress_holders(inputs.holdings)))
    return rules


def build_target_list(
    candidates: DataFrame,
    rules: list[tuple[str, suppress.Rule]],
    *,
    campaign: str,
    control_share: float,
    size: int | None = None,
    region: str | None = None,
) -> tuple[DataFrame, list[suppress.RuleCount]]:
    """Candidates -> the ranked, grouped list, with a count for every step.

    One checkpoint of the marked candidates and one aggregation over it give every count: the
    rows each rule removed, and the subscribers left (one row each once duplicates are
    dropped). The list itself is lazy; the caller materialises it once.

    Returns:
        the list (candidate columns + ``list_rank``, ``assignment``, ``is_treated``) and the
        counts: ``region``, each rule, ``deduplicate``, ``size`` (rows before and after).
    """
    steps = [("region", select.in_region(region)), *rules]
    marked = suppress.mark_candidates(candidates, steps).localCheckpoint()
    removed_by = F.col(suppress.REMOVED_BY)
    tally = (
        marked.groupBy(removed_by)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            # drop_duplicate_subscribers keeps one row per subscriber_id, null included
            (
                F.count_distinct("subscriber_id")
                + F.max(F.col("subscriber_id").isNull().cast("int"))
            ).alias("subscribers"),
        )
        .collect()
    )
    counts = suppress.rule_counts({r[suppress.REMOVED_BY]: r["rows"] for r in tally}, steps)
    n_dedup = next((r["subscribers"] for r in tally if r[suppress.REMOVED_BY] is None), 0)
    counts.append(suppress.RuleCount("deduplicate", counts[-1].after, n_dedup))
    # the list keeps the top ``size`` rows: exactly min(n, size) of them
    n_listed = n_dedup if size is None else min(n_dedup, size)
    counts.append(suppress.RuleCount("size", n_dedup, n_listed))
    listed = (
        suppress.kept_rows(marked)
        .transform(select.drop_duplicate_subscribers)
        .transform(select.rank_list(size))
        .transform(control.assign_groups(campaign, control_share))
    )
    return listed, counts


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
    wave: str,
    source: str,
    period: str,
    as_of: date,
    channel: str,
    export_id: str,
) -> DataFrame:
    """The list as ``ads_target_contacts`` rows (treated and control) of one wave."""
    key = F.concat(F.lit(f"{campaign}|{wave}|"), F.col("subscriber_id").cast("string"))
    out = (
        targets.withColumn("contact_id", F.substring(F.sha2(key, 256), 1, 32))
        .withColumn("campaign_id", F.lit(campaign))
        .withColumn("wave_id", F.lit(wave))
        .withColumn("contacted_at", F.lit(datetime.combine(as_of, time.min)))
        .withColumn("contact_date", F.lit(as_of))
        .withColumn("contact_channel", F.lit(channel))
        .withColumn("source", F.lit(source))
        .withColumn("period", F.lit(period))
        .withColumn("export_id", F.lit(export_id))
        .withColumn("month", F.lit(as_of.strftime("%Y-%m")))
    )
    return out.transform(conform_to(CONTACTS))


def list_digest(frame: pd.DataFrame) -> str:
    """sha256 of what identifies a list (:data:`LIST_IDENTITY`, rows in subscriber order),
    whatever the file format, masking or export time."""
    rows = frame[LIST_IDENTITY].sort_values("subscriber_id").astype(str)
    return hashlib.sha256(rows.to_csv(index=False).encode()).hexdigest()


@dataclass(frozen=True)
class ExportResult:
    """The export-log line of one export (also what the CLI and the dashboards show)."""

    export_id: str
    user: str
    action: str  # create | add_wave | rerun | replace_wave
    campaign: str
    wave_id: str
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
    list_sha256: str
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
    operator_contacts = _read(spark, settings, "dwd_fct_campaign_contact").withColumn(
        "wave_id", F.lit(None).cast("string")
    )
    exported = campaigns.conformed_contacts(_read(spark, settings, CONTACTS))
    cols = ["campaign_id", "wave_id", "subscriber_id", "contact_date"]
    return SuppressionInputs(
        subscribers=subscribers.select("subscriber_id", "msisdn", "is_do_not_contact"),
        complaints=_read(spark, settings, "dwd_fct_complaint", upto),
        bills=_read(spark, settings, "dwd_fct_bill", [period]),
        contacts=operator_contacts.select(*cols).unionByName(exported.select(*cols)),
        holdings=_read(spark, settings, "dwd_fct_product_holding", [period]),
    )


@dataclass(frozen=True)
class ExportRequest:
    """The arguments of one export, checked (see :func:`export_targets`)."""

    campaign: str
    source: str
    owner: str
    wave: str | None
    replace_wave: bool
    scope: tuple[str, ...] | None  # regions the export may contact (None: every region)
    region: str | None
    size: int | None
    fmt: str
    authorised: bool
    period: str | None
    as_of: date | None
    file_name: str | None
    now: datetime
    filters: tuple[Condition, ...]
    offer: str | None
    cost_per_contact_cny: float | None
    offer_cost_cny: float | None
    campaign_name: str | None


def export_targets(
    spark: SparkSession,
    settings: Settings,
    *,
    campaign: str,
    source: str,
    owner: str | None = None,
    wave: str | None = None,
    replace_wave: bool = False,
    regions: Sequence[str] | None = None,
    size: int | None = None,
    region: str | None = None,
    fmt: str = "csv",
    authorised: bool = False,
    period: str | None = None,
    as_of: date | None = None,
    file_name: str | None = None,
    now: datetime | None = None,
    filters: Sequence[Condition] = (),
    offer: str | None = None,
    cost_per_contact_cny: float | None = None,
    offer_cost_cny: float | None = None,
    campaign_name: str | None = None,
    hook: Hook | None = None,
) -> ExportResult:
    """Select, suppress, split, write, record and log one wave of a campaign's target list, as
    one transaction (see the module doc).

    Args:
        owner: who exports (the dashboard user; default: the OS user running the CLI). The
            first export of ``campaign`` makes them its owner; nobody else may export under it.
        wave: the wave's id (default: ``<contact date>[_<region>]``).
        replace_wave: replace an existing wave whose list differs (refused otherwise).
        regions: the regions the exporter may contact (a dashboard viewer's; None: all). A new
            campaign is created for them, a later wave must stay within the campaign's.
        file_name: the marketing file's name inside ``targets.output`` (default
            ``<campaign>_<wave>.<fmt>``); a name that would leave the folder, is reserved (the
            export log) or is another wave's file is refused.
        authorised: write full MSISDNs (otherwise masked, 138****5678).
        now: the export time for the log (default: the clock, UTC).
        filters: conditions over the source mart's columns (a dashboard's selection), applied
            as bound values (:mod:`workbench.filters`).
        offer: the retention offer of a churn list (written on its rows and contacts).
        cost_per_contact_cny, offer_cost_cny: the campaign's costs for its ROI (default:
            ``targets.cost_per_contact_cny`` / ``targets.offer_cost_cny``).
        campaign_name: display name of the campaign in reports (default: ``campaign``).
        hook: called with each step's name (:data:`workbench.targets.transaction.STEPS`), for
            tests that stop an export there.

    Raises:
        TargetError: a bad argument, a campaign owned by someone else, a wave that would be
            replaced without ``replace_wave``; the message names the option or the campaign.
        WarehouseBusy: another writer held the warehouse for longer than the lock's wait.
    """
    from workbench.warehouse.lock import warehouse_lock

    request = ExportRequest(
        campaign=check_name(campaign),
        source=source,
        owner=check_owner(owner if owner is not None else operator_name()),
        wave=check_name(wave, "--wave") if wave is not None else None,
        replace_wave=replace_wave,
        scope=campaigns.export_scope(regions, region),
        region=region,
        size=size,
        fmt=fmt,
        authorised=authorised,
        period=period,
        as_of=as_of,
        file_name=file_name,
        now=now or datetime.now(UTC),
        filters=tuple(filters),
        offer=offer,
        cost_per_contact_cny=cost_per_contact_cny,
        offer_cost_cny=offer_cost_cny,
        campaign_name=campaign_name,
    )
    if source not in SOURCE_TABLES:
        raise TargetError(f"--source {source!r}: choose churn or offers")
    if fmt not in FORMATS:
        raise TargetError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if size is not None and size < 1:
        raise TargetError(f"--size {size}: must be a positive number")
    if region is not None:
        check_name(region, "--region")
    if file_name is not None:
        safe_output_path(settings.targets_dir, file_name, fmt)
    campaigns.check_not_operator_campaign(
        _read(spark, settings, "ods_marketing__campaigns"), request.campaign
    )
    # fail fast, before waiting for the lock; checked again under it
    campaigns.check_owner_may_write(
        campaigns.read_campaign(_read(spark, settings, campaigns.CAMPAIGNS), request.campaign),
        request.campaign,
        request.owner,
    )
    with warehouse_lock(settings, f"export {request.campaign} by {request.owner}"):
        recover_pending(settings)
        return _export_holding_lock(spark, settings, request, hook)


def _wave_action(
    previous: dict[str, Any] | None, digest: str, request: ExportRequest, wave: str, new: bool
) -> str:
    """What this export does to its wave (one of :data:`ACTIONS`), or a refusal."""
    campaign = request.campaign
    if previous is None:
        return "create" if new else "add_wave"
    if previous["status"] == "active" and previous["list_sha256"] == digest:
        return "rerun"
    if request.replace_wave:
        return "replace_wave"
    if previous["status"] != "active":
        raise TargetError(
            f"wave {wave!r} of campaign {campaign!r} was withdrawn by "
            f"{previous['withdrawn_by']!r}; pass --replace-wave to export it again, or --wave "
            "to name a new wave"
        )
    raise TargetError(
        f"wave {wave!r} of campaign {campaign!r} already holds a different list "
        f"({previous['n_treated']} treated, {previous['n_control']} control, export "
        f"{previous['export_id']}); pass --replace-wave to replace it, or --wave to name a new "
        "wave"
    )


def _check_files_free(waves: DataFrame, paths: list[Path], campaign: str, wave: str) -> None:
    """Refuse a file name another wave's files carry (it would overwrite what they were shown)."""
    names = [str(p) for p in paths]
    other = waves.where(
        ~((F.col("campaign_id") == F.lit(campaign)) & (F.col("wave_id") == F.lit(wave)))
        & (F.col("status") == F.lit("active"))
        & (F.col("file").isin(names) | F.col("control_file").isin(names))
    )
    hit = other.select("campaign_id", "wave_id", "owner").limit(1).collect()
    if hit:
        row = hit[0]
        raise TargetError(
            f"--file-name: that file belongs to wave {row['wave_id']!r} of campaign "
            f"{row['campaign_id']!r} (owner {row['owner']!r}); choose another name"
        )


def _export_holding_lock(
    spark: SparkSession, settings: Settings, request: ExportRequest, hook: Hook | None
) -> ExportResult:
    """The export proper, holding the warehouse write lock (see :func:`export_targets`)."""
    cfg = settings.targets
    campaign, source, owner = request.campaign, request.source, request.owner
    all_campaigns = campaigns.conformed_campaigns(_read(spark, settings, campaigns.CAMPAIGNS))
    existing = campaigns.read_campaign(all_campaigns, campaign)
    campaigns.check_owner_may_write(existing, campaign, owner)
    if existing is None:
        terms = campaigns.resolve_terms(
            settings,
            source=source,
            offer=request.offer,
            cost_per_contact_cny=request.cost_per_contact_cny,
            offer_cost_cny=request.offer_cost_cny,
            name=request.campaign_name,
        )
        campaigns.check_offer(_read(spark, settings, "dwd_dim_product"), terms)
        control_share, campaign_regions = cfg.control_share, request.scope
        created_at = request.now
    else:
        campaigns.check_same_terms(
            existing,
            source=source,
            offer=request.offer,
            cost_per_contact_cny=request.cost_per_contact_cny,
            offer_cost_cny=request.offer_cost_cny,
            name=request.campaign_name,
        )
        campaigns.check_in_campaign_regions(existing, request.scope)
        terms, control_share = existing.terms, existing.control_share
        campaign_regions, created_at = existing.regions, existing.created_at or request.now
    table = SOURCE_TABLES[source]
    period = parse_month(request.period) if request.period else _latest_month(settings, table)
    as_of = request.as_of or month_end(period) + timedelta(days=1)
    scope = request.scope
    single = scope[0] if scope is not None and len(scope) == 1 else None
    wave = request.wave or default_wave_id(as_of, single)
    this_wave = (F.col("campaign_id") == F.lit(campaign)) & (F.col("wave_id") == F.lit(wave))
    all_waves = _read(spark, settings, campaigns.WAVES)
    found = all_waves.where(this_wave).limit(1).collect()
    previous = found[0].asDict() if found else None

    folder = settings.targets_dir
    fmt = request.fmt
    path = safe_output_path(folder, request.file_name or f"{campaign}_{wave}.{fmt}", fmt)
    stem = path.name[: -len(f".{fmt}")]
    control_path = safe_output_path(folder, f"{stem}_control.{fmt}", fmt)
    _check_files_free(all_waves, [path, control_path], campaign, wave)

    mart = _read(spark, settings, table, [period])
    if request.filters:
        mart = mart.where(spark_condition(request.filters))
    if scope is not None and "region_id" in mart.columns:
        mart = mart.where(F.col("region_id").isin(list(scope)))
    candidates = (
        select.churn_candidates(mart) if source == "churn" else select.offer_candidates(mart)
    )
    inputs = _inputs(spark, settings, period)
    rules = suppression_rules(
        cfg.suppression, inputs, source=source, campaign=campaign, as_of=as_of, wave=wave
    )
    targets, counts = build_target_list(
        candidates,
        rules,
        campaign=campaign,
        control_share=control_share,
        size=request.size,
        region=request.region,
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
    masked = cfg.mask_msisdn and not request.authorised
    rows = list_rows(
        targets, inputs.subscribers, campaign=campaign, channel=cfg.contact_channel, mask=masked
    )
    # the list is bounded by max_rows: it is the deliverable, so it comes to the driver
    frame = rows.toPandas()
    treated = frame[frame["assignment"] == "treatment"].reset_index(drop=True)
    held_out = frame[frame["assignment"] == "control"].reset_index(drop=True)
    digest = list_digest(frame)
    action = _wave_action(previous, digest, request, wave, existing is None)

    now = request.now
    export_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    txn = Transaction(settings, export_id, campaign, wave, hook)
    try:
        txn.begin()
        file_digest = write_temp(treated, txn.add_file(path), fmt, mode=cfg.file_mode)  # type: ignore[arg-type]
        control_digest = write_temp(
            held_out,
            txn.add_file(control_path),
            fmt,  # type: ignore[arg-type]
            sheet="control",
            mode=cfg.file_mode,
        )
        txn.step("files_written")
        if previous is not None:
            for old, sha in ((previous["file"], previous["file_sha256"]),
                             (previous["control_file"], previous["control_sha256"])):  # fmt: skip
                if old and sha and old not in (str(path), str(control_path)):
                    txn.remove_on_commit(old, sha)
        new_wave = campaigns.wave_row(
            spark,
            {
                "campaign_id": campaign,
                "wave_id": wave,
                "owner": owner,
                "region_id": campaigns.regions_text(scope),
                "contact_date": as_of,
                "source": source,
                "period": period,
                "status": "active",
                "n_treated": len(treated),
                "n_control": len(held_out),
                "list_sha256": digest,
                "file": str(path),
                "file_sha256": file_digest,
                "control_file": str(control_path),
                "control_sha256": control_digest,
                "export_id": export_id,
                "exported_at": now.replace(tzinfo=None),
            },
        )
        waves_after = all_waves.where(~this_wave).unionByName(new_wave)
        definition = campaigns.campaign_row(
            spark,
            campaign=campaign,
            owner=owner if existing is None else existing.owner,
            regions=campaign_regions,
            source=source,
            terms=terms,
            control_share=control_share,
            created_at=created_at,
            waves=waves_after,
            period=period,
            export_id=export_id,
            changed_at=now,
        )
        others = all_campaigns.where(F.col("campaign_id") != F.lit(campaign))
        # lazy frames over the published tables: each runs once, in its staged write, which
        # goes to a folder of its own, so a table is never read while it is overwritten
        replacements: dict[str, tuple[DataFrame, list[str]]] = {
            campaigns.WAVES: (waves_after, []),
            campaigns.CAMPAIGNS: (others.unionByName(definition), []),
        }
        if action != "rerun":  # a re-run's contacts are already there, unchanged
            contacts = contact_rows(
                targets,
                campaign=campaign,
                wave=wave,
                source=source,
                period=period,
                as_of=as_of,
                channel=cfg.contact_channel,
                export_id=export_id,
            )
            replacements[CONTACTS] = _wave_contacts(
                spark, settings, contacts, this_wave, as_of.strftime("%Y-%m")
            )
        staged = stage_replacements(settings, replacements, run_id=txn.run_id)
        txn.staged(staged)
        result = ExportResult(
            export_id=export_id,
            user=owner,
            action=action,
            campaign=campaign,
            wave_id=wave,
            source=source,
            period=period,
            as_of=as_of.isoformat(),
            exported_at=now.isoformat(),
            counts=[asdict(c) | {"removed": c.removed} for c in counts],
            n_treated=len(treated),
            n_control=len(held_out),
            file=str(path),
            checksum=file_digest,
            control_file=str(control_path),
            control_checksum=control_digest,
            list_sha256=digest,
            format=fmt,
            authorised=request.authorised,
            region=request.region,
            size=request.size,
            extra={
                "control_share": control_share,
                "masked": masked,
                "offer_product_id": terms.offer_product_id,
                "cost_per_contact_cny": terms.cost_per_contact_cny,
                "offer_cost_cny": terms.offer_cost_cny,
                "wave_region": campaigns.regions_text(scope),
                "campaign_regions": campaigns.regions_text(campaign_regions),
                "campaign_owner": owner if existing is None else existing.owner,
                **({"filters": to_records(request.filters)} if request.filters else {}),
            },
        )
        txn.ready(result.to_record())
    except Exception:
        txn.abort()
        raise
    try:
        txn.commit(staged)
    except Exception:
        log.error(
            "export %s of %s stopped after its checks passed; the next export or withdrawal "
            "completes or undoes it",
            export_id,
            campaign,
        )
        raise
    log.info(
        "exported %s wave %s (%s) for %s: %d treated, %d control -> %s",
        campaign,
        wave,
        action,
        owner,
        len(treated),
        len(held_out),
        path,
    )
    return result


def _wave_contacts(
    spark: SparkSession,
    settings: Settings,
    contacts: DataFrame,
    this_wave: Any,
    month: str,
) -> tuple[DataFrame, list[str]]:
    """The ``ads_target_contacts`` months to rewrite for one wave: the wave's new rows plus
    every other row of the months it touches (its contact month and any month its earlier
    rows were in). Other waves' rows, whoever owns them, are kept as they are."""
    existing = campaigns.conformed_contacts(_read(spark, settings, CONTACTS))
    old_months = [
        r["month"] for r in existing.where(this_wave).select("month").distinct().collect()
    ]
    months = sorted({month, *old_months})
    kept = existing.where(F.col("month").isin(months) & ~this_wave)
    return kept.unionByName(contacts), months


def file_checksum_ok(path: str, expected: str) -> bool:
    """Whether a file still has the checksum the export log recorded."""
    from pathlib import Path

    return Path(path).is_file() and checksum(Path(path)) == expected
