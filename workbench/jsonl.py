"""Append-only JSON-lines files: the build ledger, the export log, the report ledger.

Each record is appended with a single ``write`` on a file opened with ``O_APPEND`` (atomic for one
line on a local filesystem), so concurrent writers never interleave records; a line cut short by a
killed writer is closed before the next record and skipped with a warning when reading.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def append_record(path: Path, record: dict[str, Any], *, mode: int | None = None) -> None:
    """Append one record (a JSON object) as a line, creating the file and its folder.

    Args:
        mode: permission bits of the file (default: 0o644 less the umask, on creation only);
            when given, a file of ours with other bits is set to them, so a log once created
            world-readable is closed on its next record.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644 if mode is None else mode)
    try:
        stat = os.fstat(fd)
        if mode is not None and stat.st_mode & 0o777 != mode and stat.st_uid == os.getuid():
            os.fchmod(fd, mode)  # O_CREAT's mode is reduced by the umask, and only on creation
        size = stat.st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a line cut short by a killed writer
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete record, oldest first (an unreadable line is skipped and logged)."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s line %d is not a complete record; skipped", path, number)
    return records
