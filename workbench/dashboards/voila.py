"""The Voila command line that serves the apps (``workbench serve`` runs it, and the benchmark
runs it too for the floor of a page's time to interactive), and the notebook each app is served
from, written from one template (:func:`app_cells`): an app is a module with a ``build(settings,
viewer)``, its name in :data:`~workbench.dashboards.APPS` and this notebook."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: the code of every app's notebook; Voila shows no markdown or code, only what ``build`` makes
APP_CELLS = (
    """# heavy imports first: preheated kernels pay for them before anyone opens the page
from IPython.display import display

import duckdb  # noqa: F401
import ipywidgets  # noqa: F401
import plotly.graph_objects  # noqa: F401

from workbench.dashboards.{app} import build
from workbench.dashboards.access import open_session
from workbench.dashboards.ui import app_page, warm_up

warm_up()  # first-use costs of Plotly, DuckDB and pandas, paid here""",
    """# waits for the page request, then reads its link and the configuration as they are now:
# a preheated kernel ran the cell above before anyone asked
session = open_session()
viewer = session.viewer
# built here, before Voila sends the page (its charts once the browser shows it), and again
# when an action finds the viewer's access changed (expired link, user removed, other regions)
page = app_page(session, build)
display(page.box)""",
)


def app_cells(app: str) -> list[str]:
    """The code cells of ``app``'s notebook (``notebooks/dashboards/<app>.ipynb``)."""
    from workbench.dashboards import APPS

    if app not in APPS:
        raise ValueError(f"unknown app {app!r}; known: {', '.join(APPS)}")
    return [cell.replace("{app}", app) for cell in APP_CELLS]


def write_app_notebook(app: str, path: Path) -> bool:
    """Write ``app``'s notebook from :func:`app_cells`; False when it already agrees."""
    import nbformat

    if path.is_file():
        book = nbformat.read(str(path), as_version=4)
        if [c.source for c in book.cells] == app_cells(app) and all(
            c.cell_type == "code" for c in book.cells
        ):
            return False
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    book.cells = [nbformat.v4.new_code_cell(source) for source in app_cells(app)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, str(path))
    return True


def page_query_string() -> str:
    """The query string of the page this kernel serves (``""`` when there is none).

    A preheated kernel runs its notebook before anyone asks: here it waits for the page request,
    which Voila 0.5.13 (pinned) hands over on a websocket, ``<server>voila/query/<kernel id>``,
    as the request's environment variables (``QUERY_STRING`` among them), the protocol of
    ``voila.utils.wait_for_request``. A kernel Voila started for the request has them already.

    Our own client, not ``voila.utils.get_query_string``: importing ``voila.utils`` imports
    jupyter_server and jupyterlab_server into every kernel, which measured 1.4 CPU-seconds and
    67 MB alone, and about 2.7 of the 4 CPU-seconds a preheated kernel took to get ready on
    two busy cores (py-spy). The dashboard tests serve every app through it, preheated or not.
    """
    if os.environ.get("VOILA_PREHEAT", "False") == "False":
        return os.environ.get("QUERY_STRING", "")
    from websockets.sync.client import connect

    protocol = os.environ.get("VOILA_WS_PROTOCOL", "ws")
    host = os.environ.get("VOILA_APP_IP", "127.0.0.1")
    port = os.environ.get("VOILA_APP_PORT", "8866")
    base = os.environ.get("VOILA_WS_BASE_URL", os.environ.get("VOILA_SERVER_URL", "/"))
    url = f"{protocol}://{host}:{port}{base}voila/query/{os.environ.get('VOILA_KERNEL_ID')}"
    try:
        # no time limit on the wait itself: a pooled kernel waits as long as no one asks; and
        # no proxy: the server is this kernel's own, whatever HTTP(S)_PROXY the server was given
        with connect(url, open_timeout=5, proxy=None) as websocket:
            request = json.loads(websocket.recv())
    except (OSError, TimeoutError) as error:
        # as Voila does: the page then has no query string, and the app denies access
        log.warning("no page request from %s: %s", url, error)
        return os.environ.get("QUERY_STRING", "")
    os.environ.update({str(k): str(v) for k, v in request.items()})
    return os.environ.get("QUERY_STRING", "")


#: JupyterLab extensions the apps do not use (see :func:`voila_command`)
UNUSED_EXTENSIONS = (
    "jupyterlab-plotly",
    "jupyterlab_pygments",
    "@voila-dashboards/jupyterlab-preview",
)
#: Jupyter data folder of the workbench's Voila page template (``voila/templates/workbench``)
JUPYTER_DATA = Path(__file__).with_name("jupyter")
#: how long a page's cell may take to deliver its output after its reply (see voila_command)
IOPUB_TIMEOUT_SECONDS = 60
#: the page template the apps are served with (see its ``index.html.j2``)
PAGE_TEMPLATE = "workbench"


def plotly_js_dir() -> Path:
    """The plotly package's folder holding ``plotly.min.js`` (the version its figures expect)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data"


def voila_command(
    notebooks: Path,
    *,
    host: str,
    port: int,
    pool_size: int,
    cull_idle_seconds: int,
) -> list[str]:
    """The Voila command line: preheated kernels, idle culling, no tracebacks, no browser, and
    only the JupyterLab extensions the apps use.

    Plotly's extension is left out: Voila loads every extension before it shows a page, and that
    one is all of plotly.js, so each page waited for the chart library before anything else. The
    apps load plotly.js on their first chart instead (``ui.chart_html``), from the plotly
    package's own copy, which Voila serves through its extra extensions path. The Pygments
    extension styles code, and the apps show none; Voila's JupyterLab preview belongs in
    JupyterLab, not in a page.

    Pages use the workbench's template (:data:`PAGE_TEMPLATE`), Voila's ``lab`` page without
    its stylesheets from a CDN. What the browser console still shows are warnings, not errors:
    webpack's "Unsatisfied version 4.2.5 ... required ^4.5.10" (or ^4.6.2) of shared JupyterLab
    modules. Voila 0.5.13 ships a JupyterLab 4.2.5 front end and its own widget manager built
    against 4.5.10, and the widget extension (required: without it no widget renders) is built
    against 4.6; the older shared modules are used and the apps work.
    """
    command = [
        sys.executable,
        "-m",
        "workbench.dashboards.voila_server",  # Voila, its pages setting the _xsrf cookie
        str(notebooks),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={port}",
        "--show_tracebacks=False",
        "--strip_sources=True",
        f"--preheat_kernel={pool_size > 0}",
        f"--pool_size={pool_size}",
        "--VoilaKernelManager.fill_delay=0",
        # Kernels talk to the server over Unix sockets, not TCP ports. jupyter_client picks five
        # free ports per kernel and the kernel binds them a moment later; under a burst of
        # visits another process took one in between and the kernel died at start ("Address
        # already in use", the load test of 2026-12-05 night), leaving its page running for ever.
        "--KernelManager.transport=ipc",
        # After a cell's reply the executor waits this long for the kernel's remaining output
        # (nbclient's default: 4 s) and then drops it: under a burst of visits on busy cores
        # the page's own widget came later, and the page stayed blank (the load test's
        # "Timeout waiting for IOPub output"). Output normally follows within milliseconds.
        f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_SECONDS}",
        f"--VoilaConfiguration.template={PAGE_TEMPLATE}",
        f"--VoilaConfiguration.extension_denylist={list(UNUSED_EXTENSIONS)}",
        f"--VoilaConfiguration.extra_labextensions_path={[str(plotly_js_dir())]}",
    ]
    if cull_idle_seconds > 0:
        command += [
            f"--MappingKernelManager.cull_idle_timeout={cull_idle_seconds}",
            f"--MappingKernelManager.cull_interval={max(1, min(60, cull_idle_seconds // 2))}",
            "--MappingKernelManager.cull_connected=True",
        ]
    return command
