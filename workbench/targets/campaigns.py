"""Exported campaigns: who owns them, what they offer and cost, and their waves.

A campaign id is created once, by its first export, with its owner (the dashboard user or the
CLI's operator), source, offer, costs, control share and regions, in ``ads_target_campaigns``.
Every export under it is a *wave* (``ads_target_waves``: its own id, contact date, region, list
and files) whose contacts carry the wave id. So:

* only the owner adds waves; anyone else exporting under the id is refused, naming the owner;
* a wave never deletes another wave's contacts (another owner's or another region's);
* re-running a wave with the same list changes nothing, and replacing (``--replace-wave``) or
  withdrawing (``workbench campaigns withdraw-wave``) one is an explicit, logged action of its
  owner;
* a later wave keeps the campaign's terms (an option that contradicts them is refused).

The ``dwd_dim_campaign`` model unions these campaign rows with the operator's campaigns, so the
campaign ROI values an exported campaign like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from workbench.catalog import get_table
from workbench.catalog.targets import ALL_REGIONS
from workbench.targets.errors import TargetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

CAMPAIGNS = "ads_target_campaigns"
WAVES = "ads_target_waves"
CAMPAIGN_TYPE = {"churn": "retention", "offers": "cross_sell"}
SOURCE_OF_TYPE = {v: k for k, v in CAMPAIGN_TYPE.items()}
#: owner and wave of rows written before campaigns had owners and waves
LEGACY = "legacy"
REGION_SEPARATOR = ","


@dataclass(frozen=True)
class CampaignTerms:
    """An exported campaign's offer, costs and display name.

    Attributes:
        offer_product_id: the retention offer of a churn list (offers lists carry each
            subscriber's own offer instead).
        cost_per_contact_cny: cost of contacting one treated line.
        offer_cost_cny: cost of one accepted offer.
        name: display name (default: the campaign id).
    """

    offer_product_id: str | None
    cost_per_contact_cny: float
    offer_cost_cny: float
    name: str | None = None


def resolve_terms(
    settings: Settings,
    *,
    source: str,
    offer: str | None = None,
    cost_per_contact_cny: float | None = None,
    offer_cost_cny: float | None = None,
    name: str | None = None,
) -> CampaignTerms:
    """The terms from the export's options, the configured costs filling what is not given.

    Raises:
        TargetError: a negative or non-finite cost, or ``--offer`` on an offers list; the
            message names the option.
    """
    cfg = settings.targets
    costs = {
        "--cost-per-contact": cfg.cost_per_contact_cny
        if cost_per_contact_cny is None
        else cost_per_contact_cny,
        "--offer-cost": cfg.offer_cost_cny if offer_cost_cny is None else offer_cost_cny,
    }
    for option, value in costs.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TargetError(f"{option} {value!r}: must be a number of CNY")
        if not math.isfinite(value) or value < 0:
            raise TargetError(f"{option} {value!r}: must be a non-negative number of CNY")
    if offer is not None and source != "churn":
        raise TargetError(
            "--offer is for churn lists: an offers list carries each subscriber's own offer"
        )
    if offer is not None and not offer.strip():
        raise TargetError("--offer: empty product id")
    return CampaignTerms(
        offer_product_id=offer.strip() if offer else None,
        cost_per_contact_cny=float(costs["--cost-per-contact"]),
        offer_cost_cny=float(costs["--offer-cost"]),
        name=name.strip() if name and name.strip() else None,
    )


def check_offer(products: DataFrame, terms: CampaignTerms) -> None:
    """Refuse a retention offer that is not in the product dimension (when there is one)."""
    offer = terms.offer_product_id
    if offer is None or products.limit(1).count() == 0:
        return
    if products.where(F.col("product_id") == offer).limit(1).count() == 0:
        raise TargetError(f"--offer {offer!r}: no such product in dwd_dim_product")


def check_not_operator_campaign(operator_campaigns: DataFrame, campaign: str) -> None:
    """An export may not reuse the id of a campaign the operator's own systems ran."""
    if operator_campaigns.where(F.col("campaign_id") == campaign).limit(1).count():
        raise TargetError(
            f"--campaign {campaign!r}: the operator's campaign extract already has this id; "
            "choose another name"
        )


@dataclass(frozen=True)
class Campaign:
    """An exported campaign as recorded (see the module doc)."""

    campaign_id: str
    owner: str
    regions: tuple[str, ...] | None  # None: every region
    source: str
    terms: CampaignTerms
    control_share: float
    created_at: datetime | None
    period: str | None = None  # the latest wave's mart month

    @property
    def regions_label(self) -> str:
        return regions_text(self.regions)


def regions_text(regions: Sequence[str] | None) -> str:
    """``GZ,SZ`` (sorted), or ``ALL`` for every region."""
    return ALL_REGIONS if regions is None else REGION_SEPARATOR.join(sorted(regions))


def parse_regions(text: str | None) -> tuple[str, ...] | None:
    if text is None or text == ALL_REGIONS:
        return None
    return tuple(sorted(r for r in text.split(REGION_SEPARATOR) if r))


def read_campaign(campaigns: DataFrame, campaign: str) -> Campaign | None:
    """The recorded campaign ``campaign`` of ``ads_target_campaigns`` rows (None: not created)."""
    rows = campaigns.where(F.col("campaign_id") == F.lit(campaign)).limit(2).collect()
    if not rows:
        return None
    row = rows[0].asDict()
    source = row["source"] or SOURCE_OF_TYPE.get(row["campaign_type"], "churn")
    return Campaign(
        campaign_id=campaign,
        owner=row["owner"] or LEGACY,
        regions=parse_regions(row["regions"]),
        source=source,
        terms=CampaignTerms(
            offer_product_id=row["offer_product_id"],
            cost_per_contact_cny=float(row["cost_per_contact_cny"] or 0.0),
            offer_cost_cny=float(row["offer_cost_cny"] or 0.0),
            name=row["campaign_name_en"] if row["campaign_name_en"] != campaign else None,
        ),
        control_share=float(row["control_share"] if row["control_share"] is not None else 0.0),
        created_at=row["created_at"],
        period=row["period"],
    )


def check_owner_may_write(existing: Campaign | None, campaign: str, owner: str) -> None:
    """Only the campaign's owner adds, replaces or withdraws its waves.

    Raises:
        TargetError: naming the campaign and its owner.
    """
    if existing is None or existing.owner == owner:
        return
    if existing.owner == LEGACY:
        raise TargetError(
            f"campaign {campaign!r} was exported before campaigns had owners; it cannot take "
            "new waves: choose another campaign id"
        )
    created = f", created {existing.created_at:%Y-%m-%d}" if existing.created_at else ""
    raise TargetError(
        f"campaign {campaign!r} belongs to {existing.owner!r}{created}; {owner!r} cannot export "
        "under it: choose another campaign id (the dashboards propose one per user and month)"
    )


def check_same_terms(
    existing: Campaign,
    *,
    source: str,
    offer: str | None,
    cost_per_contact_cny: float | None,
    offer_cost_cny: float | None,
    name: str | None,
) -> None:
    """A later wave keeps the campaign's source and terms: an option given with another value
    than the campaign's is refused (one left out takes the campaign's)."""
    given: list[tuple[str, Any, Any]] = [
        ("--source", source, existing.source),
        ("--offer", offer, existing.terms.offer_product_id),
        ("--cost-per-contact", cost_per_contact_cny, existing.terms.cost_per_contact_cny),
        ("--offer-cost", offer_cost_cny, existing.terms.offer_cost_cny),
        ("--name", name.strip() if name else None, existing.terms.name),
    ]
    for option, value, recorded in given:
        if value is not None and value != recorded:
            raise TargetError(
                f"{option} {value!r}: campaign {existing.campaign_id!r} was created with "
                f"{recorded!r}; a wave keeps the campaign's terms (leave {option} out, or "
                "choose a new campaign id)"
            )


def export_scope(regions: Sequence[str] | None, region: str | None) -> tuple[str, ...] | None:
    """The regions an export may contact: ``region`` if given (it must be one of ``regions``),
    else ``regions`` (a dashboard viewer's), else None (every region)."""
    if region is not None:
        if regions is not None and region not in set(regions):
            raise TargetError(
                f"--region {region!r} is outside your regions {regions_text(regions)}"
            )
        return (region,)
    return None if regions is None else tuple(sorted(set(regions)))


def check_in_campaign_regions(existing: Campaign, scope: tuple[str, ...] | None) -> None:
    """A wave contacts only regions its campaign was created for."""
    if existing.regions is None:
        return
    outside = sorted(set(scope) - set(existing.regions)) if scope is not None else [ALL_REGIONS]
    if outside:
        raise TargetError(
            f"campaign {existing.campaign_id!r} covers {existing.regions_label}; this wave's "
            f"regions {', '.join(outside)} are outside it (pass --region "
            f"{existing.regions[0]} or choose a new campaign id)"
        )


def campaign_row(
    spark: SparkSession,
    *,
    campaign: str,
    owner: str,
    regions: tuple[str, ...] | None,
    source: str,
    terms: CampaignTerms,
    control_share: float,
    created_at: datetime,
    waves: DataFrame,
    period: str,
    export_id: str,
    changed_at: datetime,
) -> DataFrame:
    """The campaign as one ``ads_target_campaigns`` row; its dates span its active ``waves``
    (rows of ``ads_target_waves`` after the change)."""
    active = waves.where(
        (F.col("campaign_id") == F.lit(campaign)) & (F.col("status") == F.lit("active"))
    )
    first, last = active.agg(F.min("contact_date"), F.max("contact_date")).first() or (None, None)
    table = get_table(CAMPAIGNS)
    values = {
        "campaign_id": campaign,
        "campaign_name_en": terms.name or campaign,
        "campaign_name_zh": terms.name or campaign,
        "campaign_type": CAMPAIGN_TYPE[source],
        "offer_product_id": terms.offer_product_id,
        "start_date": first,
        "end_date": last,
        "cost_per_contact_cny": terms.cost_per_contact_cny,
        "offer_cost_cny": terms.offer_cost_cny,
        "control_share": float(control_share),
        "source": source,
        "period": period,
        "export_id": export_id,
        "exported_at": changed_at.replace(tzinfo=None),
        "owner": owner,
        "regions": regions_text(regions),
        "created_at": created_at.replace(tzinfo=None),
    }
    return spark.createDataFrame([tuple(values[c] for c in table.column_names)], table.spark_schema)


def wave_row(spark: SparkSession, values: dict[str, Any]) -> DataFrame:
    """One ``ads_target_waves`` row from its values (columns left out are null)."""
    table = get_table(WAVES)
    unknown = set(values) - set(table.column_names)
    if unknown:
        raise ValueError(f"{WAVES}: no column(s) {', '.join(sorted(unknown))}")
    row = tuple(values.get(c) for c in table.column_names)
    return spark.createDataFrame([row], table.spark_schema)


def conformed_campaigns(campaigns: DataFrame) -> DataFrame:
    """``ads_target_campaigns`` rows with the owner and regions of rows written before
    campaigns had them filled (``legacy``, ``ALL``), so a rewrite keeps its contracts."""
    return campaigns.withColumn("owner", F.coalesce(F.col("owner"), F.lit(LEGACY))).withColumn(
        "regions", F.coalesce(F.col("regions"), F.lit(ALL_REGIONS))
    )


def conformed_contacts(contacts: DataFrame) -> DataFrame:
    """``ads_target_contacts`` rows with the wave of rows written before waves (``legacy``)."""
    return contacts.withColumn("wave_id", F.coalesce(F.col("wave_id"), F.lit(LEGACY)))
