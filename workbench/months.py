"""Calendar months as the warehouse partitions them: ``YYYY-MM`` strings and inclusive ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Validate a ``YYYY-MM`` month and return it unchanged."""
    if not isinstance(text, str) or not _MONTH.match(text.strip()):
        raise ValueError(f"month {text!r} must look like 2026-01")
    return text.strip()


def add_months(month: str, n: int) -> str:
    """The month ``n`` months after ``month`` (``n`` may be negative)."""
    year, mon = (int(part) for part in parse_month(month).split("-"))
    index = year * 12 + (mon - 1) + n
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
    fy, fm = (int(part) for part in parse_month(first).split("-"))
    ly, lm = (int(part) for part in parse_month(last).split("-"))
    return (ly * 12 + lm) - (fy * 12 + fm)


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
