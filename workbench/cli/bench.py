"""``workbench bench``: run the benchmark pack, print its table, write ``bench/RESULTS.md``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

log = logging.getLogger("workbench")

DEFAULT_RESULTS = Path("bench") / "RESULTS.md"
DEFAULT_WORKDIR = Path("data") / "bench"
NOTES = Path("bench") / "NOTES.md"


def _scales(text: str) -> tuple[int, ...]:
    from workbench.bench.reference import BenchError

    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        wanted = "a comma-separated list of whole numbers"
        raise BenchError(f"--scales: {wanted}, got {text!r}") from None


def bench(
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Base profile of the scale ladder (bench_ladder on one machine, bench on a "
            "cluster).",
        ),
    ] = "bench_ladder",
    scales: Annotated[
        str, typer.Option("--scales", help="Multiples of the base's subscribers, ascending.")
    ] = "1,3,10",
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Also time the demo profile (~11 min).")
    ] = False,
    reports: Annotated[
        bool, typer.Option("--reports/--no-reports", help="Time each subject's report.")
    ] = True,
    dashboards: Annotated[
        bool, typer.Option("--dashboards/--no-dashboards", help="Time the Voila apps.")
    ] = True,
    load: Annotated[
        bool,
        typer.Option(
            "--load/--no-load",
            help="With --dashboards: the load test (concurrent viewers in one headless Chromium).",
        ),
    ] = True,
    load_viewers: Annotated[
        int | None,
        typer.Option("--load-viewers", help="Concurrent viewers of the load test (default 20)."),
    ] = None,
    load_visits: Annotated[
        int | None,
        typer.Option(
            "--load-visits", help="App pages each viewer opens, one after another (default 5)."
        ),
    ] = None,
    load_only: Annotated[
        bool,
        typer.Option(
            "--load-only",
            help="Only the load test, on this project's own warehouse (no ladder).",
        ),
    ] = False,
    shared_jvm: Annotated[
        bool,
        typer.Option(
            "--shared-jvm/--jvm-per-step",
            help="Run every step in one JVM: a quick check of the pack, with no JVM start per "
            "step, but peak memory is then the largest so far, not each step's own.",
        ),
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Folder for the bench projects (default: data/bench)."),
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option("--results", help="Markdown file to write (default: bench/RESULTS.md)."),
    ] = None,
) -> None:
    """Run the benchmark pack: generation, build, scan floor, DuckDB reference, scaling, rules,
    churn scoring, reports, dashboards and the dashboards under load; print the table and write
    it with the machine."""
    from workbench.bench import BenchOptions, run_pack
    from workbench.log import console

    with common.user_errors():
        settings = common.settings()
        notes_file = settings.resolve(NOTES)
        target = settings.resolve(results or DEFAULT_RESULTS)
        options = BenchOptions(
            workdir=settings.resolve(workdir or DEFAULT_WORKDIR),
            profile=profile,
            scales=_scales(scales),
            demo=demo,
            reports=reports,
            dashboards=dashboards,
            load=load,
            load_only=load_only,
            shared_jvm=shared_jvm,
            results=target,
            notes=notes_file.read_text(encoding="utf-8") if notes_file.is_file() else "",
        )
        # unset: the options' defaults, the size the targets are stated for
        if load_viewers is not None:
            options.load_viewers = load_viewers
        if load_visits is not None:
            options.load_visits = load_visits
        with common.progress_bar("bench") as advance:
            outcome = run_pack(settings, options, on_step=lambda s: advance(s, 0, 0))
        console.print(outcome.table_markdown(), markup=False, highlight=False)
        log.info("results written to %s", target)
        if not outcome.equal and not load_only:
            console.print("[bold red]error:[/] Spark and DuckDB results differ (see the table)")
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to the ``workbench`` app."""
    app.command("bench")(bench)
