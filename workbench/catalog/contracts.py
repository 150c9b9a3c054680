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
    columns: tuple[str, ...]

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
