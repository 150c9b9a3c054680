"""The KPI dictionary (``pipelines/kpis.yml``): each indicator's names, formula, unit, grain,
direction, thresholds and target, read and validated once for the warehouse (which computes
the cube from it), the subjects and the dashboards (which show it). Plain Python: a dashboard
reads the dictionary without Spark.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import WorkbenchError

DEFAULT_SOURCE = "dws_subscriber_month"
KPI_SOURCES = ("dws_subscriber_month", "dws_channel_month", "dws_region_month", "dws_product_month")

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED = ("code", "name_en", "name_zh", "formula", "unit", "grain", "better")
_OPTIONAL = ("warning", "alarm", "target", "source", "basis", "persist_months", "description")
#: the longest persistence a KPI may ask for (the alerts mart reads this many months back)
MAX_PERSIST_MONTHS = 3


class KpiDictionaryError(WorkbenchError, ValueError):
    """The KPI dictionary is wrong; the message names the file, the KPI code and the field."""


@dataclass(frozen=True)
class Kpi:
    """One indicator of the dictionary."""

    code: str
    name_en: str
    name_zh: str
    formula: str
    unit: str
    grain: str
    better: str  # higher | lower
    warning: float | None = None
    alarm: float | None = None
    target: float | None = None
    source: str = DEFAULT_SOURCE
    basis: str = "level"  # level | mom_change
    description: str = ""
    #: months in a row the threshold must be breached before an alert is raised (1: at once)
    persist_months: int = 1

    @property
    def has_thresholds(self) -> bool:
        return self.warning is not None or self.alarm is not None


def _number(entry: Mapping[str, Any], key: str, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KpiDictionaryError(f"{where}.{key}: must be a number, got {value!r}")
    return float(value)


def parse_kpi(entry: Any, where: str) -> Kpi:
    """Validate one dictionary entry (``where`` names it in errors)."""
    if not isinstance(entry, Mapping):
        raise KpiDictionaryError(f"{where}: must be a mapping of fields, got {entry!r}")
    code = entry.get("code")
    if isinstance(code, str):
        where = f"{where.split('[')[0]} KPI {code!r}"
    for key in _REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise KpiDictionaryError(f"{where}.{key}: required text field is missing or empty")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise KpiDictionaryError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if not _CODE.match(code):
        raise KpiDictionaryError(f"{where}.code: must be lower_snake_case")
    if entry["better"] not in ("higher", "lower"):
        raise KpiDictionaryError(f"{where}.better: must be 'higher' or 'lower'")
    basis = entry.get("basis", "level")
    if basis not in ("level", "mom_change"):
        raise KpiDictionaryError(f"{where}.basis: must be 'level' or 'mom_change'")
    persist = entry.get("persist_months", 1)
    if isinstance(persist, bool) or not isinstance(persist, int):
        raise KpiDictionaryError(f"{where}.persist_months: must be a whole number of months")
    if not 1 <= persist <= MAX_PERSIST_MONTHS:
        raise KpiDictionaryError(f"{where}.persist_months: must be 1 to {MAX_PERSIST_MONTHS}")
    source = entry.get("source", DEFAULT_SOURCE)
    if source not in KPI_SOURCES:
        raise KpiDictionaryError(f"{where}.source: must be one of {', '.join(KPI_SOURCES)}")
    warning, alarm = _number(entry, "warning", where), _number(entry, "alarm", where)
    target = _number(entry, "target", where)
    if warning is not None and alarm is not None:
        # the alarm is the worse threshold: further in the bad direction than the warning
        wrong = alarm > warning if entry["better"] == "higher" else alarm < warning
        if wrong:
            raise KpiDictionaryError(
                f"{where}.alarm: {alarm} is not worse than warning {warning} "
                f"(better is {entry['better']})"
            )
    return Kpi(
        code=code,
        name_en=entry["name_en"].strip(),
        name_zh=entry["name_zh"].strip(),
        formula=entry["formula"].strip(),
        unit=entry["unit"],
        grain=entry["grain"],
        better=entry["better"],
        warning=warning,
        alarm=alarm,
        target=target,
        source=source,
        basis=basis,
        description=str(entry.get("description", "")),
        persist_months=persist,
    )


def load_kpis(path: Path) -> list[Kpi]:
    """Read and validate the dictionary; errors name the file, the KPI and the field."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KpiDictionaryError(f"KPI dictionary not found: {path}") from None
    except yaml.YAMLError as exc:
        raise KpiDictionaryError(f"{path}: not valid YAML: {exc}") from None
    entries = raw.get("kpis") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KpiDictionaryError(f"{path}: needs a non-empty list under 'kpis'")
    kpis = [parse_kpi(entry, f"{path}: kpis[{i}]") for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for kpi in kpis:
        if kpi.code in seen:
            raise KpiDictionaryError(f"{path}: KPI {kpi.code!r}.code: defined twice")
        seen.add(kpi.code)
    return kpis


@dataclass(frozen=True)
class AlertPolicy:
    """When a breach becomes an alert, for every KPI (the dictionary's ``alerting:`` section).

    ``min_lines``: a cube cell smaller than this (its ``size_kpi`` in the month) raises no
    alert: in a cell of a few dozen lines one churner moves the rate by points, and an alarm
    that is chance teaches managers to ignore alarms.
    """

    min_lines: int = 0
    size_kpi: str = "active_subscribers"


def load_alert_policy(path: Path) -> AlertPolicy:
    """The ``alerting:`` section of the dictionary (defaults: every cell alerts); errors name the
    file and the field."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    section = raw.get("alerting") if isinstance(raw, dict) else None
    if section is None:
        return AlertPolicy()
    where = f"{path}: alerting"
    if not isinstance(section, Mapping):
        raise KpiDictionaryError(f"{where}: must be a mapping of fields")
    unknown = sorted(set(section) - {"min_lines", "size_kpi"})
    if unknown:
        raise KpiDictionaryError(f"{where}: unknown field(s) {', '.join(unknown)}")
    min_lines = section.get("min_lines", 0)
    if isinstance(min_lines, bool) or not isinstance(min_lines, int) or min_lines < 0:
        raise KpiDictionaryError(f"{where}.min_lines: must be a whole number of lines, 0 or more")
    size_kpi = section.get("size_kpi", AlertPolicy.size_kpi)
    codes = {k.code for k in load_kpis(path)}
    if size_kpi not in codes:
        raise KpiDictionaryError(f"{where}.size_kpi: {size_kpi!r} is not a KPI of the dictionary")
    return AlertPolicy(min_lines=min_lines, size_kpi=size_kpi)
