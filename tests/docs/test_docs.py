"""The data dictionary: every table and column described in both languages, lineage derived from
the code, and the site built on the tiny warehouse and walked in Chromium."""

from __future__ import annotations

import re
import threading
import urllib.request
from html import escape
from html.parser import HTMLParser

import pytest

from workbench.catalog import browse, get_table, tables
from workbench.catalog.glossary import GLOSSARY, describe
from workbench.catalog.ods import ODS_NAMES
from workbench.docs.lineage import build_lineage, layout, named_tables
from workbench.docs.site import Facts, build_docs, docs_server, table_page
from workbench.marts import read_mart
from workbench.warehouse.ledger import read_runs
from workbench.warehouse.models import MODELS


def test_every_table_and_column_is_described():
    undescribed = [t.name for t in tables() if not (t.description.strip() and t.grain.strip())]
    columns = [
        f"{t.name}.{c.name}"
        for t in tables()
        for c in t.columns
        for meaning in [describe(c)]
        if not (meaning.en.strip() and meaning.zh.strip())
    ]
    assert undescribed == [] and columns == []
    # and the glossary says nothing of a column no table has (a renamed column leaves no ghost)
    names = {c.name for t in tables() for c in t.columns}
    assert sorted(set(GLOSSARY) - names) == []


def test_a_column_without_an_entry_is_named():
    from workbench.catalog.schema import col

    with pytest.raises(KeyError, match="'no_such_column' has no entry"):
        describe(col("no_such_column", "string"))
    # a column's own description is the English text; the Chinese comes from the glossary
    own = describe(col("revenue_cny", "double", "bill total"))
    assert own == ("bill total", GLOSSARY["revenue_cny"].zh)


def test_lineage_is_what_the_code_reads_and_writes():
    graph = build_lineage()
    for model in MODELS:
        assert set(model.inputs) <= set(graph.upstream(model.table)), model.table
    for raw, ods in ODS_NAMES.items():
        assert (raw, ods) in graph.edges
    # subjects write their result marts, apps and reports read marts, lists write their tables
    assert "report:churn" in graph.upstream("ads_churn_scores")
    assert "app:churn_retention" in graph.downstream("ads_churn_scores")
    assert "app:kpi_cockpit" in graph.downstream("ads_kpi_cube")
    assert "lists:targets" in graph.upstream("ads_target_contacts")
    # a raw extract reaches an app
    assert "app:kpi_cockpit" in graph.reaching("usage")
    where = layout(graph)
    leftward = [(s, t) for s, t in graph.edges if where[s][0] >= where[t][0]]
    # only the target lists' closed loop turns back: exports write the campaign tables that the
    # warehouse reads into what the next export reads
    assert leftward and {s for s, _ in leftward} == {"lists:targets"}
    assert all("lists:targets" in graph.reaching(t) for _, t in leftward)


def test_named_tables_tells_writes_from_reads():
    source = (
        'OUT = "ads_b"\n'
        'def run(s):\n    x = read_mart("ads_a", s)\n    write_result(x, "ads_c", s)\n'
        '    write_frame(x, OUT)\n    raise ValueError("ads_a is empty")\n'
    )
    assert named_tables(source, {"ads_a", "ads_b", "ads_c", "ads_d"}) == (
        {"ads_a"},
        {"ads_b", "ads_c"},
    )


@pytest.fixture(scope="module")
def site(tiny_warehouse, tmp_path_factory):
    index = build_docs(tiny_warehouse, tmp_path_factory.mktemp("dictionary") / "site")
    server = docs_server(index.parent, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield index.parent, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        for name in ("href", "src"):
            if attr.get(name) and tag in ("a", "link", "script"):
                self.links.append(attr[name])


def test_the_pages_hold_the_warehouse_facts(site, tiny_warehouse):
    folder, _ = site
    assert {p.name for p in folder.glob("table-*.html")} == {
        f"table-{t.name}.html" for t in tables()
    }
    page = (folder / "table-dws_subscriber_month.html").read_text(encoding="utf-8")
    frame = read_mart("dws_subscriber_month", tiny_warehouse)
    for month, rows in frame.groupby("month").size().items():
        assert f"<td>{month}</td><td>{rows:,}</td>" in page
    run = read_runs(tiny_warehouse)[-1]
    assert run["run_id"] in page
    assert "在网时长" in page and "unique(subscriber_id, month)" in page
    assert "accepted_values(plan_type)</code>: <code>prepaid</code>" in page
    # a KPI's page: its definition from the dictionary, its marts and who reads them
    churn = browse.kpi("churn_rate", tiny_warehouse)
    kpi = (folder / "kpi-churn_rate.html").read_text(encoding="utf-8")
    assert escape(churn.formula) in kpi and f"<td>{churn.alarm:g}</td>" in kpi
    assert '<a href="table-ads_kpi_cube.html">' in kpi and "app: KPI cockpit" in kpi


def test_every_link_resolves(site):
    folder, base = site
    broken = []
    for page in sorted(folder.glob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.links:
            target, _, anchor = link.partition("#")
            assert not re.match(r"[a-z]+://", target), f"{page.name}: external {link}"
            with urllib.request.urlopen(base + (target or page.name)) as response:
                body = response.read().decode("utf-8")
            if anchor and f'id="{anchor}"' not in body and f"id='{anchor}'" not in body:
                broken.append(f"{page.name}: {link}")
    assert broken == []


def test_search_finds_a_column_and_its_page_shows_lineage(site, browser):
    _, base = site
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        page.goto(base + "index.html")
        page.fill("#search", "常驻小区掉话率")  # a column, by its Chinese description
        hit = page.locator("#results a", has_text="dws_subscriber_month.home_cell_drop_rate")
        hit.first.click()
        page.wait_for_url(re.compile(r"table-dws_subscriber_month\.html#col-home_cell_drop_rate"))
        assert (
            page.locator("tr#col-home_cell_drop_rate")
            .inner_text()
            .startswith("home_cell_drop_rate")
        )
        # the table's lineage: itself, what it reads and what reads it, each box a link
        focus = page.locator("svg.lineage g.node.focus")
        assert focus.get_attribute("data-node") == "dws_subscriber_month"
        nodes = set(
            page.locator("svg.lineage g.node").evaluate_all("gs => gs.map(g => g.dataset.node)")
        )
        graph = build_lineage()
        expected = {"dws_subscriber_month"} | set(graph.upstream("dws_subscriber_month"))
        assert expected | set(graph.downstream("dws_subscriber_month")) == nodes
        page.locator("svg.lineage a[href='table-dwd_dim_subscriber.html']").click()
        page.wait_for_url(re.compile(r"table-dwd_dim_subscriber\.html"))
        assert page.locator("h1").inner_text() == "dwd_dim_subscriber"
        # a search with no match says so
        page.fill("#search", "zzz_nothing_like_this")
        assert "nothing found" in page.locator("#results").inner_text()
    finally:
        page.close()


def test_a_result_mart_shows_the_report_run_that_wrote_it():
    run = {"subject": "churn", "run_id": "20260701T060000-abcdef", "status": "ok"}
    facts = Facts(build_lineage(), [], {}, {}, {"churn": {**run, "period": "2026-06"}})
    page = table_page(get_table("ads_churn_scores"), facts)
    assert (
        "the <b>churn</b> report: run <code>20260701T060000-abcdef</code> (ok) for 2026-06" in page
    )
    # a mart no report writes says it was not built by a run
    assert "not built by a warehouse run" in table_page(get_table("ads_target_waves"), facts)
