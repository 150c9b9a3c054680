"""The run ledger: one JSON line per build in ``<warehouse>/_ledger/runs.jsonl``, failed builds
included (see :mod:`workbench.jsonl` for why concurrent or killed writers never corrupt it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.jsonl import append_record, read_records

if TYPE_CHECKING:
    from workbench.config import Settings


def ledger_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "_ledger" / "runs.jsonl"


def append_run(settings: Settings, record: dict[str, Any]) -> None:
    """Append one run record (run_id, started_at, ended_at, months, tables, status, ...)."""
    append_record(ledger_path(settings), record)


def read_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every recorded run, oldest first."""
    return read_records(ledger_path(settings))
