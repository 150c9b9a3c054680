"""The export log: one JSON line per export in ``<targets.output>/export_log.jsonl``.

Appended with one ``write`` on a file opened ``O_APPEND`` (atomic per line on a local
filesystem), so concurrent exports never interleave records; a line cut short by a crash is
skipped with a warning when reading.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
LOG_NAME = "export_log.jsonl"


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record (a JSON object) as a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a line cut short by a killed writer
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete record, oldest first."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s:%d: skipping a truncated export record", path, number)
    return records
