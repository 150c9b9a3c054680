"""Each figure is shown by its unit as the KPI dictionary declares it, in English and Chinese."""

from __future__ import annotations

import math

import pytest

from workbench.catalog.kpis import load_kpis
from workbench.formats import change, format_change, format_gap, format_value, unit_of

from .conftest import PROJECT_ROOT


@pytest.mark.parametrize(
    ("value", "unit", "en", "zh"),
    [
        (36760.0, "lines", "36,760", "3.68万"),
        (987.0, "lines", "987", "987"),
        (0.03124, "share of the opening base", "3.12%", "3.12%"),
        (0.456, "share of revenue", "45.6%", "45.6%"),
        (12_345_678.9, "CNY", "¥12,345,679", "¥1,234.57万"),
        (123_456_789.0, "CNY", "¥123,456,789", "¥1.23亿"),
        (45.6, "CNY per line per month", "¥45.60/line", "¥45.60/户"),
        (-12.5, "CNY", "-¥12.50", "-¥12.50"),
        (1234.4, "MB per line per month", "1,234 MB/line", "1,234 MB/户"),
        (312.0, "minutes per line per month", "312 min/line", "312 分钟/户"),
        (12.34, "complaints per 10k lines", "12.34/10k lines", "12.34/万户"),
        (3.0, "months", "3 months", "3 个月"),
        (1.8, "ratio", "1.80×", "1.80×"),
        (-0.4, "change", "-40.0%", "-40.0%"),
        (None, "lines", "-", "-"),
        (math.nan, "CNY", "-", "-"),
    ],
)
def test_values_are_shown_in_their_unit(value, unit, en, zh):
    assert format_value(value, unit, "en") == en
    assert format_value(value, unit, "zh") == zh


def test_a_share_moves_in_points_and_a_level_in_percent():
    assert change(0.034, 0.030, "share of active lines") == pytest.approx(0.004)
    assert format_change(0.034, 0.030, "share of active lines") == "+0.40 pp"
    assert format_change(0.034, 0.030, "share of active lines", "zh") == "+0.40个百分点"
    assert format_change(1100.0, 1000.0, "lines") == "+10.0%"
    assert format_change(900.0, 1000.0, "CNY") == "-10.0%"
    assert format_change(5.0, 0.0, "lines") == "-"  # no relative change from nothing
    assert format_change(5.0, None, "lines") == "-"


def test_a_gap_to_target_is_signed_and_in_the_kpis_unit():
    assert format_gap(0.025, 0.03, "share of the opening base") == "-0.50 pp"
    assert format_gap(37000.0, 36000.0, "lines") == "+1,000"
    assert format_gap(40.0, 52.5, "CNY per line per month") == "-¥12.50/line"
    assert format_gap(None, 1.0, "lines") == "-"


def test_every_unit_of_the_dictionary_is_understood():
    """A unit the rules do not know would show as a bare number with its raw text: each unit the
    dictionary declares reads as a count, a share, money or a measure with a short suffix."""
    kpis = load_kpis(PROJECT_ROOT / "pipelines" / "kpis.yml")
    for kpi in kpis:
        read = unit_of(kpi.unit)
        assert read.kind != "measure" or read.suffix_en, (kpi.code, kpi.unit)
        assert " per " not in read.suffix_en and " per " not in read.suffix_zh, kpi.unit
