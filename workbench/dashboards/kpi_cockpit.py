"""KPI cockpit: a tile per key indicator for one cell of the KPI cube (month, region, segment,
plan type) with its change against last month, the same month last year and the target;
the month's alerts in red (alarm) or amber (warning); a trend chart; English or Chinese labels.

Reads ``ads_kpi_cube`` and ``ads_kpi_alerts`` through DuckDB and the dictionary
(``pipelines/kpis.yml``) with YAML, so the definitions are the ones the warehouse used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd
import yaml

from workbench.catalog.ads import ALL
from workbench.dashboards import ui
from workbench.dashboards.data import (
    EmptySelection,
    MartUnavailable,
    available_months,
    load_mart,
)
from workbench.months import add_months

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer

log = logging.getLogger(__name__)

CUBE = "ads_kpi_cube"
ALERTS = "ads_kpi_alerts"
#: indicators with a tile, in this order (others stay in the trend picker)
KEY_KPIS = (
    "active_subscribers",
    "net_adds",
    "churn_rate",
    "arpu",
    "revenue_total",
    "mou",
    "dou",
    "complaint_rate_per_10k",
)
SEVERITY_COLOUR = {"alarm": ui.ALARM, "warning": ui.WARNING}


def kpi_dictionary(path: Path) -> pd.DataFrame:
    """The KPI dictionary as a frame: code, names, unit, better, target, warning, alarm."""
    entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("kpis") or []
    fields = ("name_en", "name_zh", "unit", "better", "target", "warning", "alarm")
    rows = [{"kpi_code": e["code"], **{f: e.get(f) for f in fields}} for e in entries]
    frame = pd.DataFrame(rows, columns=["kpi_code", *fields])
    frame["target"] = pd.to_numeric(frame["target"], errors="coerce")
    return frame


def region_options(regions: list[str], viewer: Viewer) -> list[str]:
    """Regions a viewer may pick: the province rollup (``ALL``) only for unrestricted viewers."""
    visible = sorted(r for r in set(regions) if r != ALL and viewer.can_see(r))
    return ([ALL] if viewer.regions is None else []) + visible


def compare_cell(cell: pd.DataFrame, period: str, dictionary: pd.DataFrame) -> pd.DataFrame:
    """Per KPI of one cube cell: the value of ``period``, last month, the same month last year,
    the changes, the target and the gap to it (positive = better than target).

    Args:
        cell: the cell's cube rows of every month (``kpi_code, value, month``).
    """
    wide = cell.pivot_table(index="kpi_code", columns="month", values="value", aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    for name, month in (
        ("value", period),
        ("value_prev", add_months(period, -1)),
        ("value_ly", add_months(period, -12)),
    ):
        out[name] = wide[month] if month in wide.columns else float("nan")
    out["change_mom"] = out["value"] / out["value_prev"].where(out["value_prev"] != 0) - 1
    out["change_yoy"] = out["value"] / out["value_ly"].where(out["value_ly"] != 0) - 1
    out = out.reset_index().merge(dictionary, on="kpi_code", how="left")
    sign = out["better"].map({"higher": 1.0, "lower": -1.0})
    out["vs_target"] = sign * (out["value"] - out["target"])
    return out


def cell_alerts(alerts: pd.DataFrame, cell: dict[str, str]) -> dict[str, str]:
    """The worst severity per KPI among the month's alerts of ``cell``."""
    mask = pd.Series(True, index=alerts.index)
    for column, value in cell.items():
        mask &= alerts[column] == value
    worst: dict[str, str] = {}
    for code, severity in alerts.loc[mask, ["kpi_code", "severity"]].itertuples(index=False):
        if worst.get(code) != "alarm":
            worst[code] = severity
    return worst


def trend_figure(cell: pd.DataFrame, code: str, dictionary: pd.DataFrame, lang: str) -> go.Figure:
    """The KPI's monthly values in the cell, with its target as a dashed line when it has one."""
    import plotly.graph_objects as go

    from workbench import viz

    info = (
        dictionary.set_index("kpi_code").loc[code] if code in set(dictionary["kpi_code"]) else None
    )
    name = info[f"name_{lang}"] if info is not None else code
    part = cell[cell["kpi_code"] == code].sort_values("month")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=part["month"], y=part["value"], mode="lines+markers", name=name))
    if info is not None and pd.notna(info["target"]):
        fig.add_hline(
            y=float(info["target"]), line_dash="dash", annotation_text=ui.label("target", lang)
        )
    fig.update_layout(
        title=f"{ui.label('trend', lang)}: {name}",
        template=viz.TEMPLATE,
        height=320,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return fig


class _Tile:
    """One KPI's tile: its value and its changes vs last month, last year and the target.

    Made once per page and updated in place on a filter change: re-sending a string is much
    faster in the browser than replacing widgets.
    """

    def __init__(self, code: str) -> None:
        self.code = code
        self.box = ui.tile(code, width="300px")

    def update(self, row: pd.Series | None, severity: str | None, lang: str) -> None:
        """Show ``row`` (hide the tile when the cell has no such KPI)."""
        if row is None:
            self.box.layout.display = "none"
            return
        self.box.layout.display = None
        colour = SEVERITY_COLOUR.get(severity or "")
        unit = str(row.get("unit") or "")
        name = f"kpi-{self.code}"
        target = ui.format_number(row["vs_target"], unit) if pd.notna(row.get("target")) else "-"
        caption = str(row.get(f"name_{lang}") or self.code)
        value = ui.format_number(row["value"], unit)
        changes = [
            ui.Value(
                f"{name}-mom", ui.format_change(row["change_mom"]), ui.label("vs_last_month", lang)
            ),
            ui.Value(
                f"{name}-yoy", ui.format_change(row["change_yoy"]), ui.label("vs_last_year", lang)
            ),
            ui.Value(f"{name}-target", target, ui.label("vs_target", lang)),
        ]
        ui.set_tile(
            self.box, "", [[ui.Value(name, value, caption, colour)], changes], border=colour
        )
        for kind in SEVERITY_COLOUR:
            self.box.remove_class(f"wb-alert-{kind}")
        if severity:
            self.box.add_class(f"wb-alert-{severity}")


def _alerts_table(alerts: pd.DataFrame, lang: str) -> widgets.Widget:
    if alerts.empty:
        return ui.message(ui.label("no_alerts", lang), "ok")
    rows = []
    order = alerts.assign(_o=alerts["severity"].map({"alarm": 0, "warning": 1})).sort_values(
        ["_o", "kpi_code", "region_id", "segment", "plan_type"]
    )
    for r in order.head(50).itertuples(index=False):
        colour = SEVERITY_COLOUR.get(r.severity, "#333")
        name = r.kpi_name_zh if lang == "zh" else r.kpi_name_en
        rows.append(
            f"<tr style='color:{colour}'><td><b>{r.severity}</b></td><td>{name}</td>"
            f"<td>{r.region_id}</td><td>{r.segment}</td><td>{r.plan_type}</td>"
            f"<td>{r.measured:.3g}</td><td>{r.threshold:.3g}</td></tr>"
        )
    more = f"<div>+{len(alerts) - 50} more</div>" if len(alerts) > 50 else ""
    box = widgets.HTML(
        "<table class='wb-grid'><tr><th></th><th>KPI</th><th>region</th><th>segment</th>"
        "<th>plan</th><th>measured</th><th>threshold</th></tr>" + "".join(rows) + "</table>" + more
    )
    box.add_class("wb-alerts")
    return box


class _Cockpit:
    """Widgets and callbacks of one page (one viewer)."""

    def __init__(self, settings: Settings, viewer: Viewer) -> None:
        self.settings, self.viewer = settings, viewer
        months = available_months(CUBE, settings)
        if not months:
            raise MartUnavailable(f"No data yet: {CUBE} has not been built.")
        self.dictionary = kpi_dictionary(settings.resolve(settings.warehouse.kpi_dictionary))
        # the viewer's whole cube is small (cells x KPIs x months): read it once, so a filter
        # change is a pandas lookup, not a query
        self.cube = load_mart(
            CUBE,
            settings,
            viewer,
            columns=["region_id", "segment", "plan_type", "kpi_code", "value", "month"],
        )
        self.alerts_by_month: dict[str, pd.DataFrame] = {}
        dims = self.cube[self.cube["month"] == months[-1]]
        regions = region_options(list(dims["region_id"].unique()), viewer)
        if not regions:
            raise EmptySelection("No KPI data for your regions yet.")
        segments = [ALL, *sorted(s for s in dims["segment"].unique() if s != ALL)]
        plans = [ALL, *sorted(p for p in dims["plan_type"].unique() if p != ALL)]
        codes = [c for c in self.dictionary["kpi_code"]]
        self.month = ui.named(widgets.Dropdown(options=months[::-1], value=months[-1]), "month")
        self.region = ui.named(widgets.Dropdown(options=regions, value=regions[0]), "region")
        self.segment = ui.named(widgets.Dropdown(options=segments, value=ALL), "segment")
        self.plan = ui.named(widgets.Dropdown(options=plans, value=ALL), "plan")
        self.trend_kpi = ui.named(
            widgets.Dropdown(
                options=codes, value=KEY_KPIS[0] if KEY_KPIS[0] in codes else codes[0]
            ),
            "trend-kpi",
        )
        self.lang = ui.named(
            widgets.ToggleButtons(options=[("English", "en"), ("中文", "zh")], value="en"), "lang"
        )
        self.content = ui.named(widgets.Output(), "content")
        self.tiles = {code: _Tile(code) for code in KEY_KPIS}
        self.chart = ui.named(widgets.Output(), "chart-trend")
        self.alerts_header = widgets.HTML()
        self.alerts_box = widgets.VBox()
        self.body = widgets.VBox(
            [
                widgets.HBox(
                    [tile.box for tile in self.tiles.values()],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                widgets.HBox([self.trend_kpi]),
                self.chart,
                self.alerts_header,
                self.alerts_box,
            ]
        )
        for control in (
            self.month,
            self.region,
            self.segment,
            self.plan,
            self.trend_kpi,
            self.lang,
        ):
            control.observe(self.refresh, names="value")
        self.filters = widgets.HBox([self.month, self.region, self.segment, self.plan])
        self.relabel()
        self.refresh()

    def relabel(self) -> None:
        lang = self.lang.value
        for key, control in (
            ("month", self.month),
            ("region", self.region),
            ("segment", self.segment),
            ("plan", self.plan),
            ("trend", self.trend_kpi),
        ):
            control.description = ui.label(key, lang)

    def cell(self) -> dict[str, str]:
        return {
            "region_id": self.region.value,
            "segment": self.segment.value,
            "plan_type": self.plan.value,
        }

    def refresh(self, *_: object) -> None:
        if not self.viewer.allowed_now():  # the page was rebuilt for the viewer's new access
            return
        self.relabel()
        with ui.guarded(self.content):
            lang, period, cell = self.lang.value, self.month.value, self.cell()
            cube = self.cube
            rows = cube[
                (cube["region_id"] == cell["region_id"])
                & (cube["segment"] == cell["segment"])
                & (cube["plan_type"] == cell["plan_type"])
            ]
            if rows.empty or period not in set(rows["month"]):
                raise EmptySelection(
                    f"No KPI data for {period} in {cell['region_id']} / {cell['segment']} / "
                    f"{cell['plan_type']}."
                )
            table = compare_cell(rows, period, self.dictionary)
            if period not in self.alerts_by_month:
                self.alerts_by_month[period] = load_mart(
                    ALERTS, self.settings, self.viewer, months=[period]
                )
            alerts = self.alerts_by_month[period]
            # the month's alerts of the chosen region (every region's when it is the province)
            shown_alerts = (
                alerts
                if cell["region_id"] == ALL
                else alerts[alerts["region_id"] == cell["region_id"]]
            )
            worst = cell_alerts(alerts, cell)
            keyed = table.set_index("kpi_code")
            for code, tile in self.tiles.items():
                row = keyed.loc[code].copy().rename(code) if code in keyed.index else None
                tile.update(row, worst.get(code), lang)
            self.alerts_header.value = f"<h3>{ui.label('alerts', lang)}</h3>"
            self.alerts_box.children = [_alerts_table(shown_alerts, lang)]
            ui.plot(
                trend_figure(rows, self.trend_kpi.value, self.dictionary, lang), "trend", self.chart
            )
            # a no-op unless a message replaced the body (equal states are not re-sent)
            ui.show(self.content, self.body)

    def widget(self, query: str) -> widgets.Widget:
        from workbench.dashboards.subjects import links_html, subject_links

        parts = [widgets.HBox([self.lang]), self.filters, self.content]
        links = subject_links(query)  # the page's own token, so the viewer stays who they are
        if links:
            parts.append(widgets.HTML(links_html(links)))
        return widgets.VBox(parts)


@ui.guard
def _body(settings: Settings, viewer: Viewer, query: str) -> widgets.Widget:
    return _Cockpit(settings, viewer).widget(query)


def build(settings: Settings, viewer: Viewer, query: str | None = None) -> widgets.Widget:
    """The cockpit page for ``viewer``; ``query``: the page's query string (default: this
    kernel's), whose signed token the links to the subject analyses carry."""
    from workbench.dashboards.subjects import page_query

    if viewer.denied:
        return ui.app_frame("KPI cockpit", "经营指标驾驶舱", widgets.VBox(), viewer)
    body = _body(settings, viewer, page_query() if query is None else query)
    return ui.app_frame("KPI cockpit", "经营指标驾驶舱", body, viewer)
