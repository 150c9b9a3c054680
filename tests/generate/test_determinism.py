"""Same seed and profile give identical extracts whatever the partitioning; another seed differs."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from tests.conftest import make_project
from workbench.catalog import tables
from workbench.config import ConfigError
from workbench.generate import GeneratorError, generate_operator
from workbench.months import parse_month_range

SMALL = {"profiles.tiny.subscribers": 300}
MONTHS = parse_month_range("2026-01..2026-03")


def _read_sorted(root, table):
    frame = ds.dataset(root / table, format="parquet", partitioning="hive").to_table().to_pandas()
    columns = list(frame.columns)
    return frame.sort_values(columns, na_position="first").reset_index(drop=True)


@pytest.fixture(scope="module")
def small_runs(spark, tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("determinism"), **SMALL)
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, seed, parts in (("a", 11, 2), ("b", 11, 5), ("c", 12, 2)):
        runs[name] = generate_operator(
            spark, settings, "tiny", seed=seed, months=MONTHS, out=root / name, partitions=parts
        )
    return root, runs


def test_same_seed_gives_identical_data_for_any_partitioning(small_runs):
    root, runs = small_runs
    assert runs["a"] == runs["b"]
    assert (root / "a" / "_manifest.json").read_bytes() == (
        root / "b" / "_manifest.json"
    ).read_bytes()
    for table in tables("raw"):
        a, b = _read_sorted(root / "a", table.name), _read_sorted(root / "b", table.name)
        assert len(a) > 0, table.name
        assert a.equals(b), f"{table.name} differs between 2 and 5 partitions"


def test_another_seed_gives_other_data(small_runs):
    root, runs = small_runs
    assert runs["c"]["seed"] == 12
    for table in ("subscribers", "usage", "complaints"):
        a, c = _read_sorted(root / "a", table), _read_sorted(root / "c", table)
        assert not a.equals(c), f"{table} did not change with the seed"


def test_manifest_is_stable_json(small_runs):
    root, runs = small_runs
    text = (root / "a" / "_manifest.json").read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(runs["a"]))
    assert text == json.dumps(runs["a"], sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert runs["a"]["months"] == MONTHS.months and runs["a"]["subscribers"] == 300


def test_bad_arguments_are_named(spark, tiny_project, tmp_path):
    with pytest.raises(GeneratorError, match="partitions"):
        generate_operator(spark, tiny_project, "tiny", out=tmp_path, partitions=0)
    with pytest.raises(ConfigError, match=r"profiles\.huge"):
        generate_operator(spark, tiny_project, "huge", out=tmp_path)
    assert not any(tmp_path.iterdir())
