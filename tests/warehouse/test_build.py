"""The build end to end on tiny inline extracts: reconciliation, quarantine, re-runs, schema
drift, contract violations and a build killed with SIGKILL; plus the `tiny` operator build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tests.conftest import make_project
from tests.warehouse import clean_rows, write_raw, write_raw_months
from workbench import catalog
from workbench.catalog import Table, get_table, tables
from workbench.catalog.contracts import Unique
from workbench.catalog.schema import col
from workbench.warehouse import build as build_module
from workbench.warehouse.build import build_warehouse, expand_months
from workbench.warehouse.contracts import ContractViolation
from workbench.warehouse.ledger import read_runs
from workbench.warehouse.model import Model, UndeclaredInputError
from workbench.warehouse.ods import RawSchemaError
from workbench.warehouse.storage import read_table

from ..tables import table_rows

MONTHS = ["2026-01", "2026-02"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# A model whose month M reads usage of M and M+1 (like the churn label): lookahead 1.
NEXT_TABLE = Table(
    "dws_test_usage_next",
    "dws",
    "one row per subscriber and month",
    "engine test model",
    (
        col("subscriber_id", "bigint"),
        col("n_events", "bigint"),
        col("n_events_next", "bigint"),
        col("month", "string", nullable=False),
    ),
    keys=("subscriber_id",),
    contracts=(Unique(("subscriber_id",)),),
)


def _next_month_usage(read, ctx):
    from workbench.months import add_months

    months = sorted({*ctx.months, *[add_months(m, 1) for m in ctx.months]})
    usage = read("ods_cdr__usage", months).groupBy("subscriber_id", "month").count()
    nxt = usage.select(
        "subscriber_id",
        F.col("count").alias("n_events_next"),
        F.date_format(
            F.add_months(F.to_date(F.concat("month", F.lit("-01"))), -1), "yyyy-MM"
        ).alias("month"),
    )
    return (
        usage.where(F.col("month").isin(ctx.months))
        .join(nxt, ["subscriber_id", "month"], "left")
        .select("subscriber_id", F.col("count").alias("n_events"), "n_events_next", "month")
    )


FAKE_MODELS = [Model(NEXT_TABLE.name, ("ods_cdr__usage",), _next_month_usage, lookahead_months=1)]


@pytest.fixture
def fake_models(monkeypatch):
    """Replace the real DWD/DWS/ADS models by one small look-ahead model."""
    monkeypatch.setitem(catalog._REGISTRY, NEXT_TABLE.name, NEXT_TABLE)
    monkeypatch.setattr(build_module, "_models", lambda settings: FAKE_MODELS)


DIRTY_USAGE = [
    {
        "record_id": None,
        "subscriber_id": 1,
        "event_type": "sms",
        "started_at": "2026-01-09 10:00:00",
        "duration_sec": 0,
    },
    {
        "record_id": "D-bad",
        "subscriber_id": 1,
        "event_type": "sms",
        "started_at": "N/A",
        "duration_sec": 0,
    },
    {
        "record_id": "D-neg",
        "subscriber_id": 2,
        "event_type": "voice",
        "started_at": "2026-01-09 10:00:00",
        "duration_sec": -3,
    },
    {
        "record_id": "D-unknown",
        "subscriber_id": 999,
        "event_type": "sms",
        "started_at": "2026-01-09 10:00:00",
        "duration_sec": 0,
    },
]


def _project(root: Path, **overrides: object) -> object:
    settings = make_project(root, **overrides)
    write_raw_months(settings.raw_dir, MONTHS)
    for month in MONTHS:  # dirty rows in a second file per month; each month's own dates
        rows = [dict(r, started_at=r["started_at"].replace("2026-01", month)) for r in DIRTY_USAGE]
        rows.append(dict(clean_rows(month)["usage"][0]))  # a duplicate of a clean row
        rows.append({**rows[0], "record_id": "D-future", "started_at": "2027-01-01 00:00:00"})
        write_raw(settings.raw_dir, "usage", month, rows, file="part-1.parquet")
    return settings


def snapshot(settings, names=None) -> dict[str, list]:
    """Every warehouse table's rows, sorted (tiny data; read by DuckDB, in milliseconds)."""
    names = names or [t.name for t in tables() if t.layer != "raw"]
    return {
        name: table_rows(name, settings)
        for name in names
        if name != NEXT_TABLE.name or name in catalog._REGISTRY
    }


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """A warehouse of two months built once with the fake model.

    The patch lasts for the build only: a session fixture first built inside this module (the
    `tiny` warehouse) must get the real models.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(catalog._REGISTRY, NEXT_TABLE.name, NEXT_TABLE)
        mp.setattr(build_module, "_models", lambda settings: FAKE_MODELS)
        settings = _project(tmp_path_factory.mktemp("built"))
        result = build_warehouse(spark, settings)
    return settings, result


def test_expand_months_follows_lookahead_and_lookback():
    model = Model("x", ("a",), lambda r, c: None, lookback_months=1, lookahead_months=2)
    months = [f"2026-0{i}" for i in range(1, 7)]
    assert expand_months(model, {"2026-04"}, months, []) == [
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
    ]
    assert expand_months(model, set(), months, ["2026-06", "2027-01"]) == ["2026-06"]


def test_build_reconciles_and_quarantines_each_reason(spark, built, fake_models):
    settings, result = built
    usage = result.table("ods_cdr__usage")
    assert usage.rows_read == usage.rows_accepted + usage.rows_quarantined
    assert usage.rows_read == 2 * (2 + 6)
    for stats in result.tables:
        if stats.layer == "ods":
            assert stats.rows_read == stats.rows_accepted + stats.rows_quarantined, stats.name
    expected = {
        "missing_key": 2,
        "bad_timestamp": 2,
        "negative_duration": 2,
        "unknown_subscriber": 2,
        "duplicate": 2,
        "future_date": 2,
    }
    assert result.quarantined_by_reason == expected
    q = read_table(spark, settings, "quarantine_rows").where("reason = 'duplicate'").collect()
    assert {r["source_file"] for r in q} == {f"usage/month={m}/part-1.parquet" for m in MONTHS}
    assert read_table(spark, settings, "ods_cdr__usage").count() == 4
    label = {
        (r["subscriber_id"], r["month"]): r["n_events_next"]
        for r in read_table(spark, settings, NEXT_TABLE.name).collect()
    }
    assert label == {
        (1, "2026-01"): 1,
        (2, "2026-01"): 1,
        (1, "2026-02"): None,
        (2, "2026-02"): None,
    }
    runs = read_runs(settings)
    assert runs[-1]["status"] == "ok" and runs[-1]["months"] == MONTHS
    assert not list((settings.warehouse_dir / "_staging").glob("*"))


def test_rerunning_one_month_leaves_the_warehouse_unchanged(spark, built, fake_models):
    settings, _ = built
    before = snapshot(settings)
    result = build_warehouse(spark, settings, ["2026-02"])
    # look-ahead: the label of 2026-01 reads 2026-02, so 2026-01 is rebuilt too
    assert result.table(NEXT_TABLE.name).months == MONTHS
    assert result.table("ods_cdr__usage").months == ["2026-02"]
    assert snapshot(settings) == before


def test_schema_drift_fails_naming_file_and_column_and_writes_nothing(spark, tmp_path, fake_models):
    settings = _project(tmp_path)
    get_table("complaints")
    bad = write_raw(
        settings.raw_dir,
        "complaints",
        "2026-02",
        [{"complaint_id": "Q"}],
        file="part-9.parquet",
        schema=__import__("pyarrow").schema([("complaint_id", "string")]),
    )
    with pytest.raises(RawSchemaError, match=rf"{bad.name}.*'subscriber_id'"):
        build_warehouse(spark, settings)
    assert not [p for p in settings.warehouse_dir.rglob("*.parquet")]
    assert read_runs(settings)[-1]["status"] == "failed"


def test_contract_violation_fails_the_build_and_publishes_nothing(spark, tmp_path, monkeypatch):
    settings = _project(tmp_path)
    doubled = Model(
        NEXT_TABLE.name,
        ("ods_cdr__usage",),
        lambda read, ctx: _next_month_usage(read, ctx).unionByName(_next_month_usage(read, ctx)),
    )
    monkeypatch.setitem(catalog._REGISTRY, NEXT_TABLE.name, NEXT_TABLE)
    monkeypatch.setattr(build_module, "_models", lambda s: [doubled])
    with pytest.raises(ContractViolation, match=r"dws_test_usage_next.*unique\(subscriber_id\)"):
        build_warehouse(spark, settings, ["2026-01"])
    assert not [p for p in settings.warehouse_dir.rglob("*.parquet")]
    record = read_runs(settings)[-1]
    assert record["status"] == "failed" and "ContractViolation" in record["error"]


def test_a_model_reading_an_undeclared_table_fails_naming_both(spark, tmp_path, monkeypatch):
    settings = _project(tmp_path)
    sneaky = Model(NEXT_TABLE.name, ("ods_cdr__usage",), lambda read, ctx: read("ods_crm__plans"))
    monkeypatch.setitem(catalog._REGISTRY, NEXT_TABLE.name, NEXT_TABLE)
    monkeypatch.setattr(build_module, "_models", lambda s: [sneaky])
    with pytest.raises(UndeclaredInputError, match=r"dws_test_usage_next read .*'ods_crm__plans'"):
        build_warehouse(spark, settings, ["2026-01"])
    assert not [p for p in settings.warehouse_dir.rglob("*.parquet")]


def test_a_failing_table_cancels_the_running_ones_and_publishes_nothing(
    spark, tmp_path, monkeypatch
):
    """Two tables run at once: the slow one is cancelled when the other fails, and the failure
    reported is the real one, not the cancellation."""
    settings = _project(tmp_path, **{"warehouse.parallelism": 2})
    slow_table = Table(
        "dws_test_slow",
        "dws",
        "one row",
        "engine test model",
        (col("n", "bigint"), col("month", "string", nullable=False)),
        keys=("n",),
    )

    def slow(read, ctx):
        # a job of many short tasks: cancellable at any task boundary, long enough to be running
        sleepy = F.udf(lambda n: __import__("time").sleep(0.05) or n, "bigint")
        return spark.range(0, 4000, 1, 400).select(
            sleepy("id").alias("n"), F.lit("2026-01").alias("month")
        )

    def broken(read, ctx):
        __import__("time").sleep(2)  # the slow table is running by then
        raise RuntimeError("the model's own error")

    monkeypatch.setitem(catalog._REGISTRY, slow_table.name, slow_table)
    monkeypatch.setitem(catalog._REGISTRY, NEXT_TABLE.name, NEXT_TABLE)
    monkeypatch.setattr(
        build_module,
        "_models",
        lambda s: [Model(slow_table.name, (), slow), Model(NEXT_TABLE.name, (), broken)],
    )
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the model's own error"):
        build_warehouse(spark, settings, ["2026-01"])
    # uncancelled, the slow table alone takes 4000 x 0.05 s / 2 cores = 100 s
    assert time.monotonic() - started < 60
    assert not [p for p in settings.warehouse_dir.rglob("*.parquet")]
    assert read_runs(settings)[-1]["status"] == "failed"


def test_the_ledger_records_each_table_start_end_and_spark_jobs(spark, built):
    settings, _ = built
    record = read_runs(settings)[-1]
    for stats in record["tables"]:
        assert stats["started_at"] <= stats["ended_at"], stats["name"]
        assert stats["spark_jobs"] >= (0 if stats["layer"] == "quarantine" else 1), stats["name"]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from workbench.config import load_settings
    from workbench.spark import get_spark
    from workbench.warehouse import build, storage
    from tests.conftest import TEST_SPARK

    point, after = sys.argv[1], int(sys.argv[2])
    calls = {"n": 0}

    def die_after(fn):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > after:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return wrapper

    if point == "write":
        storage.write_staged = die_after(storage.write_staged)
    else:  # inside the publish, between the two renames of a partition swap
        publish = storage.publish

        def killing_publish(*args):
            storage.os.rename = die_after(os.rename)
            return publish(*args)

        storage.publish = killing_publish
    build._models = lambda settings: []
    settings = load_settings()
    build.build_warehouse(get_spark(TEST_SPARK), settings, ["2026-01", "2026-02"])
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "after"), [("write", 6), ("publish", 1)])
def test_sigkill_leaves_previous_tables_and_rerun_matches(
    spark, built, tmp_path, monkeypatch, point, after
):
    monkeypatch.setattr(build_module, "_models", lambda s: [])
    settings = _project(tmp_path)
    build_warehouse(spark, settings, ["2026-01"])
    ods = [t.name for t in tables() if t.layer in ("ods", "quarantine")]
    before = snapshot(settings, ods)
    env = {
        **os.environ,
        "WORKBENCH_CONFIG": str(settings.root / "pipelines" / "config.yml"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(after)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    staging = settings.warehouse_dir / "_staging"
    assert any(staging.iterdir()), "the kill should leave a staged run behind"
    if point == "write":
        # nothing was published: the previous warehouse reads exactly as before
        assert snapshot(settings, ods) == before
    else:
        assert (next(staging.iterdir()) / "PUBLISH.json").is_file()
        # the swap was cut between its renames: the old partition waits in the trash
        assert list((settings.warehouse_dir / "_trash").rglob("month=2026-01"))
    result = build_warehouse(spark, settings, ["2026-01", "2026-02"])  # recovers, then builds
    assert result.status == "ok"
    assert not list(staging.iterdir()) and not list((settings.warehouse_dir / "_trash").glob("*"))
    assert snapshot(settings, ods) == snapshot(built[0], ods)


@pytest.mark.slow
def test_tiny_operator_dirty_rows_are_quarantined_with_their_reason(
    spark, tiny_warehouse, tiny_manifest
):
    runs = [r for r in read_runs(tiny_warehouse) if r["status"] == "ok"]
    assert runs, "the tiny build left no ledger record"
    for stats in runs[-1]["tables"]:
        if stats["layer"] == "ods":
            assert stats["rows_read"] == stats["rows_accepted"] + stats["rows_quarantined"]
    counts = (
        read_table(spark, tiny_warehouse, "quarantine_rows")
        .groupBy("source_table", "month", "reason")
        .count()
        .collect()
    )
    found = {(r["source_table"], r["month"], r["reason"]): r["count"] for r in counts}
    expected = {
        (table, month, reason): n
        for table, by_month in tiny_manifest["dirty_rows"].items()
        for month, by_reason in by_month.items()
        for reason, n in by_reason.items()
        if n
    }
    assert sum(expected.values()) > 0
    assert found == expected
    assert json.dumps(runs[-1]["quarantined_by_reason"])
