"""``workbench truth``: planted against recovered for every effect of the synthetic operator."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli import common

#: how each status reads on the terminal
STYLES = {"PASS": "green", "FAIL": "bold red", "n/a": "yellow"}


def truth(
    period: Annotated[
        str | None,
        typer.Option("--period", help="Month checked, YYYY-MM (default: the operator's last)."),
    ] = None,
) -> None:
    """Check every planted effect against what the analyses recover; exit 1 if a row fails.

    Run the churn and cross-sell reports of the period first: their drivers and rules are read
    from the marts those reports write.
    """
    from rich.table import Table

    from workbench.log import console
    from workbench.subjects.truth import COLUMNS, failed, run

    with common.user_errors():
        table = run(common.settings(), period)
    shown = Table(title="planted against recovered 植入效应与分析结果")
    for name in COLUMNS.values():
        shown.add_column(name, overflow="fold")
    for row in table.itertuples(index=False):
        values = [str(getattr(row, column)) for column in COLUMNS]
        values[-1] = f"[{STYLES[row.status]}]{row.status}[/]"
        shown.add_row(*values)
    console.print(shown)
    bad = failed(table)
    for row in bad.itertuples(index=False):  # one plain line each, for logs and schedulers
        console.print(f"FAIL {row.effect}: {row.recovered}; {row.tolerance}", highlight=False)
    console.print(
        f"{len(table) - len(bad)} of {len(table)} rows hold"
        + (f"; {len(bad)} failed" if len(bad) else ""),
        highlight=False,
    )
    if len(bad):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``truth`` command to the ``workbench`` app."""
    app.command("truth")(truth)
