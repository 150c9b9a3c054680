"""Marts read through DuckDB into pandas, without a JVM."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import make_project
from workbench.catalog import get_table
from workbench.filters import among, at_least, equals
from workbench.marts import connect, read_mart
from workbench.warehouse import storage

TABLE = get_table("quarantine_rows")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# a value with what hand-quoted SQL gets wrong: quotes, a backslash, Chinese text
ODD = """{"name": "O'Brien \\ 广州 \"营业厅\""}"""


@pytest.fixture(scope="module")
def settings(spark, tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("marts"))
    data = [
        ("usage", "duplicate", f"usage/month={m}/a.parquet", i, ODD if i == 1 else "{}", m)
        for m, n in (("2026-01", 3), ("2026-02", 2))
        for i in range(n)
    ]
    df = spark.createDataFrame(data, TABLE.spark_schema)
    storage.write_staged(df, TABLE, storage.staged_path(settings, "r1", TABLE))
    storage.publish(
        settings, "r1", storage.plan_moves(settings, "r1", TABLE, ["2026-01", "2026-02"])
    )
    return settings


def test_read_mart_has_catalog_columns_and_text_months(settings):
    df = read_mart("quarantine_rows", settings)
    assert list(df.columns) == TABLE.column_names
    assert len(df) == 5 and set(df["month"]) == {"2026-01", "2026-02"}
    assert str(df["source_row"].dtype) == "int64"
    assert df["month"].map(type).eq(str).all()


def test_read_mart_filters(settings):
    assert len(read_mart("quarantine_rows", settings, months=["2026-02"])) == 2
    assert len(read_mart("quarantine_rows", settings, filters=[at_least("source_row", 1)])) == 3


@pytest.mark.parametrize(
    "value", [ODD, "{}' OR '1'='1", "{}\\' OR 1=1 --", "广州'", '"{}"'], ids=range(5)
)
def test_filter_values_are_bound_never_sql(settings, value):
    found = read_mart("quarantine_rows", settings, filters=[equals("record_json", value)])
    expected = 2 if value == ODD else 0  # one row per month holds ODD; no other value exists
    assert len(found) == expected and (found["record_json"] == value).all()
    among_them = read_mart("quarantine_rows", settings, filters=[among("record_json", [value])])
    assert len(among_them) == expected


def test_read_mart_of_an_empty_table_is_typed_and_empty(settings):
    df = read_mart("ods_cdr__usage", settings)
    assert df.empty and list(df.columns) == get_table("ods_cdr__usage").column_names


def test_read_mart_unknown_table_names_it(settings):
    with pytest.raises(KeyError, match="ads_nope"):
        read_mart("ads_nope", settings)


def test_connect_has_a_view_per_existing_table(settings):
    con = connect(settings)
    assert con.execute("SELECT count(*) FROM quarantine_rows").fetchone()[0] == 5
    views = {
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert views == {"quarantine_rows"}


def test_read_mart_starts_no_jvm(settings):
    code = textwrap.dedent(
        """
        import os, sys
        import workbench
        from workbench.config import load_settings
        df = workbench.read_mart("quarantine_rows", load_settings())
        assert len(df) == 5
        assert "pyspark" not in sys.modules and "py4j" not in sys.modules, "Spark was imported"
        def parent(pid):
            try:  # a process of another test may end between the listing and the read
                return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
            except FileNotFoundError:
                return None
        children = [p for p in os.listdir("/proc") if p.isdigit() and parent(p) == str(os.getpid())]
        assert not children, f"child processes started: {children}"
        print("ok")
        """
    )
    env = {**os.environ, "WORKBENCH_CONFIG": str(settings.root / "pipelines" / "config.yml")}
    env.pop("SPARK_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
