"""``workbench campaigns withdraw-wave``: take back one wave of an exported campaign.

Only the campaign's owner may. The wave's contacts leave ``ads_target_contacts`` (so they no
longer suppress anyone and are not measured), its row in ``ads_target_waves`` is kept with status
``withdrawn``, who withdrew it, when and why, the campaign's dates are recomputed from its other
waves, the wave's files are deleted if they still hold what was exported, and one export-log line
records it, all as one transaction (:mod:`workbench.targets.transaction`) under the warehouse
write lock. Other waves, of this campaign or any other, are not touched.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from workbench.targets import campaigns
from workbench.targets.errors import TargetError
from workbench.targets.names import check_name, check_owner, operator_name
from workbench.targets.tables import stage_replacements
from workbench.targets.transaction import Hook, Transaction, recover_pending

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

CONTACTS = "ads_target_contacts"
_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,500}")


@dataclass(frozen=True)
class WithdrawResult:
    """The export-log line of a withdrawal."""

    export_id: str
    action: str
    user: str
    campaign: str
    wave_id: str
    reason: str
    exported_at: str
    n_contacts_removed: int
    files_removed: list[str]

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _read(spark: SparkSession, settings: Settings, name: str) -> DataFrame:
    from workbench.warehouse.storage import read_table

    return read_table(spark, settings, name)


def withdraw_wave(
    spark: SparkSession,
    settings: Settings,
    *,
    campaign: str,
    wave: str,
    reason: str,
    user: str | None = None,
    now: datetime | None = None,
    hook: Hook | None = None,
) -> WithdrawResult:
    """Withdraw wave ``wave`` of ``campaign`` (see the module doc).

    Args:
        reason: why, for the log (one line, required: a withdrawal is an explicit act).
        user: who withdraws (default: the OS user); must be the campaign's owner.

    Raises:
        TargetError: the campaign or wave does not exist, is someone else's, or the wave was
            already withdrawn; the message names them.
    """
    from workbench.warehouse.lock import warehouse_lock

    check_name(campaign, "--campaign")
    check_name(wave, "--wave")
    user = check_owner(user if user is not None else operator_name())
    if not isinstance(reason, str) or _REASON.fullmatch(reason.strip()) is None:
        raise TargetError("--reason: say why the wave is withdrawn (one line, 1-500 characters)")
    now = now or datetime.now(UTC)
    with warehouse_lock(settings, f"withdraw wave {wave} of {campaign} by {user}"):
        recover_pending(settings)
        return _withdraw_holding_lock(
            spark, settings, campaign, wave, reason.strip(), user, now, hook
        )


def _withdraw_holding_lock(
    spark: SparkSession,
    settings: Settings,
    campaign: str,
    wave: str,
    reason: str,
    user: str,
    now: datetime,
    hook: Hook | None,
) -> WithdrawResult:
    all_campaigns = campaigns.conformed_campaigns(_read(spark, settings, campaigns.CAMPAIGNS))
    existing = campaigns.read_campaign(all_campaigns, campaign)
    if existing is None:
        raise TargetError(f"--campaign {campaign!r}: no exported campaign has this id")
    campaigns.check_owner_may_write(existing, campaign, user)
    this_wave = (F.col("campaign_id") == F.lit(campaign)) & (F.col("wave_id") == F.lit(wave))
    all_waves = _read(spark, settings, campaigns.WAVES)
    found = all_waves.where(this_wave).collect()
    if not found:
        known = [
            r["wave_id"]
            for r in all_waves.where(F.col("campaign_id") == F.lit(campaign))
            .select("wave_id")
            .orderBy("wave_id")
            .collect()
        ]
        raise TargetError(
            f"--wave {wave!r}: campaign {campaign!r} has no such wave (its waves: "
            f"{', '.join(known) or 'none'})"
        )
    previous = found[0].asDict()
    if previous["status"] != "active":
        raise TargetError(
            f"wave {wave!r} of campaign {campaign!r} was already withdrawn by "
            f"{previous['withdrawn_by']!r} on {previous['withdrawn_at']:%Y-%m-%d}"
        )
    contacts = campaigns.conformed_contacts(_read(spark, settings, CONTACTS))
    theirs = contacts.where(this_wave)
    months = sorted(r["month"] for r in theirs.select("month").distinct().collect())
    n_removed = theirs.count()
    kept = contacts.where(F.col("month").isin(months) & ~this_wave).localCheckpoint()

    op_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    withdrawn = campaigns.wave_row(
        spark,
        {
            **previous,
            "status": "withdrawn",
            "export_id": op_id,
            "withdrawn_at": now.replace(tzinfo=None),
            "withdrawn_by": user,
            "withdraw_reason": reason,
        },
    )
    waves_after = all_waves.where(~this_wave).unionByName(withdrawn).localCheckpoint()
    definition = campaigns.campaign_row(
        spark,
        campaign=campaign,
        owner=existing.owner,
        regions=existing.regions,
        source=existing.source,
        terms=existing.terms,
        control_share=existing.control_share,
        created_at=existing.created_at or now,
        waves=waves_after,
        period=existing.period or previous["period"],
        export_id=op_id,
        changed_at=now,
    )
    others = all_campaigns.where(F.col("campaign_id") != F.lit(campaign))
    files = [
        (previous[f], previous[sha])
        for f, sha in (("file", "file_sha256"), ("control_file", "control_sha256"))
        if previous[f] and previous[sha]
    ]
    txn = Transaction(settings, op_id, campaign, wave, hook)
    try:
        txn.begin()
        for path, sha in files:
            txn.remove_on_commit(path, sha)
        staged = stage_replacements(
            settings,
            {
                CONTACTS: (kept, months),
                campaigns.WAVES: (waves_after, []),
                campaigns.CAMPAIGNS: (others.unionByName(definition).localCheckpoint(), []),
            },
            run_id=txn.run_id,
        )
        txn.staged(staged)
        result = WithdrawResult(
            export_id=op_id,
            action="withdraw_wave",
            user=user,
            campaign=campaign,
            wave_id=wave,
            reason=reason,
            exported_at=now.isoformat(),
            n_contacts_removed=n_removed,
            files_removed=[path for path, _ in files],
        )
        txn.ready(result.to_record())
    except Exception:
        txn.abort()
        raise
    txn.commit(staged)
    log.info("%s withdrew wave %s of %s (%d contacts): %s", user, wave, campaign, n_removed, reason)
    return result
