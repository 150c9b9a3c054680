"""Checks the analysis engines share on their inputs; each message names the column, parameter
or value at fault (the errors themselves are in :mod:`workbench.errors`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from workbench.errors import InputDataError, require_columns

if TYPE_CHECKING:
    import pandas as pd


def show_value(value: object) -> object:
    """A numpy scalar as the plain Python value, so messages read 2 rather than np.int64(2)."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def check_cost_table(
    costs: pd.DataFrame, *, what: str, keys: Mapping[str, str], amounts: Sequence[str]
) -> pd.DataFrame:
    """The checks every cost table gets: its columns, non-negative amounts, one row per key.

    Args:
        what: the table's name in messages, e.g. ``"channel costs"``.
        keys: key column -> how a message names it, e.g. ``{"campaign_id": "campaign"}``.
        amounts: columns that must hold non-negative numbers.

    Returns:
        ``costs`` with a fresh position index (messages name rows by position).
    """
    import pandas as pd

    require_columns(costs.columns, [*keys, *amounts], what)
    costs = costs.reset_index(drop=True)

    def _named(row: int) -> str:
        return " ".join(f"{label} {show_value(costs.at[row, k])!r}" for k, label in keys.items())

    for column in amounts:
        values = pd.to_numeric(costs[column], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = costs.index[bad.to_numpy()][0]
            raise InputDataError(
                f"{what}: {column!r} must be a non-negative number, got "
                f"{show_value(costs.at[row, column])!r} for {_named(row)}"
            )
    dup = costs.duplicated(list(keys))
    if dup.any():
        raise InputDataError(
            f"{what}: {_named(costs.index[dup.to_numpy()][0])} appears more than once"
        )
    return costs
