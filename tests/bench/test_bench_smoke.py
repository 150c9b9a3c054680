"""The benchmark pack: the DuckDB reference against the Spark warehouse, its failure modes, the
memory sampler, and a smoke run of the whole pack (CLI included) at a size of a few seconds."""

from __future__ import annotations

import json
import os
import shutil
import time

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from workbench import cli
from workbench.bench.measure import PeakMemory, mib, rss_bytes, wait_until_quiet
from workbench.bench.pack import BenchOptions, Worker, run_pack
from workbench.bench.reference import (
    REFERENCE_TABLES,
    BenchError,
    compare_tables,
    default_sql_dir,
    read_spark_table,
    run_reference,
)
from workbench.catalog import get_table
from workbench.errors import WorkbenchError
from workbench.warehouse.storage import list_months

from ..conftest import make_project

# A few hundred lines over four months: the pack's steps in seconds, not minutes.
MINI = {"subscribers": 150, "months": "2026-01..2026-04", "events_per_subscriber_month": 8}


def _reference_and_warehouse(settings):
    months = list_months(get_table("subscribers").path(settings))
    reference = run_reference(
        settings.raw_dir, max(months), settings.warehouse.churn_horizon_months
    )
    pairs = {}
    for name in REFERENCE_TABLES:
        table = get_table(name)
        ref = reference.tables[name].to_pandas()
        columns = [c for c in table.column_names if c in ref.columns]
        pairs[name] = (read_spark_table(table.path(settings), columns), ref, columns)
    return reference, pairs


def test_duckdb_reference_equals_the_spark_warehouse(tiny_warehouse):
    # the tiny operator is dirty (generator.dirty_rate): the SQL must apply the ODS rules too
    reference, pairs = _reference_and_warehouse(tiny_warehouse)
    assert reference.seconds > 0
    sub_month = get_table("dws_subscriber_month")
    for name, (ours, ref, columns) in pairs.items():
        result = compare_tables(name, ours, ref, columns=columns)
        assert result.equal, result.problems
        assert result.rows_spark == result.rows_reference > 0
    # the reference covers the whole wide table, not a convenient subset of it
    assert pairs["dws_subscriber_month"][2] == sub_month.column_names


def test_comparison_names_a_changed_value_and_a_missing_row(tiny_warehouse):
    _, pairs = _reference_and_warehouse(tiny_warehouse)
    ours, ref, columns = pairs["dws_subscriber_month"]
    changed = ours.copy()
    row = changed.index[changed["revenue_cny"] > 0][0]
    changed.loc[row, "revenue_cny"] *= 1 + 1e-7  # beyond the 1e-9 relative tolerance
    changed = changed.drop(index=changed.index[-1])
    result = compare_tables("dws_subscriber_month", changed, ref, columns=columns)
    assert not result.equal
    text = " ".join(result.problems)
    assert "revenue_cny: 1 value(s) differ" in text
    assert "1 row(s) only in DuckDB" in text
    # within the tolerance it is equal again
    close = ours.copy()
    close.loc[row, "revenue_cny"] *= 1 + 1e-12
    assert compare_tables("dws_subscriber_month", close, ref, columns=columns).equal


def test_a_broken_reference_sql_names_the_file(tmp_path, tiny_manifest, tiny_project):
    sql = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql)
    broken = sql / "dws_subscriber_month.sql"
    broken.write_text(broken.read_text().replace("FROM ods_usage", "FROM ods_usage_nowhere"))
    with pytest.raises(BenchError, match=r"dws_subscriber_month\.sql.*ods_usage_nowhere"):
        run_reference(tiny_project.raw_dir, "2026-06", 3, sql_dir=sql)
    with pytest.raises(BenchError, match="SQL not found"):
        run_reference(tiny_project.raw_dir, "2026-06", 3, sql_dir=tmp_path / "nowhere")


def test_peak_memory_sees_an_allocation():
    before = rss_bytes(os.getpid())
    with PeakMemory(jvm_pid=None, interval=0.01) as peak:
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        time.sleep(0.2)  # the touch holds the GIL: give the sampling thread time to see it
        del block
    assert peak.python_peak >= before + 150 * 2**20
    assert rss_bytes(2**22 + 12345) == 0  # no such process: 0, not an error


def test_waiting_for_quiet_waits_while_a_child_is_busy(tmp_path):
    import subprocess
    import sys

    # a parent idling in a shell while its child spins for a second (like Voila refilling its
    # kernel pool): quiet only once the child has finished
    busy = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\n"
    (tmp_path / "busy.py").write_text(busy)
    parent = subprocess.Popen(["sh", "-c", f"{sys.executable} {tmp_path / 'busy.py'}; sleep 30"])
    try:
        time.sleep(0.2)  # the child is running
        waited = wait_until_quiet(parent.pid, window=0.2, timeout=20)
        assert 0.6 <= waited < 10
        assert wait_until_quiet(parent.pid, window=0.2) < 0.5  # quiet at once now
    finally:
        parent.kill()
        parent.wait()
    assert wait_until_quiet(parent.pid) == 0.0  # gone: nothing to wait for


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scales": (3, 1)}, "ascending"),
        ({"scales": (0,)}, "positive"),
        ({"min_support": 0.0}, "min_support"),
        ({"profile": "galactic"}, "profiles.galactic"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, options, message):
    settings = make_project(tmp_path / "project")
    with pytest.raises(WorkbenchError, match=message):
        run_pack(settings, BenchOptions(workdir=tmp_path / "work", **options))
    assert not (tmp_path / "work").exists()


# every step in the test's own process and one JVM (--shared-jvm: the suite pays for one JVM, not
# five; a step in a process of its own is shown by the next test), and a whole build: a couple of
# minutes on an idle machine; the margin is for a loaded one
@pytest.mark.timeout(1800)
def test_bench_pack_smoke_through_the_cli(tmp_path):
    project = make_project(tmp_path / "project")
    config = project.root / "pipelines" / "config.yml"
    text = yaml.safe_load(config.read_text())
    text["profiles"]["mini"] = MINI  # in the file: the CLI and the workers read it from there
    config.write_text(yaml.safe_dump(text, sort_keys=False))
    results = tmp_path / "RESULTS.md"
    args = ["--config", str(config), "bench", "--profile", "mini", "--scales", "1"]
    args += ["--workdir", str(tmp_path / "work"), "--results", str(results)]
    args += ["--no-reports", "--no-dashboards", "--shared-jvm"]
    cli._register()
    outcome = CliRunner().invoke(cli.app, args)
    assert outcome.exit_code == 0, outcome.output
    text = results.read_text()
    assert "cores" in text and "PySpark" in text and "DuckDB" in text
    bench = tmp_path / "work" / "mini_x1"
    # generation: the row count printed is the manifest's (the generator's own count)
    manifest = json.loads((bench / "data" / "raw" / "_manifest.json").read_text())
    usage = manifest["row_totals"]["usage"]
    assert f"{usage:,} usage rows ({MINI['subscribers']:,} lines x 4 months)" in text
    # scan floor: the rows read equal the raw files' footers, counted here independently
    raw_rows = sum(
        pq.ParquetFile(f).metadata.num_rows for f in (bench / "data" / "raw").rglob("*.parquet")
    )
    assert f"({raw_rows:,} raw rows" in text
    # disk used: the raw extracts' bytes, summed here independently (the generator wrote them all
    # before the build, and nothing after it writes there)
    raw_bytes = sum(f.stat().st_size for f in (bench / "data" / "raw").rglob("*") if f.is_file())
    assert f"| disk used (x1) | raw {mib(raw_bytes)}, warehouse " in text
    assert "| usage rows per second per core (x1) |" in text
    assert "| rows written per second per core (x1) |" in text
    for name in REFERENCE_TABLES:
        assert f"| {name} equal (x1) | equal |" in text
    assert "| identical rules | identical |" in text
    assert "scoring rows per second" in text
    assert "| dashboards |" not in text and "| reports |" not in text  # switched off
    steps = sorted(p.name for p in (tmp_path / "work" / "_steps").glob("*.json"))
    assert [s.split("-", 1)[1] for s in steps] == [
        "generate.json",
        "build.json",
        "scan.json",
        "rules.json",
        "churn.json",
    ]
    build = json.loads((tmp_path / "work" / "_steps" / steps[1]).read_text())
    assert build["jvm_peak_bytes"] > 50 * 2**20  # a JVM was sampled, not the Python process


def test_a_failing_step_names_the_step_and_the_project(tmp_path):
    settings = make_project(tmp_path / "project")
    (settings.root / "pipelines" / "config.yml").write_text("spark: [not, a, mapping]\n")
    wanted = r"(?s)bench step scan on .*project failed:\nerror: invalid configuration.*spark"
    with pytest.raises(BenchError, match=wanted):
        Worker(tmp_path)("scan", settings)


def test_a_step_in_a_process_of_its_own_reports_its_figures_and_its_jvm(
    tmp_path, tiny_project, tiny_manifest
):
    figures = Worker(tmp_path)("scan", tiny_project)
    raw_rows = sum(
        pq.ParquetFile(f).metadata.num_rows for f in tiny_project.raw_dir.rglob("*.parquet")
    )
    assert figures["rows"] == raw_rows > 0
    assert figures["jvm_peak_bytes"] > 50 * 2**20  # the step's own driver JVM, sampled
    assert figures["pid"] != os.getpid()
