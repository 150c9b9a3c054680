"""The definition of an exported campaign: what it offers and what it costs.

``workbench targets export`` records one row per campaign in ``ads_target_campaigns`` (costs from
the command's options, else ``targets.cost_per_contact_cny`` / ``targets.offer_cost_cny``); the
``dwd_dim_campaign`` model unions those rows with the operator's campaigns, so the campaign ROI
values an exported campaign like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from workbench.catalog import get_table
from workbench.targets.errors import TargetError
from workbench.targets.tables import replace_months, table_lock

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

CAMPAIGNS = "ads_target_campaigns"
CAMPAIGN_TYPE = {"churn": "retention", "offers": "cross_sell"}


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


def campaign_row(
    spark: SparkSession,
    terms: CampaignTerms,
    *,
    campaign: str,
    source: str,
    period: str,
    as_of: date,
    control_share: float,
    export_id: str,
    exported_at: datetime,
) -> DataFrame:
    """The campaign as one ``ads_target_campaigns`` row (contacts all fall on ``as_of``)."""
    table = get_table(CAMPAIGNS)
    values = {
        "campaign_id": campaign,
        "campaign_name_en": terms.name or campaign,
        "campaign_name_zh": terms.name or campaign,
        "campaign_type": CAMPAIGN_TYPE[source],
        "offer_product_id": terms.offer_product_id,
        "start_date": as_of,
        "end_date": as_of,
        "cost_per_contact_cny": terms.cost_per_contact_cny,
        "offer_cost_cny": terms.offer_cost_cny,
        "control_share": float(control_share),
        "source": source,
        "period": period,
        "export_id": export_id,
        "exported_at": exported_at.replace(tzinfo=None),
    }
    return spark.createDataFrame([tuple(values[c] for c in table.column_names)], table.spark_schema)


def record_campaign(spark: SparkSession, settings: Settings, row: DataFrame, campaign: str) -> None:
    """Replace the campaign's row of ``ads_target_campaigns`` by ``row`` (atomically)."""
    from workbench.warehouse.storage import read_table

    with table_lock(settings, CAMPAIGNS):
        kept = read_table(spark, settings, CAMPAIGNS).where(F.col("campaign_id") != campaign)
        replace_months(settings, CAMPAIGNS, kept.unionByName(row).localCheckpoint(), [])
