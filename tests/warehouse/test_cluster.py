"""A build on a Spark standalone cluster (master + one worker on 127.0.0.1) gives the same tables as
the local build."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyspark
import pytest

from workbench.catalog import get_table, tables
from workbench.config import Settings, load_settings
from workbench.ingest.run import read_ingests
from workbench.warehouse.ledger import read_runs
from workbench.warehouse.storage import partition_dir

from ..conftest import make_project
from ..ingest.test_ingest import HEADER, products_source, write_gzip
from ..tables import assert_same_tables

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPARK_HOME = Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_env() -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    }


def _alive_workers(webui: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=2) as r:
            return sum(w.get("state") == "ALIVE" for w in json.load(r).get("workers", []))
    except OSError:
        return 0


def _stop(proc: subprocess.Popen) -> None:
    """Stop one daemon we started (its own process group), politely then for good."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@contextmanager
def standalone_cluster(log_dir: Path) -> Iterator[str]:
    """A master and one worker (2 cores, 1g); yields the master URL; always stops both."""
    port, webui, worker_ui = free_port(), free_port(), free_port()
    launcher = str(SPARK_HOME / "bin" / "spark-class")
    daemons: list[subprocess.Popen] = []
    try:
        for name, args in (
            (
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--webui-port",
                    str(webui),
                ],
            ),
            (
                "worker",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "2",  # both of the machine's cores, as the local build has them
                    "--memory",
                    "1g",
                    "--webui-port",
                    str(worker_ui),
                    "--work-dir",
                    str(log_dir / "work"),  # executor folders stay out of the pyspark package
                    f"spark://127.0.0.1:{port}",
                ],
            ),
        ):
            out = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
            daemons.append(
                subprocess.Popen(
                    [launcher, *args],
                    env=cluster_env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        while _alive_workers(webui) < 1:
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                raise RuntimeError(f"cluster did not start; see logs in {log_dir}")
            time.sleep(1)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for daemon in reversed(daemons):
            _stop(daemon)


def copy_project(source: Settings, dest: Path, *, warehouse: bool = False) -> Settings:
    """A copy of a project (pipelines/ and raw/, and its warehouse when ``warehouse``)."""
    shutil.copytree(source.root / "pipelines", dest / "pipelines")
    shutil.copytree(source.raw_dir, dest / "data" / "raw")
    if warehouse:
        shutil.copytree(source.warehouse_dir, dest / "data" / "warehouse")
    config = dest / "pipelines" / "config.yml"
    settings = load_settings(config, environ={})
    assert settings.raw_dir == dest / "data" / "raw", "the copy must use its own raw/"
    return settings


def cluster_build(settings: Settings, master: str, *months: str) -> subprocess.CompletedProcess:
    args = ["--months", f"{months[0]}..{months[-1]}"] if months else []
    return cluster_command(settings, ["build", "--master", master, *args])


def cluster_command(settings: Settings, args: list[str]) -> subprocess.CompletedProcess:
    """``workbench ARGS`` in a process of its own, on the project of ``settings``."""
    env = {**cluster_env(), "WORKBENCH_CONFIG": str(settings.root / "pipelines" / "config.yml")}
    env.pop("SPARK_NO_DAEMONIZE")
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=3000,
    )


def _rewritten(name: str, month: str, local: Settings, copy: Settings, *, since: float) -> bool:
    """Whether every file of ``name``'s ``month`` (its whole folder if it has no months) in
    ``copy`` was written since ``since``; vacuously so where ``local`` has no rows for it."""
    table = get_table(name)
    theirs, ours = table.path(local), table.path(copy)
    if table.partition_by:
        theirs, ours = partition_dir(theirs, month), partition_dir(ours, month)
    if not any(theirs.rglob("*.parquet")):
        return True
    files = list(ours.rglob("*.parquet"))
    return bool(files) and all(f.stat().st_mtime >= since for f in files)


def test_the_cluster_rebuilds_the_last_month_as_the_local_build_made_it(tiny_warehouse, tmp_path):
    """The last month rebuilt on the cluster over a copy of the local warehouse: every table it
    writes equals the local full build, so the cluster computes what local mode does and an
    incremental month what a whole build does (one test for both: each costs a build's fixed
    Spark work). The rebuild runs every layer: the month's ODS extracts and quarantine, the
    dimensions, and through the churn label's look-ahead the months before it."""
    from workbench.warehouse.models import get_models

    settings = copy_project(tiny_warehouse, tmp_path / "project", warehouse=True)
    last = max(tiny_warehouse.profile("tiny").month_range.months)
    # an ingest on the same cluster, in a project of its own (hand-made dumps, one bad line)
    shop = make_project(tmp_path / "ingest")
    products_source(shop.root)
    write_gzip(
        shop.root / "dumps" / "cp_202603.txt.gz", [HEADER, b"V1|v|content|1500|2026/3/1", b"V1|v"]
    )
    with standalone_cluster(tmp_path) as master:
        started = time.time()
        proc = cluster_build(settings, master, last)
        ingested = cluster_command(shop, ["ingest", "shop", "--master", master])
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    ingest = read_ingests(shop)[-1]
    assert ingest["status"] == "ok" and ingest["master"] == master
    assert [(f["rows_written"], f["lines_rejected"]) for f in ingest["files"]] == [(1, 1)]
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = read_runs(settings)[-1]
    assert run["status"] == "ok" and run["master"] == master and run["months"][-1] == last
    built = [t["name"] for t in run["tables"]]
    models = [m.table for m in get_models(tiny_warehouse.warehouse.churn_horizon_months)]
    assert set(built) >= {t.name for t in tables() if t.layer in ("ods", "dwd", "dws")}
    assert set(built) >= set(models)
    # the copy held the local build already, so a run that wrote nothing would compare equal:
    # every table's rebuilt month must hold only files this run wrote
    stale = [n for n in built if not _rewritten(n, last, tiny_warehouse, settings, since=started)]
    assert stale == []
    assert assert_same_tables(built, tiny_warehouse, settings) == len(built)
