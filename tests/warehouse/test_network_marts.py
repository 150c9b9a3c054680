"""The network subjects' marts: inline units, recomputations from the wide table with DuckDB,
and the generator's planted truth (poor cells, the new product's holders)."""

from __future__ import annotations

import duckdb
import pytest

from tests.frames import frame
from tests.tables import ALL_CELL
from workbench.catalog import get_table
from workbench.errors import MissingColumnError
from workbench.filters import equals
from workbench.marts import read_mart, table_sql
from workbench.warehouse.ads_network import (
    RISING_MIN_MOU,
    RISING_SHARE_CHANGE,
    flag_competitor_risers,
    network_models,
    share_band_col,
    summarise_competition,
)


def line(sub, month, **kw):
    base = {
        "subscriber_id": sub,
        "month": month,
        "region_id": "GZ",
        "segment": "mass",
        "plan_type": "prepaid",
        "is_active": True,
        "is_churned_this_month": False,
        "is_gross_add": False,
        "is_opening": True,
        "mou_min": 100.0,
        "offnet_min": 50.0,
        "competitor_a_min": 0.0,
        "competitor_b_min": 0.0,
        "competitor_share": 0.0,
        "revenue_cny": 10.0,
        "is_churned_next_month": False,
    }
    return {**base, **kw}


def test_share_bands_edges_and_no_calls(spark):
    df = spark.createDataFrame(
        [(0.0,), (0.0999,), (0.1,), (0.59,), (0.6,), (1.0,), (None,)], "s double"
    )
    got = [r[0] for r in df.select(share_band_col("s")).collect()]
    assert got == ["0-0.1", "0-0.1", "0.1-0.2", "0.4-0.6", "0.6-1", "0.6-1", "no_calls"]


def test_competition_bands_count_live_lines_and_next_month_churn(spark):
    rows = [
        line(1, "2026-01", competitor_share=0.05, competitor_a_min=5.0),
        line(
            2,
            "2026-01",
            competitor_share=0.7,
            competitor_a_min=40.0,
            competitor_b_min=30.0,
            is_churned_next_month=True,
        ),
        line(3, "2026-01", competitor_share=0.65, competitor_b_min=50.0, offnet_min=65.0),
        line(4, "2026-01", is_active=False, is_churned_this_month=True, competitor_share=0.9),
    ]
    out = summarise_competition("2026-02")(frame(spark, "dws_subscriber_month", rows))
    got = {r["share_band"]: r for r in out.collect()}
    assert set(got) == {"0-0.1", "0.6-1"}  # the churned line (not live at month end) is out
    top = got["0.6-1"]
    assert (top["n_lines"], top["n_churned_next_month"]) == (2, 1)
    assert top["competitor_a_min"] == 40.0 and top["competitor_b_min"] == 80.0
    assert top["band_low"] == 0.6 and top["band_high"] == 1.0
    assert top["is_next_month_observed"]
    with pytest.raises(MissingColumnError, match="competitor_share"):
        summarise_competition("2026-02")(
            frame(spark, "dws_subscriber_month", rows).drop("competitor_share")
        )


def test_risers_compare_with_the_two_previous_months(spark):
    rows = [
        # 1: 0.1, 0.2 -> 0.4 rises by 0.25
        line(1, "2025-12", competitor_share=0.1),
        line(1, "2026-01", competitor_share=0.2),
        line(1, "2026-02", competitor_share=0.4),
        # 2: rises but too few minutes to trust the share
        line(2, "2026-01", competitor_share=0.0),
        line(2, "2026-02", competitor_share=0.5, mou_min=RISING_MIN_MOU - 1),
        # 3: a small rise
        line(3, "2026-01", competitor_share=0.3),
        line(3, "2026-02", competitor_share=0.3 + RISING_SHARE_CHANGE / 2),
        # 4: no history, nothing to compare with
        line(4, "2026-02", competitor_share=0.9),
    ]
    out = flag_competitor_risers(["2026-02"], "2026-02")(frame(spark, "dws_subscriber_month", rows))
    got = out.collect()
    assert [r["subscriber_id"] for r in got] == [1]
    assert got[0]["competitor_share_before"] == pytest.approx(0.15)
    assert got[0]["share_change"] == pytest.approx(0.25)
    assert not got[0]["is_next_month_observed"]


def test_models_are_registered_with_their_look_ahead():
    models = {m.table: m for m in network_models()}
    assert models["ads_cell_churn"].lookahead_months == 1
    assert models["ads_competitor_risers"].lookback_months == 2
    assert models["ads_product_switching"].lookback_months == 1
    for name in models:
        assert get_table(name).layer == "ads"


# ---------------------------------------------------------------- on the tiny warehouse


def _sql(settings, name: str) -> str:
    return f"({table_sql(get_table(name), settings)})"


def test_complaint_summary_matches_the_kpi_and_the_tickets(tiny_warehouse, tiny_manifest):
    s = tiny_warehouse
    month = tiny_manifest["months"][-2]
    mart = read_mart("ads_complaint_summary", s, months=[month])
    # the rate over all regions equals the KPI dictionary's complaint rate in the cube
    kpi = read_mart(
        "ads_kpi_cube",
        s,
        filters=[equals("kpi_code", "complaint_rate_per_10k"), *ALL_CELL],
        months=[month],
    )["value"].iloc[0]
    lines = mart.drop_duplicates("region_id")["n_lines"].sum()
    assert mart["n_complaints"].sum() * 10_000 / lines == pytest.approx(kpi)
    # per region and category, recounted from the tickets with DuckDB
    expected = duckdb.sql(
        f"""SELECT coalesce(m.region_id, 'UNKNOWN') AS region_id, c.category,
                   count(*) AS n, count(c.resolution_hours) FILTER (WHERE c.is_resolved) AS r,
                   count(*) FILTER (WHERE c.resolution_hours <= 72 AND c.is_resolved) AS r72
            FROM {_sql(s, "dwd_fct_complaint")} c
            LEFT JOIN {_sql(s, "dws_subscriber_month")} m USING (subscriber_id, month)
            WHERE c.month = '{month}' GROUP BY ALL"""
    ).df()
    got = mart.merge(expected, on=["region_id", "category"], how="left").fillna(0)
    assert (got["n_complaints"] == got["n"]).all()
    assert (got["n_resolved"] == got["r"]).all()
    assert (got["n_resolved_within_72h"] == got["r72"]).all()
    assert len(mart) == mart["region_id"].nunique() * 4  # zero rows are present


def test_poor_cells_are_the_planted_ones_and_lines_are_counted(tiny_warehouse, tiny_manifest):
    s = tiny_warehouse
    month = tiny_manifest["months"][1]
    cells = read_mart("ads_cell_churn", s, months=[month])
    measured = cells[cells["mean_drop_rate"].notna()]
    poor = set(measured.loc[measured["mean_drop_rate"] >= 0.03, "cell_id"])
    planted = set(tiny_manifest["planted"]["churn_hazard"]["poor_cells"])
    assert poor == planted & set(measured["cell_id"])
    expected = duckdb.sql(
        f"""SELECT home_cell_id AS cell_id, count(*) AS n,
                   count(*) FILTER (WHERE is_churned_next_month) AS churned
            FROM {_sql(s, "dws_subscriber_month")}
            WHERE month = '{month}' AND is_active AND home_cell_id IS NOT NULL GROUP BY 1"""
    ).df()
    got = cells.merge(expected, on="cell_id", how="outer").fillna(0)
    assert (got["n_lines"] == got["n"]).all()
    assert (got["n_churned_next_month"] == got["churned"]).all()
    assert cells["is_next_month_observed"].all()


def test_competition_bands_add_up_to_the_live_base(tiny_warehouse, tiny_manifest):
    s = tiny_warehouse
    mart = read_mart("ads_competition_bands", s)
    expected = (
        duckdb.sql(
            f"""SELECT month, count(*) AS n, sum(competitor_a_min) AS a,
                   count(*) FILTER (WHERE is_churned_next_month) AS churned
            FROM {_sql(s, "dws_subscriber_month")} WHERE is_active GROUP BY 1"""
        )
        .df()
        .set_index("month")
    )
    got = mart.groupby("month")[["n_lines", "competitor_a_min", "n_churned_next_month"]].sum()
    assert (got["n_lines"] == expected["n"].reindex(got.index)).all()
    assert (got["n_churned_next_month"] == expected["churned"].reindex(got.index)).all()
    assert got["competitor_a_min"].to_numpy() == pytest.approx(
        expected["a"].reindex(got.index).to_numpy()
    )
    last = tiny_manifest["months"][-1]
    assert not mart.loc[mart["month"] == last, "is_next_month_observed"].any()


def test_risers_match_a_recomputation(tiny_warehouse, tiny_manifest):
    s = tiny_warehouse
    month = tiny_manifest["months"][3]
    mart = read_mart("ads_competitor_risers", s, months=[month])
    expected = duckdb.sql(
        f"""WITH w AS (
              SELECT *, avg(competitor_share) OVER (PARTITION BY subscriber_id ORDER BY month
                        ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS before
              FROM {_sql(s, "dws_subscriber_month")}
              WHERE month >= strftime(CAST(('{month}' || '-01') AS DATE) - INTERVAL 2 MONTH,
                                      '%Y-%m') AND month <= '{month}')
            SELECT subscriber_id, competitor_share, before AS competitor_share_before,
                   competitor_share - before AS share_change, mou_min, revenue_cny
            FROM w WHERE month = '{month}' AND is_active
              AND competitor_share - before >= {RISING_SHARE_CHANGE}
              AND mou_min >= {RISING_MIN_MOU}"""
    ).df()
    assert len(mart) > 0
    got = mart.set_index("subscriber_id").sort_index()
    want = expected.set_index("subscriber_id").sort_index()
    assert list(got.index) == list(want.index)
    for column in want.columns:  # 1e-9: the same sums in another engine's order
        assert got[column].to_numpy() == pytest.approx(want[column].to_numpy(), rel=1e-9), column


def test_new_product_holders_are_the_planted_curve(tiny_warehouse, tiny_manifest):
    truth = tiny_manifest["planted"]["new_product"]
    mart = read_mart(
        "ads_product_adopters", tiny_warehouse, filters=[equals("product_id", "NEW_5G_BOOST")]
    )
    holders = mart.groupby("month")["n_holders"].sum().to_dict()
    assert holders == truth["holders_by_month"]
    before = [m for m in holders if m < truth["launch_month"]]
    assert before and all(holders[m] == 0 for m in before)
    base = mart.groupby("month")["n_base"].sum()
    live = read_mart(
        "dws_product_month", tiny_warehouse, filters=[equals("product_id", "NEW_5G_BOOST")]
    )
    assert (base == live.set_index("month")["n_active_base"].reindex(base.index)).all()


def test_switching_matches_a_recomputation(tiny_warehouse, tiny_manifest):
    s = tiny_warehouse
    month = tiny_manifest["months"][-1]
    mart = read_mart(
        "ads_product_switching",
        s,
        filters=[equals("new_product_id", "NEW_5G_BOOST")],
        months=[month],
    ).set_index("product_id")
    h = _sql(s, "dwd_fct_product_holding")
    prev = tiny_manifest["months"][-2]
    expected = (
        duckdb.sql(
            f"""WITH live AS (SELECT subscriber_id FROM {_sql(s, "dws_subscriber_month")}
                          WHERE month = '{month}' AND is_active),
            adopters AS (SELECT subscriber_id FROM {h}
                         WHERE month = '{month}' AND product_id = 'NEW_5G_BOOST' AND is_new),
            held AS (SELECT p.subscriber_id, p.product_id,
                            c.subscriber_id IS NULL AS dropped,
                            a.subscriber_id IS NOT NULL AS adopter
                     FROM {h} p JOIN live USING (subscriber_id)
                     LEFT JOIN {h} c ON c.subscriber_id = p.subscriber_id
                          AND c.product_id = p.product_id AND c.month = '{month}'
                     LEFT JOIN adopters a ON a.subscriber_id = p.subscriber_id
                     WHERE p.month = '{prev}' AND p.product_id <> 'NEW_5G_BOOST')
            SELECT product_id, count(*) FILTER (WHERE adopter) AS ah,
                   count(*) FILTER (WHERE adopter AND dropped) AS ad,
                   count(*) FILTER (WHERE NOT adopter) AS oh,
                   count(*) FILTER (WHERE NOT adopter AND dropped) AS od
            FROM held GROUP BY 1"""
        )
        .df()
        .set_index("product_id")
    )
    assert len(mart) > 0
    e = expected.reindex(mart.index)
    assert (mart["n_adopters_holding"] == e["ah"]).all()
    assert (mart["n_adopters_dropped"] == e["ad"]).all()
    assert (mart["n_others_holding"] == e["oh"]).all()
    assert (mart["n_others_dropped"] == e["od"]).all()


@pytest.mark.parametrize("name", ["ads_competitor_risers", "ads_product_switching"])
def test_one_month_alone_builds_what_the_full_build_published(
    name, spark, tiny_warehouse, tiny_manifest
):
    """Incremental builds: a model given one output month reads its look-back months itself."""
    from workbench.warehouse.model import BuildContext
    from workbench.warehouse.storage import read_table

    months = tiny_manifest["months"]
    model = {m.table: m for m in network_models()}[name]
    ctx = BuildContext(spark, [months[3]], months, {})
    alone = model.run(
        lambda table, wanted=None: read_table(spark, tiny_warehouse, table, wanted), ctx
    ).toPandas()  # small: one month of one mart
    published = read_mart(name, tiny_warehouse, months=[months[3]])
    keys = list(get_table(name).keys)
    assert len(alone) == len(published) > 0
    a = alone.sort_values(keys).reset_index(drop=True)
    p = published.sort_values(keys).reset_index(drop=True)
    for column in keys:
        assert (a[column] == p[column]).all()
