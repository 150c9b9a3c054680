"""Access is checked again at every action of an open page: a user removed from the
configuration or whose link expired is denied on their next action and reads and exports nothing;
a user given other regions gets a page for those; a preheated kernel uses the configuration as it
is when the page is requested. Every app in-process first, then the churn app in a real browser
served by its own ``workbench serve`` (whose configuration the tests edit)."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import psutil
import pytest
import yaml
from playwright.sync_api import expect

from tests.conftest import PROJECT_ROOT
from tests.dashboards.conftest import (
    Server,
    choose,
    server_kernels,
    set_users,
    start_server,
    stop_server,
    wait_interactive,
)
from workbench.config import load_settings
from workbench.dashboards import (
    access,
    channel_whatif,
    churn_retention,
    cross_sell,
    kpi_cockpit,
    subjects,
    ui,
)

#: app -> its build and an action on it: (control's wb- name, a new value)
APPS = {
    "kpi_cockpit": (kpi_cockpit.build, "lang", "zh"),
    "churn_retention": (churn_retention.build, "threshold", 0.2),
    "cross_sell": (cross_sell.build, "min-lift", 1.5),
    "channel_whatif": (channel_whatif.build, "margin", 0.5),
    "subjects": (subjects.build, "subject", "revenue"),
}


@pytest.fixture
def own_config(dashboard_project, monkeypatch) -> Iterator[Path]:
    """A configuration file of the dashboard project's own (the same root, marts and secret)
    that a test may edit without touching the shared server's."""
    monkeypatch.delenv(access.SECRET_ENV, raising=False)
    pipelines = dashboard_project.root / "pipelines"
    path = pipelines / f"config_{uuid.uuid4().hex[:8]}.yml"
    shutil.copy(pipelines / "config.yml", path)
    yield path
    path.unlink(missing_ok=True)


def _under(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    """``widget`` and every widget it shows: its children and its outputs' widgets."""
    from ipywidgets.widgets.widget import _instances

    stack = [widget]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "children", ()))
        for output in getattr(node, "outputs", ()):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and view["model_id"] in _instances:
                stack.append(_instances[view["model_id"]])


def _find(widget: widgets.Widget, name: str) -> widgets.Widget:
    """The widget of class ``wb-<name>`` under ``widget``."""
    for node in _under(widget):
        if f"wb-{name}" in getattr(node, "_dom_classes", ()):
            return node
    raise LookupError(f"no widget of class wb-{name}")


def _markup(widget: widgets.Widget) -> str:
    """The markup of every HTML widget and every HTML output under ``widget``."""
    parts = []
    for node in _under(widget):
        if isinstance(node, widgets.HTML):
            parts.append(node.value)
        for output in getattr(node, "outputs", ()):
            parts.append(str(output.get("data", {}).get("text/html", "")))
    return "\n".join(parts)


def _rows(table_html: str) -> list[list[str]]:
    """The cells of each body row of a pandas HTML table."""
    body = table_html.split("<tbody>", 1)[1]
    return [
        re.findall(r"<td>(.*?)</td>", row, re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _session(config: Path, user: str, **kwargs) -> access.Session:
    token = access.issue_token(user, access.settings_now(config))
    return access.Session(token, config, **kwargs)


@pytest.fixture
def record_reads(monkeypatch) -> Callable[[], list[str]]:
    """Call to start recording every DuckDB query (each mart read goes through one)."""
    import duckdb

    reads: list[str] = []

    def start() -> list[str]:
        for name in ("connect", "sql", "query"):
            monkeypatch.setattr(duckdb, name, lambda *a, _n=name, **k: reads.append(_n))
        return reads

    return start


@pytest.mark.parametrize("app", list(APPS))
def test_a_user_removed_while_the_page_is_open_is_denied_on_the_next_action(
    app, own_config, record_reads
):
    build, control, value = APPS[app]
    page = ui.app_page(_session(own_config, "gz_manager"), build)
    before = page.app
    assert "wb-app" in before._dom_classes and "access denied" not in _markup(before)

    set_users(own_config, gz_manager=None)
    reads = record_reads()
    _find(before, control).value = value
    after = page.app
    assert after is not before and "wb-app" in after._dom_classes
    text = _markup(after)
    assert "access denied" in text and "no longer configured" in text
    assert "wb-value" not in text and not reads  # nothing shown, nothing read


def test_a_removed_user_clicking_export_exports_nothing(own_config, record_reads, monkeypatch):
    page = ui.app_page(_session(own_config, "gz_manager"), churn_retention.build)
    before = page.app
    set_users(own_config, gz_manager=None)
    launched: list[object] = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: launched.append(a))
    reads = record_reads()
    _find(before, "export").click()
    assert not launched and not reads  # no export child, no read
    assert "no longer configured" in _markup(page.app)


def test_an_expired_link_is_denied_on_the_next_action(own_config):
    class Clock:
        now = time.time()

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    session = access.Session(
        access.issue_token("gz_manager", access.settings_now(own_config), now=clock.now),
        own_config,
        clock=clock,
    )
    page = ui.app_page(session, churn_retention.build)
    before = page.app
    clock.now += access.settings_now(own_config).dashboards.link_ttl_hours * 3600 + 1
    _find(before, "threshold").value = 0.3
    text = _markup(page.app)
    assert "access denied: the link has expired" in text and "wb-value" not in text


def test_regions_narrowed_in_the_configuration_apply_on_the_next_action(own_config):
    set_users(own_config, south=["GZ", "SZ"])
    page = ui.app_page(_session(own_config, "south"), churn_retention.build)
    before = page.app
    assert _find(before, "region").options == ("ALL", "GZ", "SZ")

    set_users(own_config, south=["GZ"])
    segment = _find(before, "segment")
    segment.value = segment.options[1]
    after = page.app
    assert after is not before and "access denied" not in _markup(after)
    assert _find(after, "region").options == ("GZ",)
    assert "wb-scope'>GZ</b>" in _markup(after)
    rows = _rows(_find(after, "table-at-risk").value)
    assert rows and {row[3] for row in rows} == {"GZ"}  # the region column


# --------------------------------------------------------------------------- in a browser

#: how long the browser test's link lives: the page opens on a preheated kernel in a second or
#: two, so the short lifetime is tried first (the test then waits that long for the expiry); the
#: long one only if the page took longer to open than the short one lasted (a busy machine)
LINK_LIFETIMES_S = (8, 30)


@pytest.fixture(scope="module")
def live_server(dashboard_project, tmp_path_factory) -> Iterator[Server]:
    """``workbench serve`` of a project that reads the dashboard project's marts and serves the
    churn app only (one preheated kernel), with a configuration of its own."""
    root = tmp_path_factory.mktemp("live_access")
    shutil.copytree(
        dashboard_project.root / "pipelines",
        root / "pipelines",
        ignore=shutil.ignore_patterns("config_*.yml"),
    )
    config = root / "pipelines" / "config.yml"
    tree = yaml.safe_load(config.read_text())
    tree.setdefault("paths", {}).update(
        raw=str(dashboard_project.raw_dir), warehouse=str(dashboard_project.warehouse_dir)
    )
    config.write_text(yaml.safe_dump(tree, sort_keys=False))
    set_users(config, south=["GZ", "SZ"])
    notebooks = root / "notebooks" / "dashboards"
    notebooks.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "notebooks" / "dashboards" / "churn_retention.ipynb", notebooks)
    server = start_server(
        load_settings(config, environ={}), tmp_path_factory.mktemp("live_serve") / "serve.log"
    )
    yield server
    stop_server(server.process)


@pytest.fixture
def live_config(live_server) -> Iterator[Path]:
    """The live server's configuration file, restored after the test."""
    path = live_server.settings.root / "pipelines" / "config.yml"
    original = path.read_text()
    yield path
    path.write_text(original)


def wait_preheated(server: Server, besides: frozenset[int] = frozenset()) -> None:
    """Wait until a kernel (other than the ``besides`` pids: started later) has run the notebook
    up to waiting for its page request. ``voila.page_query_string`` then holds a websocket to
    the server's port: the only connection a kernel opens to it, closed once the request came."""
    port = int(server.base_url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for kernel in server_kernels(server):
            try:
                if kernel.pid not in besides and any(
                    c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                    for c in kernel.net_connections("tcp")
                ):
                    return
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.5)
    raise TimeoutError("no preheated kernel waits for a page request")


def _open(page, server: Server, token: str) -> None:
    url = f"{server.base_url}/voila/render/churn_retention.ipynb?{access.TOKEN_PARAM}={token}"
    page.goto(url, wait_until="commit")
    wait_interactive(page)


def _wait_text(page, text: str) -> str:
    page.wait_for_function("t => document.querySelector('.wb-app').innerText.includes(t)", arg=text)
    return page.locator(".wb-app").inner_text()


def test_in_a_browser_a_removed_user_is_denied_on_the_next_click_and_nothing_is_exported(
    live_server, live_config, page
):
    _open(page, live_server, access.issue_token("gz_manager", access.settings_now(live_config)))
    assert page.locator(".wb-table-at-risk").count() == 1
    exports = live_server.settings.targets_dir
    files = sorted(exports.rglob("*")) if exports.exists() else []

    set_users(live_config, gz_manager=None)
    page.locator(".wb-campaign input").fill("removed_user_list")
    page.locator(".wb-export").click()
    text = _wait_text(page, "access denied")
    assert "no longer configured" in text
    assert page.locator(".wb-export, .wb-value, .wb-table-at-risk").count() == 0
    time.sleep(3)  # an export would have started its child process by now
    children = psutil.Process(live_server.process.pid).children(recursive=True)
    assert not [p for p in children if "workbench.dashboards.data" in " ".join(p.cmdline())]
    assert (sorted(exports.rglob("*")) if exports.exists() else []) == files


def test_in_a_browser_an_expired_link_is_denied_on_the_next_action(live_server, live_config, page):
    settings = access.settings_now(live_config)
    for lifetime in LINK_LIFETIMES_S:
        wait_preheated(live_server)
        expires = time.time() + lifetime
        token = access.issue_token(
            "gz_manager", settings, now=expires - settings.dashboards.link_ttl_hours * 3600
        )
        _open(page, live_server, token)
        if "access denied" not in page.locator(".wb-app").inner_text():
            break
    else:
        pytest.fail(f"the page took longer to open than the link's {lifetime} s")
    options = page.locator(".wb-segment select option").all_inner_texts()
    time.sleep(max(0.0, expires + 1.5 - time.time()))
    choose(page, "segment", options[1])
    text = _wait_text(page, "access denied")
    assert "the link has expired" in text and page.locator(".wb-value").count() == 0


def test_in_a_browser_narrowed_regions_apply_on_the_next_action_and_in_preheated_kernels(
    live_server, live_config, page
):
    token = access.issue_token("south", access.settings_now(live_config))
    running = frozenset(k.pid for k in server_kernels(live_server))
    _open(page, live_server, token)
    # the frame is visible before its widgets are drawn: expect() waits for them
    expect(page.locator(".wb-region select option")).to_have_text(["ALL", "GZ", "SZ"])
    # the next page's kernel runs the notebook up to the request under the old configuration
    wait_preheated(live_server, besides=running)

    set_users(live_config, south=["GZ"])
    options = page.locator(".wb-segment select option").all_inner_texts()
    choose(page, "segment", options[1])
    page.wait_for_function(
        "() => [...document.querySelectorAll('.wb-region select option')]"
        ".map(o => o.innerText).join() == 'GZ'"
    )
    expect(page.locator(".wb-scope")).to_have_text("GZ")
    regions = page.locator(".wb-table-at-risk td:nth-child(4)").all_inner_texts()
    assert regions and set(regions) == {"GZ"}

    second = page.context.new_page()
    _open(second, live_server, token)  # the preheated kernel, its settings read on request
    expect(second.locator(".wb-region select option")).to_have_text(["GZ"])
    expect(second.locator(".wb-scope")).to_have_text("GZ")
