"""Column declarations that turn into Spark or Arrow schemas without starting a JVM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

ColumnType = Literal["string", "bigint", "int", "double", "boolean", "date", "timestamp"]


@dataclass(frozen=True)
class Label:
    """How a column reads to a manager: a short name in English and in Chinese, and its unit in
    the words of the KPI dictionary (``CNY``, ``share of ...``, ``months``; ``flag`` for yes/no),
    which :mod:`workbench.formats` shows values in."""

    en: str
    zh: str
    unit: str = ""


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str = ""
    nullable: bool = True
    label: Label | None = None


def col(
    name: str,
    type_: ColumnType,
    description: str = "",
    *,
    nullable: bool = True,
    label: Label | None = None,
) -> Column:
    """Shorthand used by the catalog modules."""
    return Column(name, type_, description, nullable, label)


def spark_type(type_: ColumnType) -> DataType:
    from pyspark.sql import types as T

    return {
        "string": T.StringType(),
        "bigint": T.LongType(),
        "int": T.IntegerType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "date": T.DateType(),
        "timestamp": T.TimestampType(),
    }[type_]


def arrow_type(type_: ColumnType) -> pa.DataType:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
    }[type_]


def to_spark_schema(columns: tuple[Column, ...] | list[Column]) -> StructType:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c.name, spark_type(c.type), c.nullable) for c in columns])


def to_arrow_schema(columns: tuple[Column, ...] | list[Column]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(c.name, arrow_type(c.type), c.nullable) for c in columns])
