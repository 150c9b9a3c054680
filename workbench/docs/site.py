"""The data dictionary's pages: written from the catalog, the glossary, the lineage, the KPI
dictionary and the build ledger into one flat folder of HTML (links are relative, so the folder
opens from disk or from any server)."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from html import escape
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalog import LAYERS, Table, tables
from workbench.catalog.contracts import AcceptedValues, Contract
from workbench.catalog.glossary import describe
from workbench.docs.lineage import Lineage, build_lineage
from workbench.docs.svg import COLOURS, lineage_svg, page_of

if TYPE_CHECKING:
    from workbench.catalog.kpis import Kpi
    from workbench.config import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
TITLE = "Data dictionary · 数据字典"


@dataclass(frozen=True)
class Facts:
    """Everything the pages show, gathered once."""

    lineage: Lineage
    kpis: list[Kpi]
    last_builds: dict[str, dict[str, Any]]  # table -> its latest ledger record (with run id)
    rows: dict[str, dict[str, int]]  # table -> month (or "all") -> rows on disk
    report_runs: dict[str, dict[str, Any]]  # subject -> its latest report run


def kpi_page(code: str) -> str:
    return f"kpi-{code}.html"


def last_builds(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each table's record in the latest run that built it (the run's id and status added)."""
    found: dict[str, dict[str, Any]] = {}
    for run in runs:  # oldest first: later runs overwrite
        for record in run.get("tables", []):
            found[record["name"]] = {
                **record,
                "run_id": run.get("run_id"),
                "run_status": run.get("status"),
            }
    return found


def rows_on_disk(table: Table, settings: Settings) -> dict[str, int]:
    """Rows per month partition (``all`` for an unpartitioned table), from the Parquet footers:
    no data is read."""
    import pyarrow.parquet as pq

    from workbench.warehouse.storage import _parquet_files, list_months, partition_dir

    path = table.path(settings)

    def count(folder: Path) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in _parquet_files(folder))

    if not table.partition_by:
        return {"all": count(path)} if _parquet_files(path) else {}
    return {m: count(partition_dir(path, m)) for m in list_months(path)}


def gather(settings: Settings) -> Facts:
    from workbench.catalog.kpis import load_kpis
    from workbench.reports.ledger import read_runs as report_runs
    from workbench.warehouse.ledger import read_runs

    return Facts(
        lineage=build_lineage(),
        kpis=load_kpis(settings.resolve(settings.warehouse.kpi_dictionary)),
        last_builds=last_builds(read_runs(settings)),
        rows={t.name: rows_on_disk(t, settings) for t in tables()},
        # oldest first: the latest run of each subject wins
        report_runs={r["subject"]: r for r in report_runs(settings) if r.get("subject")},
    )


# --- pages -----------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · {TITLE}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="style.css"></head><body>'
        '<header><a class="home" href="index.html">' + TITLE + "</a>"
        '<nav><a href="index.html#tables">Tables 表</a> <a href="index.html#kpis">KPIs 指标</a> '
        '<a href="lineage.html">Lineage 血缘</a></nav>'
        '<div class="search"><input id="search" type="search" autocomplete="off" '
        'placeholder="Search tables, columns, KPIs · 搜索" aria-label="search">'
        '<ul id="results" hidden></ul></div></header>'
        f"<main>{body}</main>"
        '<script src="search-index.js"></script><script src="search.js"></script>'
        "</body></html>"
    )


def _link(node: str, lineage: Lineage) -> str:
    page = page_of(node)
    label = lineage.nodes[node].label
    kind = lineage.nodes[node].kind
    text = escape(label if kind == "table" else f"{kind}: {label}")
    return f'<a href="{page}">{text}</a>' if page else text


def _list(items: list[str]) -> str:
    if not items:
        return "<p class='none'>none · 无</p>"
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _contract(contract: Contract) -> str:
    """A contract as the build checks it, with the accepted values spelled out."""
    text = f"<code>{escape(contract.name)}</code>"
    if isinstance(contract, AcceptedValues):
        text += ": " + ", ".join(f"<code>{escape(v)}</code>" for v in contract.values)
    return text


def _rows_table(rows: dict[str, int]) -> str:
    if not rows:
        return "<p class='none'>no data on disk · 暂无数据</p>"
    body = "".join(f"<tr><td>{escape(m)}</td><td>{n:,}</td></tr>" for m, n in rows.items())
    return f"<table class='rows'><tr><th>Month 月份</th><th>Rows 行数</th></tr>{body}</table>"


def _report_written(table: Table, facts: Facts) -> str:
    """For a mart a subject report writes: that report's latest run, from the report ledger."""
    runs = [
        facts.report_runs[n.split(":", 1)[1]]
        for n in facts.lineage.upstream(table.name)
        if n.startswith("report:") and n.split(":", 1)[1] in facts.report_runs
    ]
    if not runs:
        return "<p class='none'>not built by a warehouse run (see upstream) · 非数仓构建</p>"
    return "".join(
        f"<p>Written by the <b>{escape(r['subject'])}</b> report: run "
        f"<code>{escape(str(r.get('run_id')))}</code> ({escape(str(r.get('status')))}) for "
        f"{escape(str(r.get('period')))}, ended {escape(str(r.get('ended_at')))}.</p>"
        for r in runs
    )


def table_page(table: Table, facts: Facts) -> str:
    lineage = facts.lineage
    up, down = lineage.upstream(table.name), lineage.downstream(table.name)
    columns = "".join(
        f"<tr id='col-{escape(c.name)}'><td><code>{escape(c.name)}</code></td>"
        f"<td>{c.type}</td><td>{'' if c.nullable else 'not null'}</td>"
        f"<td>{escape(meaning.en)}</td><td lang='zh'>{escape(meaning.zh)}</td></tr>"
        for c in table.columns
        for meaning in [describe(c)]
    )
    contracts = [_contract(c) for c in table.contracts]
    build = facts.last_builds.get(table.name)
    if build:
        built = (
            f"<p>Run <code>{escape(str(build['run_id']))}</code> "
            f"({escape(str(build['run_status']))}), ended {escape(str(build.get('ended_at')))}, "
            f"{build.get('rows_written', 0):,} rows written"
            f" for {len(build.get('months', []))} month(s).</p>"
        )
    else:
        built = _report_written(table, facts)
    kpis = [
        f'<a href="{kpi_page(k.code)}">{escape(k.name_en)} · {escape(k.name_zh)}</a>'
        for k in facts.kpis
        if k.source == table.name
    ]
    neighbourhood = {table.name, *up, *down}
    body = (
        f"<h1>{escape(table.name)}</h1>"
        f"<p class='description'>{escape(table.description)}</p>"
        "<table class='facts'>"
        f"<tr><th>Layer 分层</th><td><span class='layer' style='background:"
        f"{COLOURS[table.layer]}'>{table.layer}</span></td></tr>"
        f"<tr><th>Grain 粒度</th><td>{escape(table.grain)}</td></tr>"
        f"<tr><th>Keys 主键</th><td><code>{escape(', '.join(table.keys) or '-')}</code></td></tr>"
        f"<tr><th>Partitions 分区</th><td><code>{escape(', '.join(table.partition_by) or '-')}"
        "</code></td></tr></table>"
        "<h2>Columns 字段</h2><table class='columns'><tr><th>Column 字段</th><th>Type 类型</th>"
        f"<th>Null 空值</th><th>Description</th><th>说明</th></tr>{columns}</table>"
        f"<h2>Contracts 约束</h2>{_list(contracts)}"
        "<h2 id='lineage'>Lineage 血缘</h2><div class='lineage-wrap'>"
        f"{lineage_svg(lineage, neighbourhood, focus=table.name)}</div>"
        "<div class='updown'><div><h3>Upstream 上游</h3>"
        f"{_list([_link(n, lineage) for n in up])}</div>"
        f"<div><h3>Downstream 下游</h3>{_list([_link(n, lineage) for n in down])}</div></div>"
        + (f"<h2>KPIs computed from it 指标</h2>{_list(kpis)}" if kpis else "")
        + f"<h2>Last build 最近构建</h2>{built}"
        f"<h2>Rows per month 每月行数</h2>{_rows_table(facts.rows.get(table.name, {}))}"
    )
    return _page(table.name, body)


def kpi_marts(kpi: Kpi) -> list[str]:
    """The marts holding a KPI: its source table and every table keyed by ``kpi_code``."""
    by_code = [t.name for t in tables() if "kpi_code" in t.column_names]
    return [kpi.source, *by_code]


def kpi_page_html(kpi: Kpi, facts: Facts) -> str:
    marts = kpi_marts(kpi)
    users = sorted(
        {n for m in marts[1:] for n in facts.lineage.downstream(m) if ":" in n},
    )

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    body = (
        f"<h1>{escape(kpi.name_en)} · <span lang='zh'>{escape(kpi.name_zh)}</span></h1>"
        f"<p class='description'>{escape(kpi.description)}</p><table class='facts'>"
        f"<tr><th>Code 编码</th><td><code>{escape(kpi.code)}</code></td></tr>"
        f"<tr><th>Formula 公式</th><td><code>{escape(kpi.formula)}</code></td></tr>"
        f"<tr><th>Unit 单位</th><td>{escape(kpi.unit)}</td></tr>"
        f"<tr><th>Grain 粒度</th><td>{escape(kpi.grain)}</td></tr>"
        f"<tr><th>Better 方向</th><td>{escape(kpi.better)}</td></tr>"
        f"<tr><th>Basis 口径</th><td>{escape(kpi.basis)}</td></tr>"
        f"<tr><th>Warning 预警</th><td>{number(kpi.warning)}</td></tr>"
        f"<tr><th>Alarm 告警</th><td>{number(kpi.alarm)}</td></tr>"
        f"<tr><th>Target 目标</th><td>{number(kpi.target)}</td></tr>"
        f"<tr><th>Months in a row 连续月数</th><td>{kpi.persist_months}</td></tr></table>"
        f"<h2>Marts 数据集市</h2>{_list([_link(m, facts.lineage) for m in marts])}"
        f"<h2>Reports and apps 报告与应用</h2>{_list([_link(n, facts.lineage) for n in users])}"
    )
    return _page(kpi.name_en, body)


def index_page(facts: Facts) -> str:
    sections = []
    for layer in LAYERS:
        rows = "".join(
            f"<tr><td><a href='{page_of(t.name)}'>{escape(t.name)}</a></td>"
            f"<td>{escape(t.description)}</td><td>{len(t.columns)}</td></tr>"
            for t in tables(layer)
        )
        sections.append(
            f"<h3>{layer.upper()}</h3><table class='index'><tr><th>Table 表</th>"
            f"<th>Description 说明</th><th>Columns 字段数</th></tr>{rows}</table>"
        )
    kpis = "".join(
        f"<tr><td><a href='{kpi_page(k.code)}'>{escape(k.name_en)}</a></td>"
        f"<td lang='zh'>{escape(k.name_zh)}</td><td>{escape(k.unit)}</td></tr>"
        for k in facts.kpis
    )
    body = (
        f"<h1>{TITLE}</h1><p>Every table of the warehouse, every column in English and Chinese, "
        "every KPI, and how data flows from the raw extracts to the reports and apps. "
        "数仓所有表、字段（中英文）、指标及从源数据到报告与应用的血缘。</p>"
        "<p><a href='lineage.html'>Lineage graph · 血缘图</a></p>"
        "<h2 id='tables'>Tables 表</h2>" + "".join(sections) + "<h2 id='kpis'>KPIs 指标</h2>"
        "<table class='index'><tr><th>KPI</th><th>指标</th><th>Unit 单位</th></tr>"
        f"{kpis}</table>"
    )
    return _page("Index", body)


def lineage_page(facts: Facts) -> str:
    legend = " ".join(
        f"<span class='layer' style='background:{colour}'>{group}</span>"
        for group, colour in COLOURS.items()
    )
    body = (
        "<h1>Lineage 血缘</h1><p>From the raw extracts (left) to the reports, target lists and "
        f"apps (right). A table's box opens its page.</p><p>{legend}</p>"
        f"<div class='lineage-wrap'>{lineage_svg(facts.lineage)}</div>"
    )
    return _page("Lineage", body)


def search_index(facts: Facts) -> list[dict[str, str]]:
    """What the search box finds: tables, columns (both languages) and KPIs."""
    entries = []
    for t in tables():
        page = page_of(t.name)
        entries.append({"kind": "table", "name": t.name, "text": t.description, "href": page})
        for c in t.columns:
            meaning = describe(c)
            entries.append(
                {
                    "kind": "column",
                    "name": f"{t.name}.{c.name}",
                    "text": f"{meaning.en} · {meaning.zh}",
                    "href": f"{page}#col-{c.name}",
                }
            )
    for k in facts.kpis:
        entries.append(
            {
                "kind": "kpi",
                "name": k.code,
                "text": f"{k.name_en} · {k.name_zh}",
                "href": kpi_page(k.code),
            }
        )
    return entries


def write_site(facts: Facts, out: Path) -> Path:
    """Write every page into ``out`` (replacing what an earlier run wrote); returns the index."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for asset in STATIC.iterdir():
        shutil.copy(asset, out / asset.name)
    index = json.dumps(search_index(facts), ensure_ascii=False)
    (out / "search-index.js").write_text(f"window.SEARCH_INDEX = {index};\n", encoding="utf-8")
    pages = {"index.html": index_page(facts), "lineage.html": lineage_page(facts)}
    pages |= {page_of(t.name): table_page(t, facts) for t in tables()}
    pages |= {kpi_page(k.code): kpi_page_html(k, facts) for k in facts.kpis}
    for name, html in pages.items():
        (out / name).write_text(html, encoding="utf-8")
    log.info("wrote %d pages to %s", len(pages), out)
    return out / "index.html"


def build_docs(settings: Settings, out: Path | None = None) -> Path:
    """Build the dictionary for the project (default folder ``<reports>/dictionary``)."""
    return write_site(gather(settings), out or default_folder(settings))


def default_folder(settings: Settings) -> Path:
    return settings.reports_dir / "dictionary"


def docs_server(folder: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server over the built folder (call ``serve_forever``); port 0 picks a free one."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return ThreadingHTTPServer((host, port), partial(Quiet, directory=str(folder)))
