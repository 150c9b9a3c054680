"""Key accounts subject on the `tiny` warehouse against the generator's planted key accounts."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from tests.conftest import make_project
from workbench.catalog import get_table
from workbench.errors import InputDataError, ParameterError
from workbench.marts import table_sql
from workbench.subjects import key_accounts


def test_key_accounts_match_the_planted_truth(tiny_warehouse, tiny_manifest):
    planted = tiny_manifest["planted"]["key_accounts"]
    period = tiny_manifest["months"][-1]
    result = key_accounts.run(tiny_warehouse, period)
    assert sorted(result.accounts["customer_id"]) == planted["customer_ids"]
    lines = dict(
        zip(result.accounts["customer_id"].astype(str), result.accounts["n_lines"], strict=True)
    )
    assert lines == planted["lines_by_customer_last_month"]
    # planted share: plan fee + value-added products of the lines in the last month
    assert result.key_account_share["fee_revenue_share"] == pytest.approx(
        planted["revenue_share_last_month"], abs=1e-6
    )
    # ranked by revenue, biggest first
    assert list(result.accounts["revenue_rank"]) == [1, 2, 3, 4, 5]
    assert result.accounts["revenue_cny"].is_monotonic_decreasing
    # every account's trend covers every month
    assert result.trend.groupby("customer_id")["month"].nunique().eq(6).all()


def test_top_share_matches_an_independent_sort(tiny_warehouse, tiny_manifest):
    period = tiny_manifest["months"][-1]
    with duckdb.connect() as con:
        sql = table_sql(get_table("dws_subscriber_month"), tiny_warehouse, [period])
        revenue = con.execute(
            f"SELECT sum(coalesce(revenue_cny, 0)) r FROM ({sql}) "
            "GROUP BY coalesce(customer_id, -subscriber_id) ORDER BY r DESC"
        ).df()["r"]
    result = key_accounts.run(tiny_warehouse, period, top_fraction=0.2)
    n_top = sum(len(p) for p in np.array_split(np.arange(len(revenue)), 100)[:20])
    assert result.top_share == pytest.approx(revenue.iloc[:n_top].sum() / revenue.sum())
    assert 0.2 < result.top_share < 1


def test_warnings_and_the_manager_view(tiny_warehouse, tiny_manifest):
    months = tiny_manifest["months"]
    accounts = key_accounts.key_account_table(tiny_warehouse, months[-1], revenue_drop=0.01)
    # recompute one sign independently: revenue below 99% of last month's
    prev = key_accounts.key_account_table(tiny_warehouse, months[-2]).set_index("customer_id")
    for _, row in accounts.iterrows():
        falling = row["revenue_cny"] < 0.99 * prev.loc[row["customer_id"], "revenue_cny"]
        assert ("revenue_falling" in row["warnings"]) == falling
        assert ("complaints" in row["warnings"]) == (row["n_complaints"] > 0)
    managers = {key_accounts.assign_manager(c, 3) for c in accounts["customer_id"]}
    assert managers <= {"KAM-01", "KAM-02", "KAM-03"}
    assert key_accounts.assign_manager(100000, 3) == key_accounts.assign_manager(100000, 3)
    some = sorted(managers)[0]
    view = key_accounts.manager_view(tiny_warehouse, months[-1], some)
    assert set(view["manager_id"]) == {some}
    assert len(view) == (accounts["manager_id"] == some).sum()


def test_bad_input_is_named(tiny_warehouse, tmp_path):
    with pytest.raises(ParameterError, match="'manager_id'"):
        key_accounts.manager_view(tiny_warehouse, "2026-06", "KAM-09")
    with pytest.raises(ParameterError, match=r"'manager_id': 'KAM-04' is not one of .* or ALL"):
        key_accounts.run(tiny_warehouse, "2026-06", manager_id="KAM-04", n_managers=3)
    with pytest.raises(ParameterError, match="'n_managers'"):
        key_accounts.assign_manager(1, 0)
    with pytest.raises(ParameterError, match="'top_fraction'"):
        key_accounts.run(tiny_warehouse, "2026-06", top_fraction=0.001)
    with pytest.raises(InputDataError, match="ads_key_account_health has no rows"):
        key_accounts.run(make_project(tmp_path), "2026-06")


def test_pareto_figure(tiny_warehouse, tiny_manifest):
    from workbench import viz

    result = key_accounts.run(tiny_warehouse, tiny_manifest["months"][-1])
    fig = viz.pareto_curve(result.concentration, result.top_fraction)
    assert fig.data[0].y[-1] == pytest.approx(1.0) and fig.data[0].x[19] == pytest.approx(0.2)
    with pytest.raises(InputDataError, match="cumulative_revenue_share"):
        viz.pareto_curve(result.concentration.drop(columns="cumulative_revenue_share"))
