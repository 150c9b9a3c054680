"""Fixtures shared by the whole suite: one local Spark session, an isolated project folder, and
the `tiny` synthetic operator generated once per run."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from workbench.config import Settings, SparkSettings, load_settings
from workbench.spark import get_spark

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXTERNAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "external"
# Small data in short-lived JVMs: most of a test build's CPU went to the JIT's optimising (C2)
# compiler (1 min 43 s of 117 s CPU for the tiny build); C1 alone builds it about 20% faster. The
# serial collector spends less CPU than G1's concurrent threads on a 2 GB heap (the tiny build:
# 57 s of JVM CPU instead of 62 s); the suite's two workers keep both cores busy. A worker's one
# session runs the same query shapes again and again (every export, every subject run on tiny):
# Spark compiles each generated class once and keeps the last 100 by default, so most were
# compiled again; with room for 5,000 the export and transaction tests took 101 s instead of 161.
TEST_SPARK = SparkSettings(
    master="local[2]",
    driver_memory="2g",
    shuffle_partitions=4,
    java_options="-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:+UseSerialGC",
    conf={
        "spark.ui.enabled": False,
        "spark.sql.adaptive.coalescePartitions.enabled": True,
        "spark.sql.codegen.cache.maxEntries": 5000,
    },
)
# Developer speed-up only (CI never sets it): a folder where the first run keeps its built `tiny`
# data/ and later runs copy it instead of generating and building again. Delete the folder after
# changing the generator or the warehouse models.
TINY_CACHE = (
    Path(os.environ["WORKBENCH_TINY_CACHE"]) if os.environ.get("WORKBENCH_TINY_CACHE") else None
)


def make_project(root: Path, **overrides: object) -> Settings:
    """A project folder under ``root`` with the real pipelines/ YAML and its own data folders.

    ``overrides`` are dotted keys, e.g. ``**{"generator.dirty_rate": 0.01}``.
    """
    pipelines = root / "pipelines"
    pipelines.mkdir(parents=True, exist_ok=True)
    for source in (PROJECT_ROOT / "pipelines").glob("*.yml"):
        shutil.copy(source, pipelines / source.name)
    config = yaml.safe_load((pipelines / "config.yml").read_text())
    config["spark"] = TEST_SPARK.model_dump()
    (pipelines / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return load_settings(pipelines / "config.yml", environ={}, overrides=dict(overrides))


@pytest.fixture(scope="session")
def spark():
    session = get_spark(TEST_SPARK)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> Settings:
    """Settings of a throw-away project whose raw/ holds the `tiny` operator (see tiny_raw)."""
    return make_project(tmp_path_factory.mktemp("tiny_project"))


@pytest.fixture(scope="session")
def tiny_shared(tmp_path_factory, worker_id) -> Path:
    """The folder where this run makes its one `tiny` operator and warehouse. Under pytest-xdist
    (`make test` runs two workers) every worker sees the same folder: the first to ask generates
    and builds, the others wait for it, then each copies the result into a project of its own, so
    no test sees another worker's writes."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if worker_id != "master" else base) / "tiny_shared"


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock`` (one worker process at a time)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_tiny(spark, folder: Path, built: bool) -> Settings:
    """The shared `tiny` project, its operator generated (and, if ``built``, its warehouse built)
    by whichever worker asks first."""
    from workbench.generate import generate_operator
    from workbench.warehouse.build import build_warehouse

    with exclusive(folder / ".lock"):
        settings = make_project(folder / "project")
        if not (settings.raw_dir / "_manifest.json").is_file():
            if TINY_CACHE is not None and (TINY_CACHE / "raw" / "_manifest.json").is_file():
                shutil.copytree(TINY_CACHE / "raw", settings.raw_dir, dirs_exist_ok=True)
            else:
                generate_operator(spark, settings, profile="tiny")
        done = folder / ".built"
        if built and not done.exists():
            if TINY_CACHE is not None and (TINY_CACHE / "warehouse").is_dir():
                shutil.copytree(TINY_CACHE / "warehouse", settings.warehouse_dir)
            else:
                build_warehouse(spark, settings)
                if TINY_CACHE is not None:
                    shutil.copytree(settings.raw_dir, TINY_CACHE / "raw", dirs_exist_ok=True)
                    shutil.copytree(settings.warehouse_dir, TINY_CACHE / "warehouse")
            done.touch()
    return settings


@pytest.fixture(scope="session")
def tiny_manifest(spark, tiny_project, tiny_shared) -> dict:
    """The `tiny` operator in this worker's project (generated once per run); its manifest."""
    shared = _shared_tiny(spark, tiny_shared, built=False)
    shutil.copytree(shared.raw_dir, tiny_project.raw_dir, dirs_exist_ok=True)
    return json.loads((tiny_project.raw_dir / "_manifest.json").read_text())


@pytest.fixture(scope="session")
def tiny_warehouse(spark, tiny_project, tiny_manifest, tiny_shared) -> Settings:
    """The `tiny` warehouse in this worker's project (built once per run)."""
    shared = _shared_tiny(spark, tiny_shared, built=True)
    shutil.copytree(shared.warehouse_dir, tiny_project.warehouse_dir, dirs_exist_ok=True)
    return tiny_project


# Developer speed-up only (CI never sets it), like WORKBENCH_TINY_CACHE: a folder keeping the
# result project's warehouse (tiny warehouse + result marts). Delete it after changing a subject.
RESULTS_CACHE = (
    Path(os.environ["WORKBENCH_DASHBOARD_CACHE"])
    if os.environ.get("WORKBENCH_DASHBOARD_CACHE")
    else None
)


def results_project(request, tmp_path_factory, tiny_shared: Path, name: str) -> Settings:
    """A project of this worker's own (``name``) holding the tiny warehouse plus the subjects'
    result marts the apps and the truth table read: churn scores and drivers, basket rules and
    offers by scope, channel ROI (each subject run once, with fast settings, for the tiny
    operator's last month). The marts are made once per run by whichever pytest-xdist worker
    asks first (as the tiny warehouse is), then copied: training and mining them again for each
    test module cost about 25 CPU-seconds each time."""
    settings = make_project(tmp_path_factory.mktemp(name))
    shared = tiny_shared.parent / "results_shared"
    with exclusive(shared / ".lock"):
        made = shared / "warehouse"
        if not (shared / ".done").exists():
            if RESULTS_CACHE is not None and (RESULTS_CACHE / "warehouse").is_dir():
                shutil.copytree(RESULTS_CACHE / "warehouse", made)
            else:
                _make_result_marts(request, make_project(shared / "project"), made)
            (shared / ".done").touch()
    shutil.copytree(made, settings.warehouse_dir, dirs_exist_ok=True)
    # the raw extracts and their manifest too: the truth table reads what the generator planted
    request.getfixturevalue("tiny_manifest")
    shutil.copytree(tiny_shared / "project" / "data" / "raw", settings.raw_dir, dirs_exist_ok=True)
    return settings


#: the churn and cross-sell runs of the result marts, fast on tiny (the truth table's second seed
#: runs the same; the cross-sell subject's tests check these rules and offers)
RESULT_CHURN = {
    "horizon_months": 1,
    "train_months": 3,
    "sample_size": 20_000,
    "num_boost_round": 80,
}
RESULT_RULES = {
    "min_support": 0.004,
    "min_confidence": 0.01,
    "max_len": 2,
    "top_n_offers": 2,
    "by_groups": True,
}


def _make_result_marts(request, project: Settings, made: Path) -> None:
    """The tiny warehouse in ``project`` with the subjects' result marts; then copied to
    ``made`` (and to WORKBENCH_DASHBOARD_CACHE when set)."""
    from workbench.subjects import channel_roi, churn, cross_sell

    # requested here, not as arguments, so a cached project starts no Spark at all
    spark = request.getfixturevalue("spark")
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    period = request.getfixturevalue("tiny_manifest")["months"][-1]
    shutil.copytree(tiny_warehouse.warehouse_dir, project.warehouse_dir, dirs_exist_ok=True)
    churn.run(spark, project, period, **RESULT_CHURN)
    cross_sell.run(spark, project, period, **RESULT_RULES)
    channel_roi.run(project, period, spark=spark)
    shutil.copytree(project.warehouse_dir, made)
    if RESULTS_CACHE is not None:
        shutil.copytree(project.warehouse_dir, RESULTS_CACHE / "warehouse", dirs_exist_ok=True)


@pytest.fixture(scope="session")
def tiny_results(request, tmp_path_factory, tiny_shared) -> Settings:
    """This worker's copy of the tiny warehouse with the result marts (:func:`results_project`)
    for the subject tests and the truth table."""
    return results_project(request, tmp_path_factory, tiny_shared, "tiny_results")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from workbench.dashboards.timing import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-packages` (Debian's chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield instance
        instance.close()
