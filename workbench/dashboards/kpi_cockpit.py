"""KPI cockpit: a tile per key indicator for one cell of the KPI cube (month, region, segment,
plan type) with its change against last month, the same month last year and the target;
the month's alerts in red (alarm) or amber (warning); a trend chart; English or Chinese labels.

Reads ``ads_kpi_cube`` and ``ads_kpi_alerts`` through DuckDB and the dictionary
(``pipelines/kpis.yml``) with YAML, so the definitions are the ones the warehouse used.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from workbench import formats
from workbench.catalog.ads import ALL
from workbench.catalog.kpis import load_kpis
from workbench.dashboards import APP_INFO, ui
from workbench.dashboards.data import (
    EmptySelection,
    MartUnavailable,
    available_months,
    load_mart,
)
from workbench.subjects import kpi_overview

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer

log = logging.getLogger(__name__)

#: the app's title in English and Chinese (declared with the others in workbench.dashboards)
TITLE = APP_INFO["kpi_cockpit"][:2]

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


def region_options(regions: list[str], viewer: Viewer) -> list[str]:
    """Regions a viewer may pick: the province rollup (``ALL``) only for unrestricted viewers."""
    visible = sorted(r for r in set(regions) if r != ALL and viewer.can_see(r))
    return ([ALL] if viewer.regions is None else []) + visible


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
    name = info[f"kpi_name_{lang}"] if info is not None else code
    part = cell[cell["kpi_code"] == code].sort_values("month")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=part["month"], y=part["value"], mode="lines+markers", name=name))
    if info is not None and pd.notna(info["target"]):
        fig.add_hline(
            y=float(info["target"]), line_dash="dash", annotation_text=ui.label("target", lang)
        )
    if info is not None:
        fig.update_yaxes(**viz.axis_format(info["unit"]))
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
        # wide enough for "vs last month", "vs last year" and a gap like "+44.4/10k lines ✗"
        # side by side: figures never wrap, so a narrower tile would let them overflow
        self.box = ui.tile(code, width="360px")

    def update(self, row: pd.Series | None, severity: str | None, lang: str) -> None:
        """Show ``row`` (hide the tile when the cell has no such KPI)."""
        if row is None:
            self.box.layout.display = "none"
            return
        self.box.layout.display = None
        colour = SEVERITY_COLOUR.get(severity or "")
        unit = str(row.get("unit") or "")
        name = f"kpi-{self.code}"
        value = row["value"]
        gap = kpi_overview.target_gap(row, lang)
        caption = str(row.get(f"kpi_name_{lang}") or self.code)
        changes = [
            ui.Value(
                f"{name}-mom",
                formats.format_change(value, row["value_prev"], unit, lang),
                ui.label("vs_last_month", lang),
                size=15,
            ),
            ui.Value(
                f"{name}-yoy",
                formats.format_change(value, row["value_ly"], unit, lang),
                ui.label("vs_last_year", lang),
                size=15,
            ),
            ui.Value(f"{name}-target", gap, ui.label("vs_target", lang), size=15),
        ]
        value = formats.format_value(value, unit, lang)
        ui.set_tile(
            self.box, "", [[ui.Value(name, value, caption, colour)], changes], border=colour
        )
        for kind in SEVERITY_COLOUR:
            self.box.remove_class(f"wb-alert-{kind}")
        if severity:
            self.box.add_class(f"wb-alert-{severity}")


#: alert sentences listed in the cockpit; the rest are counted
ALERTS_SHOWN = 30


def _alerts_list(
    alerts: pd.DataFrame,
    dictionary: pd.DataFrame,
    regions: kpi_overview.RegionNames,
    lang: str,
) -> widgets.Widget:
    """The month's alerts as sentences, the most serious first (the KPI report's ranking)."""
    if alerts.empty:
        return ui.message(ui.label("no_alerts", lang), "ok")
    ranked = kpi_overview.alert_sentences(alerts, dictionary, regions)
    items = "".join(
        f"<li style='color:{SEVERITY_COLOUR.get(a.severity, '#333')}'>"
        f"{html.escape(getattr(a, f'sentence_{lang}'))}</li>"
        for a in ranked.head(ALERTS_SHOWN).itertuples(index=False)
    )
    rest = len(ranked) - ALERTS_SHOWN
    more = f"<div>{ui.label('more_alerts', lang).format(n=rest)}</div>" if rest > 0 else ""
    box = widgets.HTML(f"<ol class='wb-alert-list'>{items}</ol>{more}")
    box.add_class("wb-alerts")
    return box


class _Cockpit:
    """Widgets and callbacks of one page (one viewer)."""

    def __init__(self, settings: Settings, viewer: Viewer) -> None:
        self.settings, self.viewer = settings, viewer
        months = available_months(CUBE, settings)
        if not months:
            raise MartUnavailable(f"No data yet: {CUBE} has not been built.")
        self.dictionary = kpi_overview.dictionary_frame(
            load_kpis(settings.resolve(settings.warehouse.kpi_dictionary))
        )
        self.region_names = kpi_overview.region_names(settings)
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
        codes = list(self.dictionary["kpi_code"])
        self.month = ui.named(widgets.Dropdown(options=months[::-1], value=months[-1]), "month")
        self.region = ui.named(widgets.Dropdown(options=regions, value=regions[0]), "region")
        self.segment = ui.named(widgets.Dropdown(options=segments, value=ALL), "segment")
        self.plan = ui.named(widgets.Dropdown(options=plans, value=ALL), "plan")
        # the indicators by name in the page's language (relabel), their codes as values
        self.trend_kpi = ui.named(
            widgets.Dropdown(
                options=codes, value=KEY_KPIS[0] if KEY_KPIS[0] in codes else codes[0]
            ),
            "trend-kpi",
        )
        self.trend_lang: str | None = None
        self.relabelling = False
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
        if self.trend_lang != lang:
            self.name_trend_options(lang)

    def name_trend_options(self, lang: str) -> None:
        """The trend picker's options named in ``lang`` (the dictionary's names), the chosen
        indicator kept: new options would choose the first, and refresh the page twice."""
        names = dict(
            zip(self.dictionary["kpi_code"], self.dictionary[f"kpi_name_{lang}"], strict=True)
        )
        chosen = self.trend_kpi.value
        self.relabelling = True
        try:
            self.trend_kpi.options = [(name, code) for code, name in names.items()]
            self.trend_kpi.value = chosen
        finally:
            self.relabelling = False
        self.trend_lang = lang

    def cell(self) -> dict[str, str]:
        return {
            "region_id": self.region.value,
            "segment": self.segment.value,
            "plan_type": self.plan.value,
        }

    def refresh(self, *_: object) -> None:
        if self.relabelling:  # the trend picker's options being renamed (name_trend_options)
            return
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
            table = kpi_overview.compare_periods(rows, period, self.dictionary)
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
            self.alerts_box.children = [
                _alerts_list(shown_alerts, self.dictionary, self.region_names, lang)
            ]
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
        return ui.app_frame(*TITLE, widgets.VBox(), viewer)
    body = _body(settings, viewer, page_query() if query is None else query)
    return ui.app_frame(*TITLE, body, viewer)
