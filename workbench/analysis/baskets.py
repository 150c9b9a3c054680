"""Cross-sell basket rules: Spark FP-Growth itemsets, rule metrics exact from counts, offers.

Spark's FP-Growth finds the frequent itemsets at scale; its own rule metrics are not used. Every
rule ``A => c`` is rebuilt from the integer counts ``n`` (baskets), ``n_antecedent`` (baskets
holding A), ``n_consequent`` (holding c) and ``n_both`` (holding A and c), and both thresholds
are applied to those integers, inclusively:

* support: ``n_both >= ceil(min_support * n)``, where the product is taken exactly
  (``Fraction(str(min_support))``). In floating point ``0.07 * 100`` is ``7.000000000000001``,
  whose ceiling (8) would silently drop the itemsets of support exactly 0.07. Spark's FP-Growth
  takes that float ceiling itself, so it is handed ``(min_count - 0.5) / n``, whose float product
  with ``n`` always rounds up to ``min_count``.
* confidence: ``n_both * q >= p * n_antecedent`` with ``min_confidence = p/q`` exactly.

The metrics (support, confidence, lift, leverage, conviction) are then single divisions of those
counts, so they match arules and mlxtend to the last bit that floating point allows. Rules have
one consequent item; an empty antecedent (``{} => c``, arules' default ``minlen=1``) only when
``allow_empty_antecedent`` and the item's own support reaches the confidence threshold.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from workbench.errors import InputDataError, ParameterError, require_columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

RULE_COLUMNS = [
    "rule_id",
    "antecedent",
    "consequent",
    "antecedent_size",
    "n_baskets",
    "n_antecedent",
    "n_consequent",
    "n_both",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
]


def _exact(value: float, name: str) -> Fraction:
    """The decimal a user wrote (0.8 -> 4/5), not the binary float nearest to it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not 0 < value <= 1:
        raise ParameterError(f"{name} must be in (0, 1], got {value!r}")
    return Fraction(str(value))


def min_count(min_support: float, n_baskets: int) -> int:
    """The smallest basket count whose support reaches ``min_support`` (exact, inclusive)."""
    return max(1, math.ceil(_exact(min_support, "min_support") * n_baskets))


def _check_params(min_support: float, min_confidence: float, max_len: int) -> Fraction:
    _exact(min_support, "min_support")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ParameterError(f"max_len must be an integer >= 1, got {max_len!r}")
    return _exact(min_confidence, "min_confidence")


def read_basket_lines(spark: SparkSession, path: str, separator: str = ",") -> DataFrame:
    """Read a basket file (one basket per line, items separated, no header) as transactions.

    Item labels are kept exactly, trailing spaces included (arules does the same). Blank lines
    and empty items are skipped. Returns ``basket_id`` (unique per line) and ``item``.
    """
    from pyspark.sql import functions as F

    lines = spark.read.text(str(path)).where(F.length(F.trim("value")) > 0)
    baskets = lines.select(
        F.monotonically_increasing_id().alias("basket_id"),
        F.split("value", _java_literal(separator), -1).alias("items"),
    )
    return baskets.select("basket_id", F.explode("items").alias("item")).where(F.col("item") != "")


def _java_literal(text: str) -> str:
    """A regex matching ``text`` literally (Spark's split takes a Java regex)."""
    return "".join(f"\\{ch}" if not ch.isalnum() and ch != " " else ch for ch in text)


def to_baskets(transactions: DataFrame, basket_column: str, item_column: str) -> DataFrame:
    """One row per basket: ``items`` is the sorted set of its items."""
    from pyspark.sql import functions as F

    return transactions.groupBy(basket_column).agg(
        F.array_sort(F.collect_set(item_column)).alias("items")
    )


def _count_and_check(transactions: DataFrame, basket_column: str, item_column: str) -> int:
    """Number of baskets; nulls in the basket or item column are an error naming the column."""
    from pyspark.sql import functions as F

    row = transactions.agg(
        F.countDistinct(basket_column).alias("n"),
        F.sum(F.col(basket_column).isNull().cast("long")).alias("null_baskets"),
        F.sum(F.col(item_column).isNull().cast("long")).alias("null_items"),
    ).first()
    for column, nulls in ((basket_column, row["null_baskets"]), (item_column, row["null_items"])):
        if nulls:
            raise InputDataError(f"transactions: column {column!r} has {nulls} null value(s)")
    if not row["n"]:
        raise InputDataError("transactions: no baskets (the input is empty)")
    return int(row["n"])


def frequent_itemsets(
    transactions: DataFrame,
    *,
    min_support: float,
    basket_column: str = "basket_id",
    item_column: str = "item",
    max_len: int = 10,
    num_partitions: int | None = None,
) -> tuple[DataFrame, int]:
    """Frequent itemsets (Spark FP-Growth), thresholds exact and inclusive.

    Returns:
        ``(itemsets, n_baskets)``: itemsets has ``items`` (sorted array) and ``n_baskets_with``.
    """
    from pyspark import StorageLevel
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    _check_params(min_support, 1.0, max_len)
    require_columns(transactions.columns, [basket_column, item_column], "transactions")
    n = _count_and_check(transactions, basket_column, item_column)
    count = min_count(min_support, n)
    fp = FPGrowth(itemsCol="items", minSupport=(count - 0.5) / n, minConfidence=1.0)
    if num_partitions:
        fp = fp.setNumPartitions(num_partitions)
    baskets = to_baskets(transactions, basket_column, item_column)
    model = fp.fit(baskets)
    itemsets = model.freqItemsets.select(
        F.array_sort("items").alias("items"), F.col("freq").cast("long").alias("n_baskets_with")
    ).where((F.col("n_baskets_with") >= count) & (F.size("items") <= max_len))
    # FP-Growth's itemsets are a lazy RDD: without this every join of the rules re-mines them.
    # They are far smaller than the baskets; callers may unpersist() when done.
    itemsets = itemsets.persist(StorageLevel.MEMORY_AND_DISK)
    log.info("FP-Growth over %d baskets, min count %d (support %s)", n, count, min_support)
    return itemsets, n


def rules_from_itemsets(
    itemsets: DataFrame,
    n_baskets: int,
    *,
    min_confidence: float,
    allow_empty_antecedent: bool = False,
) -> DataFrame:
    """Single-consequent rules of the frequent itemsets, metrics exact from their counts.

    Every subset of a frequent itemset is frequent, so each antecedent's count is itself in
    ``itemsets``: the counts come from joins, never from a re-scan of the baskets.
    """
    from pyspark.sql import functions as F

    confidence = _exact(min_confidence, "min_confidence")
    items = itemsets.select("items", "n_baskets_with")
    singles = items.where(F.size("items") == 1).select(
        F.col("items")[0].alias("consequent"), F.col("n_baskets_with").alias("n_consequent")
    )
    candidates = (
        items.where(F.size("items") >= 2)
        .select(
            F.col("n_baskets_with").alias("n_both"), "items", F.explode("items").alias("consequent")
        )
        .select(
            "n_both",
            "consequent",
            F.array_except("items", F.array("consequent")).alias("antecedent"),
        )
    )
    antecedents = items.select(
        F.col("items").alias("antecedent"), F.col("n_baskets_with").alias("n_antecedent")
    )
    rules = candidates.join(antecedents, "antecedent").join(F.broadcast(singles), "consequent")
    if allow_empty_antecedent:
        empty = singles.select(
            F.col("n_consequent").alias("n_both"),
            "consequent",
            F.array().cast("array<string>").alias("antecedent"),
            F.lit(n_baskets).cast("long").alias("n_antecedent"),
            "n_consequent",
        )
        rules = rules.unionByName(empty)
    # min_confidence = p/q: n_both / n_antecedent >= p/q  <=>  n_both * q >= p * n_antecedent.
    rules = rules.where(
        F.col("n_both") * F.lit(confidence.denominator)
        >= F.lit(confidence.numerator) * F.col("n_antecedent")
    )
    return _with_metrics(rules, n_baskets)


def _with_metrics(rules: DataFrame, n_baskets: int) -> DataFrame:
    from pyspark.sql import functions as F

    n = F.lit(float(n_baskets))
    both, ante, cons = (F.col(c).cast("double") for c in ("n_both", "n_antecedent", "n_consequent"))
    return rules.select(
        F.substring(
            F.sha2(F.to_json(F.struct(F.col("antecedent"), F.col("consequent"))), 256), 1, 16
        ).alias("rule_id"),
        "antecedent",
        "consequent",
        F.size("antecedent").alias("antecedent_size"),
        F.lit(n_baskets).cast("long").alias("n_baskets"),
        F.col("n_antecedent").cast("long").alias("n_antecedent"),
        F.col("n_consequent").cast("long").alias("n_consequent"),
        F.col("n_both").cast("long").alias("n_both"),
        (both / n).alias("support"),
        (both / ante).alias("confidence"),
        (both * n / (ante * cons)).alias("lift"),
        ((both * n - ante * cons) / (n * n)).alias("leverage"),
        # A rule that always holds has infinite conviction (as in arules and mlxtend).
        F.when(ante == both, F.lit(float("inf")))
        .otherwise((n - cons) * ante / (n * (ante - both)))
        .alias("conviction"),
    )


def mine_rules(
    transactions: DataFrame,
    *,
    min_support: float,
    min_confidence: float,
    basket_column: str = "basket_id",
    item_column: str = "item",
    max_len: int = 10,
    allow_empty_antecedent: bool = False,
    num_partitions: int | None = None,
) -> DataFrame:
    """Association rules of a transactions table (one row per basket and item).

    Args:
        min_support: share of baskets holding antecedent and consequent, in (0, 1], inclusive.
        min_confidence: share of antecedent baskets also holding the consequent, in (0, 1].
        max_len: most items in a rule, antecedent plus consequent (arules' maxlen, default 10).
        allow_empty_antecedent: also emit ``{} => c`` rules (arules' ``minlen=1``).

    Returns:
        the columns of :data:`RULE_COLUMNS`, one row per rule.
    """
    _check_params(min_support, min_confidence, max_len)
    itemsets, n = frequent_itemsets(
        transactions,
        min_support=min_support,
        basket_column=basket_column,
        item_column=item_column,
        max_len=max_len,
        num_partitions=num_partitions,
    )
    return rules_from_itemsets(
        itemsets, n, min_confidence=min_confidence, allow_empty_antecedent=allow_empty_antecedent
    )


def mine_rules_by_group(
    transactions: DataFrame,
    group_columns: Sequence[str],
    *,
    min_support: float,
    min_confidence: float,
    basket_column: str = "basket_id",
    item_column: str = "item",
    max_len: int = 10,
    allow_empty_antecedent: bool = False,
) -> DataFrame:
    """Rules per group (e.g. region, segment): :func:`mine_rules` on each group's baskets.

    Support is relative to the group's own baskets. The distinct groups are few and are the
    only thing brought to the driver. Returns the group columns followed by the rule columns.
    """
    from pyspark.sql import functions as F

    group_columns = list(group_columns)
    if not group_columns:
        raise ParameterError("group_columns must name at least one column")
    _check_params(min_support, min_confidence, max_len)
    require_columns(
        transactions.columns, [*group_columns, basket_column, item_column], "transactions"
    )
    groups = [row.asDict() for row in transactions.select(*group_columns).distinct().collect()]
    if not groups:
        raise InputDataError("transactions: no baskets (the input is empty)")
    results = []
    for group in sorted(groups, key=lambda g: tuple(str(g[c]) for c in group_columns)):
        condition = None
        for column, value in group.items():
            term = F.col(column).isNull() if value is None else F.col(column) == F.lit(value)
            condition = term if condition is None else condition & term
        rules = mine_rules(
            transactions.where(condition),
            min_support=min_support,
            min_confidence=min_confidence,
            basket_column=basket_column,
            item_column=item_column,
            max_len=max_len,
            allow_empty_antecedent=allow_empty_antecedent,
        )
        labels = [
            F.lit(group[c]).cast(transactions.schema[c].dataType).alias(c) for c in group_columns
        ]
        results.append(rules.select(*labels, *RULE_COLUMNS))
    out = results[0]
    for more in results[1:]:
        out = out.unionByName(more)
    return out


def _offer_order() -> list[Column]:
    from pyspark.sql import functions as F

    return [
        F.col("lift").desc(),
        F.col("confidence").desc(),
        F.col("support").desc(),
        F.col("consequent").asc(),
        F.col("rule_id").asc(),
    ]


def next_best_offers(
    holdings: DataFrame,
    rules: DataFrame,
    *,
    customer_column: str,
    item_column: str = "item",
    top_n: int = 3,
) -> DataFrame:
    """Each customer's next-best offers: rules whose antecedent they fully hold and whose
    consequent they do not, best first by lift, then confidence, then support.

    A product is offered once per customer, through its best rule. Antecedents are matched
    by an equi-join on items (count of held antecedent items == antecedent size), not a cross
    join of customers and rules.

    Returns:
        ``customer_column``, ``offer_rank`` (1 = best), ``offer_item``, ``rule_id``,
        ``antecedent``, ``support``, ``confidence``, ``lift``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ParameterError(f"top_n must be an integer >= 1, got {top_n!r}")
    require_columns(holdings.columns, [customer_column, item_column], "holdings")
    require_columns(
        rules.columns,
        ["rule_id", "antecedent", "consequent", "support", "confidence", "lift"],
        "rules",
    )
    held = (
        holdings.select(customer_column, F.col(item_column).alias("item"))
        .where(F.col("item").isNotNull() & F.col(customer_column).isNotNull())
        .distinct()
    )
    metrics = rules.select("rule_id", "antecedent", "consequent", "support", "confidence", "lift")
    rule_items = rules.where(F.size("antecedent") > 0).select(
        "rule_id",
        F.size("antecedent").alias("antecedent_size"),
        F.explode("antecedent").alias("item"),
    )
    matched = (
        held.join(F.broadcast(rule_items), "item")
        .groupBy(customer_column, "rule_id", "antecedent_size")
        .agg(F.count("*").alias("n_held"))
        .where(F.col("n_held") == F.col("antecedent_size"))
        .select(customer_column, "rule_id")
    )
    unconditional = rules.where(F.size("antecedent") == 0).select("rule_id")
    matched = matched.unionByName(
        held.select(customer_column).distinct().crossJoin(F.broadcast(unconditional))
    )
    candidates = matched.join(F.broadcast(metrics), "rule_id").join(
        held.select(customer_column, F.col("item").alias("consequent")),
        [customer_column, "consequent"],
        "left_anti",
    )
    per_item = Window.partitionBy(customer_column, "consequent").orderBy(*_offer_order())
    per_customer = Window.partitionBy(customer_column).orderBy(*_offer_order())
    best = candidates.withColumn("_best", F.row_number().over(per_item)).where("_best = 1")
    ranked = best.withColumn("offer_rank", F.row_number().over(per_customer)).where(
        F.col("offer_rank") <= top_n
    )
    return ranked.select(
        customer_column,
        "offer_rank",
        F.col("consequent").alias("offer_item"),
        "rule_id",
        "antecedent",
        "support",
        "confidence",
        "lift",
    )
