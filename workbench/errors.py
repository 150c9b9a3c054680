"""Errors a user can act on. Each message names the file, column, row, key or parameter."""

from __future__ import annotations

from collections.abc import Iterable


class WorkbenchError(Exception):
    """Base of every error the CLI reports as a one-line message instead of a traceback."""


class InputDataError(WorkbenchError):
    """An input table cannot be used: a column is missing, empty or holds bad values."""


class ParameterError(WorkbenchError):
    """A parameter is out of range or of the wrong kind."""


class MissingColumnError(InputDataError, KeyError):
    """An input lacks a column it needs; the message names the column and the input."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


def require_columns(columns: object, required: Iterable[str], what: str) -> None:
    """Raise :class:`MissingColumnError` naming every column of ``required`` that ``columns``
    lacks, and the ones it has.

    Args:
        columns: a frame (Spark or pandas) or its column names.
        what: the input's name in the message, e.g. ``"ads_churn_scores"``.
    """
    names = columns.columns if hasattr(columns, "columns") else columns
    present = [str(c) for c in names]  # type: ignore[attr-defined]
    have = set(present)
    missing = [c for c in required if c not in have]
    if missing:
        raise MissingColumnError(
            f"{what}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"it has {', '.join(repr(c) for c in sorted(present, key=str))}"
        )
