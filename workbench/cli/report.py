"""``workbench report run``: execute a subject notebook for a period and write its report."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli import common

report_app = typer.Typer(
    help="Subject reports: executed notebooks and HTML under reports/.", no_args_is_help=True
)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``name=value`` pairs from ``-p``; values stay text and are typed by the subject's spec."""
    from workbench.analysis.errors import ParameterError

    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p {item!r}: expected name=value")
        pairs[name.strip()] = value
    return pairs


@report_app.command("run")
def run(
    subject: Annotated[
        str, typer.Argument(help="churn | cross_sell | channel_roi | campaign_roi | kpi_overview")
    ],
    period: Annotated[str, typer.Option("--period", help="Month analysed, YYYY-MM.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Notebook parameter name=value.")
    ] = None,
) -> None:
    """Run SUBJECT's notebook for a period through papermill and write the executed notebook and
    an HTML version without code under reports/<subject>/<period>/."""
    from workbench.log import console
    from workbench.params import coerce_overrides
    from workbench.reports import run_subject

    with common.user_errors():
        settings = common.settings()
        parameters = coerce_overrides(subject, parse_assignments(param or []))
        paths = run_subject(subject, period, parameters, settings)
        console.print(f"[green]{subject} {period}[/]: {paths.html}")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
