"""The value marts: inline rows for the tier and stage rules, and the built `tiny` marts against
an independent DuckDB recomputation from dws_subscriber_month and the generator's manifest."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from tests.frames import frame
from workbench.catalog import get_table
from workbench.errors import MissingColumnError
from workbench.marts import read_mart, table_sql
from workbench.warehouse.ads_value import (
    to_value_migration,
    to_value_segments,
    with_value_tiers,
)


def line(sub, month, **values):
    row = {
        "subscriber_id": sub,
        "month": month,
        "region_id": "GZ",
        "segment": "mass",
        "plan_type": "postpaid",
        "tenure_months": 40,
        "is_active": True,
        "is_churned_this_month": False,
        "n_complaints_open": 0,
        "bill_shock_ratio": 1.0,
        "competitor_share": 0.1,
        "revenue_cny": 100.0,
    }
    row.update(values)
    return row


def test_tiers_stages_and_migration_on_inline_rows(spark):
    rows = [
        # 1: high in Jan (3-month mean 400), medium in Feb (mean (400+50)/2 = 225)
        line(1, "2026-01", revenue_cny=400.0),
        line(1, "2026-02", revenue_cny=50.0, bill_shock_ratio=0.125),
        # 2: new line in Feb, low value
        line(2, "2026-02", revenue_cny=20.0, tenure_months=0, region_id=None),
        # 3: medium, left in Feb
        line(3, "2026-01", revenue_cny=90.0),
        line(3, "2026-02", revenue_cny=90.0, is_churned_this_month=True, is_active=False),
        # 4: growing; 5: declining; 6: open complaint beats growing
        line(4, "2026-02", bill_shock_ratio=1.5),
        line(5, "2026-02", bill_shock_ratio=0.7),
        line(6, "2026-02", bill_shock_ratio=1.5, n_complaints_open=1),
    ]
    tiered = frame(spark, "dws_subscriber_month", rows).transform(with_value_tiers(300.0, 80.0))
    got = {
        (r["subscriber_id"], r["month"]): (r["value_tier"], r["lifecycle_stage"], r["tenure_band"])
        for r in tiered.collect()
    }
    assert got[(1, "2026-01")] == ("high", "stable", "loyal")
    assert got[(1, "2026-02")] == ("medium", "at_risk", "loyal")
    assert got[(2, "2026-02")] == ("low", "new", "new")
    assert got[(3, "2026-02")][1] == "lost"
    assert got[(4, "2026-02")][1] == "growing"
    assert got[(5, "2026-02")][1] == "declining"
    assert got[(6, "2026-02")][1] == "at_risk"

    segments = to_value_segments(tiered).where("month = '2026-02'").collect()
    assert sum(r["n_lines"] for r in segments) == 6
    assert {r["region_id"] for r in segments} == {"GZ", "UNKNOWN"}

    moves = {
        (r["from_tier"], r["to_tier"]): r["n_lines"]
        for r in to_value_migration(tiered).where("month = '2026-02'").collect()
    }
    assert moves == {
        ("high", "medium"): 1,
        ("new", "low"): 1,
        ("medium", "lost"): 1,
        ("new", "medium"): 3,
    }

    with pytest.raises(MissingColumnError, match="bill_shock_ratio"):
        frame(spark, "dws_subscriber_month", rows).drop("bill_shock_ratio").transform(
            with_value_tiers()
        )
    with pytest.raises(ValueError, match="medium"):
        with_value_tiers(50.0, 80.0)


# ------------------------------------------------------------------ the built tiny marts


@pytest.fixture(scope="module")
def con(tiny_warehouse):
    c = duckdb.connect()
    for name in ("dws_subscriber_month", "dwd_dim_plan"):
        c.execute(f"CREATE VIEW {name} AS {table_sql(get_table(name), tiny_warehouse)}")
    yield c
    c.close()


def test_value_segments_and_migration_match_an_independent_recount(
    tiny_warehouse, tiny_manifest, con
):
    last, prev = tiny_manifest["months"][-1], tiny_manifest["months"][-2]
    con.execute(
        """CREATE TEMP TABLE tiers AS SELECT subscriber_id, month, is_churned_this_month, CASE
             WHEN a >= 300 THEN 'high' WHEN a >= 80 THEN 'medium' ELSE 'low' END AS tier
           FROM (SELECT *, avg(coalesce(revenue_cny, 0)) OVER (PARTITION BY subscriber_id
                 ORDER BY (year(strptime(month, '%Y-%m')) * 12 + month(strptime(month, '%Y-%m')))
                 RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS a FROM dws_subscriber_month)"""
    )
    expected = dict(
        con.execute(
            f"SELECT tier, count(*) FROM tiers WHERE month = '{last}' GROUP BY 1"
        ).fetchall()
    )
    segments = read_mart("ads_value_segments", tiny_warehouse, months=[last])
    assert segments.groupby("value_tier")["n_lines"].sum().to_dict() == expected
    n_churned = con.execute(
        "SELECT count(*) FROM dws_subscriber_month "
        f"WHERE month = '{last}' AND is_churned_this_month"
    ).fetchone()[0]
    lost = segments.loc[segments["lifecycle_stage"] == "lost", "n_lines"].sum()
    assert lost == n_churned > 0

    matrix = con.execute(
        f"""SELECT coalesce(b.tier, 'new') AS f,
            CASE WHEN a.is_churned_this_month THEN 'lost' ELSE a.tier END AS t, count(*)
            FROM tiers a LEFT JOIN tiers b ON a.subscriber_id = b.subscriber_id
            AND b.month = '{prev}' WHERE a.month = '{last}' GROUP BY 1, 2"""
    ).fetchall()
    migration = read_mart("ads_value_migration", tiny_warehouse, months=[last])
    got = migration.groupby(["from_tier", "to_tier"])["n_lines"].sum().to_dict()
    assert got == {(f, t): n for f, t, n in matrix}
    # lines change tier: the matrix is not just its diagonal
    assert sum(n for (f, t), n in got.items() if f != t and f != "new" and t != "lost") > 0


def test_key_account_health_finds_the_planted_key_accounts(tiny_warehouse, tiny_manifest):
    planted = tiny_manifest["planted"]["key_accounts"]
    last = tiny_manifest["months"][-1]
    health = read_mart("ads_key_account_health", tiny_warehouse, months=[last])
    assert sorted(health["customer_id"]) == planted["customer_ids"]
    lines = {str(k): v for k, v in zip(health["customer_id"], health["n_lines"], strict=True)}
    assert lines == planted["lines_by_customer_last_month"]
    # the planted share is on plan fee + value-added products of lines in the last month
    assert health["fee_revenue_share"].sum() == pytest.approx(
        planted["revenue_share_last_month"], abs=1e-6
    )
    assert (health["revenue_share"] > 0).all()


def test_revenue_concentration_and_structure_add_up(tiny_warehouse, tiny_manifest, con):
    last = tiny_manifest["months"][-1]
    customers = con.execute(
        f"""SELECT coalesce(customer_id, -subscriber_id) c, sum(coalesce(revenue_cny, 0)) r
            FROM dws_subscriber_month WHERE month = '{last}' GROUP BY 1 ORDER BY r DESC, c"""
    ).df()
    conc = read_mart("ads_revenue_concentration", tiny_warehouse, months=[last])
    assert list(conc["percentile"]) == list(range(1, 101))
    assert conc["n_customers"].sum() == len(customers)
    # ntile: the first len % 100 buckets hold one customer more
    sizes = [len(part) for part in np.array_split(np.arange(len(customers)), 100)]
    top20 = customers["r"].iloc[: sum(sizes[:20])].sum() / customers["r"].sum()
    assert conc.loc[conc["percentile"] == 20, "cumulative_revenue_share"].iloc[0] == pytest.approx(
        top20, rel=1e-9
    )
    assert conc["cumulative_revenue_share"].iloc[-1] == pytest.approx(1.0)

    structure = read_mart("ads_revenue_structure", tiny_warehouse)
    by_month = structure.groupby("month")["revenue_cny"].sum()
    dws = dict(
        con.execute(
            "SELECT month, sum(revenue_cny) FROM dws_subscriber_month GROUP BY 1"
        ).fetchall()
    )
    assert by_month.to_dict() == pytest.approx(dws, rel=1e-9)
    fee = con.execute(
        f"SELECT sum(plan_fee_cny) FROM dws_subscriber_month WHERE month = '{last}' "
        "AND plan_type <> 'prepaid'"
    ).fetchone()[0]
    cats = structure[structure["month"] == last].groupby("category")["revenue_cny"].sum()
    assert cats["plan_fee"] == pytest.approx(fee, rel=1e-9)
    assert set(cats.index) == {"plan_fee", "voice", "sms", "data", "vas", "recharge"}
