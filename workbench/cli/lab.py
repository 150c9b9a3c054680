"""``workbench lab``: JupyterLab on the project (see :mod:`workbench.lab`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

log = logging.getLogger("workbench")


def lab(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8888,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open a browser on the lab.")
    ] = False,
) -> None:
    """Start JupyterLab at the project root with the workbench kernel; prints the URL to open
    (Ctrl-C stops it)."""
    from workbench.config import find_config
    from workbench.lab import KERNEL_NAME, lab_launch

    with common.user_errors():
        settings = common.settings()
        config = Path(common._state["config"] or find_config()).resolve()
        launch = lab_launch(settings.root, config, port, open_browser=browser)
    typer.echo(f"JupyterLab on {settings.root} (kernel {KERNEL_NAME}, config {config})")
    typer.echo(f"open: {launch.url}", color=False)
    # Become the server (exec): Ctrl-C and a service manager's signals reach Jupyter itself,
    # which shuts its kernels down.
    os.execve(launch.command[0], launch.command, {**os.environ, **launch.env})


def register(app: typer.Typer) -> None:
    app.command("lab")(lab)
