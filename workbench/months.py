"""Calendar months as the warehouse partitions them: ``YYYY-MM`` strings and inclusive ranges.

Month arithmetic goes through one running month number, :func:`month_index`
(``year * 12 + month - 1``, so ``0000-01`` is 0 and ``2026-01`` is 24312). The Spark columns
:func:`workbench.warehouse.columns.month_index_col` and
:func:`~workbench.warehouse.columns.date_month_index_col` and the pandas helpers below use the
same numbering, so indices from any of them compare and subtract directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def parse_month(text: str) -> str:
    """Validate a ``YYYY-MM`` month and return it unchanged."""
    if not isinstance(text, str) or _MONTH.fullmatch(text.strip()) is None:
        raise ValueError(f"month {text!r} must look like 2026-01")
    return text.strip()


def month_index(month: str) -> int:
    """The running month number of a ``YYYY-MM`` month: ``year * 12 + month - 1`` (0-based, so
    December of one year and January of the next are consecutive numbers)."""
    year, mon = (int(part) for part in parse_month(month).split("-"))
    return year * 12 + mon - 1


def month_index_series(months: pd.Series) -> pd.Series:
    """:func:`month_index` of a pandas Series of ``YYYY-MM`` strings, vectorised (the caller
    validates the strings)."""
    text = months.astype("string")
    return text.str[:4].astype(int) * 12 + text.str[5:7].astype(int) - 1


def date_month_index_series(dates: pd.Series) -> pd.Series:
    """:func:`month_index` of the months of a pandas datetime Series, vectorised (``NaT`` gives
    NaN)."""
    return dates.dt.year * 12 + dates.dt.month - 1


def add_months(month: str, n: int) -> str:
    """The month ``n`` months after ``month`` (``n`` may be negative)."""
    index = month_index(month) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(month: str) -> date:
    year, mon = (int(part) for part in parse_month(month).split("-"))
    return date(year, mon, 1)


def month_end(month: str) -> date:
    """The last day of the month."""
    nxt = month_start(add_months(month, 1))
    return date.fromordinal(nxt.toordinal() - 1)


def months_between(first: str, last: str) -> int:
    """How many months ``last`` is after ``first`` (0 for the same month)."""
    return month_index(last) - month_index(first)


@dataclass(frozen=True)
class MonthRange:
    """An inclusive range of months, e.g. ``2026-01..2026-06``."""

    first: str
    last: str

    def __post_init__(self) -> None:
        if months_between(self.first, self.last) < 0:
            raise ValueError(f"month range {self.first}..{self.last} ends before it starts")

    @property
    def months(self) -> list[str]:
        return [add_months(self.first, i) for i in range(months_between(self.first, self.last) + 1)]

    def __len__(self) -> int:
        return months_between(self.first, self.last) + 1

    def __contains__(self, month: object) -> bool:
        return isinstance(month, str) and self.first <= month <= self.last

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


def parse_month_range(text: str) -> MonthRange:
    """Parse ``YYYY-MM..YYYY-MM`` or a single ``YYYY-MM``."""
    if not isinstance(text, str):
        raise ValueError(f"month range {text!r} must look like 2026-01..2026-06")
    first, sep, last = text.strip().partition("..")
    try:
        return MonthRange(parse_month(first), parse_month(last if sep else first))
    except ValueError as exc:
        raise ValueError(f"month range {text!r}: {exc}") from None
