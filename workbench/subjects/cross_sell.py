"""Cross-sell subject: basket rules over ``ads_product_holdings`` of a month (Spark FP-Growth),
overall and by region and by segment, and every subscriber's next-best offers.

A basket is a subscriber live at the end of the month, *including those holding no product*
(the live base comes from ``ads_churn_features``): support is then the share of subscribers,
as the parameter says, and lift is measured against the whole base. Subscribers without a
product enter FP-Growth with a placeholder item that is dropped from every rule.

Writes ``ads_basket_rules`` and ``ads_offers`` for the month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis import baskets as engine
from workbench.catalog.results import ALL_SCOPE
from workbench.errors import InputDataError
from workbench.months import parse_month
from workbench.params import defaults
from workbench.subjects.common import write_result
from workbench.warehouse.storage import read_table, table_months

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

HOLDINGS_TABLE = "ads_product_holdings"
BASE_TABLE = "ads_churn_features"
NO_PRODUCT = "__no_product__"
GROUPS = ("region", "segment")
_GROUP_COLUMN = {"region": "region_id", "segment": "segment"}


@dataclass(frozen=True)
class CrossSellResult:
    """Rules (small, pandas) and how many offers were written."""

    rules: pd.DataFrame
    n_subscribers: int
    n_rules: int
    n_offers: int
    period: str


def to_transactions(holdings: DataFrame, base: DataFrame) -> DataFrame:
    """One row per subscriber and product held (``item``), plus one placeholder row for each
    live subscriber without a product; with ``region_id`` and ``segment`` of the base."""
    from pyspark.sql import functions as F

    held = holdings.select("subscriber_id", F.col("product_id").alias("item")).distinct()
    base = base.select("subscriber_id", "region_id", "segment").distinct()
    empty = base.join(held, "subscriber_id", "left_anti").select(
        "subscriber_id", F.lit(NO_PRODUCT).alias("item")
    )
    return held.join(base, "subscriber_id").unionByName(
        empty.join(base, "subscriber_id"), allowMissingColumns=False
    )


def _drop_placeholder(rules: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return rules.where(
        (F.col("consequent") != NO_PRODUCT) & ~F.array_contains("antecedent", NO_PRODUCT)
    )


def _to_mart(rules: DataFrame, scope: str, scope_value) -> DataFrame:
    from pyspark.sql import functions as F

    return rules.select(
        F.lit(scope).alias("scope"),
        scope_value.cast("string").alias("scope_value"),
        "rule_id",
        F.array_join("antecedent", " + ").alias("antecedent"),
        "consequent",
        F.col("antecedent_size").cast("int").alias("antecedent_size"),
        *engine.RULE_COLUMNS[4:],
    )


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("cross_sell")


def run(
    spark: SparkSession,
    settings: Settings,
    period: str,
    *,
    min_support: float = DEFAULTS["min_support"],
    min_confidence: float = DEFAULTS["min_confidence"],
    max_len: int = DEFAULTS["max_len"],
    top_n_offers: int = DEFAULTS["top_n_offers"],
    by_groups: bool = DEFAULTS["by_groups"],
) -> CrossSellResult:
    """Mine the month's rules and offers and write both marts.

    Args:
        min_support: share of subscribers holding antecedent and consequent (inclusive).
        min_confidence: share of antecedent holders also holding the consequent (inclusive).
        by_groups: also mine per region and per segment (support within the group).
    """
    from pyspark.sql import functions as F

    period = parse_month(period)
    for table in (HOLDINGS_TABLE, BASE_TABLE):
        if period not in table_months(settings, table):
            raise InputDataError(f"{table} has no month {period}")
    holdings = read_table(spark, settings, HOLDINGS_TABLE, [period])
    base = read_table(spark, settings, BASE_TABLE, [period])
    transactions = to_transactions(holdings, base).persist()
    try:
        overall = _drop_placeholder(
            engine.mine_rules(
                transactions,
                min_support=min_support,
                min_confidence=min_confidence,
                basket_column="subscriber_id",
                max_len=max_len,
            )
        ).persist()
        parts = [_to_mart(overall, "overall", F.lit(ALL_SCOPE))]
        if by_groups:
            for scope in GROUPS:
                column = _GROUP_COLUMN[scope]
                grouped = engine.mine_rules_by_group(
                    transactions.where(F.col(column).isNotNull()),
                    [column],
                    min_support=min_support,
                    min_confidence=min_confidence,
                    basket_column="subscriber_id",
                    max_len=max_len,
                )
                parts.append(_to_mart(_drop_placeholder(grouped), scope, F.col(column)))
        mart = parts[0]
        for more in parts[1:]:
            mart = mart.unionByName(more)
        n_rules = write_result(mart, "ads_basket_rules", settings, period)

        offers = engine.next_best_offers(
            holdings.select("subscriber_id", F.col("product_id").alias("item")),
            overall,
            customer_column="subscriber_id",
            top_n=top_n_offers,
        )
        offers = offers.join(
            base.select("subscriber_id", "region_id", "segment"), "subscriber_id"
        ).select(
            "subscriber_id",
            F.col("offer_rank").cast("int").alias("offer_rank"),
            F.col("offer_item").alias("offer_product_id"),
            "rule_id",
            F.array_join("antecedent", " + ").alias("antecedent"),
            "support",
            "confidence",
            "lift",
            "region_id",
            "segment",
        )
        n_offers = write_result(offers, "ads_offers", settings, period)
        n_subscribers = transactions.select("subscriber_id").distinct().count()
        overall.unpersist()
    finally:
        transactions.unpersist()
    from workbench.marts import read_mart

    rules = read_mart("ads_basket_rules", settings, months=[period])
    log.info("cross-sell %s: %d rule(s), %d offer(s)", period, n_rules, n_offers)
    return CrossSellResult(rules, n_subscribers, n_rules, n_offers, period)
