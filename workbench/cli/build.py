"""``workbench build``, ``workbench runs`` and ``workbench tables``: the warehouse commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli import common

if TYPE_CHECKING:
    from workbench.warehouse.build import BuildResult

log = logging.getLogger("workbench")


def build(
    months: Annotated[
        str | None,
        typer.Option("--months", help="Month range YYYY-MM..YYYY-MM (default: every raw month)."),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master, e.g. spark://host:7077 (default: config)."),
    ] = None,
) -> None:
    """Build the warehouse (ODS, DWD, DWS, ADS) for some months and publish it atomically."""
    from workbench.log import console

    with common.user_errors():
        settings = common.settings(**{"spark.master": master})
        month_range = common.month_range_option(months)
        from workbench.spark import get_spark
        from workbench.warehouse.build import build_warehouse

        spark = get_spark(settings.spark)
        with common.progress_bar("build", "tables") as progress:
            result = build_warehouse(
                spark, settings, month_range, master=settings.spark.master, progress=progress
            )
        console.print(summary_table(result))


def summary_table(result: BuildResult):
    """The rich table printed after a build."""
    from rich.table import Table

    table = Table(title=f"build {result.run_id}: {', '.join(result.months)} ({result.status})")
    for name in ("table", "layer", "months", "read", "accepted", "quarantined", "written"):
        text = name in ("table", "layer")
        table.add_column(name, justify="left" if text else "right", no_wrap=text)
    for t in result.tables:
        span = f"{t.months[0]}..{t.months[-1]}" if t.months else "all"
        table.add_row(
            t.name,
            t.layer,
            span,
            *[
                "" if v is None else f"{v:,}"
                for v in (t.rows_read, t.rows_accepted, t.rows_quarantined, t.rows_written)
            ],
        )
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.quarantined_by_reason.items())
    table.caption = f"quarantined by reason: {reasons or 'none'}"
    return table


def runs(
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="Show the last N runs.")] = 20,
) -> None:
    """List the builds recorded in the run ledger."""
    from rich.table import Table

    from workbench.log import console
    from workbench.warehouse.ledger import read_runs

    with common.user_errors():
        records = read_runs(common.settings())[-last:]
        table = Table(title="warehouse builds")
        for name in (
            "run",
            "started",
            "ended",
            "months",
            "status",
            "master",
            "tables",
            "rows written",
            "quarantined",
            "error",
        ):
            table.add_column(name)
        for r in records:
            stats = r.get("tables", [])
            months = r.get("months") or []
            table.add_row(
                r.get("run_id", "?"),
                r.get("started_at", ""),
                r.get("ended_at", ""),
                f"{months[0]}..{months[-1]}" if months else "",
                r.get("status", "?"),
                r.get("master", ""),
                str(len(stats)),
                f"{sum(t.get('rows_written') or 0 for t in stats):,}",
                f"{sum((r.get('quarantined_by_reason') or {}).values()):,}",
                (r.get("error") or "")[:80],
            )
        console.print(table if records else "no builds recorded yet")


def tables_command(
    layer: Annotated[str | None, typer.Option("--layer", help="Only this layer.")] = None,
) -> None:
    """List the catalog: every table's layer, grain, keys and partitioning."""
    from rich.table import Table

    from workbench.catalog import LAYERS, tables
    from workbench.config import ConfigError
    from workbench.log import console

    with common.user_errors():
        if layer is not None and layer not in LAYERS:
            raise ConfigError(f"--layer: must be one of {', '.join(LAYERS)}")
        table = Table(title="catalog")
        for name in ("table", "layer", "grain", "keys", "partitions"):
            table.add_column(name)
        for t in tables(layer):  # type: ignore[arg-type]
            table.add_row(
                t.name, t.layer, t.grain, ", ".join(t.keys), ", ".join(t.partition_by) or "-"
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("runs")(runs)
    app.command("tables")(tables_command)
