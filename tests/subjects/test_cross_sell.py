"""Cross-sell subject: planted product affinities found, independent pairs not, offers sane."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import cross_sell


def test_transactions_keep_subscribers_without_products(spark):
    holdings = spark.createDataFrame(
        [(1, "A"), (1, "B"), (2, "A")], "subscriber_id bigint, product_id string"
    )
    base = spark.createDataFrame(
        [(1, "GZ", "mass"), (2, "SZ", "youth"), (3, "GZ", "mass")],
        T.StructType(
            [
                T.StructField("subscriber_id", T.LongType()),
                T.StructField("region_id", T.StringType()),
                T.StructField("segment", T.StringType()),
            ]
        ),
    )
    rows = sorted(
        tuple(r)
        for r in cross_sell.to_transactions(holdings, base)
        .select("subscriber_id", "item", "region_id")
        .collect()
    )
    assert rows == [
        (1, "A", "GZ"),
        (1, "B", "GZ"),
        (2, "A", "SZ"),
        (3, cross_sell.NO_PRODUCT, "GZ"),
    ]


@pytest.fixture(scope="module")
def basket_run(tiny_results, tiny_manifest):
    """The rules of the result marts: the subject run with RESULT_RULES (by region and segment
    too, two offers a line) on the tiny operator's last month, once per test run."""
    period = tiny_manifest["months"][-1]
    return read_mart("ads_basket_rules", tiny_results, months=[period]), period


def _rule(rules, antecedent, consequent):
    hit = rules[
        (rules["scope"] == "overall")
        & (rules["antecedent"] == antecedent)
        & (rules["consequent"] == consequent)
    ]
    return hit.iloc[0] if len(hit) else None


def test_planted_affinities_have_lift_above_two(basket_run, tiny_manifest):
    rules, _ = basket_run
    truth = tiny_manifest["planted"]["product_affinities"]
    for pair in truth["affine_pairs"]:
        for a, c in (
            (pair["antecedent"], pair["consequent"]),
            (pair["consequent"], pair["antecedent"]),
        ):
            rule = _rule(rules, a, c)
            assert rule is not None, (a, c)
            assert rule["lift"] > 2, (a, c, rule["lift"])
    for pair in truth["independent_pairs"]:
        rule = _rule(rules, pair["antecedent"], pair["consequent"])
        assert rule is None or rule["lift"] <= 2, (pair, rule)
    # the base is every live subscriber, as in the manifest
    assert set(rules["n_baskets"][rules["scope"] == "overall"]) == {truth["lines"]}


def test_rules_by_region_and_segment_use_their_own_baskets(basket_run, tiny_warehouse):
    rules, period = basket_run
    assert set(rules["scope"]) == {"overall", "region", "segment"}
    base = read_mart("ads_churn_features", tiny_warehouse, months=[period])
    per_region = base.groupby("region_id").size()
    regional = rules[rules["scope"] == "region"].groupby("scope_value")["n_baskets"].first()
    assert (regional == per_region.reindex(regional.index)).all()


def test_offers_are_products_not_held_ranked_by_lift(tiny_results, tiny_manifest):
    period = tiny_manifest["months"][-1]
    offers = read_mart("ads_offers", tiny_results, months=[period])
    holdings = read_mart("ads_product_holdings", tiny_results, months=[period])
    held = set(zip(holdings["subscriber_id"], holdings["product_id"], strict=True))
    assert len(offers) > 0 and not offers.duplicated(["subscriber_id", "offer_rank"]).any()
    assert not any(
        (s, p) in held
        for s, p in zip(offers["subscriber_id"], offers["offer_product_id"], strict=True)
    )
    assert offers["offer_rank"].between(1, 2).all()
    firsts = offers.pivot(index="subscriber_id", columns="offer_rank", values="lift").dropna()
    assert (firsts[1] >= firsts[2]).all()


def test_a_period_without_holdings_is_refused(spark, tiny_warehouse):
    with pytest.raises(InputDataError, match="has no month 2030-01"):
        cross_sell.run(spark, tiny_warehouse, "2030-01")
