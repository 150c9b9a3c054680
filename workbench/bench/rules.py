"""Rules mining on the bench holdings: the workbench's Spark FP-Growth against mlxtend.

Both read the same baskets (one per subscriber holding products at the end of the month, items
its product ids) from the published ``dwd_fct_product_holding`` and keep single-consequent rules
(the workbench mines those only); each clock runs from the Parquet read to the rules in memory.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from workbench.bench.measure import timed

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from workbench.config import Settings

HOLDINGS = "dwd_fct_product_holding"


def mine_with_spark(
    spark: SparkSession, settings: Settings, month: str, min_support: float, min_confidence: float
) -> tuple[pd.DataFrame, float, int]:
    """(rules, seconds, baskets) from :func:`workbench.analysis.baskets.mine_rules`."""
    from pyspark.sql import functions as F

    from workbench.analysis.baskets import mine_rules
    from workbench.warehouse.storage import read_table

    with timed() as clock:
        transactions = read_table(spark, settings, HOLDINGS, [month]).select(
            F.col("subscriber_id").alias("basket_id"), F.col("product_id").alias("item")
        )
        rules = mine_rules(
            transactions, min_support=min_support, min_confidence=min_confidence
        ).select("antecedent", "consequent", "n_baskets", "support", "confidence")
        frame = rules.toPandas()  # the rules: a few hundred rows at most
    n_baskets = int(frame["n_baskets"].iloc[0]) if len(frame) else 0
    return frame, clock.seconds, n_baskets


def mine_with_mlxtend(
    settings: Settings, month: str, min_support: float, min_confidence: float
) -> tuple[pd.DataFrame, float]:
    """(rules, seconds) from mlxtend's fpgrowth and association_rules on the same baskets."""
    import pandas as pd
    import pyarrow.parquet as pq
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    from workbench.catalog import get_table
    from workbench.warehouse.storage import partition_dir

    folder = partition_dir(get_table(HOLDINGS).path(settings), month)
    with timed() as clock:
        holdings = pq.read_table(folder, columns=["subscriber_id", "product_id"]).to_pandas()
        onehot = pd.crosstab(holdings["subscriber_id"], holdings["product_id"]).astype(bool)
        itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True)
        if itemsets.empty:
            rules = pd.DataFrame(columns=["antecedents", "consequents", "support", "confidence"])
        else:
            rules = association_rules(
                itemsets, len(onehot), metric="confidence", min_threshold=min_confidence
            )
            rules = rules[rules["consequents"].map(len) == 1]
    frame = pd.DataFrame(
        {
            "antecedent": [sorted(a) for a in rules["antecedents"]],
            "consequent": [next(iter(c)) for c in rules["consequents"]],
            "support": rules["support"].to_numpy(),
            "confidence": rules["confidence"].to_numpy(),
        }
    )
    return frame, clock.seconds


def compare_rules(spark_rules: pd.DataFrame, ml_rules: pd.DataFrame, rel_tol: float = 1e-9):
    """Differences between the two rule sets (empty: the same rules, support and confidence)."""

    def keyed(frame: pd.DataFrame) -> dict[tuple, tuple[float, float]]:
        return {
            (tuple(sorted(a)), c): (float(s), float(f))
            for a, c, s, f in zip(
                frame["antecedent"],
                frame["consequent"],
                frame["support"],
                frame["confidence"],
                strict=True,
            )
        }

    ours, theirs = keyed(spark_rules), keyed(ml_rules)
    problems = []
    for label, a, b in (("only in Spark", ours, theirs), ("only in mlxtend", theirs, ours)):
        extra = sorted(set(a) - set(b))
        if extra:
            problems.append(f"{len(extra)} rule(s) {label}, e.g. {extra[:3]}")
    for key in sorted(set(ours) & set(theirs)):
        for name, x, y in zip(("support", "confidence"), ours[key], theirs[key], strict=True):
            if not math.isclose(x, y, rel_tol=rel_tol):
                problems.append(f"rule {key}: {name} {x!r} (Spark) vs {y!r} (mlxtend)")
                break
    return problems
