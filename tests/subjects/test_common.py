"""Result marts are checked against their contracts and published by month."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import make_project
from workbench.filters import equals
from workbench.marts import read_mart
from workbench.subjects.common import write_result, write_result_frame
from workbench.warehouse.contracts import ContractViolation, SchemaMismatch
from workbench.warehouse.storage import read_table, table_months


def drivers_frame(model_id: str = "m1", share: float = 0.75) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": ["competitor_share", "tenure_months"],
            "driver_rank": [1, 2],
            "mean_abs_contribution": [0.3, 0.1],
            "mean_contribution": [0.01, -0.02],
            "share": [share, 0.25],
            "direction": [0.8, -0.6],
            "model_id": [model_id, model_id],
        }
    )


def test_spark_result_round_trips_and_replaces_only_its_month(spark, tmp_path):
    settings = make_project(tmp_path)
    write_result(
        spark.createDataFrame(drivers_frame("a")), "ads_churn_drivers", settings, "2026-05"
    )
    write_result(
        spark.createDataFrame(drivers_frame("b")), "ads_churn_drivers", settings, "2026-06"
    )
    write_result(
        spark.createDataFrame(drivers_frame("c")), "ads_churn_drivers", settings, "2026-06"
    )
    assert table_months(settings, "ads_churn_drivers") == ["2026-05", "2026-06"]
    back = read_table(spark, settings, "ads_churn_drivers").toPandas()
    assert sorted(back.groupby("month")["model_id"].first().items()) == [
        ("2026-05", "a"),
        ("2026-06", "c"),
    ]
    assert back["driver_rank"].dtype.name == "int32"


def test_spark_result_breaking_a_contract_is_not_published(spark, tmp_path):
    settings = make_project(tmp_path)
    bad = spark.createDataFrame(drivers_frame(share=1.5))
    with pytest.raises(ContractViolation, match=r"ads_churn_drivers.*share"):
        write_result(bad, "ads_churn_drivers", settings, "2026-06")
    assert table_months(settings, "ads_churn_drivers") == []


def test_pandas_result_round_trips_through_duckdb(tmp_path):
    settings = make_project(tmp_path)
    n = write_result_frame(drivers_frame("p"), "ads_churn_drivers", settings, "2026-06")
    back = read_mart("ads_churn_drivers", settings)
    assert n == 2 and list(back["feature"]) == ["competitor_share", "tenure_months"]
    assert set(back["month"]) == {"2026-06"}


def test_pandas_result_failures_name_the_table(tmp_path):
    settings = make_project(tmp_path)
    dup = pd.concat([drivers_frame(), drivers_frame()])
    with pytest.raises(ContractViolation, match=r"unique\(feature\)"):
        write_result_frame(dup, "ads_churn_drivers", settings, "2026-06")
    with pytest.raises(SchemaMismatch, match="missing: \\['share'\\]"):
        write_result_frame(
            drivers_frame().drop(columns="share"), "ads_churn_drivers", settings, "2026-06"
        )
    wrong = drivers_frame().assign(driver_rank=["first", "second"])
    with pytest.raises(SchemaMismatch, match="catalog type"):
        write_result_frame(wrong, "ads_churn_drivers", settings, "2026-06")
    assert table_months(settings, "ads_churn_drivers") == []


def test_small_reads_are_kept_until_the_table_is_published_again(tmp_path):
    from workbench.subjects import common

    settings = make_project(tmp_path)
    write_result_frame(drivers_frame("a"), "ads_churn_drivers", settings, "2026-06")
    first = common.read_small("ads_churn_drivers", settings)
    kept = len(common._small_cache)
    first.loc[:, "model_id"] = "changed by the caller"  # a caller's edit stays its own
    again = common.read_small("ads_churn_drivers", settings)
    assert len(common._small_cache) == kept  # the same files: served from what was kept
    assert set(again["model_id"]) == {"a"}
    # a filter is its own read
    rank_one = [equals("driver_rank", 1)]
    top = common.read_small("ads_churn_drivers", settings, rank_one)
    assert list(top["driver_rank"]) == [1]
    assert any(key[2] == tuple(rank_one) for key in common._small_cache)
    # republishing the month writes new files: the next read sees them, never the old frame
    write_result_frame(drivers_frame("b"), "ads_churn_drivers", settings, "2026-06")
    assert set(common.read_small("ads_churn_drivers", settings)["model_id"]) == {"b"}
    write_result_frame(drivers_frame("c"), "ads_churn_drivers", settings, "2026-07")
    both = common.read_small("ads_churn_drivers", settings)
    assert sorted(both.groupby("month")["model_id"].first().items()) == [
        ("2026-06", "b"),
        ("2026-07", "c"),
    ]
