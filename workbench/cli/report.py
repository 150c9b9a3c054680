"""``workbench report run | list | due``: subject reports, their ledger and their schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli import common
from workbench.subjects import SUBJECTS

if TYPE_CHECKING:
    from workbench.reports.runner import RunOutcome

report_app = typer.Typer(
    help="Subject reports: executed notebooks and HTML under reports/, the run ledger and "
    "scheduled runs.",
    no_args_is_help=True,
)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``name=value`` pairs from ``-p``; values stay text and are typed by the subject's spec."""
    from workbench.errors import ParameterError

    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p {item!r}: expected name=value")
        pairs[name.strip()] = value
    return pairs


def _summary(outcomes: list[RunOutcome], title: str):
    from rich.table import Table

    table = Table(title=title)
    for name in ("subject", "period", "region", "status", "seconds", "cell", "error", "report"):
        table.add_column(name)
    for o in outcomes:
        r, error = o.record, o.record.get("error") or {}
        table.add_row(
            r["subject"],
            r["period"],
            r.get("region") or "ALL",
            f"[{'green' if o.ok else 'red'}]{r['status']}[/]",
            f"{r['seconds']:.1f}",
            "" if error.get("cell") is None else str(error["cell"]),
            f"{error.get('ename', '')}: {error.get('evalue', '')}"[:100] if error else "",
            str(o.paths.html if o.paths else r.get("notebook_path") or ""),
        )
    return table


@report_app.command("run")
def run(
    subject: Annotated[str, typer.Argument(help=f"One of: {', '.join(SUBJECTS)}.")],
    period: Annotated[str, typer.Option("--period", help="Month analysed, YYYY-MM.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Notebook parameter name=value.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="A region id, or 'all' for one report per region of dwd_dim_region "
            "(subjects with a region_id parameter).",
        ),
    ] = None,
    regions: Annotated[
        str | None,
        typer.Option("--regions", help="With --region all: only these regions, e.g. GZ,SZ."),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout", min=1, help="Wall-clock seconds per run (reports.timeout_seconds)."
        ),
    ] = None,
) -> None:
    """Run SUBJECT's notebook for a period through papermill and write the executed notebook and
    an HTML version without code under reports/<subject>/<period>/[<region>/]. Exits 1 when a
    run fails (the partial notebook is kept), 2 on a bad parameter."""
    from workbench.errors import ParameterError
    from workbench.log import console
    from workbench.params import coerce_overrides
    from workbench.reports.runner import execute_report, run_regions

    with common.user_errors():
        settings = common.settings()
        texts = parse_assignments(param or [])
        parameters = coerce_overrides(subject, texts) if texts else {}
        if regions and (region or "").lower() != "all":
            raise ParameterError("--regions: only with --region all")
        if region is not None and region.lower() == "all":
            chosen = [r.strip() for r in regions.split(",") if r.strip()] if regions else None
            outcomes = run_regions(
                subject, period, parameters, settings, regions=chosen, wall_timeout=timeout
            )
        else:
            outcomes = [
                execute_report(
                    subject, period, parameters, settings, region=region, wall_timeout=timeout
                )
            ]
    failed = [o for o in outcomes if not o.ok]
    if len(outcomes) > 1:
        console.print(_summary(outcomes, f"{subject} {period}: {len(outcomes)} regions"))
    for o in outcomes:
        if o.ok:
            console.print(f"[green]{o.describe()}[/]: {o.paths.html}", highlight=False)
        else:
            console.print(f"[bold red]failed:[/] {o.describe()}", highlight=False)
    if failed:
        raise typer.Exit(1)


@report_app.command("list")
def list_runs(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only failed or timed-out runs.")
    ] = False,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="Show the last N runs.")] = 30,
) -> None:
    """List the report runs recorded in the ledger (reports/_ledger/runs.jsonl), newest last."""
    from rich.table import Table

    from workbench.log import console
    from workbench.reports.ledger import read_runs

    with common.user_errors():
        records = read_runs(common.settings(), subject=subject, failed=failed)[-last:]
    table = Table(title="report runs")
    for name in ("run", "subject", "period", "region", "status", "seconds", "schedule", "error"):
        table.add_column(name)
    for r in records:
        error = r.get("error") or {}
        text = ""
        if error:
            cell = f"cell {error['cell']}: " if error.get("cell") is not None else ""
            text = f"{cell}{error.get('ename')}: {error.get('evalue')}"[:100]
        table.add_row(
            r.get("run_id", "?"),
            r.get("subject", ""),
            r.get("period", ""),
            r.get("region") or "ALL",
            r.get("status", "?"),
            f"{float(r.get('seconds') or 0):.1f}",
            (r.get("schedule") or "")
            + (f" @ {r['scheduled_for']}" if r.get("scheduled_for") else ""),
            text,
        )
    console.print(table if records else "no report runs recorded yet")


@report_app.command("prune")
def prune(
    keep: Annotated[
        int | None,
        typer.Option("--keep", help="Run folders kept per report (default: reports.keep_runs)."),
    ] = None,
) -> None:
    """Delete all but the newest run folders of every report (runs still going are kept).

    Every run does this for its own report; this command catches up after keep_runs was lowered.
    """
    from workbench.log import console
    from workbench.reports.prune import prune_reports

    if keep is not None and keep < 1:
        raise typer.BadParameter(f"{keep} must be at least 1", param_hint="--keep")
    with common.user_errors():
        removed = prune_reports(common.settings(), keep)
    console.print(f"removed {len(removed)} run folder(s)")


@report_app.command("due")
def due(
    at: Annotated[
        str | None,
        typer.Option("--at", help="Act as if it were this time (ISO, naive = UTC); default now."),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only this schedule (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due without running it.")
    ] = False,
    mail_dry_run: Annotated[
        bool,
        typer.Option(
            "--mail-dry-run",
            help="Run what is due but write the mail to reports/_outbox_dry_run/ instead of "
            "sending it.",
        ),
    ] = False,
) -> None:
    """Run every scheduled report (reports.schedules, default pipelines/schedules.yml) whose
    time has come since its last successful run, catching up missed runs, each once; then mail
    each subscriber (delivery.subscriptions) their copy and each failed run's owner a notice,
    each message once, retrying earlier failed deliveries. Call it from cron, a systemd timer or
    Airflow; exits 1 when a report or a delivery failed."""
    from rich.table import Table

    from workbench.log import console
    from workbench.reports.delivery import due_and_deliver
    from workbench.reports.schedule import parse_at

    with common.user_errors():
        settings = common.settings()
        moment = parse_at(at)
        results, delivery = due_and_deliver(
            settings, moment, names=only, dry_run=dry_run, mail_dry_run=mail_dry_run
        )
    table = Table(title=f"scheduled reports at {moment.isoformat(timespec='minutes')}")
    for name in ("schedule", "state", "fire times", "periods", "note"):
        table.add_column(name)
    for r in results:
        periods = sorted({p for _, _, p in r.planned})
        note = r.message
        if r.dropped:
            note += f" {r.dropped} older fire times not caught up"
        table.add_row(
            r.schedule,
            f"[{'red' if r.failed else 'green'}]{r.state}[/]",
            str(len(r.planned)),
            ", ".join(periods),
            note.strip(),
        )
    console.print(table if results else "no enabled schedules")
    for r in results:
        for o in r.outcomes:
            if not o.ok:
                console.print(f"[bold red]failed:[/] {r.schedule}: {o.describe()}", highlight=False)
    if delivery.records:
        console.print(_outbox_table(delivery.records, "mail"))
    if any(r.failed for r in results) or delivery.failed:
        raise typer.Exit(1)


def _outbox_table(records: list[dict], title: str):
    from rich.table import Table

    table = Table(title=title)
    for name in ("at", "status", "kind", "recipient", "schedule", "fire time", "region", "note"):
        table.add_column(name)
    for r in records:
        colour = {"sent": "green", "failed": "red"}.get(r.get("status", ""), "yellow")
        table.add_row(
            r.get("at", ""),
            f"[{colour}]{r.get('status', '?')}[/]",
            r.get("kind", ""),
            f"{r.get('recipient', '')} <{r.get('to', '')}>",
            r.get("schedule", ""),
            r.get("fire_time", ""),
            r.get("region") or "ALL",
            (r.get("error") or r.get("path") or "")[:100],
        )
    return table


@report_app.command("outbox")
def outbox(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only messages whose last attempt failed.")
    ] = False,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="Show the last N records.")] = 50,
) -> None:
    """List the mail ledger (reports/_ledger/outbox.jsonl): each message claimed, sent, failed
    (with the server's error) or written by a dry run, newest last. Failed ones are sent again
    by the next `report due`."""
    from workbench.log import console
    from workbench.reports.outbox import read_outbox

    with common.user_errors():
        records = read_outbox(common.settings(), failed=failed)[-last:]
    console.print(_outbox_table(records, "outbox") if records else "no messages recorded")


@report_app.command("params")
def params(
    subject: Annotated[str, typer.Argument(help=f"One of: {', '.join(SUBJECTS)}.")],
    write: Annotated[
        bool,
        typer.Option("--write", help="Write the notebook's parameters cell from the declaration."),
    ] = False,
) -> None:
    """The parameters a subject takes (``-p name=value`` of ``report run``): type, default,
    allowed values, meaning; declared once in workbench/params.py."""
    from rich.table import Table

    from workbench.log import console
    from workbench.params import spec_of
    from workbench.reports.paths import write_parameters_cell

    with common.user_errors():
        spec = spec_of(subject)
        table = Table(title=f"{subject} parameters")
        for column in ("name", "type", "default", "allowed", "meaning"):
            table.add_column(column, no_wrap=column in ("name", "type", "default"))
        for name, param in spec.items():
            table.add_row(name, param.type.__name__, repr(param.default), param.allowed, param.help)
        console.print(table)
        if write:
            changed = write_parameters_cell(subject)
            console.print(f"{subject}.ipynb: {'written' if changed else 'already in agreement'}")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
