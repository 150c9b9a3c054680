"""Widgets and helpers every app shares.

Conventions the browser tests rely on: every interactive widget carries the CSS class
``wb-<name>`` and every displayed figure is an HTML widget with class ``wb-value-<name>``
(:func:`figure_value`), so a test finds a number by its name and checks it against the mart.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import ipywidgets as widgets

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Session, Viewer

    #: a Plotly figure, or a function making one when the chart is drawn (see :func:`plot`)
    Figure: TypeAlias = go.Figure | Callable[[], go.Figure]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

COLOURS = {"info": "#1f4e79", "warning": "#b7791f", "error": "#c53030", "ok": "#2f855a"}
ALARM, WARNING = "#c53030", "#dd9a00"  # red and amber

#: label key -> (English, Chinese)
LABELS: dict[str, tuple[str, str]] = {
    "month": ("Month", "月份"),
    "region": ("Region", "地市"),
    "segment": ("Segment", "客户细分"),
    "plan": ("Plan", "套餐类型"),
    "all": ("All", "全部"),
    "language": ("Language", "语言"),
    "vs_last_month": ("vs last month", "环比"),
    "vs_last_year": ("vs last year", "同比"),
    "vs_target": ("vs target", "目标差"),
    "target": ("Target", "目标"),
    "alerts": ("Alerts", "预警"),
    "no_alerts": ("No alerts this month.", "本月无预警。"),
    "more_alerts": (
        "{n:,} more alerts: choose a region to narrow them.",
        "另有 {n:,} 条，可选择地市查看。",
    ),
    "trend": ("Trend", "趋势"),
    "reports": ("Subject reports", "专题报告"),
    "risk_threshold": ("Risk threshold", "风险阈值"),
    "retained_share": ("Share retained", "挽留比例"),
    "at_risk": ("Subscribers at risk", "高危用户数"),
    "revenue_at_risk": ("Expected revenue at risk (CNY/month)", "预计流失收入(元/月)"),
    "saving": ("Saving if retained (CNY/month)", "挽留可节省收入(元/月)"),
    "top_reasons": ("Top reasons", "主要原因"),
    "export": ("Export target list", "导出目标清单"),
    "campaign": ("Campaign", "营销活动"),
    "viewer": ("Signed in as", "当前用户"),
    "scope": ("Regions", "可见地市"),
}


def label(key: str, lang: str = "en") -> str:
    """A label in ``en`` or ``zh`` (the key itself when unknown)."""
    en, zh = LABELS.get(key, (key, key))
    return zh if lang == "zh" else en


def bilingual(key: str) -> str:
    """``English / 中文``."""
    en, zh = LABELS.get(key, (key, key))
    return f"{en} / {zh}"


def message(text: str, kind: str = "info") -> widgets.HTML:
    """A plain, coloured message box (no traceback ever reaches a manager)."""
    box = widgets.HTML(_message_html(text, kind))
    box.add_class("wb-message").add_class(f"wb-message-{kind}")
    return box


def _message_html(text: str, kind: str) -> str:
    colour = COLOURS.get(kind, COLOURS["info"])
    return (
        f'<div style="border-left:4px solid {colour};padding:8px 12px;background:#f7f7f7;'
        f'color:{colour}">{html.escape(text)}</div>'
    )


def figure_value(
    name: str, text: str, *, caption: str = "", colour: str | None = None
) -> widgets.HTML:
    """A displayed figure a test can read: an HTML widget with class ``wb-value-<name>``."""
    box = widgets.HTML(_value_html(text, caption, colour))
    box.add_class("wb-value").add_class(f"wb-value-{name}")
    return box


def _value_html(text: str, caption: str, colour: str | None, size: int = 22) -> str:
    style = f"color:{colour};" if colour else ""
    # a figure and its caption never break inside: "-0.08 pp" on two lines reads as two values
    cap = (
        f'<div style="font-size:12px;color:#555;white-space:nowrap">{html.escape(caption)}</div>'
        if caption
        else ""
    )
    number = html.escape(text)
    span = (
        f'<span class="wb-number" style="font-size:{size}px;font-weight:600;'
        f'white-space:nowrap;{style}">'
    )
    return f"{cap}{span}{number}</span>"


def set_value(
    box: widgets.HTML, text: str, *, caption: str = "", colour: str | None = None
) -> None:
    """Update a :func:`figure_value`."""
    box.value = _value_html(text, caption, colour)


@dataclass(frozen=True)
class Value:
    """A displayed figure of a :func:`tile` or a :class:`Row`: shown like :func:`figure_value`,
    class ``wb-value-<name>``."""

    name: str
    text: str
    caption: str = ""
    colour: str | None = None
    size: int = 22  # font size in pixels; a tile's secondary figures are smaller


def tile(name: str, width: str) -> widgets.HTML:
    """An empty tile (class ``wb-tile-<name>``) for :func:`set_tile`.

    A tile is one HTML widget, not a box of figure widgets: every widget is three models the
    browser creates before it shows the page (the widget, its layout, its style), and a page of
    tiles made of boxes held four times the models. Its figures keep their ``wb-value-<name>``
    classes in the markup, so tests and timing read them the same way.
    """
    box = widgets.HTML(layout=widgets.Layout(width=width, margin="4px"))
    box.add_class("wb-tile").add_class(f"wb-tile-{name}")
    return box


def set_tile(
    box: widgets.HTML, head: str, rows: list[list[Value]], *, border: str | None = None
) -> None:
    """Show ``head`` (HTML) over ``rows`` of figures in ``box``, framed in ``border`` (grey by
    default; an alert's colour)."""

    def figure(f: Value) -> str:
        name = html.escape(f.name, quote=True)
        return (
            f'<div class="wb-value wb-value-{name}">'
            f"{_value_html(f.text, f.caption, f.colour, f.size)}</div>"
        )

    lines = "".join(
        f'<div style="display:flex;gap:12px">{"".join(figure(f) for f in row)}</div>'
        for row in rows
    )
    box.value = (
        f'<div style="border:2px solid {border or "#ddd"};padding:6px;height:100%;'
        f'box-sizing:border-box">{head}{lines}</div>'
    )


def named(widget: widgets.Widget, name: str) -> widgets.Widget:
    """Give ``widget`` the CSS class ``wb-<name>`` (tests and timing find it by that)."""
    widget.add_class(f"wb-{name}")
    return widget


#: where the page loads plotly.js from, relative to the server's base URL: ``workbench serve``
#: has Voila serve the plotly package's own copy there (see ``voila_command``)
PLOTLY_JS_PATH = "voila/labextensions/plotly.min.js"

# Loads plotly.js once per page, on the first chart, then draws the chart into its div. Why not
# Plotly's JupyterLab extension: Voila loads every extension before it shows any widget, and
# that one is plotly.js itself (4.8 MB), so every page waited for a chart library before its
# figures and filters appeared. The widget output areas are trusted, so this script runs.
_PLOTLY_SCRIPT = """<script>(function () {
  var w = window;
  if (!w.wbPlotly) {
    w.wbPlotly = new Promise(function (resolve, reject) {
      var config = document.getElementById("jupyter-config-data");
      var base = config ? JSON.parse(config.textContent).baseUrl || "/" : "/";
      var tag = document.createElement("script");
      tag.src = base + "%(path)s";
      tag.onload = function () { resolve(w.Plotly); };
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
    w.wbPlots = {};
  }
  var figure = %(figure)s;
  w.wbPlotly.then(function (Plotly) {
    var div = document.getElementById("%(div)s");
    if (!div) { return; }
    // the chart this one replaces is gone from the page: free what Plotly holds for it
    var previous = w.wbPlots["%(place)s"];
    if (previous && previous !== div) { Plotly.purge(previous); }
    w.wbPlots["%(place)s"] = div;
    Plotly.newPlot(div, figure.data, figure.layout, {responsive: true});
  }, function () {
    var div = document.getElementById("%(div)s");
    if (div) { div.textContent = "The chart library could not be loaded: reload the page."; }
  });
})();</script>"""


def chart_html(fig: go.Figure, place: str) -> str:
    """A Plotly figure as HTML that draws itself in a Voila page (see ``_PLOTLY_SCRIPT``).

    ``place`` names where it is shown (unique in the page). The chart's element id is made of
    it and of the figure, so showing the same figure again in the same place sends nothing (an
    equal state) and the browser does not redraw it.
    """
    import hashlib

    import plotly.io as pio

    # "</" would end the script early if a title or label held "</script>"
    figure = pio.to_json(fig, validate=False).replace("</", "<\\/")
    digest = hashlib.sha1(figure.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    div = f"wb-plot-{place}-{digest}"
    script = _PLOTLY_SCRIPT % {"path": PLOTLY_JS_PATH, "figure": figure, "div": div, "place": place}
    return f'<div id="{div}" class="wb-plot"></div>{script}'


def _display_data(obj: object, place: str) -> dict[str, Any]:
    """``obj`` (a widget or a Plotly figure) as one display_data output."""
    from plotly.basedatatypes import BaseFigure

    if isinstance(obj, BaseFigure):
        data = {"text/html": chart_html(obj, place)}
    elif hasattr(obj, "_repr_mimebundle_"):
        data = obj._repr_mimebundle_()
    else:
        data = {"text/plain": repr(obj)}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def show(out: widgets.Output, *objects: object) -> None:
    """Make ``out`` show ``objects`` (nothing: clear it), replacing what it showed.

    Why not ``with out: display(...)``: that relies on the browser capturing the kernel's output
    messages, so it only works while a browser is connected. Setting the widget's ``outputs``
    state works before one is: the apps build their page before Voila has sent it
    (:func:`page_now`).
    """
    out.outputs = tuple(_display_data(obj, f"{out.model_id}-{i}") for i, obj in enumerate(objects))


def plot(fig: Figure, name: str, out: widgets.Output | None = None) -> widgets.Output:
    """Show a Plotly figure (or what a builder returns) in an Output widget (class
    ``wb-chart-<name>``), replacing what it showed before."""
    out = out or named(widgets.Output(), f"chart-{name}")

    def draw() -> None:
        # outside the update's own guard by now: a builder's error is this chart's message
        with guarded(out):
            show(out, fig() if callable(fig) else fig)

    # Drawn one event-loop turn later: the figures and tables of the same update reach the browser
    # first, so a manager sees new numbers at once and the chart follows (plotting is the slow
    # part of an update in the browser). A builder is called then too: making the Plotly figures
    # costs about as much as the mart reads behind the numbers.
    later(draw)
    return out


#: time the browser is given to draw the first screen before the charts arrive
FIRST_SCREEN_SECONDS = 0.4
#: chart drawings held until the page's browser has loaded its widgets (None: not holding)
_held_for_browser: list[Callable[[], None]] | None = None


def later(callback: Callable[[], None]) -> None:
    """Run ``callback`` after what the current handler sends (at once outside a kernel);
    while a page is being built for a browser not yet connected, once that browser has loaded
    the page (:func:`page_now`)."""
    if _held_for_browser is not None:
        _held_for_browser.append(callback)
        return
    loop = _kernel_loop()
    if loop is None:
        callback()
        return
    loop.call_soon(callback)


def _browser_signal() -> widgets.Box:
    """Hidden widgets that tell the kernel when the page's browser has loaded its widgets.

    The browser runs a ``jsdlink`` as soon as it creates the link's model, copying ``sent``'s
    value into ``seen`` and sending it back: stock ipywidgets have no "page is on screen" event,
    and this is the earliest moment the kernel can know. The held chart drawings then run.
    """
    global _held_for_browser
    _held_for_browser = []
    sent = widgets.IntText(1, layout=widgets.Layout(display="none"))
    seen = widgets.IntText(0, layout=widgets.Layout(display="none"))
    link = widgets.jsdlink((sent, "value"), (seen, "value"))

    def draw() -> None:
        global _held_for_browser
        held, _held_for_browser = _held_for_browser or [], None
        for callback in held:
            callback()

    def arrived(change: dict[str, Any]) -> None:
        # the browser has the widget models and is now drawing their views: drawn at once, the
        # charts would race that first screen for the browser's main thread
        asyncio.get_running_loop().call_later(FIRST_SCREEN_SECONDS, draw)

    seen.observe(arrived, "value")
    box = widgets.Box([sent, seen], layout=widgets.Layout(display="none"))
    box.add_class("wb-browser-signal")
    box._link = link  # type: ignore[attr-defined]  # held here for as long as the page lives
    return box


def table_html(frame: pd.DataFrame, name: str, max_rows: int = 50) -> widgets.HTML:
    """A small HTML table (class ``wb-table-<name>``), at most ``max_rows`` rows."""
    box = widgets.HTML(_table_markup(frame, max_rows))
    box.add_class(f"wb-table-{name}")
    return box


def _table_markup(frame: pd.DataFrame, max_rows: int) -> str:
    return frame.head(max_rows).to_html(index=False, border=0, classes="wb-grid")


#: what a subscriber list shows beside a line that must not be contacted
DO_NOT_CONTACT = "DO NOT CONTACT 勿扰"
CONTACT_COLUMN = "contact 联系"


def flag_do_not_contact(
    frame: pd.DataFrame, column: str = "is_do_not_contact", after: str = "msisdn"
) -> pd.DataFrame:
    """A subscriber list as a manager sees it: the boolean ``column`` becomes a
    :data:`CONTACT_COLUMN` reading :data:`DO_NOT_CONTACT` on flagged lines, placed after
    ``after`` (first when absent). Every list of subscribers an app shows goes through this.

    Unknown consent is not consent (the target lists' rule): a null flag is shown as flagged.
    """
    flagged = frame[column].astype("boolean").fillna(True)
    out = frame.drop(columns=[column])
    at = out.columns.get_loc(after) + 1 if after in out.columns else 0
    out.insert(at, CONTACT_COLUMN, flagged.map({True: DO_NOT_CONTACT, False: ""}).astype(str))
    return out


# --------------------------------------------------------------------------- parts of a view


class Row:
    """Figures side by side, each a :func:`figure_value` 300 px wide."""

    def __init__(self, *figures: Value) -> None:
        self.figures = figures


@dataclass(frozen=True)
class Chart:
    """A Plotly figure in an Output widget of class ``wb-chart-<name>``; ``figure`` may be a
    builder (``functools.partial(viz.tier_bars, tiers)``), called after the update's numbers
    are sent."""

    name: str
    figure: Figure


@dataclass(frozen=True)
class Table:
    """A frame as a :func:`table_html` (class ``wb-table-<name>``)."""

    name: str
    frame: pd.DataFrame
    max_rows: int = 50


@dataclass(frozen=True)
class Note:
    """A :func:`message`."""

    text: str
    kind: str = "info"


Part = Row | Chart | Table | Note


def _shape(part: Part) -> tuple[object, ...]:
    if isinstance(part, Row):
        return ("row", tuple(f.name for f in part.figures))
    if isinstance(part, Note):
        return ("note", part.kind)
    return (type(part).__name__, part.name)


def _slot(part: Part) -> widgets.Widget:
    """An empty widget for ``part`` (filled by :func:`_fill`)."""
    if isinstance(part, Row):
        figures = [figure_value(f.name, "") for f in part.figures]
        for figure in figures:
            figure.layout.width = "300px"
        return widgets.HBox(figures)
    if isinstance(part, Chart):
        return named(widgets.Output(), f"chart-{part.name}")
    if isinstance(part, Table):
        return named(widgets.HTML(), f"table-{part.name}")
    return message("", part.kind)


def _fill(slot: widgets.Widget, part: Part) -> None:
    if isinstance(part, Row):
        for box, f in zip(slot.children, part.figures, strict=True):
            set_value(box, f.text, caption=f.caption, colour=f.colour)
    elif isinstance(part, Chart):
        plot(part.figure, part.name, slot)
    elif isinstance(part, Table):
        slot.value = _table_markup(part.frame, part.max_rows)
    else:
        slot.value = _message_html(part.text, part.kind)


class PartsView:
    """A section of a page showing a list of parts (:data:`Part`).

    Its widgets are made on the first showing and updated in place as long as the parts keep
    their shape (the same kinds and names in the same order): a filter change then re-sends
    strings and figures, not widgets, which the browser shows several times faster than new
    widgets (each is three models it must create before drawing).
    """

    def __init__(self, css_class: str) -> None:
        self.box = widgets.VBox()
        self.box.add_class(css_class)
        self._shape: list[tuple[object, ...]] | None = None
        self._slots: list[widgets.Widget] = []

    def show(self, parts: list[Part]) -> widgets.VBox:
        """Show ``parts``; returns the section's box (the same one every time)."""
        shape = [_shape(part) for part in parts]
        if shape != self._shape:
            self._slots = [_slot(part) for part in parts]
            self.box.children = self._slots
            self._shape = shape
        for slot, part in zip(self._slots, parts, strict=True):
            _fill(slot, part)
        return self.box


def app_frame(title_en: str, title_zh: str, body: widgets.Widget, viewer: Viewer) -> widgets.VBox:
    """The page: a bilingual title, who is signed in and their regions, then ``body``.

    A viewer whose link did not verify gets only the "access denied" message.
    """
    title = widgets.HTML(
        f"<h2 style='margin:4px 0'>{html.escape(title_zh)} {html.escape(title_en)}</h2>"
    )
    if viewer.denied:
        frame = widgets.VBox([title, message(viewer.denied, "error")])
    else:
        who = widgets.HTML(
            f"<div style='color:#555'>{bilingual('viewer')}: <b>{html.escape(viewer.user)}</b>"
            f" &middot; {bilingual('scope')}: "
            f"<b class='wb-scope'>{html.escape(viewer.scope_label)}</b></div>"
        )
        frame = widgets.VBox([title, who, body])
    frame.add_class("wb-app")
    return frame


def plain_error(exc: BaseException) -> str:
    """What a manager reads for an error: the package's message, or a generic line."""
    if isinstance(exc, WorkbenchError):
        return str(exc)
    return "Something went wrong while preparing this view; the analytics team has the details."


@contextmanager
def guarded(out: widgets.Output) -> Iterator[None]:
    """Run an update; a package error (missing mart, empty selection, denied) or any other error
    replaces the content of ``out`` with a plain message instead of a traceback."""
    try:
        yield
    except WorkbenchError as exc:
        show(out, message(plain_error(exc), "warning"))
    except Exception as exc:  # a manager never sees a traceback; the log keeps it
        log.exception("dashboard update failed")
        show(out, message(plain_error(exc), "error"))


def guard(fn: F) -> F:
    """Decorator form for builders that return a widget: on an error, return a message widget."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WorkbenchError as exc:
            return message(plain_error(exc), "warning")
        except Exception as exc:  # a manager never sees a traceback; the log keeps it
            log.exception("dashboard %s failed", fn.__name__)
            return message(plain_error(exc), "error")

    return wrapper  # type: ignore[return-value]


def export_message(path: str, n_treated: int, n_control: int) -> widgets.HTML:
    """The result of an export: where the file is and how many rows it holds."""
    box = message(
        f"Exported {n_treated} subscriber(s) to {path} ({n_control} held out as control).", "ok"
    )
    box.add_class("wb-export-result")
    return box


def warm_up() -> None:
    """Pay the first-use costs of a page (about a second here) in a preheated kernel, before
    anyone asks: Plotly's figure classes, templates and JSON export, DuckDB's first query,
    pandas' HTML writer. The page's own build then takes a tenth of that."""
    import duckdb
    import pandas as pd
    import plotly.graph_objects as go

    from workbench import viz

    fig = go.Figure([go.Scatter(x=[0], y=[0]), go.Bar(x=[0], y=[0]), go.Heatmap(z=[[0]])])
    fig.update_layout(template=viz.TEMPLATE, title="warm-up")
    _display_data(fig, "warm-up")
    duckdb.sql("SELECT 1").fetchall()
    pd.DataFrame({"a": [1]}).to_html()


@dataclass
class AppPage:
    """An app page: the box a notebook displays, holding the built app (and, in a kernel, the
    browser's signal)."""

    box: widgets.VBox
    _build: Callable[[], widgets.Widget] = field(repr=False)

    @property
    def app(self) -> widgets.Widget:
        """The app as shown now (rebuilt after an access change)."""
        return self.box.children[0]

    def rebuild(self) -> None:
        """Build the page again in place of the shown one (see :func:`app_page`)."""
        self.box.children = [_build_page(self._build), *self.box.children[1:]]


def _build_page(build: Callable[[], widgets.Widget]) -> widgets.Widget:
    try:
        return build()
    except Exception as exc:  # builders are guarded; this is the last line of defence
        log.exception("dashboard build failed")
        return message(plain_error(exc), "error")


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop of the Jupyter kernel this code runs in; None in a plain script or
    a test, even one driving a browser through Playwright, whose own running loop would never
    run a callback of the page's."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def page_now(build: Callable[[], widgets.Widget]) -> AppPage:
    """Build an app's page in the notebook's cell, and draw its charts once the browser has the
    page on screen.

    Why in the cell: when the page's scripts connect, the widget manager asks the kernel for
    every widget's state and gives it 4 seconds (ipywidgets' ``CONTROL_COMM_TIMEOUT``); past
    that it asks widget by widget while the widgets' own messages arrive, and a page could stay
    blank ("widget model not found"). Built just after the cell instead, overlapping the
    browser's script loading (a tenth of a second saved on a quiet machine), the build held
    the kernel when the scripts connected, and on busy cores it outlasted the 4 seconds: one
    page in ten stayed blank with a build held 5 s (bench/NOTES.md, "A page that never drew").
    Built in the cell, the kernel is idle when the scripts connect and answers at once.

    The charts come last: Plotly's renderer is the page's largest script, and drawing them with
    the first screen held the figures and filters back until it had loaded. Outside a Jupyter
    kernel (a plain script, a test) they are drawn at once.
    """
    box = widgets.VBox()
    if _kernel_loop() is None:
        box.children = [build()]
        return AppPage(box, build)
    signal = _browser_signal()  # first: the build's charts wait for it
    box.children = [_build_page(build), signal]
    return AppPage(box, build)


def app_page(session: Session, build: Callable[[Settings, Viewer], widgets.Widget]) -> AppPage:
    """An app's page for the session's viewer (built like :func:`page_now`), built again
    whenever a check at an action finds their access changed: for their new regions or the new
    settings, or as the app's "access denied" page when the link expired or the user was
    removed. Each build gets the settings and the viewer as they are at that moment."""
    page = page_now(lambda: build(session.settings, session.viewer))
    session.on_change = page.rebuild
    return page
