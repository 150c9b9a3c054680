"""Many managers at once: concurrent headless viewers against a running ``workbench serve``.

:func:`run_load` opens ``viewers`` browser contexts (one per manager: own cookies, own pages)
in ONE headless Chromium and has each open ``visits`` app pages in turn through its signed link,
wait until the page is interactive, move the app's filter (:data:`timing.PROBES`), and close
the page as a tab is closed (``beforeunload`` runs, so the page's kernel is shut down). One
browser with a context per viewer rather than a browser per viewer: each context still opens its
own page and so its own kernel on the server, which is what is measured, while 20 Chromium
processes would add gigabytes and CPU on the machine that also runs the server.

While the viewers run, a sampler reads the live kernels from ``/healthz`` and the resident memory
of the server and every process under it (its kernels) with psutil. After the viewers leave it
times how long the live kernels take to fall back to the preheated pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from workbench.dashboards.timing import (
    _CHANGED_JS,
    _READY_JS,
    _VALUES_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FILTER_TIMEOUT_MS,
    PROBES,
    Probe,
)

log = logging.getLogger(__name__)

#: a console line the browser writes for the busy page's 503, counted as a busy page instead
_BUSY_CONSOLE = "status of 503"


@dataclass(frozen=True)
class LoadVisit:
    """One page visit: seconds to interactive and filter latency (None: not reached), and what
    went wrong (``busy``, ``HTTP <status>``, ``never interactive``, ``access denied``,
    ``console: ...``, ``filter timed out``)."""

    viewer: int
    app: str
    tti: float | None
    filter_latency: float | None
    errors: tuple[str, ...] = ()


@dataclass
class LoadResult:
    """What :func:`run_load` measured."""

    viewers: int
    visits: list[LoadVisit]
    seconds: float  # from the first viewer starting to the last leaving
    pool_size: int  # the preheated kernels, as /healthz reports them
    kernels_before: int
    peak_kernels: int
    rss_before: int  # bytes: the server and its processes before the viewers came
    peak_rss: int
    peak_kernel_rss: int  # bytes: the mean kernel process at the sample with the most kernels
    back_to_pool_s: float | None  # None: still above the kernels before after ``settle_s``
    settle_s: float
    samples: list[dict[str, float]] = field(default_factory=list)

    @property
    def visits_per_minute(self) -> float:
        return 60 * len(self.visits) / self.seconds if self.seconds > 0 else float("nan")

    def tti(self, q: float) -> float | None:
        return percentile([v.tti for v in self.visits if v.tti is not None], q)

    def filter_latency(self, q: float) -> float | None:
        return percentile(
            [v.filter_latency for v in self.visits if v.filter_latency is not None], q
        )

    def errors(self) -> dict[str, int]:
        """Visits by kind of error (a visit counts once per kind); console lines by their
        start, so that one message repeated by every page reads as one kind."""
        counts: dict[str, int] = {}
        for visit in self.visits:
            for kind in dict.fromkeys(e[:60] for e in visit.errors):
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "viewers": self.viewers,
            "visits": [v.__dict__ for v in self.visits],
            "seconds": self.seconds,
            "pool_size": self.pool_size,
            "kernels_before": self.kernels_before,
            "peak_kernels": self.peak_kernels,
            "rss_before": self.rss_before,
            "peak_rss": self.peak_rss,
            "peak_kernel_rss": self.peak_kernel_rss,
            "back_to_pool_s": self.back_to_pool_s,
            "settle_s": self.settle_s,
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def health(base_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``/healthz`` as JSON, whether it answers 200 (ready) or 503 (warming)."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return json.loads(refused.read())


def wait_ready(base_url: str, timeout: float = 300.0) -> dict[str, Any]:
    """Wait until ``/healthz`` says ``ok`` (every preheated kernel warm); its answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = health(base_url)
            if state.get("status") == "ok":
                return state
        except (OSError, ValueError):
            state = {}
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base_url}/healthz not ok after {timeout:.0f} s: {state}")
        time.sleep(0.5)


def server_memory(pid: int) -> tuple[int, list[int]]:
    """Resident bytes of process ``pid`` and every process under it (0 when gone), and those of
    its kernels (``ipykernel`` processes). Shared pages count once per process: an upper bound
    of what the server holds, which is what sizing a machine needs."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, []
    total, kernels = 0, []
    for process in processes:
        try:
            rss = process.memory_info().rss
            is_kernel = "ipykernel" in " ".join(process.cmdline())
        except psutil.Error:  # ended between the listing and the read
            continue
        total += rss
        if is_kernel:
            kernels.append(rss)
    return total, kernels


class _Sampler:
    """Samples live kernels (``/healthz``) and the server's memory every ``interval`` seconds in
    a thread, keeping the peaks."""

    def __init__(self, base_url: str, pid: int, interval: float = 0.5) -> None:
        self.base_url, self.pid, self.interval = base_url, pid, interval
        self.peak_kernels = 0
        self.peak_rss = 0
        self.peak_kernel_rss = 0
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._t0 = time.monotonic()

    def sample(self) -> None:
        try:
            kernels = int(health(self.base_url)["kernels"])
        except (OSError, ValueError, KeyError):
            kernels = -1  # the server did not answer: the memory still counts
        rss, kernel_rss = server_memory(self.pid)
        self.samples.append({"t": time.monotonic() - self._t0, "kernels": kernels, "rss": rss})
        if kernels >= self.peak_kernels and kernel_rss:
            self.peak_kernel_rss = sum(kernel_rss) // len(kernel_rss)
        self.peak_kernels = max(self.peak_kernels, kernels)
        self.peak_rss = max(self.peak_rss, rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> _Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _prepare_change(page: Any, probe: Probe) -> Callable[[], Awaitable[Any]] | None:
    """:func:`timing._prepare_change` in Playwright's async API: get the probe's filter ready
    and return the action that commits the change (timed from there); None when the app has no
    such control or option."""
    if probe.value is not None:
        readout = page.locator(f".wb-{probe.name} .widget-readout").first
        if not await readout.count():
            return None
        await readout.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.type(str(probe.value))
        return lambda: page.keyboard.press("Enter")
    select = page.locator(f".wb-{probe.name} select").first
    if not await select.count() or await select.locator("option").count() <= probe.option:
        return None
    return lambda: select.select_option(index=probe.option)


async def _filter_latency(page: Any, app: str, errors: list[str]) -> float | None:
    """Move the app's filter (:data:`timing.PROBES`) and time until a displayed figure changes;
    None, with the reason in ``errors``, when it could not."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        commit = await _prepare_change(page, PROBES.get(app, Probe("month")))
        if commit is None:
            return None  # the app has no such filter: nothing to time, nothing wrong
        before = await page.evaluate(_VALUES_JS)
        start = time.perf_counter()
        await commit()
        await page.wait_for_function(_CHANGED_JS, arg=before, timeout=FILTER_TIMEOUT_MS, polling=20)
        return time.perf_counter() - start
    except PlaywrightTimeout:
        errors.append("filter timed out")
        return None


async def _visit(context: Any, viewer: int, app: str, link: str, timeout_ms: int) -> LoadVisit:
    """Open ``link`` in a new page of ``context``, wait until interactive, move the filter and
    time the change, then close the page as a tab is closed."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(f"console: script error {error}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and _BUSY_CONSOLE not in m.text
            and errors.append(f"console: {m.text[:200]}")
        ),
    )
    tti = latency = None
    try:
        start = time.perf_counter()
        response = await page.goto(link, timeout=timeout_ms, wait_until="commit")
        status = response.status if response is not None else 0
        if status == 503:
            errors.insert(0, "busy")
        elif status >= 400 or status == 0:
            errors.insert(0, f"HTTP {status}")
        else:
            await page.wait_for_function(_READY_JS, timeout=timeout_ms, polling=50)
            tti = time.perf_counter() - start
            if "access denied" in await page.locator(".wb-app").first.inner_text():
                errors.insert(0, "access denied")  # an app that shows a manager nothing
            else:
                latency = await _filter_latency(page, app, errors)
    except PlaywrightTimeout:
        errors.insert(0, "never interactive")
        shown = await page.evaluate("() => document.body ? document.body.innerText : ''")
        log.warning("%s (viewer %d) not interactive; the page shows %r", app, viewer, shown[:300])
    finally:
        await page.close(run_before_unload=True)  # the tab closes: Voila's shutdown beacon
    return LoadVisit(viewer, app, tti, latency, tuple(errors))


async def _viewer(
    browser: Any, viewer: int, links: Sequence[tuple[str, str]], visits: int, timeout_ms: int
) -> list[LoadVisit]:
    """One manager: ``visits`` app pages, one after another, starting at a different app per
    viewer so that the apps are opened evenly."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    done = []
    try:
        for k in range(visits):
            app, link = links[(viewer + k) % len(links)]
            done.append(await _visit(context, viewer, app, link, timeout_ms))
        await asyncio.sleep(1.0)  # the last page's shutdown beacon leaves before the context
    finally:
        await context.close()
    return done


async def _run_viewers(
    links: Sequence[tuple[str, str]], viewers: int, visits: int, timeout_ms: int, chromium: str
) -> list[LoadVisit]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=list(CHROMIUM_ARGS)
        )
        try:
            per_viewer = await asyncio.gather(
                *(_viewer(browser, v, links, visits, timeout_ms) for v in range(viewers))
            )
        finally:
            await browser.close()
    return [visit for visits_of_one in per_viewer for visit in visits_of_one]


def run_load(
    base_url: str,
    links: Mapping[str, str],
    server_pid: int,
    *,
    viewers: int = 20,
    visits: int = 5,
    timeout_s: float = 180.0,
    settle_s: float = 120.0,
    chromium: str = CHROMIUM,
) -> LoadResult:
    """Drive ``viewers`` concurrent viewers, ``visits`` pages each, against the server.

    Args:
        base_url: the server (``/healthz`` is read there).
        links: app name -> the signed link a viewer opens (:func:`access.signed_link`).
        server_pid: the server's process (its memory and that of everything under it).
        timeout_s: a page not interactive after this long counts as ``never interactive``.
        settle_s: how long to wait, after the viewers leave, for the kernels to fall back to
            the preheated pool.

    Returns:
        The visits, the peaks and the time back to the pool (:class:`LoadResult`).
    """
    if viewers < 1 or visits < 1 or not links:
        raise ValueError(f"need viewers, visits and links, got {viewers}, {visits}, {links}")
    ready = wait_ready(base_url)
    pool = int(ready["pool_size"])
    rss_before, _ = server_memory(server_pid)
    with _Sampler(base_url, server_pid) as sampler:
        start = time.perf_counter()
        viewing = _run_viewers(
            list(links.items()), viewers, visits, int(timeout_s * 1000), chromium
        )
        # an event loop of its own, in a thread: the caller may hold Playwright's sync API
        # (the test session's browser), whose loop asyncio.run must not replace
        with ThreadPoolExecutor(1, thread_name_prefix="load-viewers") as runner:
            done = runner.submit(asyncio.run, viewing).result()
        seconds = time.perf_counter() - start
        left = time.monotonic()
        back = None
        # back where the server was before the viewers came: the preheated pool on a server of
        # its own (the benchmark's), or the pool and the pages other visitors keep open
        settled = max(pool, int(ready["kernels"]))
        while time.monotonic() - left < settle_s:
            if 0 <= health(base_url)["kernels"] <= settled:
                back = time.monotonic() - left
                break
            time.sleep(0.5)
    result = LoadResult(
        viewers=viewers,
        visits=done,
        seconds=seconds,
        pool_size=pool,
        kernels_before=int(ready["kernels"]),
        peak_kernels=sampler.peak_kernels,
        rss_before=rss_before,
        peak_rss=sampler.peak_rss,
        peak_kernel_rss=sampler.peak_kernel_rss,
        back_to_pool_s=back,
        settle_s=settle_s,
        samples=sampler.samples,
    )
    log.info(
        "load: %d visits by %d viewers in %.1f s, errors %s, peak %d kernels",
        len(done),
        viewers,
        seconds,
        result.errors(),
        result.peak_kernels,
    )
    return result
