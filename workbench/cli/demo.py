"""``workbench demo``: the main job behind ``make demo``.

Generates the synthetic operator (unless the same profile and seed are already there), builds the
warehouse, runs the subject reports and says where everything is.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli import common

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger("workbench")


def existing_manifest(settings: Settings) -> dict | None:
    """The raw folder's manifest, or None when nothing was generated yet."""
    path = settings.raw_dir / "_manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def needs_generation(manifest: dict | None, profile: str, seed: int) -> bool:
    return manifest is None or (manifest.get("profile"), manifest.get("seed")) != (profile, seed)


def alerts_table(settings: Settings, month: str, limit: int = 12):
    """The latest month's KPI alerts at province and region level, the most serious first (the
    KPI report's ranking and sentences)."""
    from rich.table import Table

    from workbench.catalog.kpis import load_kpis
    from workbench.marts import read_mart
    from workbench.subjects import kpi_overview

    alerts = read_mart("ads_kpi_alerts", settings, months=[month])
    alerts = alerts[(alerts["segment"] == "ALL") & (alerts["plan_type"] == "ALL")]
    dictionary = kpi_overview.dictionary_frame(
        load_kpis(settings.resolve(settings.warehouse.kpi_dictionary))
    )
    ranked = kpi_overview.alert_sentences(alerts, dictionary, kpi_overview.region_names(settings))
    table = Table(title=f"KPI alerts {month}: {len(alerts)} at province and region level")
    table.add_column("alert")
    table.add_column("告警")
    for row in ranked.head(limit).itertuples():
        colour = "red" if row.severity == "alarm" else "yellow"
        table.add_row(f"[{colour}]{row.sentence_en}[/]", f"[{colour}]{row.sentence_zh}[/]")
    return table


def demo(
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Scale profile from pipelines/config.yml.")
    ] = "demo",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Generator seed (default: generator.seed).")
    ] = None,
) -> None:
    """Generate the demo operator, build the warehouse and print a summary."""
    from workbench.cli.build import summary_table
    from workbench.docs.site import build_docs
    from workbench.generate import generate_operator
    from workbench.log import console
    from workbench.spark import get_spark
    from workbench.warehouse.build import build_warehouse

    with common.user_errors():
        settings = common.settings()
        seed = settings.generator.seed if seed is None else seed
        settings.profile(profile)  # fail early on an unknown profile
        spark = get_spark(settings.spark)
        manifest = existing_manifest(settings)
        if needs_generation(manifest, profile, seed):
            console.print(f"Generating the [bold]{profile}[/] operator (seed {seed}) ...")
            with common.progress_bar(f"generating {profile}", "extracts") as advance:
                manifest = generate_operator(
                    spark, settings, profile=profile, seed=seed, on_table=advance
                )
        else:
            console.print(f"Reusing the {profile} operator already in {settings.raw_dir}")
        console.print("Building the warehouse ...")
        with common.progress_bar("build", "tables") as advance:
            result = build_warehouse(
                spark, settings, master=settings.spark.master, progress=advance
            )
        console.print(summary_table(result))
        console.print(alerts_table(settings, result.months[-1]))
        reports = run_reports(settings, result.months[-1])
        dictionary = build_docs(settings)
        _print_locations(settings, manifest, reports, dictionary)


def run_reports(settings: Settings, period: str) -> dict[str, Path]:
    """Run every subject report for the period; returns the HTML report of each."""
    from workbench.log import console
    from workbench.reports import run_subject
    from workbench.subjects import SUBJECTS

    written = {}
    for subject in SUBJECTS:
        console.print(f"Running the {subject} report for {period} ...")
        written[subject] = run_subject(subject, period, settings=settings).html
    return written


def _print_locations(
    settings: Settings, manifest: dict, reports: dict[str, Path], dictionary: Path
) -> None:
    from workbench.log import console

    def show(path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    console.print(
        f"\n[bold green]Done.[/] {manifest['subscribers']:,} subscribers over "
        f"{len(manifest['months'])} months.\n"
        f"  raw extracts and manifest: {show(settings.raw_dir)}/ (_manifest.json)\n"
        f"  warehouse:                 {show(settings.warehouse_dir)}/\n"
        f"  build ledger:              workbench runs\n"
        f"  read a mart in Python:     workbench.read_mart('ads_kpi_cube')\n"
        f"  all report runs:           {show(settings.reports_dir / 'index.html')}\n"
        "  subject reports (open in a browser):\n"
        + "\n".join(f"    {subject:<15} {show(path)}" for subject, path in reports.items())
        + "\n  dashboards for managers:   workbench serve, then open the link printed by "
        "`workbench serve link ceo`"
        f"\n  data dictionary:           {show(dictionary)} (or `workbench docs --serve`)"
        "\n  analysts in JupyterLab:    workbench lab, then open the URL it prints "
        "(it starts on notebooks/explore/getting_started.ipynb)",
        soft_wrap=True,  # a path broken over two lines cannot be copied
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
