"""``workbench serve``: the Voila apps for managers; ``workbench serve link USER``: a signed link.

Voila runs the notebooks of ``notebooks/dashboards/`` with preheated kernels (each app's imports
and setup run before anyone asks, so a page opens at once) and shuts down kernels left idle. The
project's configuration reaches every kernel through ``WORKBENCH_CONFIG``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common
from workbench.dashboards import APPS
from workbench.dashboards.voila import voila_command

log = logging.getLogger(__name__)

serve_app = typer.Typer(
    help="Voila decision-support apps: `workbench serve` starts them, "
    "`workbench serve link USER` prints a user's signed link."
)


def dashboards_dir(root: Path) -> Path:
    """The project's ``notebooks/dashboards``, else the one shipped beside the package."""
    for candidate in (root / "notebooks" / "dashboards",):
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "notebooks" / "dashboards"


@serve_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes the apps to the LAN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8866,
    pool_size: Annotated[
        int | None, typer.Option("--pool-size", help="Preheated kernels per app.")
    ] = None,
) -> None:
    """Start Voila on HOST:PORT serving the dashboard apps (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return
    from workbench.config import CONFIG_ENV, ConfigError, find_config
    from workbench.dashboards.access import _secret

    with common.user_errors():
        settings = common.settings()
        config = Path(common._state["config"] or find_config()).resolve()
        _secret(settings)  # create it once here, not racing in the kernels
        cfg = settings.dashboards
        pool = cfg.pool_size if pool_size is None else pool_size
        if cfg.kernel_limit() <= pool * len(APPS):
            raise ConfigError(
                f"dashboards.max_kernels: {cfg.kernel_limit()} leaves no kernel for a page once "
                f"the {pool * len(APPS)} preheated ones ({pool} per app) are up; raise it or "
                "lower dashboards.pool_size"
            )
        notebooks = dashboards_dir(settings.root)
        command = voila_command(
            notebooks,
            host=host,
            port=port,
            pool_size=pool,
            cull_idle_seconds=cfg.cull_idle_seconds,
        )
    env = {**os.environ, CONFIG_ENV: str(config)}
    log.info("serving %s on http://%s:%d (config %s)", notebooks, host, port, config)
    # Become Voila (exec, not a child): a service manager's SIGTERM then reaches the server
    # itself, which shuts its kernels down, instead of orphaning them.
    os.execve(command[0], command, env)


@serve_app.command("link")
def link(
    user: Annotated[str, typer.Argument(help="A user of dashboards.users in the configuration.")],
    base_url: Annotated[
        str, typer.Option("--base-url", help="Where the apps are served.")
    ] = "http://127.0.0.1:8866",
    app: Annotated[
        str | None,
        typer.Option("--app", help=" | ".join(APPS)),
    ] = None,
) -> None:
    """Print USER's signed link (valid for dashboards.link_ttl_hours)."""
    from workbench.dashboards.access import signed_link

    with common.user_errors():
        settings = common.settings()
        typer.echo(signed_link(user, settings, base_url, app))


@serve_app.command("notebooks")
def notebooks() -> None:
    """Write each app's notebook under notebooks/dashboards/ from the one template (after
    adding an app to workbench.dashboards.APPS, or to mend one edited by hand)."""
    from workbench.dashboards.voila import write_app_notebook

    with common.user_errors():
        folder = dashboards_dir(common.settings().root)
        for name in APPS:
            written = write_app_notebook(name, folder / f"{name}.ipynb")
            typer.echo(f"{name}.ipynb: {'written' if written else 'already in agreement'}")


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
