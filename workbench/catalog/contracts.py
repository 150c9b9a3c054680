"""Declarations of table contracts (checked when a table is written, see
:mod:`workbench.warehouse.contracts`). Declared once per table in the catalog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contract:
    """Base of every contract; ``name`` appears in the error when it is violated."""

    @property
    def name(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Unique(Contract):
    """No two rows share ``columns`` (within a month partition).

    ``guaranteed_by`` says why the build cannot produce a duplicate (a group-by on exactly these
    columns, a first-seen deduplication): such a contract is not re-checked by an aggregation on
    every build, which is the one contract check that costs a pass of its own. The suite checks
    every ``Unique`` contract of the built warehouse, guaranteed or not, so a wrong claim fails
    there.
    """

    columns: tuple[str, ...]
    guaranteed_by: str | None = None

    @property
    def name(self) -> str:
        return f"unique({', '.join(self.columns)})"


@dataclass(frozen=True)
class NotNull(Contract):
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"not_null({', '.join(self.columns)})"


@dataclass(frozen=True)
class AcceptedValues(Contract):
    column: str
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"accepted_values({self.column})"


@dataclass(frozen=True)
class Expression(Contract):
    """A Spark SQL boolean expression every row must satisfy (nulls count as satisfied)."""

    label: str
    sql: str

    @property
    def name(self) -> str:
        return f"expression({self.label}: {self.sql})"
