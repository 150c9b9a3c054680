"""Build the warehouse for some months: ODS, then every model in order, checked and published.

Steps of :func:`build_warehouse`:

1. :func:`~workbench.warehouse.storage.recover` repairs what a killed build left.
2. Every raw file of the months is schema-checked (footers only); a missing or mistyped column
   stops the build before anything is written.
3. ODS: each extract is validated (:mod:`workbench.warehouse.ods`); accepted rows and quarantined
   rows are staged. Per table and month, rows read (raw footers) must equal rows accepted plus
   rows quarantined (staged footers), else :class:`ReconciliationError`.
4. Models (``workbench.warehouse.models``) run once the tables they declare as inputs are staged.
   A partitioned model rebuilds the months whose inputs changed in this build, widened by its
   look-back (later months that read a changed month) and its look-ahead (earlier months whose
   label reads it). Unpartitioned tables are rebuilt whole. Models read their inputs through an
   overlay: the months staged by this run, the published warehouse for the rest; a read of a
   table a model does not declare fails (:meth:`Model.run`).
5. Steps 3 and 4 form one graph, run ``warehouse.parallelism`` tables at a time on the one
   SparkSession (:mod:`workbench.warehouse.parallel`); the first failure cancels the running
   tables' Spark jobs and nothing is published.
6. Each table's contracts are counted by its own write (``DataFrame.observe``); only a
   ``Unique`` contract the build does not guarantee costs a read of what was written. Then all
   staged tables are published together (journal + atomic renames, see
   :mod:`workbench.warehouse.storage`), and the run is appended to the ledger with each table's
   start, end and Spark job count (failed runs too).

The churn label: ``dws_subscriber_month`` for month M says whether the line deactivates in
M+1..M+k (``warehouse.churn_horizon_months``), so it declares ``lookahead_months=k``. Building a
new month N therefore also rebuilds N-k..N-1, whose labels gain a month of evidence. A month
whose k following months are not yet all in the warehouse has an incomplete label; it is
rebuilt automatically as each later month arrives and is final once M+k has been built.
Re-running the same months reproduces the same tables.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from workbench.catalog import Table, get_table, tables
from workbench.catalog.ods import ODS_NAMES, ODS_TABLES, QUARANTINE_ROWS
from workbench.catalog.raw import DIRTY_KINDS
from workbench.errors import WorkbenchError
from workbench.months import MonthRange, add_months, parse_month
from workbench.spark import local_cores
from workbench.warehouse import ledger, storage
from workbench.warehouse.contracts import WriteCheck, write_checked
from workbench.warehouse.lock import warehouse_lock
from workbench.warehouse.model import BuildContext, Model
from workbench.warehouse.ods import accepted_rows, check_raw_schema, label_rows, quarantined_rows
from workbench.warehouse.parallel import Step, run_graph

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


class ReconciliationError(WorkbenchError):
    """Rows read from an extract differ from rows accepted plus rows quarantined."""


class RawDataError(WorkbenchError):
    """The raw extracts needed for the requested months are missing."""


@dataclass
class TableStats:
    """What one build did to one table."""

    name: str
    layer: str
    months: list[str]
    rows_read: int | None = None
    rows_accepted: int | None = None
    rows_quarantined: int | None = None
    rows_written: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None
    spark_jobs: int | None = None


@dataclass
class BuildResult:
    """The summary of a build (also its ledger record)."""

    run_id: str
    started_at: str
    ended_at: str
    months: list[str]
    master: str
    status: str = "ok"
    error: str | None = None
    tables: list[TableStats] = field(default_factory=list)

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for stats in self.tables:
            for reason, n in stats.quarantined_by_reason.items():
                totals[reason] = totals.get(reason, 0) + n
        return dict(sorted(totals.items()))

    def table(self, name: str) -> TableStats:
        return next(t for t in self.tables if t.name == name)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["quarantined_by_reason"] = self.quarantined_by_reason
        return record


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def resolve_months(settings: Settings, months: MonthRange | list[str] | None) -> list[str]:
    """The months to build: all raw months, or the requested ones (which must exist in raw)."""
    raw_months = storage.table_months(settings, "subscribers")
    if months is None:
        wanted = raw_months
    else:
        wanted = sorted(
            {parse_month(m) for m in (months.months if isinstance(months, MonthRange) else months)}
        )
    missing = [m for m in wanted if m not in raw_months]
    if missing or not wanted:
        where = get_table("subscribers").path(settings)
        raise RawDataError(
            f"no raw subscribers extract for month(s) {', '.join(missing) or '(none found)'} "
            f"in {where}; run `workbench generate` or check paths.raw"
        )
    return wanted


def expand_months(
    model: Model, changed: set[str], all_months: list[str], fallback: list[str]
) -> list[str]:
    """Output months a model must rebuild when its inputs changed in ``changed`` months."""
    if not changed:
        return [m for m in fallback if m in all_months]
    out = {
        add_months(month, shift)
        for month in changed
        for shift in range(-model.lookahead_months, model.lookback_months + 1)
    }
    return sorted(m for m in out if m in set(all_months))


def _models(settings: Settings) -> list[Model]:
    from workbench.warehouse import models

    get_models = getattr(models, "get_models", None)
    if get_models is not None:
        return get_models(settings.warehouse.churn_horizon_months)
    return list(models.MODELS)


class _Run:
    """One build: the staged tables of this run and the reader overlay models see.

    Tables are built by several threads at once (:mod:`workbench.warehouse.parallel`); each
    table is written by one step, and a step reads only tables whose steps have finished, so the
    shared dictionaries are written under a lock and read without one.
    """

    def __init__(self, spark: SparkSession, settings: Settings, run_id: str, months: list[str]):
        self.spark, self.settings, self.run_id, self.months = spark, settings, run_id, months
        self.staged: dict[str, list[str]] = {}  # table -> staged months ([] = whole table)
        self.stats: dict[str, TableStats] = {}
        self.changed: dict[str, set[str]] = {}  # partitioned table -> months rebuilt
        self.lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------------
    def staged_dir(self, table: Table) -> Path:
        return storage.staged_path(self.settings, self.run_id, table)

    def read(self, name: str, months: list[str] | None = None) -> DataFrame:
        """A table as this build sees it: staged months from this run, the rest as published."""
        table = get_table(name)
        if name not in self.staged:
            return storage.read_path(self.spark, table, table.path(self.settings), months)
        if not table.partition_by:
            return storage.read_path(self.spark, table, self.staged_dir(table))
        mine = self.staged[name]
        published = [
            m
            for m in storage.list_months(table.path(self.settings))
            if m not in mine and (months is None or m in months)
        ]
        fresh = [m for m in mine if months is None or m in months]
        old = storage.read_path(self.spark, table, table.path(self.settings), published)
        new = storage.read_path(self.spark, table, self.staged_dir(table), fresh)
        return old.unionByName(new) if published else new

    # -- writing -------------------------------------------------------------------------------
    def stage(self, df: DataFrame, table: Table, months: list[str]) -> TableStats:
        """Write to staging with the contracts counted by the write itself; rows per month from
        the written files' footers."""
        write_checked(df, table, self.staged_dir(table), self.run_id)
        rows = (
            sum(storage.file_rows(storage.partition_dir(self.staged_dir(table), m)) for m in months)
            if table.partition_by
            else storage.file_rows(self.staged_dir(table))
        )
        stats = TableStats(table.name, table.layer, months, rows_written=rows)
        with self.lock:
            self.staged[table.name] = months if table.partition_by else []
            self.stats[table.name] = stats
        return stats

    # -- steps ---------------------------------------------------------------------------------
    def check_raw(self) -> None:
        """Schema-check every raw file of the months (an extract may have no rows in a month,
        e.g. campaign contacts before the first campaign)."""
        for raw_name in ODS_NAMES:
            raw = get_table(raw_name)
            check_raw_schema(raw, storage.raw_file_schemas(self.settings, raw_name, self.months))

    @property
    def quarantine_parts(self) -> Path:
        return storage.staging_root(self.settings, self.run_id) / "_quarantine_parts"

    def ods_steps(self) -> list[tuple[str, tuple[str, ...], Callable[[], None]]]:
        """One step per extract; those with a ``subscriber_id`` wait for the subscribers."""
        subscribers = ODS_NAMES["subscribers"]
        steps = []
        for raw_name in ["subscribers", *[n for n in ODS_NAMES if n != "subscribers"]]:
            raw = get_table(raw_name)
            checks_fk = "subscriber_id" in raw.column_names and raw_name != "subscribers"
            needs = (subscribers,) if checks_fk else ()
            steps.append((ODS_NAMES[raw_name], needs, partial(self.build_ods_table, raw_name)))
        return steps

    def build_ods_table(self, raw_name: str) -> None:
        """Validate one extract: accepted rows to its ODS table, rejected rows to quarantine."""
        raw = get_table(raw_name)
        ods = ODS_TABLES[raw_name]
        known = None
        if "subscriber_id" in raw.column_names and raw_name != "subscribers":
            subscribers = ODS_NAMES["subscribers"]
            known = self.read(subscribers, self.months).select("subscriber_id", "month")
            if (self.stats[subscribers].rows_written or 0) <= BROADCAST_SUBSCRIBER_MONTHS:
                known = F.broadcast(known)
        # Not cached: each of the two writes reads the extract again, which costs less than
        # keeping every row of a large extract in memory (spilled to disk past the executors'
        # storage memory); the duplicate search inside is computed once (see ods.py).
        labelled = storage.read_raw(self.spark, self.settings, raw_name, self.months).transform(
            label_rows(raw, known)
        )
        rejects = self.quarantine_parts / raw_name
        quarantine_check = WriteCheck(QUARANTINE_ROWS, f"{self.run_id}/quarantine/{raw_name}")
        for reason in DIRTY_KINDS:
            quarantine_check.count(reason, F.sum(F.when(F.col("reason") == reason, 1).otherwise(0)))
        stats = self.stage(labelled.transform(accepted_rows(raw)), ods, self.months)
        storage.write_staged(
            quarantine_check.attach(labelled.transform(quarantined_rows(raw))),
            QUARANTINE_ROWS,
            rejects,
        )
        quarantine_check.verify(lambda: storage.read_path(self.spark, QUARANTINE_ROWS, rejects))
        by_reason = quarantine_check.metrics
        stats.quarantined_by_reason = {r: by_reason[r] for r in DIRTY_KINDS if by_reason[r]}
        self.reconcile(raw_name, stats, rejects)

    def reconcile(self, raw_name: str, stats: TableStats, rejects: Path) -> None:
        raw_path = get_table(raw_name).path(self.settings)
        staged = self.staged_dir(ODS_TABLES[raw_name])
        stats.rows_read = stats.rows_accepted = stats.rows_quarantined = 0
        for month in self.months:
            read = storage.file_rows(storage.partition_dir(raw_path, month))
            accepted = storage.file_rows(storage.partition_dir(staged, month))
            quarantined = storage.file_rows(storage.partition_dir(rejects, month))
            if read != accepted + quarantined:
                raise ReconciliationError(
                    f"{raw_name} {month}: read {read} rows but accepted {accepted} + "
                    f"quarantined {quarantined} = {accepted + quarantined}"
                )
            stats.rows_read += read
            stats.rows_accepted += accepted
            stats.rows_quarantined += quarantined

    def gather_quarantine(self) -> None:
        """Move each extract's staged rejects into one staged quarantine table (file renames;
        their contracts were checked as each extract's rejects were written)."""
        target = self.staged_dir(QUARANTINE_ROWS)
        for month in self.months:
            for part in sorted(self.quarantine_parts.glob(f"*/month={month}/*.parquet")):
                dest = (
                    storage.partition_dir(target, month) / f"{part.parent.parent.name}-{part.name}"
                )
                dest.parent.mkdir(parents=True, exist_ok=True)
                part.rename(dest)
        total = TableStats(QUARANTINE_ROWS.name, "quarantine", list(self.months))
        total.rows_written = sum(
            self.stats[ODS_NAMES[raw_name]].rows_quarantined or 0 for raw_name in ODS_NAMES
        )
        with self.lock:
            self.staged[QUARANTINE_ROWS.name] = list(self.months)
            self.stats[QUARANTINE_ROWS.name] = total

    def model_step(self, model: Model, all_months: list[str], params: dict[str, Any]) -> None:
        """Build one model for the months its inputs changed (see :func:`expand_months`)."""
        table = get_table(model.table)
        if table.partition_by:
            with self.lock:
                inputs = set().union(*[self.changed.get(name, set()) for name in model.inputs])
            months = expand_months(model, inputs, all_months, self.months)
        else:
            months = []
        log.info("building %s %s", model.table, ", ".join(months) or "(whole table)")
        df = model.run(self.read, BuildContext(self.spark, months, all_months, params))
        if table.partition_by:
            df = df.where(F.col(table.partition_by[0]).isin(months))
        self.stage(df, table, months)
        if table.partition_by:
            with self.lock:
                self.changed[model.table] = set(months)

    def steps(self) -> list[Step]:
        """The whole build as a graph: ODS extracts, the quarantine, then every model after the
        models (or extracts) it declares as inputs. Inputs built by nobody in this run (tables
        the target lists write) are read as published."""
        published = storage.list_months(get_table("ods_crm__subscribers").path(self.settings))
        all_months = sorted(set(published) | set(self.months))
        self.changed = {name: set(self.months) for name in ODS_NAMES.values()}
        params = {
            **self.settings.warehouse.model_dump(),
            "kpi_dictionary": self.settings.resolve(self.settings.warehouse.kpi_dictionary),
        }
        ods = self.ods_steps()
        steps = [Step(name, needs, self._in_group(name, run)) for name, needs, run in ods]
        steps.append(
            Step(
                QUARANTINE_ROWS.name,
                tuple(name for name, _, _ in ods),
                self._in_group(QUARANTINE_ROWS.name, self.gather_quarantine),
            )
        )
        models = _models(self.settings)
        produced = {step.name for step in steps} | {m.table for m in models}
        for model in models:
            needs = tuple(name for name in model.inputs if name in produced)
            run = partial(self.model_step, model, all_months, params)
            steps.append(Step(model.table, needs, self._in_group(model.table, run)))
        return steps

    def job_group(self, table: str) -> str:
        return f"{self.run_id}/{table}"

    def _in_group(self, table: str, run: Callable[[], None]) -> Callable[[], None]:
        """``run`` with its Spark jobs tagged (to count and cancel them) in a FAIR pool of its
        own, and its start, end and job count recorded in the table's stats."""

        def tagged() -> None:
            context = self.spark.sparkContext
            group = self.job_group(table)
            context.setJobGroup(group, f"build {table}", interruptOnCancel=True)
            context.setLocalProperty("spark.scheduler.pool", table)
            started = _now()
            try:
                run()
            finally:
                context.setLocalProperty("spark.scheduler.pool", None)
            with self.lock:
                stats = self.stats.get(table)
            if stats is not None:
                stats.started_at, stats.ended_at = started, _now()
                stats.spark_jobs = len(context.statusTracker().getJobIdsForGroup(group))

        return tagged

    def cancel(self, table: str) -> None:
        self.spark.sparkContext.cancelJobGroup(self.job_group(table))

    def publish(self) -> None:
        moves = []
        for name, months in self.staged.items():
            table = get_table(name)
            moves.extend(storage.plan_moves(self.settings, self.run_id, table, months or None))
        storage.publish(self.settings, self.run_id, moves)


# The month's accepted subscribers are sent to every task of an extract's validation when at most
# this many (about 40 bytes each in the hash table: 5M subscriber-months is 200 MB); above, by a
# shuffle of the extract.
BROADCAST_SUBSCRIBER_MONTHS = 5_000_000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def build_parallelism(settings: Settings) -> int:
    """``warehouse.parallelism``, or by default two tables per core (one computing while the
    other waits on the driver), at most 8."""
    if settings.warehouse.parallelism is not None:
        return settings.warehouse.parallelism
    return min(8, 2 * local_cores(settings.spark))


def build_warehouse(
    spark: SparkSession,
    settings: Settings,
    months: MonthRange | list[str] | None = None,
    master: str | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build (or rebuild) the warehouse for some months and publish it atomically.

    Args:
        months: months to process (``None``: every month in raw); later and earlier months that
            depend on them are rebuilt too (see the module docstring).
        master: label recorded in the ledger (default: the session's master).
        progress: called as ``progress(tables, done, total)`` whenever a table starts, with
            the tables running at that moment (comma-separated) and how many are done.

    Returns:
        the summary, also appended to ``<warehouse>/_ledger/runs.jsonl``.

    Raises:
        WorkbenchError: raw schema drift, missing raw months, a broken contract or a failed
            reconciliation; the warehouse is left as it was and the failure is recorded.
        WarehouseBusy: another writer held the warehouse lock longer than
            ``warehouse.lock_wait_seconds``; nothing was done.
    """
    run_id = new_run_id()
    with warehouse_lock(settings, f"build {run_id}"):
        return _build_holding_lock(spark, settings, run_id, months, master, progress)


def _build_holding_lock(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    months: MonthRange | list[str] | None,
    master: str | None,
    progress: Progress | None,
) -> BuildResult:
    """:func:`build_warehouse` once it holds the warehouse write lock (recovery included)."""
    result = BuildResult(
        run_id=run_id,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ended_at="",
        months=[],
        master=master or spark.sparkContext.master,
    )
    report = progress or (lambda *_: None)
    storage.recover(settings)
    try:
        run = _Run(spark, settings, run_id, [])
        run.months = result.months = resolve_months(settings, months)
        log.info("build %s: months %s", run_id, ", ".join(run.months))
        run.check_raw()
        run_graph(
            run.steps(),
            build_parallelism(settings),
            on_start=lambda _, running, done, total: report(", ".join(running), done, total),
            cancel=run.cancel,
        )
        run.publish()
        order = [t.name for t in tables()]
        result.tables = sorted(run.stats.values(), key=lambda s: order.index(s.name))
    except BaseException as exc:
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
        storage.recover(settings)
        ledger.append_run(settings, result.to_record())
        log.error("build %s failed: %s", run_id, exc)
        raise
    result.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
    ledger.append_run(settings, result.to_record())
    log.info(
        "build %s ok: %d tables, %d rows quarantined",
        run_id,
        len(result.tables),
        sum(result.quarantined_by_reason.values()),
    )
    return result
