"""``workbench ingest SOURCE``: an operator's dumps into the raw layer, nothing lost.

For each extract of the mapping, the dump files are read with Spark, converted (:mod:`.lines`)
and staged under ``<paths.raw>/_ingest/_staging/<run>/``: accepted rows as the raw extract's
month partitions, rejected lines as ``<paths.raw>/_ingest/quarantine/<extract>/month=YYYY-MM/``
(file, line number, reason, raw text).

A line's month comes from its file name (``month_pattern``: one month per file; ``--months``
picks the files) or from a dump column (``month_column``: a file may hold several months;
every file is read and the lines of other months than ``--months`` are counted as outside the
months asked, neither written nor rejected). The months replaced are those of the lines kept:
every file's month by file name; by column, each month at least one line kept (accepted or
rejected) has. A rejected line whose month cannot be read (``malformed_month``, or rejected
before its month column was read) goes to the quarantine of the earliest month the run
replaces for its extract, so a re-run of the same months replaces it (when there are such
lines but the run replaces no month of the extract, the ingest fails, nothing published).

Before anything is published, every file must add up: lines read (counted by a scan of their
own) = header lines + rows accepted + lines rejected + lines outside the months asked, and the
rows in the staged Parquet files of each month = the rows accepted for it. Then a journal of
the moves is written and each month's folder is swapped in by renames
(:func:`workbench.warehouse.storage.apply_move`): a reader sees the previous month or the new
one. A killed run is completed from its journal, or its staging discarded, by the next ingest.
Each run, failed ones too, is one line of ``<paths.raw>/_ingest/runs.jsonl``. Ingest holds the
warehouse write lock, so a build never reads a raw month while it is being replaced.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalog import Table, get_table
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col
from workbench.errors import WorkbenchError
from workbench.ingest.lines import (
    IS_HEADER,
    LINE,
    LINE_MONTH,
    PATH,
    REASON,
    count_lines,
    decode_lines,
    file_problems,
    label_lines,
    read_lines,
)
from workbench.ingest.mapping import ExtractMap, Source, load_source, source_path
from workbench.jsonl import append_record, read_records
from workbench.months import MonthRange, parse_month
from workbench.warehouse.build import build_parallelism, new_run_id
from workbench.warehouse.lock import warehouse_lock
from workbench.warehouse.storage import (
    Move,
    apply_move,
    partition_dir,
    restore_trash,
    rows_by_month,
    write_staged,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

INGEST_DIR = "_ingest"
JOURNAL = "PUBLISH.json"
OUTSIDE = "_outside_months"  # a line of another month than those asked (by month column)
# decode/encode take any Java charset (GBK, GB18030) and replace bad bytes instead of failing the
# job only with these; ingest sets them while it runs (the strict check is its own, see lines.py)
CHARSET_CONF = {
    "spark.sql.legacy.javaCharsets": "true",
    "spark.sql.legacy.codingErrorAction": "true",
}

REJECTS = Table(
    name="ingest_rejects",
    layer="raw",
    grain="one row per dump line ingest rejected",
    description="Lines of an operator's dumps that could not be parsed or converted.",
    columns=(
        col("source", "string", "mapping file name"),
        col("extract", "string", "raw extract the line was for"),
        col("source_file", "string", "dump file, relative to the dumps folder"),
        col(LINE, "bigint", "1-based line number in the file, the header included"),
        col(REASON, "string", "code: detail, e.g. malformed_date: kssj (started_at) ..."),
        col("raw_text", "string", "the line as decoded; hex:... when it is not in the encoding"),
        MONTH,
    ),
    keys=("source_file", LINE),
)


class IngestError(WorkbenchError):
    """Dumps cannot be ingested: no files, a file name without a month, counts that differ."""


@dataclass(frozen=True)
class DumpFile:
    path: Path
    relative: str
    month: str


@dataclass
class FileCount:
    """How one dump file added up."""

    extract: str
    file: str
    month: str
    lines_read: int
    header_lines: int
    rows_written: int
    lines_rejected: int
    rows_outside_months: int = 0  # by month column: lines of months other than --months


@dataclass(frozen=True)
class Staged:
    """One extract staged and counted: the moves that publish it, and its counts."""

    moves: list[Move]
    months: list[str]
    counts: list[FileCount]
    rejected_by_reason: dict[str, int]


@dataclass
class IngestResult:
    """One run: what was read, written and rejected (also a line of the ingest ledger)."""

    run_id: str
    source: str
    started_at: str
    master: str = ""
    ended_at: str = ""
    status: str = "ok"
    months: list[str] = field(default_factory=list)
    files: list[FileCount] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def ingest_dir(settings: Settings) -> Path:
    return settings.raw_dir / INGEST_DIR


def ledger_path(settings: Settings) -> Path:
    return ingest_dir(settings) / "runs.jsonl"


def read_ingests(settings: Settings) -> list[dict[str, Any]]:
    """Every recorded ingest run, oldest first."""
    return read_records(ledger_path(settings))


def quarantine_path(settings: Settings, extract: str) -> Path:
    return ingest_dir(settings) / "quarantine" / extract


def find_files(
    dumps: Path, name: str, extract: ExtractMap, months: set[str] | None
) -> list[DumpFile]:
    """The dump files of an extract with their month (from the file name), in name order;
    by ``month_column`` every file, with the month "" (their lines say it).

    Raises:
        IngestError: a file name without a month, naming the file and the pattern.
    """
    found = []
    paths = sorted(p for p in dumps.glob(extract.files) if p.is_file())
    if extract.month_pattern is None:
        return [DumpFile(p.resolve(), str(p.relative_to(dumps)), "") for p in paths]
    pattern = re.compile(extract.month_pattern)
    for path in paths:
        match = pattern.search(path.name)
        month = f"{match.group(1)}-{match.group(2)}" if match else ""
        try:
            parse_month(month)
        except ValueError:
            raise IngestError(
                f"extracts.{name}.month_pattern: {path} has no month matching "
                f"{extract.month_pattern!r} in its name"
            ) from None
        if months is None or month in months:
            found.append(DumpFile(path.resolve(), str(path.relative_to(dumps)), month))
    return found


def ingest_source(
    spark: SparkSession,
    settings: Settings,
    name: str,
    months: MonthRange | None = None,
    dumps: Path | None = None,
) -> IngestResult:
    """Ingest the dumps a mapping file describes into the raw layer.

    Args:
        name: the mapping ``pipelines/sources/<name>.yml``.
        months: only these months (default: all): the files of these months, or by
            ``month_column`` the lines of these months.
        dumps: the dumps folder (default: the mapping's ``dumps``, relative to the project).

    Returns:
        the run's counts, also appended to ``<paths.raw>/_ingest/runs.jsonl``.

    Raises:
        MappingError: the mapping file is wrong (naming the key).
        IngestError: no files, a file without a month, or counts that do not add up; nothing
            was published and the failure is recorded.
    """
    source = load_source(source_path(settings.root, name))
    folder = settings.resolve(dumps or source.dumps)
    if not folder.is_dir():
        raise IngestError(f"{name}: dumps folder {folder} does not exist")
    wanted = set(months.months) if months is not None else None
    run_id = new_run_id()
    result = IngestResult(
        run_id, name, datetime.now(UTC).isoformat(timespec="seconds"), spark.sparkContext.master
    )
    with warehouse_lock(settings, f"ingest {name} {run_id}"):
        recover_ingest(settings)
        previous = {k: spark.conf.get(k, None) for k in CHARSET_CONF}
        for key, value in CHARSET_CONF.items():
            spark.conf.set(key, value)
        staging = ingest_dir(settings) / "_staging" / run_id
        try:
            todo = []
            for extract, spec in source.extracts.items():
                files = find_files(folder, extract, spec, wanted)
                if files:
                    todo.append((extract, files))
                else:
                    log.warning("%s: no dump files %s under %s", extract, spec.files, folder)
            if not todo:
                raise IngestError(f"{name}: no dump files under {folder} for the months asked")

            def stage(job: tuple[str, list[DumpFile]]) -> Staged:
                # each extract in a FAIR pool of its own, as the build runs its tables
                context = spark.sparkContext
                context.setLocalProperty("spark.scheduler.pool", job[0])
                try:
                    return _stage_extract(spark, settings, source, name, *job, staging, wanted)
                finally:
                    context.setLocalProperty("spark.scheduler.pool", None)

            # small extracts are dominated by job latency: several at once, as the build does
            with ThreadPoolExecutor(max_workers=build_parallelism(settings)) as pool:
                done = list(pool.map(stage, todo))
            moves = [m for d in done for m in d.moves]
            result.files = [c for d in done for c in d.counts]
            result.rejected_by_reason = dict(
                sorted((k, v) for d in done for k, v in d.rejected_by_reason.items())
            )
            result.months = sorted({m for d in done for m in d.months})
            _publish(staging, moves)
        except BaseException as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            for key, value in previous.items():
                spark.conf.unset(key) if value is None else spark.conf.set(key, value)
            result.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
            append_record(ledger_path(settings), result.to_record())
    log.info(
        "ingest %s %s: %d files, %d rows, %d lines rejected",
        name,
        run_id,
        len(result.files),
        sum(f.rows_written for f in result.files),
        sum(f.lines_rejected for f in result.files),
    )
    return result


def _stage_extract(
    spark: SparkSession,
    settings: Settings,
    source: Source,
    name: str,
    extract: str,
    files: list[DumpFile],
    staging: Path,
    wanted: set[str] | None = None,
) -> Staged:
    """Convert, stage and count one extract's files; the moves that publish its months."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    table, spec, fmt = get_table(extract), source.extracts[extract], source.format_of(extract)
    paths = [str(f.path) for f in files]
    by_path = F.create_map(
        *[F.lit(x) for f in files for x in (str(f.path), f"{f.relative}\0{f.month}")]
    )
    lines = read_lines(spark, paths).transform(decode_lines(fmt.encoding))
    lines = lines.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        problems = lines.transform(file_problems(fmt, spec.columns))
        known = F.split(F.element_at(by_path, F.col(PATH)), "\0")
        month = F.col(LINE_MONTH) if spec.month_column is not None else known[1]
        outside = F.lit(False)
        if wanted is not None and spec.month_column is not None:
            outside = month.isNotNull() & ~month.isin(*sorted(wanted))
        labelled = (
            lines.transform(label_lines(table, spec, fmt, source.codes, problems))
            .withColumn("source_file", known[0])
            .withColumn("month", month)
            .withColumn(OUTSIDE, ~F.col(IS_HEADER) & outside)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            tally = _tally(labelled)
            months = _months_replaced(extract, spec, files, tally)
            if months:
                # a line without a month is filed under the earliest month the run replaces
                labelled = labelled.withColumn("month", F.coalesce("month", F.lit(months[0])))
            kept = ~F.col(IS_HEADER) & ~F.col(OUTSIDE)
            data = labelled.where(F.col(REASON).isNull() & kept)
            rejected = labelled.where(F.col(REASON).isNotNull() & kept).select(
                F.lit(name).alias("source"),
                F.lit(extract).alias("extract"),
                *REJECTS.column_names[2:],
            )
            staged_raw = staging / "raw" / extract
            staged_rejects = staging / "quarantine" / extract
            write_staged(data.select(*table.column_names), table, staged_raw)
            write_staged(rejected, REJECTS, staged_rejects)
            counts = _check_counts(spark, extract, files, tally, months, staged_raw)
            reasons = (
                labelled.where(F.col(REASON).isNotNull() & kept)
                .groupBy(F.substring_index(F.col(REASON), ":", 1).alias("code"))
                .count()
                .collect()
            )
        finally:
            labelled.unpersist()
    finally:
        lines.unpersist()
    # the run's trash mirrors paths.raw, so a dead run's leftovers know where they belong
    trash = ingest_dir(settings) / "_trash" / staging.name
    moves = [
        Move(
            str(partition_dir(staged, m)) if partition_dir(staged, m).is_dir() else None,
            str(partition_dir(final, m)),
            str(trash / partition_dir(final, m).relative_to(settings.raw_dir)),
        )
        for staged, final in (
            (staged_raw, table.path(settings)),
            (staged_rejects, quarantine_path(settings, extract)),
        )
        for m in months
    ]
    return Staged(moves, months, counts, {f"{extract}.{r['code']}": r["count"] for r in reasons})


@dataclass(frozen=True)
class _Tally:
    """Lines of one file and month (None: a line without a month) by what became of them."""

    path: str
    month: str | None
    header: int
    accepted: int
    rejected: int
    outside: int


def _tally(labelled: DataFrame) -> list[_Tally]:
    from pyspark.sql import functions as F

    kept = ~F.col(IS_HEADER) & ~F.col(OUTSIDE)
    rows = labelled.groupBy(PATH, "month").agg(
        F.count_if(F.col(IS_HEADER)).alias("header"),
        F.count_if(F.col(REASON).isNull() & kept).alias("accepted"),
        F.count_if(F.col(REASON).isNotNull() & kept).alias("rejected"),
        F.count_if(F.col(OUTSIDE)).alias("outside"),
    )
    return [_Tally(*r) for r in rows.collect()]


def _months_replaced(
    extract: str, spec: ExtractMap, files: list[DumpFile], tally: list[_Tally]
) -> list[str]:
    """The months the run replaces: every file's month by file name; by month column, the
    months of the lines kept (accepted or rejected).

    Raises:
        IngestError: rejected lines without a month, and no month to file them under.
    """
    if spec.month_column is None:
        return sorted({f.month for f in files})
    kept = [t for t in tally if t.accepted + t.rejected > 0]
    months = sorted({t.month for t in kept if t.month is not None})
    unfiled = sum(t.rejected for t in kept if t.month is None)
    if unfiled and not months:
        raise IngestError(
            f"extracts.{extract}.month_column: {unfiled} rejected lines have no month (a "
            "malformed month, or rejected before it was read) and no line of the months asked "
            f"has one to file them under ({spec.files}); see the reasons with a wider --months "
            "or fix the dumps"
        )
    return months


def _check_counts(
    spark: SparkSession,
    extract: str,
    files: list[DumpFile],
    tally: list[_Tally],
    months: list[str],
    staged: Path,
) -> list[FileCount]:
    """Per file: lines read = header + accepted + rejected + outside the months asked; per
    month: staged rows = accepted.

    Raises:
        IngestError: naming the file or month that does not add up.
    """
    read = {r[PATH]: r["lines"] for r in count_lines(spark, [str(f.path) for f in files]).collect()}
    counts = []
    for f in files:
        mine = [t for t in tally if t.path == str(f.path)]
        header, accepted, rejected, outside = (
            sum(getattr(t, k) for t in mine) for k in ("header", "accepted", "rejected", "outside")
        )
        lines = read.get(str(f.path), 0)
        if lines != header + accepted + rejected + outside:
            raise IngestError(
                f"{extract}: {f.relative}: {lines} lines read but {header} header + {accepted} "
                f"rows + {rejected} rejected + {outside} outside the months asked = "
                f"{header + accepted + rejected + outside}"
            )
        # by month column, the months the file's kept lines went to (no month: the earliest)
        filed = {t.month or months[0] for t in mine if t.accepted + t.rejected > 0}
        month = f.month or ", ".join(sorted(filed))
        counts.append(
            FileCount(extract, f.relative, month, lines, header, accepted, rejected, outside)
        )
    written = rows_by_month(staged)
    for month in months:
        expected = sum(t.accepted for t in tally if (t.month or months[0]) == month)
        if written.get(month, 0) != expected:
            raise IngestError(
                f"{extract} {month}: {written.get(month, 0)} rows staged, {expected} accepted"
            )
    return counts


def _publish(staging: Path, moves: list[Move]) -> None:
    """Journal the moves, then swap each month in (see the module's docstring)."""
    journal = staging / JOURNAL
    tmp = journal.with_name(JOURNAL + ".tmp")
    tmp.write_text(json.dumps([asdict(m) for m in moves]), encoding="utf-8")
    os.replace(tmp, journal)
    for move in moves:
        apply_move(move)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(staging.parent.parent / "_trash" / staging.name, ignore_errors=True)


def recover_ingest(settings: Settings) -> list[str]:
    """Complete or discard what killed ingests left (the caller holds the write lock, so no
    ingest is running): a journal is rolled forward, staging without one deleted, and trash
    whose month is missing put back. Returns the run ids handled."""
    root = ingest_dir(settings)
    handled = []
    staging, trash = root / "_staging", root / "_trash"
    for run in sorted(staging.iterdir()) if staging.is_dir() else []:
        journal = run / JOURNAL
        if journal.is_file():
            log.warning("completing the publish of killed ingest %s", run.name)
            for move in json.loads(journal.read_text(encoding="utf-8")):
                apply_move(Move(**move))
            shutil.rmtree(trash / run.name, ignore_errors=True)
        else:
            log.warning("discarding the staging of killed ingest %s", run.name)
        shutil.rmtree(run, ignore_errors=True)
        handled.append(run.name)
    for run in sorted(trash.iterdir()) if trash.is_dir() else []:
        restore_trash(run, settings.raw_dir, [p for p in run.rglob("month=*") if p.is_dir()])
        handled.append(run.name)
    return handled
