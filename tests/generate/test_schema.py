"""Every raw extract on disk has exactly the catalog's columns and types."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest
from pyspark.errors import AnalysisException

from workbench.catalog import tables
from workbench.generate.extracts import _conform

RAW = [t.name for t in tables("raw")]


def _names_and_types(schema):
    return [(f.name, str(getattr(f, "dataType", None) or f.type)) for f in schema]


@pytest.mark.parametrize("name", RAW)
def test_extract_schema_matches_the_catalog(spark, tiny_project, tiny_manifest, name):
    table = next(t for t in tables("raw") if t.name == name)
    path = table.path(tiny_project)
    months = sorted(p.name for p in path.glob("month=*"))
    assert months, f"{name}: no month partitions under {path}"
    if name not in ("campaigns", "campaign_contacts", "campaign_responses"):
        assert months == [f"month={m}" for m in tiny_manifest["months"]]
    arrow = ds.dataset(path, format="parquet", partitioning="hive").schema
    expected = table.arrow_schema
    data_fields = [f for f in arrow if f.name != "month"]
    assert _names_and_types(data_fields) == _names_and_types(
        [f for f in expected if f.name != "month"]
    )
    read = spark.read.parquet(str(path)).schema
    assert _names_and_types(read) == _names_and_types(table.spark_schema)


def test_conform_rejects_a_frame_missing_a_catalog_column(spark):
    frame = spark.createDataFrame([("GZ", "2026-01")], "region_id string, month string")
    with pytest.raises(AnalysisException):
        _conform(frame, "regions").schema  # noqa: B018  (resolving the plan raises)


def test_manifest_counts_rows_that_exist(spark, tiny_project, tiny_manifest):
    for name in ("usage", "subscribers", "bills"):
        path = next(t for t in tables("raw") if t.name == name).path(tiny_project)
        counts = {
            r["month"]: r["count"]
            for r in spark.read.parquet(str(path)).groupBy("month").count().collect()
        }
        assert counts == tiny_manifest["row_counts"][name]
    assert tiny_manifest["row_totals"]["usage"] > 100_000
