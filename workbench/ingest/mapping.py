"""The mapping file of a source: ``pipelines/sources/<name>.yml``.

It says where an operator's dumps are, how they are written (delimiter, quote, header, encoding;
gzip is recognised by the ``.gz`` ending) and, for every raw extract it feeds, the dump's columns
in file order and how each catalog column is made from them. Errors name the file and the key,
for example ``extracts.subscribers.map.plan_id.codes: no code table 'plan' (known: plans)``.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.catalog import get_table, tables
from workbench.catalog.ods import DATE_FORMAT, TIMESTAMP_FORMAT
from workbench.catalog.schema import Column
from workbench.errors import WorkbenchError

SOURCES_DIR = Path("pipelines") / "sources"
# the characters a dump is split on; an encoding must write them as these single bytes
_STRUCTURE = '\n\r|,\t";'

Scalar = str | int | float | bool


class MappingError(WorkbenchError, ValueError):
    """A mapping file is missing or wrong; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DumpFormat(_Strict):
    """How the dump files are written."""

    delimiter: str = ","  # one character: "," "|" or "\t"
    quote: str | None = '"'  # None: fields are never quoted
    header: bool = True  # the first line names the columns (checked against `columns`)
    encoding: str = "UTF-8"  # GBK, GB18030, UTF-8 ... (any encoding that keeps ASCII bytes)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("must be one character other than a line break, e.g. '|' or '\\t'")
        return value

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be one character or null")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codec = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. GBK, GB18030, UTF-8)") from None
        # Lines are split on the newline byte before decoding, so the encoding must write the
        # delimiters and line breaks as their ASCII bytes (UTF-16 does not).
        if _STRUCTURE.encode(codec.name, errors="replace") != _STRUCTURE.encode("ascii"):
            raise ValueError(f"{value}: line breaks and delimiters must be single ASCII bytes")
        return value


class ColumnMap(_Strict):
    """How one catalog column is made: from a dump column, an expression or a constant, then
    converted. A plain string in the file is shorthand for ``{column: NAME}``."""

    column: str | None = None  # a dump column
    expr: str | None = None  # a Spark SQL expression over the dump columns (text values)
    value: Scalar | None = None  # a constant, for a column the dumps do not have
    date: str | None = None  # the dump's date pattern, e.g. yyyyMMdd or yyyy/M/d H:mm
    fen: bool = False  # the dump holds whole fen: divided by 100 into yuan
    codes: str | None = None  # name of a code table of the mapping (dump code -> catalog id)
    true_values: tuple[str, ...] = ("true", "1", "Y")  # for boolean columns
    false_values: tuple[str, ...] = ("false", "0", "N")
    default: Scalar | None = None  # used when the dump's field is empty

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        # `value: null` is a constant too (a column the dumps lack, left empty)
        given = [k for k in ("column", "expr") if getattr(self, k) is not None]
        given += ["value"] if "value" in self.model_fields_set else []
        if len(given) != 1:
            raise ValueError("give exactly one of column, expr or value")
        return self


# the letters of Spark's datetime patterns that parse (outside '...' literals)
_DATETIME_LETTERS = set("GyDMLdahKkHmsSVzOXxZ")


class MonthColumn(_Strict):
    """The month of each line from a dump column, e.g. ``{column: zhangqi, format: yyyyMM}``."""

    column: str  # a dump column
    format: str  # a Spark datetime pattern naming at least the year and the month

    @field_validator("format")
    @classmethod
    def _year_and_month(cls, value: str) -> str:
        letters = {c for c in re.sub(r"'[^']*'?", "", value) if c.isascii() and c.isalpha()}
        if letters - _DATETIME_LETTERS:
            unknown = "".join(sorted(letters - _DATETIME_LETTERS))
            raise ValueError(f"{value!r}: {unknown!r} is not a Spark datetime pattern letter")
        if "y" not in letters or not {"M", "L"} & letters:
            raise ValueError(f"{value!r} must name the year and the month, e.g. yyyyMM")
        return value


class ExtractMap(_Strict):
    """One raw extract: which files, their month, their columns, and the catalog columns.

    The month of a line comes from its file name (``month_pattern``) or from one of its
    columns (``month_column``): exactly one of the two is given."""

    files: str  # glob under the dumps folder, e.g. "yh_zl_*.txt.gz"
    # regex on the file name whose groups are the year and the month (e.g. ..._202601.txt)
    month_pattern: str | None = None
    month_column: MonthColumn | None = None  # or each line's month from a dump column
    columns: list[str] = Field(min_length=1)  # the dump's columns in file order
    map: dict[str, ColumnMap]
    format: DumpFormat | None = None  # overrides the source's format for this extract

    @field_validator("map", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"column": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("month_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if groups != 2:
            raise ValueError("needs two groups, the year and the month, e.g. (\\d{4})(\\d{2})")
        return value

    @model_validator(mode="after")
    def _one_month(self) -> ExtractMap:
        given = [k for k in ("month_pattern", "month_column") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of month_pattern (the month from the file name) or "
                "month_column (from a dump column), not "
                + (" and ".join(given) if given else "neither")
            )
        return self


class Source(_Strict):
    """A mapping file: one operator system's dumps."""

    description: str = ""
    dumps: Path = Path("data/dumps")  # folder of the dump files (relative: to the project)
    format: DumpFormat = Field(default_factory=DumpFormat)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    extracts: dict[str, ExtractMap]

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted code such as 1001 as a number; dumps hold text
        if isinstance(value, dict):
            return {
                name: {str(k): str(v) for k, v in table.items()}
                if isinstance(table, dict)
                else table
                for name, table in value.items()
            }
        return value

    def format_of(self, extract: str) -> DumpFormat:
        return self.extracts[extract].format or self.format


def catalog_text_format(column: Column) -> str | None:
    """The text pattern the catalog keeps a date or timestamp column in (None: not a time)."""
    if column.type != "string":
        return None
    if column.name.endswith("_at"):
        return TIMESTAMP_FORMAT
    if column.name.endswith("_date"):
        return DATE_FORMAT
    return None


def check_source(source: Source) -> None:
    """Cross-checks the schema cannot express, each raising ``ValueError`` naming the key."""
    raw = {t.name for t in tables("raw")}
    for name, extract in source.extracts.items():
        where = f"extracts.{name}"
        if name not in raw:
            raise ValueError(f"{where}: not a raw extract (known: {', '.join(sorted(raw))})")
        if len(set(extract.columns)) != len(extract.columns):
            raise ValueError(f"{where}.columns: a column is named twice")
        month = extract.month_column
        if month is not None and month.column not in extract.columns:
            raise ValueError(
                f"{where}.month_column.column: {month.column!r} is not among the dump's columns"
            )
        table = get_table(name)
        data = {c.name: c for c in table.data_columns}
        unknown = sorted(set(extract.map) - set(data))
        if unknown:
            raise ValueError(f"{where}.map.{unknown[0]}: not a column of raw {name}")
        missing = [c for c in data if c not in extract.map]
        if missing:
            raise ValueError(
                f"{where}.map: catalog column {missing[0]!r} is not mapped "
                "(give its dump column, an expr, or a value)"
            )
        for column, spec in extract.map.items():
            _check_column(f"{where}.map.{column}", spec, data[column], extract, source)


def _check_column(
    where: str, spec: ColumnMap, column: Column, extract: ExtractMap, source: Source
) -> None:
    if spec.column is not None and spec.column not in extract.columns:
        raise ValueError(f"{where}.column: {spec.column!r} is not among the dump's columns")
    if spec.codes is not None and spec.codes not in source.codes:
        known = ", ".join(sorted(source.codes)) or "none"
        raise ValueError(f"{where}.codes: no code table {spec.codes!r} (known: {known})")
    if spec.date is not None and catalog_text_format(column) is None:
        raise ValueError(f"{where}.date: {column.name} is not a date or timestamp column")
    if spec.fen and column.type != "double":
        raise ValueError(f"{where}.fen: {column.name} is not an amount ({column.type})")


def source_path(root: Path, name: str) -> Path:
    """Where a source's mapping file lives in a project."""
    return root / SOURCES_DIR / f"{name}.yml"


def load_source(path: Path) -> Source:
    """Read and validate a mapping file.

    Raises:
        MappingError: naming the file and the key at fault.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.yml"))
        raise MappingError(
            f"no mapping file {path} (sources there: {', '.join(known) or 'none'})"
        ) from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: the top level must be a mapping of keys")
    try:
        source = Source.model_validate(raw)
        check_source(source)
    except ValidationError as exc:
        lines = []
        for item in exc.errors():
            key = ".".join(str(p) for p in item["loc"]) or "(top level)"
            message = item["msg"].removeprefix("Value error, ")
            lines.append(
                f"{key}: {'unknown key' if item['type'] == 'extra_forbidden' else message}"
            )
        raise MappingError(f"invalid mapping {path}:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:
        raise MappingError(f"invalid mapping {path}:\n  {exc}") from None
    return source
