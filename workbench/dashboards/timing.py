"""Time to interactive and filter latency of an app, measured in headless Chromium.

``measure(base_url, app, user_link)`` opens the signed link, times until the app is on screen
and Voila has finished rendering (time to interactive: figures and filters usable), then until
every chart of the first screen is drawn (the apps draw charts once the page is on screen), then
changes a filter and times until a displayed figure (``.wb-value-*``) changes (filter latency).
The bench calls it per app; targets are 1.5 s and 0.3 s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TARGET_TTI_S = 1.5
TARGET_FILTER_S = 0.3
FILTER_TIMEOUT_MS = 20_000  # a filter that changes no figure is reported as None, not an error
_CHARTS_JS = (
    "() => { const charts = [...document.querySelectorAll('.wb-app [class*=\"wb-chart-\"]')];"
    " return charts.length > 0 && charts.every(c => c.querySelector('.js-plotly-plot')) }"
)
_VALUES_JS = "() => Array.from(document.querySelectorAll('.wb-value')).map(e => e.innerText)"
#: whether a displayed figure differs from ``before`` (a list of _VALUES_JS's texts)
_CHANGED_JS = f"(before) => JSON.stringify(({_VALUES_JS})()) !== JSON.stringify(before)"
_READY_JS = (
    "() => !!document.querySelector('.wb-app') && (!document.querySelector('#loading') || "
    "getComputedStyle(document.querySelector('#loading')).display === 'none')"
)


@dataclass(frozen=True)
class Probe:
    """The filter a measurement changes, inside the widget of class ``wb-<name>``: a dropdown
    set to its option number ``option``, or a slider whose readout is set to ``value`` (typed
    in, as a user can)."""

    name: str
    option: int = 1
    value: float | None = None


#: the filter changed per app
PROBES: dict[str, Probe] = {
    "kpi_cockpit": Probe("segment"),
    "churn_retention": Probe("segment"),
    "cross_sell": Probe("min-lift", value=2.0),
    "channel_whatif": Probe("commission", value=50),
    "subjects": Probe("month"),
}


def _prepare_change(page: Any, probe: Probe) -> Callable[[], None] | None:
    """Get the probe's filter ready to change and return the action that commits the change
    (timed from there); None when the app has no such control or option."""
    if probe.value is not None:
        readout = page.locator(f".wb-{probe.name} .widget-readout").first
        if not readout.count():
            return None
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(probe.value))
        return lambda: page.keyboard.press("Enter")
    select = page.locator(f".wb-{probe.name} select").first
    if not select.count() or select.locator("option").count() <= probe.option:
        return None
    return lambda: select.select_option(index=probe.option)


@dataclass(frozen=True)
class Visit:
    """One visit's timings in seconds (None: not measured, see :func:`measure`)."""

    tti: float
    charts: float | None
    filter_latency: float | None


def _measure(browser: Any, app: str, user_link: str, timeout_ms: int) -> Visit:
    """One visit in a new context of ``browser``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(user_link, timeout=timeout_ms, wait_until="commit")
        page.wait_for_function(_READY_JS, timeout=timeout_ms, polling=20)
        tti = time.perf_counter() - start
        charts = None
        if page.locator('.wb-app [class*="wb-chart-"]').count():
            try:
                page.wait_for_function(_CHARTS_JS, timeout=FILTER_TIMEOUT_MS, polling=20)
                charts = time.perf_counter() - start
            except PlaywrightTimeout:
                log.warning("%s: a chart of the first screen was not drawn", app)
        latency = None
        probe = PROBES.get(app, Probe("month"))
        commit = _prepare_change(page, probe)
        if commit is not None:
            before = page.evaluate(_VALUES_JS)
            start = time.perf_counter()
            commit()
            try:
                page.wait_for_function(
                    _CHANGED_JS,
                    arg=before,
                    timeout=FILTER_TIMEOUT_MS,
                    polling=10,
                )
                latency = time.perf_counter() - start
            except PlaywrightTimeout:
                log.warning("%s: no displayed figure changed after the filter", app)
    finally:
        context.close()
    return Visit(tti, charts, latency)


def measure(
    base_url: str,
    app: str,
    user_link: str,
    *,
    timeout_s: float = 60.0,
    executable_path: str = CHROMIUM,
    browser: Any = None,
) -> dict[str, Any]:
    """Open ``user_link`` (a signed link from ``workbench serve link``) and measure.

    Args:
        base_url: the server, for the record (the link already contains it).
        app: the app's name, e.g. ``kpi_cockpit`` (chooses the filter to change).
        browser: a Playwright browser to use (default: launch Debian's Chromium headless).

    Returns:
        ``app``, ``tti_s``, ``charts_s`` (until every chart of the first screen is drawn; None
        when it has none), ``filter_latency_s`` (None when the app has no such filter or no
        figure changed), and whether each met its target.
    """
    timeout_ms = int(timeout_s * 1000)
    if browser is not None:
        visit = _measure(browser, app, user_link, timeout_ms)
    else:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            own = playwright.chromium.launch(
                executable_path=executable_path, args=list(CHROMIUM_ARGS)
            )
            try:
                visit = _measure(own, app, user_link, timeout_ms)
            finally:
                own.close()
    latency = visit.filter_latency
    result = {
        "app": app,
        "base_url": base_url,
        "tti_s": round(visit.tti, 3),
        "charts_s": None if visit.charts is None else round(visit.charts, 3),
        "filter_latency_s": None if latency is None else round(latency, 3),
        "tti_ok": visit.tti <= TARGET_TTI_S,
        "filter_ok": None if latency is None else latency <= TARGET_FILTER_S,
    }
    log.info("%s: %s", app, result)
    return result
