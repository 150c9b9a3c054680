"""Row filters that reach both engines as bound values, never as SQL text.

A dashboard's selection is read by DuckDB (the page) and again by Spark (the export in a child
process). Quoting a value once for both is wrong: the engines disagree on backslashes and quotes,
so a value can mean one thing to the page and another to the export. A filter is therefore data,
a tuple of :class:`Condition` (column, operator, value), and each engine gets it its own bound way:

* DuckDB: :func:`duckdb_where` gives ``"col" >= ?`` text with the values as a parameter list;
* Spark: :func:`spark_condition` gives a Column built with ``F.col`` and ``F.lit`` (no parsing);
* JSON (the export's child process, the export log): :func:`to_records` / :func:`from_records`.

Column names are checked against :data:`COLUMN` (a full match) and double-quoted for DuckDB;
values never touch the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from pyspark.sql import Column

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "is_true"]
OPS: tuple[str, ...] = get_args(Op)
COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
Scalar = str | int | float | bool


class FilterError(WorkbenchError):
    """A filter names a bad column, operator or value; the message says which."""


@dataclass(frozen=True)
class Condition:
    """``column op value``; ``in`` takes a tuple of values (empty: matches nothing), ``is_true``
    none (a boolean column that is true; null is not true)."""

    column: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or COLUMN.fullmatch(self.column) is None:
            raise FilterError(f"filter column {self.column!r} is not a column name")
        if self.op not in OPS:
            raise FilterError(f"filter on {self.column}: operator {self.op!r} not in {OPS}")
        if self.op == "is_true":
            if self.value is not None:
                raise FilterError(f"filter {self.column} is_true takes no value")
            return
        values = self.value if self.op == "in" else (self.value,)
        if self.op == "in" and not isinstance(self.value, tuple):
            raise FilterError(f"filter {self.column} in: expected a tuple of values")
        for value in values:
            _check_scalar(self.column, value)


def _check_scalar(column: str, value: object) -> None:
    if not isinstance(value, str | int | float | bool):
        raise FilterError(f"filter on {column}: value {value!r} is not text, number or boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f"filter on {column}: value {value!r} is not a finite number")


def equals(column: str, value: Scalar) -> Condition:
    return Condition(column, "=", value)


def among(column: str, values: Iterable[Scalar]) -> Condition:
    """``column IN values`` (sorted and deduplicated, so equal selections give equal filters;
    numpy scalars, as pandas hands them out, become Python values)."""
    plain = {v.item() if hasattr(v, "item") else v for v in values}
    return Condition(column, "in", tuple(sorted(plain, key=lambda v: (str(type(v)), v))))


def at_least(column: str, value: float) -> Condition:
    return Condition(column, ">=", value)


def is_true(column: str) -> Condition:
    return Condition(column, "is_true")


def describe(conditions: Sequence[Condition]) -> str:
    """The conditions as a reader sees them, for messages: ``region_id = 'GZ' AND ...``."""
    shown = []
    for c in conditions:
        if c.op == "is_true":
            shown.append(c.column)
        elif c.op == "in":
            shown.append(f"{c.column} in {list(c.value)!r}")  # type: ignore[arg-type]
        else:
            shown.append(f"{c.column} {c.op} {c.value!r}")
    return " AND ".join(shown)


def duckdb_where(conditions: Sequence[Condition]) -> tuple[str, list[Scalar]]:
    """``("col" = ? AND ...)`` and its parameters, for ``con.execute(sql, params)``; no
    conditions give ``("TRUE", [])``."""
    parts: list[str] = []
    params: list[Scalar] = []
    for c in conditions:
        column = f'"{c.column}"'
        if c.op == "is_true":
            parts.append(f"{column} IS TRUE")
        elif c.op == "in":
            values = list(c.value)  # type: ignore[arg-type]
            parts.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "FALSE")
            params.extend(values)
        else:
            parts.append(f"{column} {c.op} ?")
            params.append(c.value)  # type: ignore[arg-type]
    return (" AND ".join(f"({p})" for p in parts) or "TRUE"), params


def spark_condition(conditions: Sequence[Condition]) -> Column:
    """The conditions as one Spark Column (values as typed literals, no SQL parsing)."""
    from pyspark.sql import functions as F

    result = F.lit(True)
    for c in conditions:
        column = F.col(c.column)
        if c.op == "is_true":
            term = F.coalesce(column == F.lit(True), F.lit(False))
        elif c.op == "in":
            values = list(c.value)  # type: ignore[arg-type]
            term = column.isin(values) if values else F.lit(False)
        else:
            value = F.lit(c.value)
            term = {
                "=": column == value,
                "!=": column != value,
                "<": column < value,
                "<=": column <= value,
                ">": column > value,
                ">=": column >= value,
            }[c.op]
        result = result & F.coalesce(term, F.lit(False))
    return result


def to_records(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    """JSON-ready form (the export's child process, the export log)."""
    return [
        {"column": c.column, "op": c.op, "value": list(c.value) if c.op == "in" else c.value}  # type: ignore[arg-type]
        for c in conditions
    ]


def from_records(records: Iterable[dict[str, Any]] | None) -> tuple[Condition, ...]:
    """The inverse of :func:`to_records` (every condition re-validated)."""
    out = []
    for record in records or ():
        if not isinstance(record, dict) or set(record) - {"column", "op", "value"}:
            raise FilterError(f"filter {record!r}: expected column, op and value")
        value = record.get("value")
        if record.get("op") == "in":
            if not isinstance(value, list | tuple):
                raise FilterError(f"filter {record!r}: 'in' needs a list of values")
            value = tuple(value)
        out.append(Condition(record.get("column"), record.get("op"), value))  # type: ignore[arg-type]
    return tuple(out)
