"""Writing the loop's warehouse tables with the storage module: staged, contract-checked, then
published partition by partition (atomic renames), under a lock so two exports or loads never
interleave their read-modify-write of the same table."""

from __future__ import annotations

import fcntl
import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from workbench.catalog import get_table
from workbench.warehouse import storage
from workbench.warehouse.contracts import check_contracts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from workbench.config import Settings

log = logging.getLogger(__name__)


@contextmanager
def table_lock(settings: Settings, name: str) -> Iterator[None]:
    """An exclusive advisory lock on one table of the warehouse."""
    folder = settings.warehouse_dir / "_locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as handle:
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
    staged = storage.staged_path(settings, run_id, table)
    try:
        storage.write_staged(df, table, staged)
        check_contracts(storage.read_path(df.sparkSession, table, staged, months), table)
        storage.publish(
            settings, run_id, storage.plan_moves(settings, run_id, table, sorted(months))
        )
    except BaseException:
        shutil.rmtree(storage.staging_root(settings, run_id), ignore_errors=True)
        raise
    log.info("published %s months %s", name, ", ".join(sorted(months)))
