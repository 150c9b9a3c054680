"""The codes a dimension takes and their names in English and Chinese, declared once: the
catalog's accepted values, and every page, mail and export that shows a segment or a plan type,
read them here. Regions are data, not codes of the workbench: ``dwd_dim_region`` names them.
"""

from __future__ import annotations

#: customer segment -> (English, Chinese)
SEGMENT_NAMES: dict[str, tuple[str, str]] = {
    "mass": ("Mass market", "大众客户"),
    "youth": ("Youth", "青年客户"),
    "business": ("Business", "政企客户"),
    "high_value": ("High value", "高价值客户"),
}

#: plan type -> (English, Chinese)
PLAN_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "prepaid": ("Prepaid", "预付费"),
    "postpaid": ("Postpaid", "后付费"),
    "premium_postpaid": ("Premium postpaid", "高端后付费"),
}

#: dimension column -> its codes' names
VALUE_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "segment": SEGMENT_NAMES,
    "plan_type": PLAN_TYPE_NAMES,
}

SEGMENTS: tuple[str, ...] = tuple(SEGMENT_NAMES)
PLAN_TYPES: tuple[str, ...] = tuple(PLAN_TYPE_NAMES)


def value_name(dimension: str, code: str, lang: str = "en") -> str:
    """The name of ``code`` of ``dimension`` in ``lang`` (en or zh); an unknown code (an
    operator's own) is shown as it is."""
    en, zh = VALUE_NAMES.get(dimension, {}).get(code, (code, code))
    return zh if lang == "zh" else en
