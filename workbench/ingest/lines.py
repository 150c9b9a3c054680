"""From dump lines to catalog rows: Spark transforms, built-in functions only (no Python UDF).

Each line keeps its file and its 1-based line number, so every rejected line can be named:

- **Lines and their numbers.** ``spark.read.text`` splits files on line breaks (gzip files are
  decompressed, one task each) and hands each line's bytes over undecoded. A line's number is its
  rank in its file by (split start, position in the split's task): a window per file, which
  stays right however a cluster splits and schedules the files.
- **Encoding.** The bytes are decoded with the mapping's encoding and encoded back: a line whose
  bytes do not survive the round trip is not in that encoding (``bad_encoding``, its bytes kept
  as hex). A file the mapping calls GBK whose every non-ASCII line is valid UTF-8 is UTF-8 in
  fact (GBK text almost never is), and all its lines are rejected naming it.
- **Fields.** ``from_csv`` splits a line with the mapping's delimiter and quote; a line with too
  few or too many fields is rejected (``field_count``).
- **Month.** With a ``month_column``, each line's month (``YYYY-MM``) is parsed from that
  column with its pattern; a line whose month does not parse is rejected
  (``malformed_month``). A line rejected before (encoding, file, fields) has no month either.
- **Conversion.** Each catalog column is made from its dump column, expression or constant, then
  code table, date pattern, fen, and the catalog type; the first that fails names the column
  and the value (``unmapped_code``, ``malformed_date``, ``bad_number``, ``bad_boolean``).

Reasons are ``code: detail``; the first that applies, in the order above, is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from workbench.catalog import Table
from workbench.catalog.schema import spark_type
from workbench.ingest.mapping import ColumnMap, DumpFormat, ExtractMap, catalog_text_format

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PATH = "_path"  # the file as Spark names it, decoded to a plain path
LINE = "line_number"
BYTES = "_bytes"
TEXT = "_text"
REASON = "reason"
IS_HEADER = "_is_header"
LINE_MONTH = "_line_month"  # from the month column; null: no month column, or none read
FILE_PROBLEM = "_file_problem"
_CORRUPT = "_corrupt__"
_FIELDS = "_fields__"
UTF8_FAMILY = {"utf8", "utf-8", "utf_8"}


def file_path(metadata_path: Column) -> Column:
    """A file's plain path from Spark's ``file:`` URI (spaces and the like %-escaped)."""
    # url_decode would read a literal '+' as a space: escape it first
    decoded = F.url_decode(F.regexp_replace(metadata_path, r"\+", "%2B"))
    return F.regexp_replace(decoded, r"^file:(//)?", "")


def read_lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Every line of ``paths``: ``_path``, ``line_number`` (1-based) and ``_bytes`` (undecoded)."""
    scanned = spark.read.text(list(paths)).select(
        file_path(F.col("_metadata.file_path")).alias(PATH),
        F.col("_metadata.file_block_start").alias("_block"),
        # increasing within a task, which reads its splits line by line in order
        F.monotonically_increasing_id().alias("_seq"),
        # the text source does not decode: the string holds the file's bytes as they are
        F.col("value").cast("binary").alias(BYTES),
    )
    in_file = Window.partitionBy(PATH).orderBy("_block", "_seq")
    return scanned.select(PATH, F.row_number().over(in_file).cast("bigint").alias(LINE), BYTES)


def count_lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Lines per file (``_path``, ``lines``), counted by a scan of their own."""
    lines = spark.read.text(list(paths)).select(file_path(F.col("_metadata.file_path")).alias(PATH))
    return lines.groupBy(PATH).agg(F.count(F.lit(1)).alias("lines"))


def decode_lines(encoding: str) -> Callable[[DataFrame], DataFrame]:
    """Add ``_text`` (the decoded line, U+FEFF at a file's start removed) and the encoding
    reason of lines whose bytes are not in ``encoding``."""

    def transform(lines: DataFrame) -> DataFrame:
        text = F.decode(F.col(BYTES), encoding)
        strict = F.encode(text, encoding) == F.col(BYTES)
        text = F.when(F.col(LINE) == 1, F.regexp_replace(text, "^\ufeff", "")).otherwise(text)
        reason = F.when(
            ~strict,
            F.concat(F.lit(f"bad_encoding: bytes that are not {encoding}: "), F.hex(BYTES)),
        )
        return lines.select("*", text.alias(TEXT), reason.alias("_encoding_reason"))

    return transform


def file_problems(fmt: DumpFormat, columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """One row per file (``_path``, ``_file_problem``): a header that is not the mapping's
    columns, or a file in UTF-8 the mapping says is in another encoding (null: none)."""
    expected = F.array(*[F.lit(c) for c in columns])

    def transform(decoded: DataFrame) -> DataFrame:
        non_ascii = F.octet_length(BYTES) > F.length(TEXT)
        as_utf8 = F.try_validate_utf8(F.col(BYTES).cast("string")).isNotNull()
        agg = [
            F.count_if(non_ascii).alias("_non_ascii"),
            F.count_if(non_ascii & as_utf8).alias("_utf8"),
        ]
        if fmt.header:
            header = F.max(F.when(F.col(LINE) == 1, _fields_array(fmt, len(columns) + 8)))
            agg.append(header.alias("_header"))
        stats = decoded.groupBy(PATH).agg(*agg)
        problem = F.lit(None).cast("string")
        if fmt.encoding.lower() not in UTF8_FAMILY:
            problem = F.when(
                (F.col("_non_ascii") > 0) & (F.col("_utf8") == F.col("_non_ascii")),
                F.lit(f"bad_encoding: the file is UTF-8, the mapping says {fmt.encoding}"),
            )
        if fmt.header:
            found = F.filter(F.col("_header"), lambda c: c.isNotNull())
            lacks = F.array_join(F.array_except(expected, found), ", ")
            extra = F.array_join(F.array_except(found, expected), ", ")
            header_problem = F.when(
                F.col("_header").isNull(), F.lit("header_mismatch: the file has no header line")
            ).when(
                found != expected,
                F.concat(
                    F.lit("header_mismatch: "),
                    F.when(lacks != "", F.concat(F.lit("lacks column "), lacks)).otherwise(""),
                    F.when((lacks != "") & (extra != ""), F.lit("; ")).otherwise(""),
                    F.when(extra != "", F.concat(F.lit("has column "), extra)).otherwise(""),
                    F.when(
                        (lacks == "") & (extra == ""), F.lit("columns in another order")
                    ).otherwise(""),
                ),
            )
            problem = F.coalesce(problem, header_problem)
        return stats.select(PATH, problem.alias(FILE_PROBLEM))

    return transform


def _csv_options(fmt: DumpFormat) -> dict[str, str]:
    return {
        "sep": fmt.delimiter,
        "quote": fmt.quote or "",  # empty: no quoting
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": _CORRUPT,
        "nullValue": "",
    }


def _fields_array(fmt: DumpFormat, width: int) -> Column:
    """The fields of ``_text`` as an array of ``width`` (nulls past the line's last field)."""
    names = [f"f{i}" for i in range(width)]
    schema = ", ".join(f"{n} string" for n in names) + f", {_CORRUPT} string"
    parsed = F.from_csv(F.col(TEXT), schema, _csv_options(fmt))
    return F.array(*[parsed[n] for n in names])


def parse_fields(fmt: DumpFormat, columns: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Split ``_text`` into the dump's columns (named as in the mapping), with the reason
    ``_field_reason`` of an empty line or one with another number of fields."""
    schema = ", ".join(f"`{c}` string" for c in columns) + f", {_CORRUPT} string"

    def transform(decoded: DataFrame) -> DataFrame:
        parsed = decoded.withColumn(_FIELDS, F.from_csv(F.col(TEXT), schema, _csv_options(fmt)))
        count = F.size(F.split(F.col(TEXT), _regex_literal(fmt.delimiter)))
        reason = F.when(F.col(TEXT) == "", F.lit("empty_line: the line is empty")).when(
            F.col(f"{_FIELDS}.{_CORRUPT}").isNotNull(),
            F.concat(
                F.lit(f"field_count: expected {len(columns)} fields, the line has "),
                count.cast("string"),
                F.lit(f" (split on {fmt.delimiter!r}, quotes aside)"),
            ),
        )
        return parsed.select(
            "*", *[F.col(_FIELDS)[c].alias(c) for c in columns], reason.alias("_field_reason")
        ).drop(_FIELDS)

    return transform


def _regex_literal(char: str) -> str:
    return "\\" + char if not char.isalnum() else char


def convert_column(
    name: str, spec: ColumnMap, table: Table, codes: dict[str, dict[str, str]]
) -> tuple[Column, Column]:
    """The catalog value of one column and its reason (null when it converts)."""
    column = next(c for c in table.columns if c.name == name)
    origin = spec.column or spec.expr or "value"
    if spec.column is not None:
        value = F.col(f"`{spec.column}`")
    elif spec.expr is not None:
        value = F.expr(spec.expr).cast("string")
    else:
        value = F.lit(None if spec.value is None else _text(spec.value)).cast("string")
    if spec.default is not None:
        value = F.coalesce(value, F.lit(_text(spec.default)))
    checks: list[Column] = []

    def fails(code: str, failed: Column, detail: str, shown: Column) -> None:
        checks.append(
            F.when(
                failed,
                F.concat(F.lit(f"{code}: {origin} ({name}) value '"), shown, F.lit(f"' {detail}")),
            )
        )

    if spec.codes is not None:
        table_map = codes[spec.codes]
        pairs = [F.lit(x) for k, v in sorted(table_map.items()) for x in (k, v)]
        mapped = F.try_element_at(F.create_map(*pairs), value) if pairs else F.lit(None)
        fails(
            "unmapped_code",
            value.isNotNull() & mapped.isNull(),
            f"not in codes.{spec.codes}",
            value,
        )
        value = mapped.cast("string")
    if spec.date is not None:
        parsed = F.try_to_timestamp(value, F.lit(spec.date))
        fails("malformed_date", value.isNotNull() & parsed.isNull(), f"is not {spec.date}", value)
        value = F.date_format(parsed, catalog_text_format(column) or "")
    if spec.fen:
        # a cast to a whole decimal would round 15.5 to 16: only digits are whole fen
        fen = F.when(value.rlike(r"^-?[0-9]+$"), value.try_cast("decimal(22,0)"))
        fails("bad_number", value.isNotNull() & fen.isNull(), "is not a whole number of fen", value)
        typed = (fen / 100).cast("double")
    elif column.type == "boolean":
        typed = F.when(value.isin(*spec.true_values), True).when(
            value.isin(*spec.false_values), False
        )
        fails(
            "bad_boolean",
            value.isNotNull() & typed.isNull(),
            f"is none of {', '.join((*spec.true_values, *spec.false_values))}",
            value,
        )
    elif column.type != "string":
        typed = value.try_cast(spark_type(column.type))
        fails("bad_number", value.isNotNull() & typed.isNull(), f"is not {column.type}", value)
    else:
        typed = value
    reason = F.coalesce(*checks) if checks else F.lit(None).cast("string")
    return typed.cast(spark_type(column.type)).alias(name), reason


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def line_month(extract: ExtractMap) -> tuple[Column, Column]:
    """The month of a line from its ``month_column`` (``YYYY-MM``) and the reason it has none
    (``malformed_month``); both null for an extract whose month is in the file name."""
    spec = extract.month_column
    if spec is None:
        return F.lit(None).cast("string"), F.lit(None).cast("string")
    value = F.col(f"`{spec.column}`")
    parsed = F.try_to_timestamp(value, F.lit(spec.format))
    reason = F.when(
        parsed.isNull(),
        F.concat(
            F.lit(f"malformed_month: {spec.column} value '"),
            F.coalesce(value, F.lit("")),
            F.lit(f"' is not {spec.format}"),
        ),
    )
    return F.date_format(parsed, "yyyy-MM"), reason


def label_lines(
    table: Table,
    extract: ExtractMap,
    fmt: DumpFormat,
    codes: dict[str, dict[str, str]],
    problems: DataFrame,
) -> Callable[[DataFrame], DataFrame]:
    """From decoded lines to the catalog's data columns plus ``reason`` (null: accepted) and
    ``_is_header`` and ``_line_month`` (:func:`line_month`, null on a line rejected before its
    month is read); ``problems`` is :func:`file_problems`'s frame (one row per file)."""
    converted = [
        convert_column(c.name, extract.map[c.name], table, codes) for c in table.data_columns
    ]
    month, month_reason = line_month(extract)

    def transform(decoded: DataFrame) -> DataFrame:
        fields = decoded.transform(parse_fields(fmt, extract.columns)).join(
            F.broadcast(problems), PATH, "left"
        )
        before_month = F.coalesce(
            F.col("_encoding_reason"), F.col(FILE_PROBLEM), F.col("_field_reason")
        )
        reason = F.coalesce(before_month, month_reason, *[r for _, r in converted])
        is_header = F.lit(fmt.header) & (F.col(LINE) == 1)
        return fields.select(
            PATH,
            LINE,
            F.when(F.col("_encoding_reason").isNotNull(), F.concat(F.lit("hex:"), F.hex(BYTES)))
            .otherwise(F.col(TEXT))
            .alias("raw_text"),
            *[v for v, _ in converted],
            reason.alias(REASON),
            is_header.alias(IS_HEADER),
            F.when(before_month.isNull(), month).alias(LINE_MONTH),
        )

    return transform
