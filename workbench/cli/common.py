"""Options and error handling shared by every sub-command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.config import Settings, load_settings
from workbench.errors import WorkbenchError
from workbench.log import console, setup_logging

log = logging.getLogger("workbench")

_state: dict[str, Any] = {"config": None}


def root_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: $WORKBENCH_CONFIG or pipelines/config.yml "
            "found from the current folder up).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Analytical CRM workbench for a mobile operator."""
    setup_logging(verbose)
    _state["config"] = config


def settings(**overrides: Any) -> Settings:
    """Load settings; flags given on the command line (not None) override the file."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return load_settings(_state["config"], overrides=given)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the package's validation errors into one red line and exit status 2."""
    try:
        yield
    except WorkbenchError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
