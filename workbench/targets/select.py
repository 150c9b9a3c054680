"""Candidate selection: scores or offers marts to one row per candidate offer, then the final
ranked list (duplicates removed, best rank kept, optional size).

Candidate columns: ``subscriber_id, region_id, segment, offer_product_id, score, reason,
source_rank, is_do_not_contact`` (``is_do_not_contact`` null when the source does not carry it).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from workbench.errors import require_columns
from workbench.targets.suppress import Rule, where_rule

Transform = Callable[[DataFrame], DataFrame]
SOURCES = ("churn", "offers")
CANDIDATE_COLUMNS = [
    "subscriber_id",
    "region_id",
    "segment",
    "offer_product_id",
    "score",
    "reason",
    "source_rank",
    "is_do_not_contact",
]


def churn_candidates(scores: DataFrame) -> DataFrame:
    """``ads_churn_scores`` rows as candidates: score = churn probability, reason = the top
    driver as a sentence the contact centre reads (``reason_1_text``)."""
    require_columns(
        scores.columns,
        ["subscriber_id", "region_id", "segment", "churn_probability", "reason_1_text"],
        "ads_churn_scores",
    )
    dnc = (
        F.col("is_do_not_contact")
        if "is_do_not_contact" in scores.columns
        else F.lit(None).cast("boolean")
    )
    return scores.select(
        "subscriber_id",
        "region_id",
        "segment",
        F.lit(None).cast("string").alias("offer_product_id"),
        F.col("churn_probability").cast("double").alias("score"),
        F.col("reason_1_text").alias("reason"),
        F.lit(1).alias("source_rank"),
        dnc.alias("is_do_not_contact"),
    )


def offer_candidates(offers: DataFrame) -> DataFrame:
    """``ads_offers`` rows as candidates (every offer of a subscriber): score = the rule's
    confidence, reason = the products held that make the rule fire."""
    require_columns(
        offers.columns,
        ["subscriber_id", "offer_rank", "offer_product_id", "confidence", "antecedent"],
        "ads_offers",
    )
    return offers.select(
        "subscriber_id",
        F.col("region_id") if "region_id" in offers.columns else F.lit(None).cast("string"),
        F.col("segment") if "segment" in offers.columns else F.lit(None).cast("string"),
        "offer_product_id",
        F.col("confidence").cast("double").alias("score"),
        F.concat(F.lit("holds "), F.col("antecedent")).alias("reason"),
        F.col("offer_rank").cast("int").alias("source_rank"),
        F.lit(None).cast("boolean").alias("is_do_not_contact"),
    ).toDF(*CANDIDATE_COLUMNS)


def in_region(region: str | None) -> Rule:
    """Keep one region's candidates (``None``: all): a rule, so the export counts it."""
    if region is None:
        return where_rule(F.lit(False))
    # a candidate without a region is not in this one
    return where_rule(~F.coalesce(F.col("region_id") == F.lit(region), F.lit(False)))


def drop_duplicate_subscribers(candidates: DataFrame) -> DataFrame:
    """One row per subscriber: the best source rank, then the highest score, then the product
    name (a total order, so re-runs keep the same row)."""
    best = Window.partitionBy("subscriber_id").orderBy(
        F.col("source_rank").asc_nulls_last(),
        F.col("score").desc_nulls_last(),
        F.col("offer_product_id").asc_nulls_last(),
    )
    return candidates.withColumn("_n", F.row_number().over(best)).where(F.col("_n") == 1).drop("_n")


def rank_list(size: int | None) -> Transform:
    """Number the list by score (highest first, subscriber id breaks ties) and keep the top
    ``size`` (``None``: all). The list is small by then, so one ordered partition is fine."""

    def _rank(candidates: DataFrame) -> DataFrame:
        order = [F.col("score").desc_nulls_last(), F.col("subscriber_id").asc()]
        ranked = candidates.orderBy(*order)
        if size is not None:
            ranked = ranked.limit(size)
        return ranked.withColumn("list_rank", F.row_number().over(Window.orderBy(*order)))

    return _rank
