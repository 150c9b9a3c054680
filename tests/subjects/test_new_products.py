"""New products subject: adoption since launch, adopter profile, cannibalisation."""

from __future__ import annotations

import math

import duckdb
import pytest
from statsmodels.stats.proportion import proportion_confint

from tests.conftest import make_project
from workbench.catalog import get_table
from workbench.errors import InputDataError, ParameterError
from workbench.marts import table_sql
from workbench.subjects import new_products


def test_newest_product_follows_the_planted_take_up(tiny_warehouse, tiny_manifest):
    """Truth: NEW_5G_BOOST launches in the planted month; holders equal the planted curve."""
    truth = tiny_manifest["planted"]["new_product"]
    period = tiny_manifest["months"][-1]
    result = new_products.run(tiny_warehouse, period)
    assert result.product_id == truth["product_id"]
    assert result.launch_month == truth["launch_month"]
    curve = result.adoption.set_index("month")
    assert curve["n_holders"].to_dict() == truth["holders_by_month"]
    assert (curve.loc[curve["months_since_launch"] < 0, "n_holders"] == 0).all()
    assert curve.loc[truth["launch_month"], "months_since_launch"] == 0
    assert curve.loc[truth["launch_month"], "n_holders"] > 0
    # take-up accelerates towards the planted midpoint
    after = curve[curve["months_since_launch"] >= 0]["n_new"].to_numpy()
    assert after[-1] > after[0]


def test_adopter_profile_and_values_match_the_wide_table(tiny_warehouse, tiny_manifest):
    period = tiny_manifest["months"][-1]
    result = new_products.run(tiny_warehouse, period, product_id="NEW_5G_BOOST")
    profile = result.profile
    for _, part in profile.groupby("dimension"):
        assert part["holders_share"].sum() == pytest.approx(1.0)
        assert part["base_share"].sum() == pytest.approx(1.0)
    s = tiny_warehouse
    sm = f"({table_sql(get_table('dws_subscriber_month'), s)})"
    h = f"({table_sql(get_table('dwd_fct_product_holding'), s)})"
    expected = (
        duckdb.sql(
            f"""SELECT (h.subscriber_id IS NOT NULL) AS holder, avg(m.revenue_cny) AS arpu,
                   avg(m.data_mb) AS data, count(*) AS n
            FROM {sm} m LEFT JOIN {h} h ON h.subscriber_id = m.subscriber_id
                 AND h.month = m.month AND h.product_id = 'NEW_5G_BOOST'
            WHERE m.month = '{period}' AND m.is_active GROUP BY 1"""
        )
        .df()
        .set_index("holder")
    )
    values = result.values.set_index("metric")
    assert values.loc["arpu_cny", "holders_mean"] == pytest.approx(expected.loc[True, "arpu"])
    assert values.loc["arpu_cny", "non_holders_mean"] == pytest.approx(expected.loc[False, "arpu"])
    assert values.loc["data_mb", "holders_mean"] == pytest.approx(expected.loc[True, "data"])
    assert values.loc["arpu_cny", "n_holders"] == expected.loc[True, "n"]


def test_cannibalisation_pools_the_months_since_launch(tiny_warehouse, tiny_manifest):
    period = tiny_manifest["months"][-1]
    table = new_products.cannibalisation(tiny_warehouse, "NEW_5G_BOOST", period)
    assert "NEW_5G_BOOST" not in set(table["product_id"])
    adopters = new_products.adoption_curve(tiny_warehouse, "NEW_5G_BOOST", period)
    new_after_first = adopters["n_new"].sum()
    # every adopter holding a pack is counted once per pack held; each adopter is a new holder
    assert (table["n_adopters_holding"] <= new_after_first).all()
    assert (table["adopter_drop_rate"].dropna().between(0, 1)).all()
    # the interval is Newcombe's (method 10), worked here from two Wilson intervals rather than
    # checked against its own centre, which any symmetric interval passes
    for r in table.dropna(subset=["difference"]).itertuples():
        p1, p2 = (
            r.n_adopters_dropped / r.n_adopters_holding,
            r.n_others_dropped / r.n_others_holding,
        )
        l1, u1 = proportion_confint(r.n_adopters_dropped, r.n_adopters_holding, method="wilson")
        l2, u2 = proportion_confint(r.n_others_dropped, r.n_others_holding, method="wilson")
        low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        assert (r.difference_low, r.difference_high) == pytest.approx((low, high), abs=1e-9)
    got = table.set_index("product_id")
    row = got.iloc[0]
    assert row["difference"] == pytest.approx(
        row["n_adopters_dropped"] / row["n_adopters_holding"]
        - row["n_others_dropped"] / row["n_others_holding"]
    )


def test_unknown_product_missing_mart_and_early_period_are_refused(tiny_warehouse, tmp_path):
    with pytest.raises(ParameterError, match="'product_id': 'NO_SUCH_PACK'"):
        new_products.run(tiny_warehouse, "2026-06", product_id="NO_SUCH_PACK")
    with pytest.raises(InputDataError, match="launched in 2026-03, after the period 2026-01"):
        new_products.run(tiny_warehouse, "2026-01")
    empty = make_project(tmp_path / "empty")
    with pytest.raises(InputDataError, match="dwd_dim_product"):
        new_products.run(empty, "2026-06")
    with pytest.raises(ParameterError, match="'confidence'"):
        new_products.cannibalisation(tiny_warehouse, "NEW_5G_BOOST", "2026-06", confidence=0.1)
