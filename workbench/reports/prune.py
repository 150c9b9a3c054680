"""Pruning of report run folders: each report keeps its newest ``reports.keep_runs`` runs.

Every run works in, and keeps, its own ``<subject>/<period>/.runs/<run_id>/`` folder (a failed
run's partial notebook included), so a scheduled report would otherwise grow without end. Only
run folders are deleted: the published report and the run ledger are never touched, so the
ledger may name a run folder that is gone.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ParameterError
from workbench.reports.paths import RUNS_DIR

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

_STAMP = "%Y%m%dT%H%M%S"  # run ids start with their UTC start time (runner.new_run_id)


def run_started(run_id: str) -> datetime | None:
    """The UTC start time a run id begins with (None for a folder that is not a run's)."""
    try:
        return datetime.strptime(run_id[: len("20260101T000000")], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def prune_runs(
    folder: Path, keep: int, *, running_for_seconds: float, now: datetime | None = None
) -> list[Path]:
    """Delete all but the ``keep`` newest run folders of ``folder`` (one report's ``.runs``).

    A run that started less than ``running_for_seconds`` ago is left alone whatever its rank: it
    may still be going (no run outlives its wall clock, ``reports.timeout_seconds``). Folders
    whose names are not run ids are not touched.

    Returns:
        the folders deleted, oldest first.
    """
    if keep < 1:
        raise ParameterError(f"parameter 'keep': {keep!r} must be at least 1")
    if not folder.is_dir():
        return []
    now = now or datetime.now(UTC)
    runs = sorted(
        (started, path)
        for path in folder.iterdir()
        if path.is_dir() and (started := run_started(path.name)) is not None
    )
    removed = []
    for started, path in runs[: max(len(runs) - keep, 0)]:
        if (now - started).total_seconds() < running_for_seconds:
            continue
        shutil.rmtree(path)
        removed.append(path)
    if removed:
        log.info("pruned %d old run folder(s) of %s", len(removed), folder.parent)
    return removed


def prune_reports(settings: Settings, keep: int | None = None) -> list[Path]:
    """Prune the run folders of every report under ``paths.reports`` to ``keep`` (default
    ``reports.keep_runs``) each."""
    keep = settings.reports.keep_runs if keep is None else keep
    removed: list[Path] = []
    for folder in sorted(settings.reports_dir.glob(f"*/*/{RUNS_DIR}")):
        removed += prune_runs(folder, keep, running_for_seconds=settings.reports.timeout_seconds)
    return removed
