"""``workbench ingest``: an operator's extract dumps into the raw layer, with a mapping file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

log = logging.getLogger("workbench")

_HELP = """Ingest an operator's extract dumps into the raw layer, nothing lost.

SOURCE names a mapping file, pipelines/sources/SOURCE.yml (see
pipelines/sources/example_boss.yml): where the dumps are (`dumps`), how they are written
(`format`: delimiter, quote, header, encoding; .gz files are decompressed), code tables
(`codes`), and for each raw extract its files (`files` glob), the month of its rows (exactly
one of `month_pattern`, a regex whose two groups are the year and month in the file name, or
`month_column: {column: zhangqi, format: yyyyMM}`, each line's month from a dump column by a
Spark datetime pattern), the dump's `columns` in file order, and how each catalog column is made
(`map`: a dump column, or {column, codes, date: yyyyMMdd, fen: true, true_values,
false_values, default}, or {expr: Spark SQL}, or {value: constant}).

Every line is kept or rejected: rejected lines (bad_encoding, header_mismatch, empty_line,
field_count, malformed_month, unmapped_code, malformed_date, bad_number, bad_boolean) go to
<paths.raw>/_ingest/quarantine/ with file, line number, reason and raw text. Each file must add
up (lines read = header + rows written + lines rejected + rows outside --months) before
anything is published; each month is then replaced atomically and the run recorded in
<paths.raw>/_ingest/runs.jsonl.

--months picks the files of those months by file name; by month column every file is read,
the lines of other months are counted (outside --months) and left alone, and the months of
the lines kept are replaced. A line whose month cannot be read is filed in the quarantine of
the earliest month the run replaces for its extract.

--contract prints what each raw extract must hold (docs/raw_contract.md). --write-dumps makes
dumps in SOURCE's layout from the raw extracts already there (e.g. the synthetic operator), to
try a mapping end to end.
"""
# the help shows each paragraph wrapped to the terminal, not at the source's line breaks
HELP = "\n\n".join(" ".join(paragraph.split()) for paragraph in _HELP.split("\n\n"))


def ingest(
    source: Annotated[
        str | None, typer.Argument(help="Mapping file name: pipelines/sources/SOURCE.yml.")
    ] = None,
    months: Annotated[
        str | None,
        typer.Option(
            "--months",
            help="Only this range YYYY-MM..YYYY-MM (default: all): its files, or by "
            "month_column its lines.",
        ),
    ] = None,
    dumps: Annotated[
        Path | None,
        typer.Option("--dumps", help="Folder of the dump files (default: the mapping's dumps)."),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master, e.g. spark://host:7077 (default: config)."),
    ] = None,
    contract: Annotated[
        bool, typer.Option("--contract", help="Print the raw contract (Markdown) and exit.")
    ] = False,
    write_dumps: Annotated[
        bool,
        typer.Option(
            "--write-dumps",
            help="Write SOURCE-layout dumps of the raw extracts of --months into the dumps "
            "folder instead of ingesting.",
        ),
    ] = False,
) -> None:
    with common.user_errors():
        if contract:
            from workbench.ingest.contract import raw_contract

            typer.echo(raw_contract(), nl=False)
            return
        from workbench.config import ConfigError

        if source is None:
            raise ConfigError("SOURCE: name a mapping file of pipelines/sources/ (or --contract)")
        settings = common.settings(**{"spark.master": master})
        month_range = common.month_range_option(months)
        if write_dumps:
            _write_dumps(settings, source, month_range, dumps)
            return
        from workbench.ingest.run import ingest_source
        from workbench.log import console
        from workbench.spark import get_spark

        spark = get_spark(settings.spark)
        result = ingest_source(spark, settings, source, month_range, dumps)
        console.print(summary_table(result))


def _write_dumps(settings, source: str, month_range, dumps: Path | None) -> None:
    from workbench.ingest.dumps import write_dumps
    from workbench.ingest.mapping import load_source, source_path
    from workbench.warehouse.storage import table_months

    mapping = load_source(source_path(settings.root, source))
    months = month_range.months if month_range else table_months(settings, "subscribers")
    out = settings.resolve(dumps or mapping.dumps)
    files = write_dumps(settings.raw_dir, mapping, out, months)
    log.info("%d dump files of %s written to %s", len(files), source, out)


def summary_table(result):
    """The rich table printed after an ingest: one row per file."""
    from rich.table import Table

    table = Table(title=f"ingest {result.source} {result.run_id}: {', '.join(result.months)}")
    numbers = ("lines read", "header", "rows", "rejected", "outside --months")
    for name in ("extract", "file", "month", *numbers):
        table.add_column(name, justify="left" if name in ("extract", "file", "month") else "right")
    for f in result.files:
        table.add_row(
            f.extract,
            f.file,
            f.month,
            *[
                f"{n:,}"
                for n in (
                    f.lines_read,
                    f.header_lines,
                    f.rows_written,
                    f.lines_rejected,
                    f.rows_outside_months,
                )
            ],
        )
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.rejected_by_reason.items())
    table.caption = f"rejected by reason: {reasons or 'none'}"
    return table


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to the ``workbench`` app."""
    app.command("ingest", help=HELP)(ingest)
