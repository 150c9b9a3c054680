"""The Voila command line that serves the apps: ``workbench serve`` runs it, and the benchmark
runs it too for the floor of a page's time to interactive."""

from __future__ import annotations

import sys
from pathlib import Path

#: JupyterLab extensions the apps do not use (see :func:`voila_command`)
UNUSED_EXTENSIONS = ("jupyterlab-plotly", "jupyterlab_pygments")


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
    extension styles code, and the apps show none.
    """
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebooks),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={port}",
        "--show_tracebacks=False",
        "--strip_sources=True",
        f"--preheat_kernel={pool_size > 0}",
        f"--pool_size={pool_size}",
        "--VoilaKernelManager.fill_delay=0",
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
