"""The run ledger: one JSON line per build in ``<warehouse>/_ledger/runs.jsonl``.

Each record is appended with a single ``write`` on a file opened with ``O_APPEND`` (atomic for one
line on a local filesystem), so concurrent or killed writers never interleave records; a line
truncated by a crash is skipped with a warning when reading.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)


def ledger_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "_ledger" / "runs.jsonl"


def append_run(settings: Settings, record: dict[str, Any]) -> None:
    """Append one run record (run_id, started_at, ended_at, months, tables, status, ...)."""
    path = ledger_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a line cut short by a killed writer
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every recorded run, oldest first (unreadable lines are skipped and logged)."""
    path = ledger_path(settings)
    if not path.is_file():
        return []
    runs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s line %d is not a complete record; skipped", path, number)
    return runs
