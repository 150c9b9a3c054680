"""Where tables live and how partitions are published atomically.

Layout: ``<warehouse>/<layer>/<table>/month=YYYY-MM/part-*.parquet`` (Hive partitioning), raw
extracts under ``<paths.raw>/<extract>/month=YYYY-MM/``.

Publishing (why readers never see a half-written partition): a build writes every table to
``<warehouse>/_staging/<run_id>/<layer>/<table>/`` first. When everything is staged and checked, it
writes a journal ``_staging/<run_id>/PUBLISH.json`` listing the moves, then for each partition
renames the old folder to ``<warehouse>/_trash/<run_id>/...``, renames the staged folder into
place and deletes the trash. Each rename is atomic, so a reader sees the old partition, the new
one, or (for the instant between the two renames) none: never a partial one.

Each staging run folder is created with ``OWNER.json`` in it (process id, host, boot id and
process start time: :class:`~workbench.warehouse.lock.ProcessRef`). :func:`recover` runs at the
start of every build, holding the warehouse write lock (:mod:`workbench.warehouse.lock`), and
touches only runs whose owner is gone: a journal left by a killed writer is completed (roll
forward, every step is idempotent); its staging without a journal is discarded; leftover trash is
restored when its partition is missing, else deleted. A live writer's staging and trash are left
alone, whoever it is.

Paths are ``pathlib.Path`` folders, so ``os.rename`` is used: the warehouse must live on a
filesystem every Spark executor mounts at the same path (a local disk for ``local[*]``, or a
shared/NFS mount on a standalone cluster). Staging and trash sit inside the warehouse folder so
the renames never cross filesystems. Writers stage and publish holding the warehouse write lock.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.catalog import PARTITION_COLUMN, Table, get_table
from workbench.errors import WorkbenchError
from workbench.warehouse.lock import ProcessRef, held_here, lock_depth, warehouse_lock

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

STAGING = "_staging"
TRASH = "_trash"
JOURNAL = "PUBLISH.json"
OWNER = "OWNER.json"
# a claim folder with no owner yet is a writer's, at most this old (see claim_staging)
CLAIM_SECONDS = 60


class StorageError(WorkbenchError):
    """A table folder is not what the catalog says it should be."""


def partition_dir(table_path: Path, month: str) -> Path:
    return table_path / f"{PARTITION_COLUMN}={month}"


def _parquet_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )


def list_months(path: Path) -> list[str]:
    """Months with at least one Parquet file under a partitioned table folder, ascending."""
    if not path.is_dir():
        return []
    prefix = f"{PARTITION_COLUMN}="
    return sorted(
        p.name[len(prefix) :]
        for p in path.iterdir()
        if p.is_dir() and p.name.startswith(prefix) and _parquet_files(p)
    )


def table_months(settings: Settings, name: str) -> list[str]:
    """Months present for a catalog table (raw or warehouse)."""
    return list_months(get_table(name).path(settings))


def file_rows(folder: Path) -> int:
    """Rows in every Parquet file under ``folder``, from the footers (no data is read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in _parquet_files(folder))


def rows_by_month(path: Path) -> dict[str, int]:
    """Rows per month partition of a table folder, from the Parquet footers."""
    return {m: file_rows(partition_dir(path, m)) for m in list_months(path)}


def read_path(
    spark: SparkSession, table: Table, path: Path, months: list[str] | None = None
) -> DataFrame:
    """Read a table stored at ``path`` with the catalog schema (empty frame if nothing is there)."""
    reader = spark.read.schema(table.spark_schema)
    if not table.partition_by:
        if not _parquet_files(path):
            return spark.createDataFrame([], table.spark_schema)
        return _in_catalog_order(reader.parquet(str(path)), table)
    present = list_months(path)
    wanted = present if months is None else [m for m in present if m in set(months)]
    if not wanted:
        return spark.createDataFrame([], table.spark_schema)
    paths = [str(partition_dir(path, m)) for m in wanted]
    return _in_catalog_order(reader.option("basePath", str(path)).parquet(*paths), table)


def _in_catalog_order(df: DataFrame, table: Table) -> DataFrame:
    """``df`` with the catalog's column order (a partitioned read puts the partition columns
    last; most catalog tables declare them last already, and then nothing is added to the plan,
    nor a Py4J call per column)."""
    return df if df.columns == table.column_names else df.select(*table.column_names)


def read_table(
    spark: SparkSession, settings: Settings, name: str, months: list[str] | None = None
) -> DataFrame:
    """A catalog table as a Spark DataFrame with its explicit schema.

    Args:
        months: only these month partitions (``None``: every month present). Ignored for
            unpartitioned tables.
    """
    table = get_table(name)
    return read_path(spark, table, table.path(settings), months)


def staging_root(settings: Settings, run_id: str) -> Path:
    return settings.warehouse_dir / STAGING / run_id


def claim_staging(settings: Settings, run_id: str) -> Path:
    """The run's staging folder, created with its owner (this process) recorded in it.

    The folder appears with ``OWNER.json`` already inside (made under a temporary name, then
    renamed), so :func:`recover` never sees a run whose owner it cannot check.
    """
    root = staging_root(settings, run_id)
    if (root / OWNER).is_file():
        return root
    holder = held_here(settings)
    record = {
        **asdict(ProcessRef.current()),
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "purpose": holder.purpose if holder else None,
    }
    if root.is_dir():  # made by code that predates owners: record it now
        _write_json(root / OWNER, record)
        return root
    claim = root.with_name(f".claim-{run_id}-{uuid.uuid4().hex[:8]}")
    claim.mkdir(parents=True)
    _write_json(claim / OWNER, record)
    try:
        os.rename(claim, root)
    except OSError:  # another thread of the run claimed it first
        shutil.rmtree(claim, ignore_errors=True)
    return root


def read_owner(root: Path) -> ProcessRef | None:
    """The process that created a staging run folder (None: not recorded or unreadable)."""
    try:
        return ProcessRef.from_record(json.loads((root / OWNER).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def staged_path(settings: Settings, run_id: str, table: Table) -> Path:
    """Where a run stages a table (the run's folder is claimed for this process)."""
    return claim_staging(settings, run_id) / table.layer / table.name


def write_staged(df: DataFrame, table: Table, path: Path, *, append: bool = False) -> None:
    """Write a DataFrame with exactly the catalog columns to a staging folder.

    Rows are sorted by partition and key inside each file so re-runs write the same content.
    """
    if df.columns != table.column_names:
        raise StorageError(
            f"{table.name}: columns {df.columns} differ from the catalog {table.column_names}"
        )
    order = [*table.partition_by, *table.keys]
    writer = df.sortWithinPartitions(*order).write.mode("append" if append else "overwrite")
    if table.partition_by:
        writer = writer.partitionBy(*table.partition_by)
    writer.parquet(str(path))


@dataclass(frozen=True)
class Move:
    """Replace ``final`` by ``staged`` (``staged`` None: remove ``final``)."""

    staged: str | None
    final: str
    trash: str


def plan_moves(
    settings: Settings, run_id: str, table: Table, months: list[str] | None
) -> list[Move]:
    """The renames that publish a staged table: one per month, or the whole folder."""
    staged = staged_path(settings, run_id, table)
    final = table.path(settings)
    trash = settings.warehouse_dir / TRASH / run_id / table.layer / table.name
    if not table.partition_by:
        return [Move(str(staged) if staged.is_dir() else None, str(final), str(trash))]
    moves = []
    for month in months or []:
        source = partition_dir(staged, month)
        moves.append(
            Move(
                str(source) if _parquet_files(source) else None,
                str(partition_dir(final, month)),
                str(partition_dir(trash, month)),
            )
        )
    return moves


def apply_move(move: Move) -> None:
    """One idempotent swap: final -> trash, staged -> final, delete trash."""
    final, trash = Path(move.final), Path(move.trash)
    staged = Path(move.staged) if move.staged else None
    if staged is not None and not staged.exists():
        # Already moved by an earlier attempt of the same run.
        shutil.rmtree(trash, ignore_errors=True)
        return
    if final.exists():
        trash.parent.mkdir(parents=True, exist_ok=True)
        if trash.exists():
            shutil.rmtree(trash)
        os.rename(final, trash)
    if staged is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, final)
    shutil.rmtree(trash, ignore_errors=True)


def _write_json(path: Path, content: object) -> None:
    """Write a JSON file whole: a reader sees the previous content or the new, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content), encoding="utf-8")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def publish(settings: Settings, run_id: str, moves: list[Move]) -> None:
    """Make staged partitions visible: journal first, then the swaps, then clean up."""
    root = claim_staging(settings, run_id)
    _write_json(root / JOURNAL, [m.__dict__ for m in moves])
    for move in moves:
        apply_move(move)
    _discard_run(settings, run_id)


def discard_unpublished(settings: Settings, run_id: str) -> None:
    """Drop a failed writer's staging, unless its publish had started: a journal is a publish cut
    short, which :func:`recover` completes (removing it would leave some partitions new and some
    old)."""
    root = staging_root(settings, run_id)
    if not (root / JOURNAL).exists():
        shutil.rmtree(root, ignore_errors=True)


def _discard_run(settings: Settings, run_id: str) -> None:
    # trash first: while any of a run's trash exists, its OWNER.json says whose it is
    shutil.rmtree(settings.warehouse_dir / TRASH / run_id, ignore_errors=True)
    shutil.rmtree(staging_root(settings, run_id), ignore_errors=True)


def recover(settings: Settings) -> list[str]:
    """Repair what killed writers left; returns the run ids it completed or discarded.

    Holds the warehouse write lock (taken again if the caller holds it). A run whose owner still
    runs is skipped, staging and trash alike. A dead owner's run with a publish journal is rolled
    forward (its checks had all passed); one without never touched a visible partition, so its
    staging is deleted. Trash whose partition is missing is put back (a rename pair interrupted
    outside any journal).
    """
    # This process's runs are finished when the caller is the outermost holder (a build at its
    # start or after its failure) or holds nothing: every other thread waits for the lock. A
    # writer nested inside another may be called in the middle of the outer one's run.
    outermost = lock_depth(settings) <= 1
    with warehouse_lock(settings, "recover"):
        handled, live = [], set()
        staging = settings.warehouse_dir / STAGING
        for root in sorted(staging.iterdir()) if staging.is_dir() else []:
            if _in_use(root, outermost):
                live.add(root.name)
            elif root.name.startswith("."):  # a claim its owner did not finish
                shutil.rmtree(root, ignore_errors=True)
            else:
                _finish_run(settings, root)
                handled.append(root.name)
        trash_root = settings.warehouse_dir / TRASH
        for run in sorted(trash_root.iterdir()) if trash_root.is_dir() else []:
            if run.name in live:
                continue
            restore_trash(run, settings.warehouse_dir, _trash_leaves(run))
            handled.append(run.name)
    return handled


def restore_trash(run: Path, base: Path, leaves: list[Path]) -> None:
    """Put back each trash entry of a dead run whose place under ``base`` is empty (a swap cut
    between its two renames), then delete the run's trash. ``run`` mirrors ``base``."""
    for leftover in sorted(leaves):
        final = base / leftover.relative_to(run)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(leftover, final)
    shutil.rmtree(run, ignore_errors=True)


def _in_use(root: Path, outermost: bool) -> bool:
    """Whether a staging run folder may still be written by its owner."""
    owner = read_owner(root)
    if owner is None and root.name.startswith("."):
        # a claim between its mkdir and its owner's write, or one its writer died in
        return time.time() - root.stat().st_mtime < CLAIM_SECONDS
    if owner is None:
        # Every writer claims its folder with the owner inside; none recorded means a run of a
        # version that did not record owners, which ran (and ended) before this lock was taken.
        log.warning("%s: no owner recorded; treated as left by a finished writer", root)
        return False
    if owner == ProcessRef.current():
        return not outermost
    if owner.is_running():
        where = "" if owner.on_this_host else f" on {owner.host} (cannot be checked from here)"
        log.info("leaving %s alone: its writer, pid %d%s, is running", root, owner.pid, where)
        return True
    return False


def _finish_run(settings: Settings, root: Path) -> None:
    """Roll a dead writer's journaled publish forward, or discard its staging."""
    journal = root / JOURNAL
    if journal.is_file():
        moves = [Move(**m) for m in json.loads(journal.read_text(encoding="utf-8"))]
        log.warning("completing the publish of killed run %s (%d moves)", root.name, len(moves))
        for move in moves:
            apply_move(move)
    else:
        log.warning("discarding the staging of killed run %s", root.name)
    _discard_run(settings, root.name)


def _trash_leaves(run: Path) -> list[Path]:
    """Trash entries: partition folders, or whole table folders of unpartitioned tables."""
    leaves = []
    for table_dir in run.glob("*/*"):
        parts = [p for p in table_dir.iterdir() if p.name.startswith(f"{PARTITION_COLUMN}=")]
        leaves.extend(parts or [table_dir])
    return leaves


def raw_files(settings: Settings, name: str, months: list[str]) -> list[Path]:
    """The Parquet files of a raw extract for these months."""
    path = get_table(name).path(settings)
    return [f for m in months for f in _parquet_files(partition_dir(path, m))]


def raw_file_schemas(settings: Settings, name: str, months: list[str]) -> dict[str, object]:
    """Arrow schema of every file of a raw extract for these months (footers only)."""
    import pyarrow.parquet as pq

    return {str(f): pq.read_schema(f) for f in raw_files(settings, name, months)}


def read_raw(spark: SparkSession, settings: Settings, name: str, months: list[str]) -> DataFrame:
    """A raw extract with its catalog columns plus ``_source_file`` (the file's location as
    Spark reads it) and ``_source_row`` (0-based row index in the file).

    The location is kept as it is, a value the Parquet reader supplies once per file; making it
    relative to ``paths.raw`` for every row (a regular expression on 16M usage rows) cost three
    times the scan itself. :func:`relative_source_file` does it for the few rows that need it.
    """
    from pyspark.sql import functions as F

    table = get_table(name)
    df = read_path(spark, table, table.path(settings), months)
    if not list_months(table.path(settings)) or not any(
        m in months for m in list_months(table.path(settings))
    ):
        return df.select(
            "*",
            F.lit(None).cast("string").alias("_source_file"),
            F.lit(None).cast("bigint").alias("_source_row"),
        )
    return df.select(
        "*",
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("_metadata.row_index").cast("bigint").alias("_source_row"),
    )


def relative_source_file(source_file: Column, name: str) -> Column:
    """A raw file's location as ``<extract>/month=YYYY-MM/<file>`` (relative to ``paths.raw``,
    so the same in every checkout); a location already in that form is kept."""
    from pyspark.sql import functions as F

    return F.concat(F.lit(f"{name}/"), F.regexp_extract(source_file, r"([^/]+/[^/]+)$", 1))
