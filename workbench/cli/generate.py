"""``workbench generate``: write the synthetic operator's raw extracts and manifest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

log = logging.getLogger("workbench")


def generate(
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Scale profile from pipelines/config.yml.")
    ] = "tiny",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: generator.seed).")
    ] = None,
    months: Annotated[
        str | None,
        typer.Option("--months", help="Month range YYYY-MM..YYYY-MM (default: the profile's)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: paths.raw).")
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            help="Spark partitions of the subscriber range; the data does not depend on it.",
        ),
    ] = None,
) -> None:
    """Generate the deterministic synthetic operator (Parquet by month + _manifest.json)."""
    from workbench.generate import generate_operator

    with common.user_errors():
        settings = common.settings()
        settings.profile(profile)  # fail on an unknown profile before Spark starts
        month_range = common.month_range_option(months)
        from workbench.spark import get_spark

        spark = get_spark(settings.spark)
        with common.progress_bar(f"generating {profile}", "extracts") as advance:
            manifest = generate_operator(
                spark,
                settings,
                profile=profile,
                seed=seed,
                months=month_range,
                out=out,
                partitions=partitions,
                on_table=advance,
            )
        target = out.resolve() if out is not None else settings.raw_dir
        log.info(
            "%d subscribers, %d usage rows, months %s..%s",
            manifest["subscribers"],
            manifest["row_totals"]["usage"],
            manifest["months"][0],
            manifest["months"][-1],
        )
        log.info("raw extracts in %s", target)
        log.info("manifest in %s", target / "_manifest.json")


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to the ``workbench`` app."""
    app.command("generate")(generate)
