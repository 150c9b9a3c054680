"""The apps' shared widgets: tiles, views updated in place, charts as self-drawing HTML."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from workbench.dashboards import ui


def _figure(title: str) -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": title})


def test_a_tile_is_one_widget_whose_figures_keep_their_classes():
    tile = ui.tile("arpu", width="300px")
    ui.set_tile(
        tile,
        "<b>ARPU</b>",
        [[ui.Value("kpi-arpu", "12.50", "ARPU", ui.ALARM)], [ui.Value("kpi-arpu-mom", "+1.0%")]],
        border=ui.ALARM,
    )
    assert {"wb-tile", "wb-tile-arpu"} <= set(tile._dom_classes)
    numbers = dict(re.findall(r'wb-value-([\w-]+)">.*?class="wb-number"[^>]*>([^<]*)<', tile.value))
    assert numbers == {"kpi-arpu": "12.50", "kpi-arpu-mom": "+1.0%"}
    assert tile.value.count(ui.ALARM) == 2  # the frame and the figure


def test_a_parts_view_updates_in_place_while_its_shape_holds():
    view = ui.PartsView("wb-tab-test")

    def parts(n: int, note: bool = False) -> list[ui.Part]:
        return [
            *([ui.Note("no data", "warning")] if note else []),
            ui.Row(ui.Value("lines", f"{n:,}", "Lines")),
            ui.Table("top", pd.DataFrame({"n": range(n)}), max_rows=3),
        ]

    box = view.show(parts(1000))
    first = list(box.children)
    assert (
        "1,000" in first[0].children[0].value and first[1].value.count("<td>") == 3
    )  # at most max_rows
    assert view.show(parts(2)) is box and list(box.children) == first  # the same widgets
    assert "2<" in first[0].children[0].value and first[1].value.count("<td>") == 2
    changed = view.show(parts(5, note=True)).children  # a new shape: new widgets
    assert changed[0] not in first and "no data" in changed[0].value
    assert {"wb-message", "wb-message-warning"} <= set(changed[0]._dom_classes)


def test_a_chart_draws_itself_and_is_not_resent_unchanged():
    tricky = _figure("</script><b>x</b>")
    markup = ui.chart_html(tricky, "p1")
    script = markup.split("<script>", 1)[1]
    assert "</script>" not in script.removesuffix("</script>")  # the title cannot end it early
    assert ui.PLOTLY_JS_PATH in markup and "newPlot" in markup
    assert ui.chart_html(_figure("same"), "p1") == ui.chart_html(_figure("same"), "p1")
    assert ui.chart_html(_figure("same"), "p1") != ui.chart_html(_figure("same"), "p2")
    assert ui.chart_html(_figure("same"), "p1") != ui.chart_html(_figure("other"), "p1")

    out = widgets.Output()
    ui.show(out, _figure("same"))  # outside an event loop: drawn at once
    sent = out.outputs
    assert sent[0]["data"]["text/html"].startswith('<div id="wb-plot-')
    ui.show(out, _figure("same"))
    assert out.outputs == sent


def _plotted(builder, name: str) -> widgets.Output:
    """``ui.plot`` in an app's event loop, after the loop turn that draws the chart. In a thread
    of its own: the browser tests' Playwright leaves its loop marked running in this one."""

    async def plot_and_wait() -> widgets.Output:
        out = ui.plot(builder, name)
        await asyncio.sleep(0.05)
        return out

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, plot_and_wait()).result()


def test_a_chart_builder_is_drawn_and_its_error_is_a_plain_message(monkeypatch):
    from ipywidgets.widgets.widget import _instances

    # no page waiting for its browser (an app built earlier in this process may have left one)
    monkeypatch.setattr(ui, "_held_for_browser", None)
    out = _plotted(lambda: _figure("built"), "built")
    assert '"built"' in out.outputs[0]["data"]["text/html"]

    def broken() -> go.Figure:
        raise ValueError("no such column: churn_rate")

    failed = _plotted(broken, "broken")
    view = failed.outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    shown = _instances[view["model_id"]]  # a message widget, in place of the chart
    assert "wb-message-error" in shown._dom_classes and "Something went wrong" in shown.value
    assert "churn_rate" not in shown.value  # no internals for a manager
