"""The report ledger: one JSON line per report run in ``<paths.reports>/_ledger/runs.jsonl``,
failed and timed-out runs included (see :mod:`workbench.jsonl` for why concurrent writers never
mix records). ``workbench report list``, the index and ``report due`` all read it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.jsonl import append_record, read_records

if TYPE_CHECKING:
    from workbench.config import Settings

STATUSES = ("ok", "failed", "timeout")


def ledger_path(settings: Settings) -> Path:
    return settings.reports_dir / "_ledger" / "runs.jsonl"


def append_run(settings: Settings, record: dict[str, Any]) -> None:
    """Append one run record (run_id, subject, period, region, status, seconds, files, ...)."""
    append_record(ledger_path(settings), record)


def read_runs(
    settings: Settings,
    *,
    subject: str | None = None,
    failed: bool = False,
    schedule: str | None = None,
) -> list[dict[str, Any]]:
    """Recorded runs, oldest first, optionally only one subject's, failed ones or a schedule's."""
    records = read_records(ledger_path(settings))
    if subject is not None:
        records = [r for r in records if r.get("subject") == subject]
    if failed:
        records = [r for r in records if r.get("status") != "ok"]
    if schedule is not None:
        records = [r for r in records if r.get("schedule") == schedule]
    return records
