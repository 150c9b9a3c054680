"""Fixtures shared by the whole suite: one local Spark session, an isolated project folder, and
the `tiny` synthetic operator generated once per run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from workbench.config import Settings, SparkSettings, load_settings
from workbench.spark import get_spark

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXTERNAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "external"
# Small data in short-lived JVMs: most of a test build's CPU went to the JIT's optimising (C2)
# compiler (1 min 43 s of 117 s CPU for the tiny build); C1 alone builds it about 20% faster.
TEST_SPARK = SparkSettings(
    master="local[2]",
    driver_memory="2g",
    shuffle_partitions=4,
    java_options="-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m",
    conf={"spark.ui.enabled": False, "spark.sql.adaptive.coalescePartitions.enabled": True},
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
def tiny_manifest(spark, tiny_project) -> dict:
    """Generate the `tiny` operator once per run and return its manifest."""
    from workbench.generate import generate_operator

    if TINY_CACHE is not None and (TINY_CACHE / "raw" / "_manifest.json").is_file():
        shutil.copytree(TINY_CACHE / "raw", tiny_project.raw_dir, dirs_exist_ok=True)
        return json.loads((tiny_project.raw_dir / "_manifest.json").read_text())
    return generate_operator(spark, tiny_project, profile="tiny")


@pytest.fixture(scope="session")
def tiny_warehouse(spark, tiny_project, tiny_manifest) -> Settings:
    """The `tiny` warehouse, built once per run from the `tiny` operator."""
    from workbench.warehouse.build import build_warehouse

    if TINY_CACHE is not None and (TINY_CACHE / "warehouse").is_dir():
        shutil.copytree(TINY_CACHE / "warehouse", tiny_project.warehouse_dir, dirs_exist_ok=True)
        return tiny_project
    build_warehouse(spark, tiny_project)
    if TINY_CACHE is not None:
        shutil.copytree(tiny_project.raw_dir, TINY_CACHE / "raw", dirs_exist_ok=True)
        shutil.copytree(tiny_project.warehouse_dir, TINY_CACHE / "warehouse", dirs_exist_ok=True)
    return tiny_project
