"""Suppression rules: each a transform that removes candidates, applied in the configured order
and counted (rows before and after) by :func:`apply_rules`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.analysis.errors import require_columns

log = logging.getLogger(__name__)
Transform = Callable[[DataFrame], DataFrame]


@dataclass(frozen=True)
class RuleCount:
    rule: str
    before: int
    after: int

    @property
    def removed(self) -> int:
        return self.before - self.after


def suppress_do_not_contact(subscribers: DataFrame) -> Transform:
    """Remove do-not-contact lines. Unknown consent is not consent: a subscriber absent from
    ``subscribers`` or with a null flag is removed too, as is one any source row flags."""
    require_columns(subscribers.columns, ["subscriber_id", "is_do_not_contact"], "subscribers")
    flagged = subscribers.where(F.coalesce(F.col("is_do_not_contact"), F.lit(True))).select(
        "subscriber_id"
    )
    allowed = subscribers.select("subscriber_id").join(flagged, "subscriber_id", "left_anti")

    def _rule(candidates: DataFrame) -> DataFrame:
        # a flag on any of a subscriber's rows removes all of them
        marked = candidates.where(F.coalesce(F.col("is_do_not_contact"), F.lit(False)))
        return candidates.join(allowed.distinct(), "subscriber_id", "left_semi").join(
            marked.select("subscriber_id"), "subscriber_id", "left_anti"
        )

    return _rule


def suppress_open_complaints(complaints: DataFrame, as_of: date) -> Transform:
    """Remove subscribers with a complaint opened before ``as_of`` and not resolved by then."""
    require_columns(complaints.columns, ["subscriber_id", "opened_at", "resolved_at"], "complaints")
    cut = F.lit(datetime.combine(as_of, time.min))
    open_ = complaints.where(
        (F.col("opened_at") < cut) & (F.col("resolved_at").isNull() | (F.col("resolved_at") >= cut))
    ).select("subscriber_id")

    def _rule(candidates: DataFrame) -> DataFrame:
        return candidates.join(open_, "subscriber_id", "left_anti")

    return _rule


def suppress_arrears(bills: DataFrame, threshold_cny: float) -> Transform:
    """Remove subscribers whose unpaid amount over ``bills`` exceeds ``threshold_cny``."""
    require_columns(bills.columns, ["subscriber_id", "arrears_cny"], "bills")
    debtors = (
        bills.groupBy("subscriber_id")
        .agg(F.sum(F.coalesce("arrears_cny", F.lit(0.0))).alias("_arrears"))
        .where(F.col("_arrears") > threshold_cny)
        .select("subscriber_id")
    )

    def _rule(candidates: DataFrame) -> DataFrame:
        return candidates.join(debtors, "subscriber_id", "left_anti")

    return _rule


def suppress_recent_contacts(
    contacts: DataFrame, as_of: date, within_days: int, campaign: str, wave: str | None = None
) -> Transform:
    """Remove subscribers contacted in the ``within_days`` days up to and including ``as_of``
    by any campaign, this campaign's earlier waves included. Only the contacts of this very
    wave (``campaign``, ``wave``) do not count, so re-running a wave selects the same people.

    Args:
        contacts: ``campaign_id``, ``subscriber_id``, ``contact_date`` and, optionally,
            ``wave_id`` (null or absent: not a wave of an export, e.g. the operator's contacts).
    """
    require_columns(contacts.columns, ["campaign_id", "subscriber_id", "contact_date"], "contacts")
    start = as_of - timedelta(days=within_days)
    wave_of = F.col("wave_id") if "wave_id" in contacts.columns else F.lit(None).cast("string")
    this_wave = (
        (F.col("campaign_id") == F.lit(campaign)) & (wave_of == F.lit(wave))
        if wave is not None
        else F.lit(False)
    )
    recent = contacts.where(
        ~F.coalesce(this_wave, F.lit(False))
        & (F.col("contact_date") >= F.lit(start))
        & (F.col("contact_date") <= F.lit(as_of))
    ).select("subscriber_id")

    def _rule(candidates: DataFrame) -> DataFrame:
        return candidates.join(recent, "subscriber_id", "left_anti")

    return _rule


def suppress_holders(holdings: DataFrame) -> Transform:
    """Remove candidate offers of a product the subscriber already holds."""
    require_columns(holdings.columns, ["subscriber_id", "product_id"], "holdings")
    held = holdings.select(
        "subscriber_id", F.col("product_id").alias("offer_product_id")
    ).distinct()

    def _rule(candidates: DataFrame) -> DataFrame:
        return candidates.join(held, ["subscriber_id", "offer_product_id"], "left_anti")

    return _rule


def apply_rules(
    candidates: DataFrame, rules: list[tuple[str, Transform]]
) -> tuple[DataFrame, list[RuleCount]]:
    """Apply the rules in order; counts are candidate rows before and after each rule."""
    counts = []
    current = candidates
    before = current.count()
    for name, rule in rules:
        current = rule(current).localCheckpoint()
        after = current.count()
        counts.append(RuleCount(name, before, after))
        log.info("suppression %s: %d -> %d", name, before, after)
        before = after
    return current, counts
