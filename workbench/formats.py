"""How a figure is shown, decided by its unit as the KPI dictionary (``pipelines/kpis.yml``)
declares it. Every report, app, alert and export formats through here, so a churn rate reads
"3.1%" and a change in it "+0.4 pp" wherever a manager meets it.

- counts (``lines``): integers with thousands separators; in Chinese views 万 and 亿 from ten
  thousand up ("36,760" / "3.68万");
- shares (``share of ...``): percentages; their changes and gaps in percentage points;
- money (``CNY``, ``CNY per ...``): "¥" with thousands separators, whole yuan from a thousand
  up; in Chinese views 万 and 亿;
- ``ratio`` (one figure over another): "1.80×"; ``change`` (a relative change): "+12.0%";
- anything else (``MB per line per month``, ``complaints per 10k lines``, ``months``): the
  number and a short unit ("1,234 MB/line" / "1,234 MB/户", "3 months" / "3 个月").

Changes of a level are relative ("+3.2%"); of a share, a difference ("+0.4 pp"). Unknown
values show as "-". Plain Python: the dashboards import it without pandas or Spark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Lang = Literal["en", "zh"]
Kind = Literal["count", "share", "money", "ratio", "change", "measure"]
MISSING = "-"

# "per ..." phrases of the dictionary's units, shortened for a tile (English, Chinese)
_PER: dict[str, tuple[str, str]] = {
    "line per month": ("/line", "/户"),
    "10k lines": ("/10k lines", "/万户"),
    "gross add": ("/gross add", "/新增用户"),
}
# what is measured, when it is not money (English, Chinese)
_MEASURE: dict[str, tuple[str, str]] = {
    "mb": ("MB", "MB"),
    "minutes": ("min", "分钟"),
    "months": ("months", "个月"),
    "days": ("days", "天"),
    "complaints": ("", ""),
}


@dataclass(frozen=True)
class Unit:
    """A dictionary unit read for display: its kind and the short suffix per language."""

    kind: Kind
    suffix_en: str = ""
    suffix_zh: str = ""

    def suffix(self, lang: Lang) -> str:
        return self.suffix_zh if lang == "zh" else self.suffix_en


def unit_of(text: str | None) -> Unit:
    """Read a unit such as ``lines``, ``share of active lines``, ``CNY per line per month``."""
    words = (text or "").strip()
    lowered = words.lower()
    if lowered.startswith("share") or lowered in ("%", "rate"):
        return Unit("share")
    if lowered in ("lines", "subscribers", "count", "accounts"):
        return Unit("count")
    if lowered in ("ratio", "change"):
        return Unit(lowered)  # type: ignore[arg-type]
    measure, _, per = lowered.partition(" per ")
    per_en, per_zh = _PER.get(per, (f"/{per}", f"/{per}") if per else ("", ""))
    if measure == "cny":
        return Unit("money", per_en, per_zh)
    if not words:
        return Unit("measure")
    measure_en, measure_zh = _MEASURE.get(measure, (words.partition(" per ")[0], measure))
    return Unit(
        "measure",
        " ".join(p for p in (measure_en, per_en) if p).replace(" /", "/"),
        " ".join(p for p in (measure_zh, per_zh) if p).replace(" /", "/"),
    )


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _chinese_scale(value: float) -> str | None:
    """``3.68万`` / ``1.23亿`` from ten thousand up, else None."""
    for size, word in ((1e8, "亿"), (1e4, "万")):
        if abs(value) >= size:
            return f"{value / size:,.2f}{word}"
    return None


def _plain(value: float) -> str:
    """A number with thousands separators: whole from 100 up, else up to two decimals."""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.2f}"


def _share(value: float) -> str:
    # small rates (churn about 3% a month) keep one more decimal than large shares
    return f"{value:.2%}" if abs(value) < 0.1 else f"{value:.1%}"


def format_value(value: float | None, unit: str | None, lang: Lang = "en") -> str:
    """A value in its unit, e.g. ``36,760``, ``3.12%``, ``¥1,234,567``, ``312 min/line``."""
    if _missing(value):
        return MISSING
    read = unit_of(unit)
    if read.kind == "share":
        return _share(value)
    if read.kind == "ratio":
        return f"{value:,.2f}×"
    if read.kind == "change":
        return f"{value:+.1%}"
    if read.kind == "count":
        return (lang == "zh" and _chinese_scale(value)) or f"{value:,.0f}"
    if read.kind == "money":
        scaled = lang == "zh" and _chinese_scale(value)
        number = scaled or (f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}")
        sign = "-" if value < 0 else ""
        return f"{sign}¥{number.lstrip('-')}{read.suffix(lang)}"
    number = _plain(value)
    return f"{number} {read.suffix(lang)}".strip().replace(" /", "/")


def change(value: float | None, previous: float | None, unit: str | None) -> float | None:
    """How ``value`` moved from ``previous``: the difference for a share (a fraction of one,
    shown in points), the relative change for anything else; None when it cannot be said."""
    if _missing(value) or _missing(previous):
        return None
    if unit_of(unit).kind == "share":
        return value - previous
    return None if previous == 0 else value / previous - 1


def format_change(
    value: float | None, previous: float | None, unit: str | None, lang: Lang = "en"
) -> str:
    """``+3.2%`` for a level, ``+0.40 pp`` (``+0.40个百分点``) for a share."""
    moved = change(value, previous, unit)
    if moved is None:
        return MISSING
    if unit_of(unit).kind == "share":
        return format_points(moved, lang)
    return f"{moved:+.1%}"


def format_points(difference: float | None, lang: Lang = "en") -> str:
    """A difference of two shares in percentage points: ``+0.40 pp`` / ``+0.40个百分点``."""
    if _missing(difference):
        return MISSING
    return f"{difference * 100:+.2f}" + ("个百分点" if lang == "zh" else " pp")


def format_gap(
    value: float | None, target: float | None, unit: str | None, lang: Lang = "en"
) -> str:
    """``value`` against ``target`` in the KPI's own unit, signed: ``+1,234``, ``-0.40 pp``,
    ``+¥12.50/line``."""
    if _missing(value) or _missing(target):
        return MISSING
    gap = value - target
    if unit_of(unit).kind == "share":
        return format_points(gap, lang)
    shown = format_value(abs(gap), unit, lang)
    return ("+" if gap >= 0 else "-") + shown
