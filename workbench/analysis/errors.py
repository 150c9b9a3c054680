"""Errors of the analysis engines; each message names the column, parameter or value at fault."""

from __future__ import annotations

from workbench.errors import WorkbenchError


class AnalysisError(WorkbenchError):
    """Base of the analysis errors."""


class InputDataError(AnalysisError):
    """The input table cannot be analysed: a column is missing, empty or holds bad values."""


class ParameterError(AnalysisError):
    """A parameter is out of range or of the wrong kind."""


def require_columns(columns: object, required: list[str] | tuple[str, ...], what: str) -> None:
    """Raise :class:`InputDataError` naming every column of ``required`` not in ``columns``."""
    present = set(columns)  # type: ignore[call-overload]
    missing = [c for c in required if c not in present]
    if missing:
        raise InputDataError(
            f"{what}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"it has {', '.join(repr(c) for c in sorted(present, key=str))}"
        )
