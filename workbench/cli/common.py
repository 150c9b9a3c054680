"""Options and error handling shared by every sub-command."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.config import ConfigError, Settings, load_settings
from workbench.errors import WorkbenchError
from workbench.log import console, setup_logging
from workbench.months import MonthRange, parse_month_range

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


def month_range_option(text: str | None) -> MonthRange | None:
    """Parse a ``--months`` value; a bad one is a user error naming the option."""
    if text is None:
        return None
    try:
        return parse_month_range(text)
    except ValueError as exc:
        raise ConfigError(f"--months: {exc}") from None


@contextmanager
def progress_bar(label: str, unit: str = "") -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress bar for long work; yields the ``(step, done, total)`` callback the
    package's long-running functions accept."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}".rstrip()),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(step: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{label}: {step}")

        yield advance
