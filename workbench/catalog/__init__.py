"""The catalog: every table's name, layer, grain, keys, partitioning, schema and contracts.

One place maps a table name to where it lives; transforms receive DataFrames and never open
paths themselves. Tables register themselves from the layer modules imported at the bottom.

Layout on disk (Hive-partitioned Parquet, readable by Spark, DuckDB, pandas and Trino)::

    <paths.raw>/<extract>/month=2026-01/part-*.parquet
    <paths.warehouse>/<layer>/<table>/month=2026-01/part-*.parquet
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from workbench.catalog.contracts import Contract
from workbench.catalog.schema import Column, Label, to_arrow_schema, to_spark_schema

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

    from workbench.config import Settings

Layer = Literal["raw", "ods", "dwd", "dws", "ads", "quarantine"]
LAYERS: tuple[Layer, ...] = ("raw", "ods", "dwd", "dws", "ads", "quarantine")
PARTITION_COLUMN = "month"


@dataclass(frozen=True)
class Table:
    """One table of the catalog.

    ``columns`` lists every column as read, partition columns included (last).
    """

    name: str
    layer: Layer
    grain: str
    description: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = (PARTITION_COLUMN,)
    contracts: tuple[Contract, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        for key in (*self.keys, *self.partition_by):
            if key not in names:
                raise ValueError(f"{self.name}: key or partition column {key!r} is not a column")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def labels(self) -> dict[str, Label]:
        """The columns that declare how they read to a manager, by name."""
        return {c.name: c.label for c in self.columns if c.label is not None}

    @property
    def data_columns(self) -> list[Column]:
        """The columns stored inside the Parquet files (partition columns live in paths)."""
        return [c for c in self.columns if c.name not in self.partition_by]

    @property
    def spark_schema(self) -> StructType:
        return to_spark_schema(self.columns)

    @property
    def arrow_schema(self) -> pa.Schema:
        return to_arrow_schema(self.columns)

    def path(self, settings: Settings) -> Path:
        """Where the table lives for these settings."""
        if self.layer == "raw":
            return settings.raw_dir / self.name
        return settings.warehouse_dir / self.layer / self.name


_REGISTRY: dict[str, Table] = {}


def register(table: Table) -> Table:
    """Add a table to the catalog (names are unique across layers)."""
    if table.name in _REGISTRY:
        raise ValueError(f"table {table.name!r} is registered twice")
    _REGISTRY[table.name] = table
    return table


def get_table(name: str) -> Table:
    """The catalog entry for ``name``; the error lists the known tables."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown table {name!r}; the catalog knows: {known}") from None


def tables(layer: Layer | None = None) -> list[Table]:
    """All tables, or those of one layer, in registration order."""
    return [t for t in _REGISTRY.values() if layer is None or t.layer == layer]


# Importing the layer modules registers their tables.
from workbench.catalog import raw, ods, dwd, dws, ads, ads_value, ads_network, results, targets  # noqa: E402,F401,I001  (registration, in layer order)
