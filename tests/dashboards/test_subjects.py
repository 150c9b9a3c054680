"""Subject analyses app: each tab's figures against independent DuckDB reads of the mart files,
region scoping, the ``subject=`` link parameter, the cockpit's links, and the app in a browser."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import duckdb
import ipywidgets as widgets
import pytest

from tests.conftest import make_project
from tests.dashboards.conftest import choose, screenshot, value_text
from tests.pages import open_page_at_both_sizes
from workbench.dashboards import kpi_cockpit
from workbench.dashboards import subjects as app
from workbench.dashboards.access import (
    TOKEN_PARAM,
    Viewer,
    denied_viewer,
    issue_token,
    viewer_from_query,
)

GZ = Viewer("gz_manager", frozenset({"GZ"}))
CEO = Viewer("ceo", None)


def _sql(settings, layer: str, table: str, query: str):
    """``query`` over ``t``: the table's Parquet files read directly (not through the package)."""
    root = settings.warehouse_dir / layer / table
    files = root / "*" / "*.parquet" if any(root.glob("month=*")) else root / "*.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    return con.execute(query).fetchone()


def _months(settings) -> list[str]:
    root = settings.warehouse_dir / "ads" / "ads_value_segments"
    return sorted(p.name.split("=")[1] for p in root.glob("month=*"))


def _region(region: str) -> str:
    return "" if region == "ALL" else f" AND region_id = '{region}'"


def expected(settings, period: str, region: str) -> dict[str, float]:
    """The figure each tab shows, computed here from the marts' files."""
    r = _region(region)
    lines, high = _sql(
        settings,
        "ads",
        "ads_value_segments",
        "SELECT sum(n_lines), sum(n_lines) FILTER (WHERE value_tier = 'high') FROM t "
        f"WHERE month = '{period}'{r}",
    )
    (accounts,) = _sql(
        settings,
        "ads",
        "ads_key_account_health",
        f"SELECT count(*) FROM t WHERE month = '{period}'{r}",
    )
    (top,) = _sql(
        settings,
        "ads",
        "ads_revenue_concentration",
        f"SELECT cumulative_revenue_share FROM t WHERE month = '{period}' AND percentile = 20",
    )
    (revenue,) = _sql(
        settings,
        "ads",
        "ads_revenue_structure",
        f"SELECT sum(revenue_cny) FROM t WHERE month = '{period}'{r}",
    )
    (per_10k,) = _sql(
        settings,
        "ads",
        "ads_complaint_summary",
        "SELECT sum(n_complaints) * 10000.0 / (SELECT sum(n) FROM (SELECT DISTINCT region_id, "
        f"n_lines AS n FROM t WHERE month = '{period}'{r})) FROM t WHERE month = '{period}'{r}",
    )
    (share,) = _sql(
        settings,
        "ads",
        "ads_competition_bands",
        "SELECT (sum(competitor_a_min) + sum(competitor_b_min)) / sum(mou_min) FROM t "
        f"WHERE month = '{period}'{r}",
    )
    (risers,) = _sql(
        settings,
        "ads",
        "ads_competitor_risers",
        f"SELECT count(*) FROM t WHERE month = '{period}'{r}",
    )
    (newest,) = _sql(
        settings,
        "dwd",
        "dwd_dim_product",
        "SELECT product_id FROM t ORDER BY launch_month DESC NULLS LAST, product_id DESC LIMIT 1",
    )
    holders, penetration = _sql(
        settings,
        "dws",
        "dws_product_month",
        "SELECT n_holders, penetration FROM t "
        f"WHERE month = '{period}' AND product_id = '{newest}'",
    )
    return {
        "vs-lines": lines,
        "vs-high-share": high / lines,
        "ka-accounts": accounts,
        "ka-top-share": top,
        "rev-revenue": revenue,
        "sq-per-10k": per_10k,
        "comp-share": share,
        "comp-risers": risers,
        "np-holders": holders,
        "np-penetration": penetration,
    }


def parse(text: str) -> tuple[float, float]:
    """A displayed figure as a number and half a unit of its last shown digit (``12.3%`` ->
    0.123 give or take 0.0005, ``¥69,098`` -> 69098 give or take 0.5, ``4.5/10k lines`` ->
    4.5 give or take 0.05)."""
    match = re.fullmatch(r"(-?)¥?(-?[\d,]+(?:\.(\d+))?)(%|\S*)?( .*)?", text.strip())
    assert match, f"not a figure: {text!r}"
    sign, number, decimals, suffix = match.group(1), match.group(2), match.group(3), match.group(4)
    value = float(sign + number.replace(",", ""))
    half = 0.5 * 10 ** -len(decimals or "")
    if suffix == "%":
        return value / 100, half / 100
    return value, half


def close(text: str, value: float) -> bool:
    """Whether a displayed figure shows ``value`` at its displayed precision."""
    shown, half = parse(text)
    return shown == pytest.approx(value, abs=half * 1.001)


def figures(widget: widgets.Widget) -> dict[str, str]:
    """Displayed figures (``ui.figure_value``) anywhere under ``widget``, by name."""
    found, stack = {}, [widget]
    while stack:
        item = stack.pop()
        for cls in getattr(item, "_dom_classes", ()):
            if cls.startswith("wb-value-"):
                found[cls.removeprefix("wb-value-")] = re.search(
                    r'class="wb-number"[^>]*>([^<]*)<', item.value
                ).group(1)
        stack.extend(getattr(item, "children", ()))
    return found


def test_every_tab_against_the_marts(dashboard_project):
    settings = dashboard_project
    period = _months(settings)[-1]
    for viewer, region in ((GZ, "GZ"), (CEO, "ALL")):
        truth = expected(settings, period, region)
        shown: dict[str, str] = {}
        for subject in app.SUBJECTS:
            parts = app.subject_widgets(subject, settings, viewer, period, region)
            shown |= figures(widgets.VBox(parts))
        for name, value in truth.items():
            assert close(shown[name], value), (region, name, shown[name], value)
    # a restricted viewer's new-products tab says its figures are company-wide
    notes = app.subject_widgets("new_products", settings, GZ, period, "GZ")
    assert "company-wide" in notes[0].value
    assert not any(
        "company-wide" in getattr(w, "value", "")
        for w in app.subject_widgets("new_products", settings, CEO, period, "ALL")
    )


def test_regions_query_and_links(dashboard_project):
    two = Viewer("south", frozenset({"GZ", "SZ"}))
    regions = ["GZ", "SZ", "FS", "ALL"]
    assert app.region_choices(regions, CEO) == ["ALL", "FS", "GZ", "SZ"]
    assert app.region_choices(regions, GZ) == ["GZ"]
    assert app.region_choices(regions, two) == ["GZ", "SZ"]
    assert app.subject_from_query("wb=x&subject=revenue") == "revenue"
    assert app.subject_from_query("wb=x") == app.DEFAULT_SUBJECT
    assert app.subject_from_query("subject=nonsense") == app.DEFAULT_SUBJECT

    token = issue_token("gz_manager", dashboard_project)
    links = app.subject_links(f"{TOKEN_PARAM}={token}&x=1")
    assert [s for s, _ in links] == list(app.SUBJECTS)
    for subject, url in links:
        query = url.split("?", 1)[1]
        assert parse_qs(query)["subject"] == [subject]
        assert parse_qs(query)[TOKEN_PARAM] == [token]  # the page's own token, unchanged
        assert viewer_from_query(query, dashboard_project).user == "gz_manager"
    assert app.subject_links("x=1") == []  # no token: no links, never a new one
    cockpit = kpi_cockpit.build(dashboard_project, GZ, query=f"{TOKEN_PARAM}={token}")
    row = [w.value for w in _walk(cockpit) if "wb-subject-links" in getattr(w, "value", "")]
    assert len(row) == 1 and row[0].count("subjects.ipynb?") == len(app.SUBJECTS)


def _walk(widget):
    stack = [widget]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(getattr(item, "children", ()))


def test_failure_modes(dashboard_project, tmp_path):
    period = _months(dashboard_project)[-1]
    # a restricted viewer can ask neither for every region nor for another one
    for region in ("ALL", "SZ"):
        with pytest.raises(app.EmptySelection):
            app.subject_widgets("revenue", dashboard_project, GZ, period, region)
    page = app.build(dashboard_project, denied_viewer("access denied: the link was altered"))
    assert len(page.children) == 2 and "access denied" in page.children[-1].value
    empty = app.build(make_project(tmp_path), CEO)
    texts = " ".join(getattr(w, "value", "") for w in _walk(empty))
    assert "ads_value_segments has not been built" in texts and "Traceback" not in texts


def _wait_value(page, name: str, value: float, timeout: int = 60_000) -> None:
    """Wait until the figure ``name`` shows ``value`` (at its displayed precision)."""
    page.wait_for_function(
        """([name, v]) => {
            const e = document.querySelector('.wb-value-' + name + ' .wb-number');
            if (!e) return false;
            // as parse() reads it: the number, within half a unit of its last shown digit
            const m = e.innerText.replace(/,/g, '').replace('¥', '').match(/^(-?[0-9.]+)(%?)/);
            if (!m) return false;
            const scale = m[2] ? 0.01 : 1;
            const half = 0.5 * 10 ** -((m[1].split('.')[1] || '').length) * scale * 1.001;
            return Math.abs(parseFloat(m[1]) * scale - v) <= half;
        }""",
        arg=[name, value],
        timeout=timeout,
    )


def _tab(page, subject: str) -> None:
    en, _zh = app.SUBJECTS[subject]
    page.locator(".wb-subject button", has_text=en).click()
    page.wait_for_selector(f".wb-tab-{subject}", timeout=60_000)


def test_subjects_in_the_browser(dashboard_project, page, open_app):
    settings = dashboard_project
    months = _months(settings)
    period, previous = months[-1], months[-2]
    open_app(page, "subjects", "ceo")
    assert page.locator(".wb-region select").input_value() == "ALL"
    truth = expected(settings, period, "ALL")
    assert close(value_text(page, "vs-lines"), truth["vs-lines"])
    # filter 1: the region changes the value-segment figures to GZ's
    choose(page, "region", "GZ")
    gz = expected(settings, period, "GZ")
    _wait_value(page, "vs-lines", gz["vs-lines"])
    assert close(value_text(page, "vs-high-share"), gz["vs-high-share"])
    # filter 2: last month on the revenue tab
    _tab(page, "revenue")
    _wait_value(page, "rev-revenue", gz["rev-revenue"])
    choose(page, "month", previous)
    _wait_value(page, "rev-revenue", expected(settings, previous, "GZ")["rev-revenue"])
    choose(page, "month", period)
    _wait_value(page, "rev-revenue", gz["rev-revenue"])
    screenshot(page, "subjects")
    # as managers read it, at a laptop's and a desktop's size
    assert open_page_at_both_sizes(page) == {}
    # filter 3: the region on the competition tab
    _tab(page, "competition")
    _wait_value(page, "comp-risers", gz["comp-risers"])
    choose(page, "region", "ALL")
    _wait_value(page, "comp-risers", truth["comp-risers"])
    assert "Traceback" not in page.inner_text("body")


def test_a_region_manager_sees_only_their_region(dashboard_project, page, open_app):
    settings = dashboard_project
    period = _months(settings)[-1]
    gz = expected(settings, period, "GZ")
    others = sorted(
        r
        for (r,) in duckdb.connect()
        .execute(
            "SELECT DISTINCT region_id FROM read_parquet("
            f"'{settings.warehouse_dir}/ads/ads_value_segments/*/*.parquet')"
        )
        .fetchall()
        if r != "GZ"
    )
    # the cockpit's link opens the subjects app on the competition tab, as the same user
    open_app(page, "kpi_cockpit", "gz_manager")
    page.locator(".wb-subject-links a.wb-link-competition").click()
    page.wait_for_selector(".wb-tab-competition", timeout=180_000)
    assert page.locator(".wb-scope").inner_text() == "GZ"
    assert page.locator(".wb-region select option").all_inner_texts() == ["GZ"]
    _wait_value(page, "comp-risers", gz["comp-risers"])
    foreign = re.compile(r"\b(" + "|".join(others) + r")\b")
    for subject in app.SUBJECTS:
        _tab(page, subject)
        body = page.inner_text("body")
        assert not foreign.findall(body), (subject, foreign.findall(body))
        assert page.locator(".wb-message-warning, .wb-message-error").count() == 0, subject
    assert "company-wide" in page.locator(".wb-tab-new_products").inner_text()
    _tab(page, "key_accounts")
    _wait_value(page, "ka-accounts", gz["ka-accounts"])


def test_the_subjects_kernel_never_loads_spark(dashboard_project, monkeypatch, tmp_path):
    """The app notebook runs in a real kernel as gz_manager (link with ``subject=competition``)
    and neither pyspark, py4j nor the Jupyter server is ever imported."""
    from tests.dashboards.conftest import DASHBOARDS, run_app_notebook
    from workbench.dashboards.access import SECRET_ENV

    token = issue_token("gz_manager", dashboard_project)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(dashboard_project.root / "pipelines" / "config.yml"))
    monkeypatch.setenv("QUERY_STRING", f"{TOKEN_PARAM}={token}&subject=competition")
    monkeypatch.delenv(SECRET_ENV, raising=False)
    nb = run_app_notebook(DASHBOARDS / "subjects.ipynb", tmp_path)
    report = json.loads(nb.cells[-1].outputs[0]["text"])
    assert report == {
        "pyspark": False,
        "py4j": False,
        "jupyter_server": False,
        "user": "gz_manager",
    }
    assert "Traceback" not in json.dumps(nb.cells[1].outputs)
