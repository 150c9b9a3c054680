"""Basket rules: Spark FP-Growth itemsets, exact metrics, groups, offers; Groceries checked
against arules' published result and mlxtend."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.conftest import EXTERNAL_DATA
from workbench.analysis.baskets import (
    RULE_COLUMNS,
    min_count,
    mine_rules,
    mine_rules_by_group,
    next_best_offers,
    read_basket_lines,
)
from workbench.errors import InputDataError, ParameterError, WorkbenchError

GROCERIES = EXTERNAL_DATA / "groceries.csv"
TX_SCHEMA = T.StructType(
    [T.StructField("basket_id", T.LongType()), T.StructField("item", T.StringType())]
)


def transactions(spark, baskets: list[list[str]]):
    rows = [(i, item) for i, basket in enumerate(baskets) for item in basket]
    return spark.createDataFrame(rows, TX_SCHEMA)


# -- Groceries: the published arules result and mlxtend ---------------------------------------
@pytest.fixture(scope="module")
def groceries_rules(spark) -> pd.DataFrame:
    tx = read_basket_lines(spark, str(GROCERIES))
    return mine_rules(tx, min_support=0.001, min_confidence=0.8).toPandas()


def test_groceries_rule_count_matches_arules(groceries_rules):
    # arules: apriori(Groceries, parameter = list(supp = 0.001, conf = 0.8)) -> "set of 410 rules",
    # rule length distribution (lhs + rhs) 3: 29, 4: 229, 5: 140, 6: 12.
    assert len(groceries_rules) == 410
    sizes = (groceries_rules["antecedent_size"] + 1).value_counts().sort_index().to_dict()
    assert sizes == {3: 29, 4: 229, 5: 140, 6: 12}
    top = groceries_rules.sort_values("lift", ascending=False).iloc[0]
    # arules' top rule by lift: {liquor, red/blush wine} => {bottled beer}
    # support 0.001931876, confidence 0.9047619, lift 11.235269, count 19.
    assert sorted(top["antecedent"]) == ["liquor", "red/blush wine"]
    assert top["consequent"] == "bottled beer"
    assert top["n_both"] == 19
    assert top["support"] == pytest.approx(0.001931876, abs=1e-9)
    assert top["lift"] == pytest.approx(11.235269, abs=1e-6)


def test_groceries_rules_match_mlxtend_exactly(groceries_rules):
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    baskets = [line.rstrip("\n").split(",") for line in GROCERIES.read_text().splitlines(True)]
    items = sorted({item for basket in baskets for item in basket})
    assert "cream cheese " in items  # labels keep their trailing space, as in arules
    index = {item: j for j, item in enumerate(items)}
    onehot = np.zeros((len(baskets), len(items)), dtype=bool)
    for i, basket in enumerate(baskets):
        onehot[i, [index[item] for item in basket]] = True
    frame = pd.DataFrame(onehot, columns=items)
    itemsets = fpgrowth(frame, min_support=0.001, use_colnames=True)
    reference = association_rules(
        itemsets, num_itemsets=len(frame), metric="confidence", min_threshold=0.8
    )
    reference = reference[reference["consequents"].map(len) == 1]
    reference.columns = [c.replace(" ", "_") for c in reference.columns]
    expected = {
        (frozenset(r.antecedents), next(iter(r.consequents))): r for r in reference.itertuples()
    }
    ours = {(frozenset(r.antecedent), r.consequent): r for r in groceries_rules.itertuples()}
    assert set(ours) == set(expected)
    pairs = [
        ("support", "support"),
        ("confidence", "confidence"),
        ("lift", "lift"),
        ("leverage", "leverage"),
        ("conviction", "conviction"),
    ]
    for key, mine in ours.items():
        theirs = expected[key]
        assert abs(mine.n_antecedent / mine.n_baskets - theirs.antecedent_support) <= 1e-12
        assert abs(mine.n_consequent / mine.n_baskets - theirs.consequent_support) <= 1e-12
        for ours_name, theirs_name in pairs:
            a, b = getattr(mine, ours_name), getattr(theirs, theirs_name)
            assert (a == b) if math.isinf(b) else abs(a - b) <= 1e-9, (key, ours_name, a, b)


# -- exact, inclusive thresholds --------------------------------------------------------------
def test_thresholds_are_inclusive_and_exact(spark):
    # 100 baskets: {a, b} x 7, {a} x 3, {c} x 90.
    # a => b has support 0.07 and confidence 0.7 exactly.
    baskets = [["a", "b"]] * 7 + [["a"]] * 3 + [["c"]] * 90
    tx = transactions(spark, baskets)
    assert math.ceil(0.07 * 100) == 8  # the float pitfall the exact count avoids
    assert min_count(0.07, 100) == 7
    rules = mine_rules(tx, min_support=0.07, min_confidence=0.7).toPandas()
    got = {(tuple(r.antecedent), r.consequent): r for r in rules.itertuples()}
    assert set(got) == {(("a",), "b"), (("b",), "a")}
    a_b = got[(("a",), "b")]
    assert (a_b.n_antecedent, a_b.n_consequent, a_b.n_both) == (10, 7, 7)
    assert a_b.confidence == 0.7 and a_b.support == 0.07
    assert a_b.lift == pytest.approx(7 * 100 / (10 * 7))
    assert a_b.leverage == pytest.approx(0.07 - 0.10 * 0.07)
    assert a_b.conviction == pytest.approx((1 - 0.07) / (1 - 0.7))
    assert math.isinf(got[(("b",), "a")].conviction)  # b always comes with a
    assert list(rules.columns) == RULE_COLUMNS
    # Just above either threshold the rule disappears.
    assert mine_rules(tx, min_support=0.0701, min_confidence=0.7).count() == 0
    above = mine_rules(tx, min_support=0.07, min_confidence=0.7001).toPandas()
    assert [(tuple(r.antecedent), r.consequent) for r in above.itertuples()] == [(("b",), "a")]


def test_empty_antecedent_only_when_allowed_and_confident(spark):
    baskets = [["milk", "bread"]] * 9 + [["bread"]]
    tx = transactions(spark, baskets)
    default = mine_rules(tx, min_support=0.1, min_confidence=0.85).toPandas()
    assert len(default) > 0
    assert all(len(a) > 0 for a in default["antecedent"])
    allowed = mine_rules(
        tx, min_support=0.1, min_confidence=0.85, allow_empty_antecedent=True
    ).toPandas()
    empty = allowed[allowed["antecedent"].map(len) == 0]
    # bread is in every basket (conf 1.0), milk in 90% (conf 0.9): both clear 0.85.
    assert sorted(empty["consequent"]) == ["bread", "milk"]
    assert empty.set_index("consequent").loc["milk", "confidence"] == 0.9
    assert empty.set_index("consequent").loc["milk", "lift"] == 1.0


def test_max_len_limits_rule_length(spark):
    tx = transactions(spark, [["a", "b", "c"]] * 5)
    assert (
        mine_rules(tx, min_support=0.5, min_confidence=0.5).toPandas()["antecedent_size"].max() == 2
    )
    short = mine_rules(tx, min_support=0.5, min_confidence=0.5, max_len=2).toPandas()
    assert set(short["antecedent_size"]) == {1} and len(short) == 6


def test_read_basket_lines_keeps_labels_exactly(spark, tmp_path):
    path = tmp_path / "baskets.csv"
    path.write_text("cream cheese ,rolls/buns\n\nwhole milk\n")
    tx = read_basket_lines(spark, str(path)).toPandas()
    assert tx.groupby("basket_id")["item"].apply(sorted).tolist() == [
        ["cream cheese ", "rolls/buns"],
        ["whole milk"],
    ]


# -- failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_support": 0, "min_confidence": 0.5}, "min_support"),
        ({"min_support": 1.5, "min_confidence": 0.5}, "min_support"),
        ({"min_support": "0.1", "min_confidence": 0.5}, "min_support"),
        ({"min_support": 0.1, "min_confidence": -0.2}, "min_confidence"),
        ({"min_support": 0.1, "min_confidence": 0.5, "max_len": 0}, "max_len"),
    ],
)
def test_bad_thresholds_name_the_parameter(spark, kwargs, name):
    tx = transactions(spark, [["a", "b"]])
    with pytest.raises(ParameterError, match=name):
        mine_rules(tx, **kwargs)


def test_empty_missing_and_null_inputs(spark):
    empty = spark.createDataFrame([], TX_SCHEMA)
    with pytest.raises(InputDataError, match="empty"):
        mine_rules(empty, min_support=0.1, min_confidence=0.5)
    tx = transactions(spark, [["a", "b"]])
    with pytest.raises(InputDataError, match="'product'"):
        mine_rules(tx, min_support=0.1, min_confidence=0.5, item_column="product")
    nulls = spark.createDataFrame([(1, "a"), (1, None)], TX_SCHEMA)
    with pytest.raises(WorkbenchError, match="'item' has 1 null"):
        mine_rules(nulls, min_support=0.1, min_confidence=0.5)


# -- groups -----------------------------------------------------------------------------------
def test_rules_by_group_are_mined_within_each_group(spark):
    schema = T.StructType(
        [
            T.StructField("region", T.StringType()),
            T.StructField("basket_id", T.LongType()),
            T.StructField("item", T.StringType()),
        ]
    )
    north = [["video", "data_large"]] * 4 + [["music"]] * 4
    south = [["family", "broadband"]] * 3 + [["family"]] + [["video"]] * 4
    rows = [("north", i, item) for i, b in enumerate(north) for item in b]
    rows += [("south", 100 + i, item) for i, b in enumerate(south) for item in b]
    tx = spark.createDataFrame(rows, schema)
    by_group = mine_rules_by_group(tx, ["region"], min_support=0.3, min_confidence=0.7).toPandas()
    assert list(by_group.columns) == ["region", *RULE_COLUMNS]
    for region in ("north", "south"):
        alone = mine_rules(
            tx.where(f"region = '{region}'"), min_support=0.3, min_confidence=0.7
        ).toPandas()
        part = by_group[by_group["region"] == region].drop(columns="region")
        key = ["rule_id"]
        pd.testing.assert_frame_equal(
            part.sort_values(key).reset_index(drop=True),
            alone.sort_values(key).reset_index(drop=True),
        )
    pairs = {(r.region, r.antecedent[0], r.consequent) for r in by_group.itertuples()}
    assert pairs == {
        ("north", "video", "data_large"),
        ("north", "data_large", "video"),
        ("south", "broadband", "family"),  # family => broadband has confidence 0.75 >= 0.7
        ("south", "family", "broadband"),
    }
    with pytest.raises(ParameterError, match="group_columns"):
        mine_rules_by_group(tx, [], min_support=0.3, min_confidence=0.7)
    with pytest.raises(InputDataError, match="'segment'"):
        mine_rules_by_group(tx, ["segment"], min_support=0.3, min_confidence=0.7)


# -- next-best offers -------------------------------------------------------------------------
RULE_SCHEMA = T.StructType(
    [
        T.StructField("rule_id", T.StringType()),
        T.StructField("antecedent", T.ArrayType(T.StringType())),
        T.StructField("consequent", T.StringType()),
        T.StructField("support", T.DoubleType()),
        T.StructField("confidence", T.DoubleType()),
        T.StructField("lift", T.DoubleType()),
    ]
)


def test_next_best_offers_rank_rules_the_customer_qualifies_for(spark):
    rules = spark.createDataFrame(
        [
            ("r1", ["a", "b"], "c", 0.1, 0.9, 5.0),
            ("r2", ["a"], "d", 0.2, 0.8, 3.0),
            ("r3", ["b"], "c", 0.1, 0.6, 2.0),  # c again: only its best rule (r1) counts
            ("r4", ["a"], "b", 0.3, 0.7, 4.0),
            ("r5", ["e"], "a", 0.1, 0.9, 9.0),
        ],
        RULE_SCHEMA,
    )
    holdings = spark.createDataFrame(
        [("s1", "a"), ("s1", "b"), ("s2", "a"), ("s3", "b"), ("s4", "a"), ("s4", "d")],
        "subscriber_id string, item string",
    )
    offers = next_best_offers(holdings, rules, customer_column="subscriber_id", top_n=2)
    expected = spark.createDataFrame(
        [
            ("s1", 1, "c", "r1", ["a", "b"], 0.1, 0.9, 5.0),
            ("s1", 2, "d", "r2", ["a"], 0.2, 0.8, 3.0),
            ("s2", 1, "b", "r4", ["a"], 0.3, 0.7, 4.0),
            ("s2", 2, "d", "r2", ["a"], 0.2, 0.8, 3.0),
            ("s3", 1, "c", "r3", ["b"], 0.1, 0.6, 2.0),
            ("s4", 1, "b", "r4", ["a"], 0.3, 0.7, 4.0),
        ],
        offers.schema,
    )
    assertDataFrameEqual(offers, expected)


def test_next_best_offers_failures(spark):
    rules = spark.createDataFrame([], RULE_SCHEMA)
    holdings = spark.createDataFrame([("s1", "a")], "subscriber_id string, item string")
    with pytest.raises(ParameterError, match="top_n"):
        next_best_offers(holdings, rules, customer_column="subscriber_id", top_n=0)
    with pytest.raises(InputDataError, match="'customer_id'"):
        next_best_offers(holdings, rules, customer_column="customer_id")
    with pytest.raises(InputDataError, match="'lift'"):
        next_best_offers(holdings, rules.drop("lift"), customer_column="subscriber_id")
