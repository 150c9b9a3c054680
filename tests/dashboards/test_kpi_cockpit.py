"""KPI cockpit: the comparisons against an independent DuckDB computation over the cube's files,
the alert colours, the scoping, and the app in a real browser."""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pytest

from tests.conftest import make_project
from tests.dashboards.conftest import choose, screenshot, value_text
from tests.pages import open_page_at_both_sizes
from workbench.catalog.ads import ALL
from workbench.catalog.kpis import load_kpis
from workbench.catalog.values import VALUE_NAMES
from workbench.dashboards import kpi_cockpit as app
from workbench.dashboards.access import Viewer, denied_viewer
from workbench.filters import equals
from workbench.marts import read_mart
from workbench.subjects import kpi_overview


def _cube_value(settings, code: str, month: str, region="ALL", segment="ALL", plan="ALL"):
    files = str(settings.warehouse_dir / "ads" / "ads_kpi_cube" / "*" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT value FROM read_parquet('{files}', hive_partitioning = true) "
        f"WHERE kpi_code = '{code}' AND month = '{month}' AND region_id = '{region}' "
        f"AND segment = '{segment}' AND plan_type = '{plan}'"
    ).fetchall()
    return rows[0][0] if rows else None


def _months(settings) -> list[str]:
    return sorted(
        p.name.split("=")[1]
        for p in (settings.warehouse_dir / "ads" / "ads_kpi_cube").glob("month=*")
    )


def _region_name(settings, region: str) -> str:
    """The region's English name, as the warehouse's region dimension gives it."""
    regions = read_mart("dwd_dim_region", settings, filters=[equals("region_id", region)])
    return str(regions["region_name_en"].iloc[0])


def _wait_for_active_lines(page, lines: float) -> None:
    """Until the active-subscribers tile shows ``lines`` (the tiles update after a filter)."""
    page.wait_for_function(
        "v => document.querySelector('.wb-value-kpi-active_subscribers .wb-number')"
        ".innerText.replace(/,/g, '') == v",
        arg=str(int(lines)),
    )


def _alerts_by_region(settings, month: str) -> pd.Series:
    """The month's alerts per region (province-level ones left out), most first."""
    alerts = read_mart("ads_kpi_alerts", settings, months=[month])
    return alerts.loc[alerts["region_id"] != ALL, "region_id"].value_counts()


def _dictionary(settings):
    return kpi_overview.dictionary_frame(
        load_kpis(settings.resolve(settings.warehouse.kpi_dictionary))
    )


def test_compare_cell_and_alerts(dashboard_project):
    months = _months(dashboard_project)
    period, previous = months[-1], months[-2]
    dictionary = _dictionary(dashboard_project)
    cell = app.load_mart(
        "ads_kpi_cube",
        dashboard_project,
        Viewer("gz", frozenset({"GZ"})),
        filters=[equals("region_id", "GZ"), equals("segment", ALL), equals("plan_type", ALL)],
    )
    table = kpi_overview.compare_periods(cell, period, dictionary).set_index("kpi_code")
    now = _cube_value(dashboard_project, "arpu", period, "GZ")
    before = _cube_value(dashboard_project, "arpu", previous, "GZ")
    assert table.loc["arpu", "value"] == pytest.approx(now)
    assert table.loc["arpu", "change_mom"] == pytest.approx(now / before - 1)
    assert pd.isna(table.loc["arpu", "change_yoy"])  # the tiny operator has no last year
    # a target turns into a signed gap: positive is better, whichever the direction
    targeted = dictionary.assign(
        target=dictionary["kpi_code"].map({"arpu": 100.0, "churn_rate": 0.5})
    )
    gaps = kpi_overview.compare_periods(cell, period, targeted).set_index("kpi_code")
    assert gaps.loc["arpu", "vs_target"] == pytest.approx(now - 100.0)
    churn = _cube_value(dashboard_project, "churn_rate", period, "GZ")
    assert gaps.loc["churn_rate", "vs_target"] == pytest.approx(0.5 - churn)

    alerts = pd.DataFrame(
        {
            "region_id": ["GZ", "GZ", "GZ", "SZ"],
            "segment": ["ALL"] * 4,
            "plan_type": ["ALL"] * 4,
            "kpi_code": ["arpu", "arpu", "mou", "dou"],
            "severity": ["warning", "alarm", "warning", "alarm"],
        }
    )
    assert app.cell_alerts(alerts, {"region_id": "GZ", "segment": "ALL", "plan_type": "ALL"}) == {
        "arpu": "alarm",
        "mou": "warning",
    }
    assert app.region_options(["ALL", "GZ", "SZ"], Viewer("gz", frozenset({"GZ"}))) == ["GZ"]
    assert app.region_options(["ALL", "GZ", "SZ"], Viewer("ceo", None)) == ["ALL", "GZ", "SZ"]


def test_missing_marts_and_denied_links_show_messages(tmp_path):
    empty = make_project(tmp_path)
    page = app.build(empty, Viewer("ceo", None))
    texts = [getattr(w, "value", "") for w in page.children]
    assert any("ads_kpi_cube has not been built" in t for t in texts)
    assert all("Traceback" not in t for t in texts)
    denied = app.build(empty, denied_viewer("access denied: the link was altered"))
    assert "access denied" in denied.children[-1].value and len(denied.children) == 2


def test_cockpit_in_the_browser(dashboard_project, page, open_app):
    settings = dashboard_project
    months = _months(settings)
    period = months[-1]
    open_app(page, "kpi_cockpit", "ceo")
    expected = _cube_value(settings, "active_subscribers", period)
    assert float(value_text(page, "kpi-active_subscribers").replace(",", "")) == expected
    # vs target: the dictionary's target (read here with YAML) against the cube's value
    import yaml

    entries = yaml.safe_load(settings.resolve(settings.warehouse.kpi_dictionary).read_text())
    targets = {e["code"]: e.get("target") for e in entries["kpis"]}
    assert targets["arpu"] is not None and targets["churn_rate"] is not None
    # in the KPI's unit, signed, and marked met or missed (ARPU: higher is better)
    arpu_gap = _cube_value(settings, "arpu", period) - targets["arpu"]
    assert value_text(page, "kpi-arpu-target") == (
        f"{'+' if arpu_gap >= 0 else '-'}¥{abs(arpu_gap):,.2f}/line {'✓' if arpu_gap >= 0 else '✗'}"
    )
    # a rate's gap in percentage points (churn: lower is better)
    churn_gap = _cube_value(settings, "churn_rate", period) - targets["churn_rate"]
    assert value_text(page, "kpi-churn_rate-target") == (
        f"{churn_gap * 100:+.2f} pp {'✓' if churn_gap <= 0 else '✗'}"
    )

    # the region with the most alerts this month (which one follows the generated data)
    alerting = _alerts_by_region(settings, period)
    assert len(alerting), f"no region has alerts in {period}: nothing to show"
    region = str(alerting.index[0])
    choose(page, "region", region)
    _wait_for_active_lines(page, _cube_value(settings, "active_subscribers", period, region))
    now, before = (_cube_value(settings, "arpu", m, region) for m in (period, months[-2]))
    # the tiles update in place, one figure after another: wait for this one too
    page.wait_for_function(
        "v => document.querySelector('.wb-value-kpi-arpu-mom .wb-number').innerText == v",
        arg=f"{now / before - 1:+.1%}",
    )

    # alerts of the month in the chosen region as sentences, alarms first and in red (the list
    # follows the tiles)
    # each names its place as a manager does: the region's name (dwd_dim_region), then the
    # segment and plan type by theirs
    region_name = _region_name(settings, region)
    page.wait_for_function(
        "name => { const items = [...document.querySelectorAll('.wb-alerts li')];"
        " return items.length > 0 && items.every(i => i.innerText.startsWith(name + ':')"
        " || i.innerText.startsWith(name + ' · ')) }",
        arg=region_name,
    )
    sentences = page.locator(".wb-alerts li").all_inner_texts()
    names = "|".join(n for names in VALUE_NAMES.values() for n, _ in names.values())
    assert re.fullmatch(
        rf"{region_name}( · ({names}))*: .+ \((alarm|warning) (below|above) .+\)", sentences[0]
    )
    severities = [re.search(r"\((alarm|warning) ", s).group(1) for s in sentences]
    assert severities == sorted(severities)  # every alarm before any warning
    colours = {"alarm": "rgb(197, 48, 48)", "warning": "rgb(221, 154, 0)"}  # red, amber
    first = page.locator(".wb-alerts li").first
    assert first.evaluate("e => getComputedStyle(e).color") == colours[severities[0]]

    page.locator(".wb-lang button", has_text="中文").click()
    name_zh = _dictionary(settings).set_index("kpi_code").loc["active_subscribers", "kpi_name_zh"]
    page.wait_for_function(
        "name => document.querySelector('.wb-value-kpi-active_subscribers').innerText"
        ".includes(name)",
        arg=name_zh,
    )
    # the trend picker names the indicators in the page's language, the chosen one kept
    page.wait_for_function(
        "name => { const s = document.querySelector('.wb-trend-kpi select');"
        " return s.options[s.selectedIndex].text == name }",
        arg=name_zh,
    )
    page.locator(".wb-lang button", has_text="English").click()
    choose(page, "region", "ALL")
    page.wait_for_function(
        "v => document.querySelector('.wb-value-kpi-active_subscribers').innerText"
        ".includes('Active subscribers') && document.querySelector("
        "'.wb-value-kpi-active_subscribers .wb-number').innerText.replace(/,/g, '') == v",
        arg=str(int(expected)),
    )
    # (ipywidgets writes an option's spaces as no-break spaces)
    trend = [t.replace("\xa0", " ") for t in page.locator(".wb-trend-kpi option").all_inner_texts()]
    assert "Active subscribers" in trend and "active_subscribers" not in trend, trend
    screenshot(page, "kpi_cockpit")
    # as managers read it, at a laptop's and a desktop's size
    assert open_page_at_both_sizes(page) == {}

    # a cell with no data: a plain message, not a traceback
    choose(page, "segment", "high_value")
    choose(page, "plan", "prepaid")
    page.wait_for_selector(".wb-message-warning", timeout=30_000)
    assert "No KPI data" in page.locator(".wb-message-warning").inner_text()
    assert "Traceback" not in page.inner_text("body")


def test_a_region_manager_sees_only_their_region(dashboard_project, page, open_app):
    open_app(page, "kpi_cockpit", "gz_manager")
    assert page.locator(".wb-region select option").all_inner_texts() == ["GZ"]
    # the last month in which Guangzhou has alerts (which one follows the generated data)
    month = next(
        (
            m
            for m in _months(dashboard_project)[::-1]
            if "GZ" in _alerts_by_region(dashboard_project, m)
        ),
        None,
    )
    assert month is not None, "Guangzhou has no alerts in any month: nothing to show"
    choose(page, "month", month)
    _wait_for_active_lines(page, _cube_value(dashboard_project, "active_subscribers", month, "GZ"))
    page.wait_for_selector(".wb-alerts li")
    sentences = page.locator(".wb-alerts li").all_inner_texts()
    gz_name = _region_name(dashboard_project, "GZ")
    assert sentences and all(s.startswith(gz_name) for s in sentences)
