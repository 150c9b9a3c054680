"""Writing the loop's warehouse tables with the storage module: staged, contract-checked, then
published partition by partition (atomic renames), under the warehouse write lock and a lock per
table so two exports or loads never interleave their read-modify-write of the same table."""

from __future__ import annotations

import fcntl
import logging
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.catalog import get_table
from workbench.warehouse import storage
from workbench.warehouse.contracts import write_checked
from workbench.warehouse.lock import LOCKS, warehouse_lock

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from workbench.config import Settings

log = logging.getLogger(__name__)


@contextmanager
def table_lock(settings: Settings, name: str) -> Iterator[None]:
    """An exclusive advisory lock on one table of the warehouse, taken inside the warehouse
    write lock (again, if the caller holds it): always in that order, so two writers never
    each hold one and wait for the other."""
    folder = settings.warehouse_dir / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    with (
        warehouse_lock(settings, f"write {name}"),
        open(folder / f"{name}.lock", "w") as handle,
    ):
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def replace_months(settings: Settings, name: str, df: DataFrame, months: list[str]) -> None:
    """Make ``df`` the full content of these month partitions of a catalog table.

    ``df`` must hold exactly the catalog columns; a month with no rows in ``df`` is removed.
    Contracts are checked on the staged months before anything is published.
    """
    table = get_table(name)
    run_id = f"targets-{uuid.uuid4().hex[:12]}"
    with warehouse_lock(settings, f"write {name}"):  # the caller's, when it holds it
        try:
            write_checked(df, table, storage.staged_path(settings, run_id, table), run_id)
            storage.publish(
                settings, run_id, storage.plan_moves(settings, run_id, table, sorted(months))
            )
        except BaseException:
            storage.discard_unpublished(settings, run_id)
            raise
    log.info("published %s months %s", name, ", ".join(sorted(months)))


@dataclass(frozen=True)
class StagedWrite:
    """Tables staged under one run and checked, not yet visible: :func:`publish_staged` makes
    them visible together (one journal), :func:`discard_staged` drops them."""

    run_id: str
    moves: tuple[storage.Move, ...]
    tables: tuple[str, ...]


def stage_replacements(
    settings: Settings,
    replacements: Mapping[str, tuple[DataFrame, list[str]]],
    *,
    run_id: str | None = None,
) -> StagedWrite:
    """Stage each table's new content for the listed months (``[]``: an unpartitioned table)
    and check its contracts; nothing is visible yet. Each frame holds exactly the catalog
    columns, and a listed month with no rows in it is removed at publish.

    The caller holds the warehouse write lock from here to :func:`publish_staged` (taken again
    here, so staging outside it fails loudly instead of racing a build's recovery).

    Raises:
        ContractViolation: a staged table breaks its contracts (the staging is discarded).
    """
    run_id = run_id or f"targets-{uuid.uuid4().hex[:12]}"
    moves: list[storage.Move] = []
    with warehouse_lock(settings, f"stage {', '.join(replacements)}"):
        try:
            for name, (df, months) in replacements.items():
                table = get_table(name)
                write_checked(df, table, storage.staged_path(settings, run_id, table), run_id)
                moves += storage.plan_moves(settings, run_id, table, sorted(months))
        except BaseException:
            discard_staged(settings, run_id)
            raise
    return StagedWrite(run_id, tuple(moves), tuple(replacements))


def publish_staged(settings: Settings, staged: StagedWrite) -> None:
    """Make every staged table visible: one journal, then the swaps (a kill in between is rolled
    forward by the next recovery, so the tables change together)."""
    with warehouse_lock(settings, f"publish {', '.join(staged.tables)}"):
        storage.publish(settings, staged.run_id, list(staged.moves))
    log.info("published %s (run %s)", ", ".join(staged.tables), staged.run_id)


def discard_staged(settings: Settings, run_id: str) -> None:
    """Drop a run's staging (it never became visible)."""
    shutil.rmtree(storage.staging_root(settings, run_id), ignore_errors=True)
