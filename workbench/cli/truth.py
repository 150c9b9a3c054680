"""``workbench truth``: planted against recovered for every effect of the synthetic operator."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli import common

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger("workbench")

#: how each status reads on the terminal
STYLES = {"PASS": "green", "FAIL": "bold red", "n/a": "yellow"}

#: the reports whose result marts the truth table reads (ads_churn_drivers, ads_basket_rules)
READ_REPORTS = ("churn", "cross_sell")


def project_in(workdir: Path, source: Callable[[], Settings]) -> Settings:
    """The settings of a project of its own in ``workdir``: made on first use with a copy of the
    ``pipelines/`` YAML of the project ``source`` loads (only then), so its data, warehouse and
    reports stay in it (and the report kernels, which read the project's config file, see the
    same project)."""
    from workbench.config import DEFAULT_CONFIG, load_settings
    from workbench.errors import InputDataError

    config = workdir.resolve() / DEFAULT_CONFIG
    if not config.is_file():
        config.parent.mkdir(parents=True, exist_ok=True)
        for path in sorted((source().root / DEFAULT_CONFIG).parent.glob("*.yml")):
            shutil.copy(path, config.parent / path.name)
    settings = load_settings(config)
    for folder in (settings.raw_dir, settings.warehouse_dir):
        if not folder.is_relative_to(settings.root):  # e.g. a WORKBENCH__PATHS__ override
            raise InputDataError(
                f"{folder} is outside {settings.root}: the truth run writes its own operator "
                "and warehouse there; unset the WORKBENCH__PATHS__ overrides"
            )
    return settings


def prepare(settings: Settings, profile: str, seed: int | None) -> str:
    """Generate the ``profile`` operator in the project (unless the same profile and seed are
    there), build its warehouse and run the reports the truth table reads; returns the month."""
    from workbench.cli.demo import existing_manifest, needs_generation
    from workbench.generate import generate_operator
    from workbench.reports import run_subject
    from workbench.spark import get_spark
    from workbench.warehouse.build import build_warehouse

    seed = settings.generator.seed if seed is None else seed
    settings.profile(profile)  # fail on an unknown profile before Spark starts
    spark = get_spark(settings.spark)
    if needs_generation(existing_manifest(settings), profile, seed):
        with common.progress_bar(f"generating {profile}", "extracts") as advance:
            generate_operator(spark, settings, profile=profile, seed=seed, on_table=advance)
    else:
        log.info("reusing the %s operator (seed %d) in %s", profile, seed, settings.raw_dir)
    with common.progress_bar("build", "tables") as advance:
        result = build_warehouse(spark, settings, master=settings.spark.master, progress=advance)
    period = result.months[-1]
    for subject in READ_REPORTS:
        log.info("running the %s report for %s", subject, period)
        run_subject(subject, period, settings=settings)
    return period


def truth(
    period: Annotated[
        str | None,
        typer.Option("--period", help="Month checked, YYYY-MM (default: the operator's last)."),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Project folder of its own: generate --profile there, build, run the churn and "
            "cross-sell reports, then check (made with a copy of pipelines/ on first use).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="Scale profile generated in --workdir (default: truth)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Generator seed in --workdir (default: generator.seed)."),
    ] = None,
) -> None:
    """Check every planted effect against what the analyses recover; exit 1 if a row fails.

    Run the churn and cross-sell reports of the period first: their drivers and rules are read
    from the marts those reports write. With --workdir the whole sequence runs in that folder on
    the truth profile, sized for the campaign, competition and churn rows (`make truth`).
    """
    from rich.table import Table

    from workbench.errors import ParameterError
    from workbench.log import console
    from workbench.subjects.truth import COLUMNS, failed, run

    with common.user_errors():
        if workdir is None:
            if profile is not None or seed is not None:
                raise ParameterError("--profile and --seed need --workdir (a project of its own)")
            settings = common.settings()
        else:
            settings = project_in(workdir, common.settings)
            made = prepare(settings, profile or "truth", seed)
            period = period or made
        table = run(settings, period)
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
