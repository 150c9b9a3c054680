"""``workbench campaigns load-responses FILE``: campaign responses back into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

campaigns_app = typer.Typer(help="Campaign responses.", no_args_is_help=True)


@campaigns_app.command("load-responses")
def load_responses(
    file: Annotated[Path, typer.Argument(help="Responses, .csv or .parquet.")],
) -> None:
    """Validate a responses file, quarantine bad rows with reasons and load the rest."""
    from workbench.log import console

    with common.user_errors():
        settings = common.settings()
        from workbench.spark import get_spark
        from workbench.targets.responses import load_responses as load

        result = load(get_spark(settings.spark), settings, file)
    console.print(
        f"{result.source_file}: {result.n_read} read, {result.n_accepted} loaded, "
        f"{result.n_quarantined} quarantined",
        highlight=False,
    )
    for reason, n in sorted(result.by_reason.items()):
        console.print(f"  {reason:<20} {n:>7}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(campaigns_app, name="campaigns")
