"""Fixtures of the dashboard tests: a project with the marts the apps read, a real
``workbench serve`` on a free port, headless Chromium, and helpers to open an app as a user.

Apps are opened through signed links exactly as a manager would; ``open_app`` waits until the
page is interactive (the app frame is on screen and Voila has finished rendering).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, results_project
from workbench.config import CONFIG_ENV, Settings

DASHBOARDS = PROJECT_ROOT / "notebooks" / "dashboards"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts" / "screenshots"
DOC_IMAGES = PROJECT_ROOT / "docs" / "images"
#: set to 1 to refresh the README's screenshots (docs/images/<app>.png) from this run
DOC_IMAGES_ENV = "WORKBENCH_DOC_IMAGES"
APP_TIMEOUT_MS = 180_000  # a cold kernel on two busy cores; preheated pages take about a second


@pytest.fixture(scope="session")
def dashboard_project(request, tmp_path_factory, tiny_shared) -> Settings:
    """This worker's project for the apps: the tiny warehouse plus the result marts they read
    (:func:`tests.conftest.results_project`). Its own, apart from the subject tests' copy: the
    dashboard tests export target lists into it and change its users."""
    return results_project(request, tmp_path_factory, tiny_shared, "dashboard_project")


@pytest.fixture(scope="session")
def dashboard_period(dashboard_project) -> str:
    """The month the result marts were written for."""
    from workbench.warehouse.storage import table_months

    return table_months(dashboard_project, "ads_churn_scores")[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running ``workbench serve``."""

    base_url: str
    process: subprocess.Popen
    settings: Settings
    log_file: Path


def wait_http(url: str, process: subprocess.Popen, log_file: Path, timeout: float) -> None:
    """Wait until ``url`` answers 200; an error with the server's log if it exits or is slow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"workbench serve exited:\n{log_file.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"workbench serve did not answer in {timeout}s:\n{log_file.read_text()[-3000:]}"
    )


def start_server(
    settings: Settings, log_file: Path, *extra: str, environ: dict[str, str] | None = None
) -> Server:
    """Start ``workbench serve`` for ``settings`` on a free port (its own process group), with
    ``environ`` added to its environment."""
    from workbench.dashboards.access import SECRET_ENV

    port = free_port()
    config = settings.root / "pipelines" / "config.yml"
    env = {**os.environ, CONFIG_ENV: str(config), **(environ or {})}
    env.pop(SECRET_ENV, None)
    command = [sys.executable, "-m", "workbench.cli", "--config", str(config), "serve"]
    command += ["--port", str(port), *extra]
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=settings.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        # 200 once every preheated kernel is warm (503 before): two busy cores warm five in
        # well under a minute
        wait_http(base_url + "/healthz", process, log_file, timeout=120)
    except BaseException:
        stop_server(process)
        raise
    return Server(base_url, process, settings, log_file)


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server and every process it started: Voila, its kernels (jupyter_client gives
    each kernel its own session) and any export child, each by its own pid."""
    import psutil

    if process.poll() is not None:
        return
    try:
        started = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    alive = _still_running(started, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    _still_running(alive, timeout=5)


def _still_running(processes: list, timeout: float) -> list:
    """Those of ``processes`` still running after up to ``timeout`` seconds. Polled rather than
    ``psutil.wait_procs``, which raised FileNotFoundError for a kernel that exited while it
    opened its pid."""
    import psutil

    def running(process: psutil.Process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout
    alive = [p for p in processes if running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if running(p)]
    return alive


#: the test server's ``dashboards.page_gone_seconds``: ample for a closing page's beacon on two
#: busy cores (it ends the kernel within a second), short for the test that waits it out
PAGE_GONE_SECONDS = 10


#: the proxy variables the test server runs with, all naming a port where nothing listens: as on
#: a host behind a corporate proxy, the apps must reach their own server directly
PROXY_VARIABLES = ("ALL_PROXY", "HTTP_PROXY", "all_proxy", "http_proxy")


@pytest.fixture(scope="session")
def dashboard_server(dashboard_project, tmp_path_factory) -> Iterator[Server]:
    """``workbench serve`` on 127.0.0.1 and a free port, against the dashboard project, with a
    proxy in its environment that refuses every connection (:data:`PROXY_VARIABLES`)."""
    import yaml

    config = dashboard_project.root / "pipelines" / "config.yml"
    tree = yaml.safe_load(config.read_text())
    tree["dashboards"]["page_gone_seconds"] = PAGE_GONE_SECONDS
    config.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
    log_file = tmp_path_factory.mktemp("serve") / "serve.log"
    refusing = f"http://127.0.0.1:{free_port()}"
    proxies = dict.fromkeys(PROXY_VARIABLES, refusing)
    server = start_server(dashboard_project, log_file, environ=proxies)
    yield server
    stop_server(server.process)


def server_kernels(server: Server) -> list:
    """The kernels (``psutil.Process``) the server runs now."""
    import psutil

    found = []
    for proc in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if any("ipykernel" in part for part in proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


#: console errors a test causes on purpose: the busy page (503) and a refused link (403)
EXPECTED_CONSOLE_ERROR = re.compile(r"Failed to load resource: .* status of (403|503)")


#: what an app page being left logs: its widgets are torn down while the kernel's last
#: messages still arrive (seen once in a CI run, a test moving one tab from app to app)
LEAVING_PAGE_ERROR = "widget model not found"


def console_problems(context) -> list[str]:
    """Start recording what a manager's browser would complain of on every page of
    ``context``: script errors, ``console.error`` lines and requests that fail (such as an
    address outside the server). The list fills as pages run.

    A tab navigating to another page is *leaving* from its navigation request until the new
    document is parsed; what the old page logs then (:data:`LEAVING_PAGE_ERROR`) is not the new
    page's and no manager sees it. Anything else, and anything once the new page is there,
    counts."""
    problems: list[str] = []

    def watch(tab) -> None:
        leaving = {"now": False}

        def on_request(request) -> None:
            if request.is_navigation_request() and request.frame == tab.main_frame:
                leaving["now"] = True

        def on_console(message) -> None:
            if message.type != "error" or EXPECTED_CONSOLE_ERROR.search(message.text):
                return
            if leaving["now"] and LEAVING_PAGE_ERROR in message.text:
                return
            problems.append(f"console error: {message.text[:300]}")

        tab.on("request", on_request)
        tab.on("domcontentloaded", lambda _: leaving.update(now=False))
        tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        tab.on("console", on_console)
        tab.on(
            "requestfailed",
            lambda request: (
                request.failure != "net::ERR_ABORTED"  # a page left mid-load
                and problems.append(f"request failed: {request.url} {request.failure}")
            ),
        )

    context.on("page", watch)
    return problems


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test; the test fails if any page of it logged an
    error in the browser's console, threw a script error or failed a request."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    problems = console_problems(context)
    tab = context.new_page()
    tab.set_default_timeout(120_000)  # two cores shared with other jobs
    yield tab
    from playwright.sync_api import Error as PlaywrightError

    for open_tab in context.pages:  # as a manager closes a tab: its kernel ends (the beacon)
        # a tab the test closed with run_before_unload may still be listed while it closes
        with contextlib.suppress(PlaywrightError):
            open_tab.close(run_before_unload=True)
    context.close()
    assert problems == [], "the browser's console:\n" + "\n".join(problems)


def wait_interactive(page, timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Wait until Voila has rendered the app: the app frame is visible and the loading
    spinner is gone."""
    page.wait_for_selector(".wb-app", state="visible", timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('#loading') || "
        "getComputedStyle(document.querySelector('#loading')).display === 'none'",
        timeout=timeout_ms,
    )


@pytest.fixture
def open_app(dashboard_server) -> Callable:
    """``open_app(page, app, user) -> page``: load an app through the user's signed link and
    wait until it is interactive."""
    from workbench.dashboards.access import signed_link

    def _open(page, app: str, user: str, timeout_ms: int = APP_TIMEOUT_MS):
        url = signed_link(user, dashboard_server.settings, dashboard_server.base_url, app)
        # "commit": Voila streams the page while the kernel runs; readiness is checked below
        page.goto(url, timeout=timeout_ms, wait_until="commit")
        wait_interactive(page, timeout_ms)
        return page

    return _open


def value_text(page, name: str) -> str:
    """The text of a displayed figure (``ui.figure_value(name, ...)``)."""
    return page.locator(f".wb-value-{name} .wb-number").first.inner_text().strip()


def set_users(config: Path, **users: object) -> None:
    """Edit ``dashboards.users`` in a configuration file as an administrator would:
    ``user=[regions]`` or ``user="all"`` sets a user, ``user=None`` removes them."""
    import yaml

    tree = yaml.safe_load(config.read_text())
    for user, regions in users.items():
        if regions is None:
            tree["dashboards"]["users"].pop(user, None)
        else:
            tree["dashboards"]["users"][user] = {"regions": regions}
    config.write_text(yaml.safe_dump(tree, sort_keys=False))


def choose(page, name: str, option: str) -> None:
    """Pick ``option`` in the dropdown with CSS class ``wb-<name>``."""
    page.locator(f".wb-{name} select").select_option(option)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to tests/artifacts/screenshots/<name>.png (and, for an app's
    own name, to docs/images/<name>.png when $WORKBENCH_DOC_IMAGES is 1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # charts are drawn just after the figures of an update: wait until each chart has its plot
    page.wait_for_function(
        "() => [...document.querySelectorAll('.wb-app [class*=\"wb-chart-\"]')]"
        ".every(c => c.querySelector('.js-plotly-plot'))",
        timeout=30_000,
    )
    page.screenshot(path=str(path), full_page=True)
    from workbench.dashboards import APPS

    if os.environ.get(DOC_IMAGES_ENV) == "1" and name in APPS:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_IMAGES / f"{name}.png")
    return path


def set_slider(page, name: str, value: float) -> None:
    """Type a value into the slider's readout (as a user can) and confirm it."""
    readout = page.locator(f".wb-{name} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def run_app_notebook(path: Path, workdir: Path):
    """Run an app notebook in a real kernel (the caller sets the viewer's link in the
    environment), then a last cell that waits for the app and prints, as JSON, whether pyspark,
    py4j or the Jupyter server was ever imported and who the viewer is."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            # the app is built in its cell (ui.page_now): there when the cell returns
            "assert 'wb-app' in page.app._dom_classes, page.app\n"
            "import json, sys\nprint(json.dumps({'pyspark': 'pyspark' in sys.modules, "
            "'py4j': 'py4j' in sys.modules, 'jupyter_server': 'jupyter_server' in sys.modules, "
            "'user': viewer.user}))"
        )
    )
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return nb
