"""Storage: explicit-schema reads, staged writes, atomic publish and recovery."""

from __future__ import annotations

import pytest

from tests.conftest import make_project
from workbench.catalog import get_table
from workbench.warehouse import storage

TABLE = get_table("quarantine_rows")


def rows(spark, month, n, reason="duplicate"):
    data = [("usage", reason, f"usage/month={month}/a.parquet", i, "{}", month) for i in range(n)]
    return spark.createDataFrame(data, TABLE.spark_schema)


@pytest.fixture
def settings(tmp_path):
    return make_project(tmp_path)


def stage_and_publish(spark, settings, run_id, df, months):
    storage.write_staged(df, TABLE, storage.staged_path(settings, run_id, TABLE))
    storage.publish(settings, run_id, storage.plan_moves(settings, run_id, TABLE, months))


def test_read_missing_table_is_empty_with_the_catalog_schema(spark, settings):
    df = storage.read_table(spark, settings, "quarantine_rows")
    assert df.count() == 0 and df.columns == TABLE.column_names


def test_publish_replaces_only_the_named_months(spark, settings):
    stage_and_publish(
        spark,
        settings,
        "r1",
        rows(spark, "2026-01", 3).unionByName(rows(spark, "2026-02", 2)),
        ["2026-01", "2026-02"],
    )
    stage_and_publish(spark, settings, "r2", rows(spark, "2026-02", 5, "missing_key"), ["2026-02"])
    df = storage.read_table(spark, settings, "quarantine_rows")
    assert [(f.name, f.dataType) for f in df.schema] == [
        (f.name, f.dataType) for f in TABLE.spark_schema
    ]
    got = {
        (r["month"], r["reason"]): r["count"]
        for r in df.groupBy("month", "reason").count().collect()
    }
    assert got == {("2026-01", "duplicate"): 3, ("2026-02", "missing_key"): 5}
    assert storage.table_months(settings, "quarantine_rows") == ["2026-01", "2026-02"]
    assert storage.rows_by_month(TABLE.path(settings)) == {"2026-01": 3, "2026-02": 5}
    assert storage.read_table(spark, settings, "quarantine_rows", ["2026-01"]).count() == 3
    assert not (settings.warehouse_dir / "_staging" / "r2").exists()


def test_a_month_with_no_rows_removes_the_old_partition(spark, settings):
    stage_and_publish(spark, settings, "r1", rows(spark, "2026-01", 3), ["2026-01"])
    stage_and_publish(spark, settings, "r2", rows(spark, "2026-01", 0), ["2026-01"])
    assert storage.table_months(settings, "quarantine_rows") == []


def test_write_refuses_columns_that_are_not_the_catalog(spark, settings):
    df = rows(spark, "2026-01", 1).drop("record_json")
    with pytest.raises(storage.StorageError, match="quarantine_rows: columns"):
        storage.write_staged(df, TABLE, storage.staged_path(settings, "r1", TABLE))


def test_recover_discards_staging_without_a_journal(spark, settings):
    stage_and_publish(spark, settings, "r1", rows(spark, "2026-01", 3), ["2026-01"])
    storage.write_staged(
        rows(spark, "2026-01", 9), TABLE, storage.staged_path(settings, "r2", TABLE)
    )
    assert storage.recover(settings) == ["r2"]
    assert storage.read_table(spark, settings, "quarantine_rows").count() == 3


def test_recover_rolls_a_journaled_publish_forward(spark, settings, monkeypatch):
    stage_and_publish(spark, settings, "r1", rows(spark, "2026-01", 3), ["2026-01"])
    storage.write_staged(
        rows(spark, "2026-01", 7), TABLE, storage.staged_path(settings, "r2", TABLE)
    )
    moves = storage.plan_moves(settings, "r2", TABLE, ["2026-01"])
    real_rename = storage.os.rename
    calls = []

    def crash_on_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the renames")
        real_rename(src, dst)

    monkeypatch.setattr(storage.os, "rename", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        storage.publish(settings, "r2", moves)
    monkeypatch.setattr(storage.os, "rename", real_rename)
    assert storage.table_months(settings, "quarantine_rows") == []  # mid-swap: month absent
    assert storage.recover(settings) == ["r2"]
    assert storage.read_table(spark, settings, "quarantine_rows").count() == 7
    assert not any((settings.warehouse_dir / "_trash").iterdir())


def test_recover_restores_orphaned_trash(spark, settings):
    stage_and_publish(spark, settings, "r1", rows(spark, "2026-01", 3), ["2026-01"])
    final = storage.partition_dir(TABLE.path(settings), "2026-01")
    trash = settings.warehouse_dir / "_trash" / "r9" / "quarantine" / "quarantine_rows"
    trash.mkdir(parents=True)
    final.rename(trash / final.name)
    storage.recover(settings)
    assert storage.read_table(spark, settings, "quarantine_rows").count() == 3


def test_unpartitioned_tables_swap_the_whole_folder(spark, settings, monkeypatch):
    from workbench import catalog
    from workbench.catalog import Table
    from workbench.catalog.schema import col

    dim = Table(
        "dwd_dim_test_storage",
        "dwd",
        "one row per id",
        "test",
        (col("id", "bigint"), col("name", "string")),
        keys=("id",),
        partition_by=(),
    )
    monkeypatch.setitem(catalog._REGISTRY, dim.name, dim)
    for run, n in (("r1", 4), ("r2", 2)):
        df = spark.createDataFrame([(i, f"n{i}") for i in range(n)], dim.spark_schema)
        storage.write_staged(df, dim, storage.staged_path(settings, run, dim))
        storage.publish(settings, run, storage.plan_moves(settings, run, dim, None))
    assert sorted(r["id"] for r in storage.read_table(spark, settings, dim.name).collect()) == [
        0,
        1,
    ]
