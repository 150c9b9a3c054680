"""The export log: one JSON line per export in ``<targets.output>/export_log.jsonl``
(see :mod:`workbench.jsonl` for why concurrent exports never interleave records), created with
``targets.file_mode``."""

from __future__ import annotations

from workbench.jsonl import append_record, read_records
from workbench.targets.names import LOG_NAME

__all__ = ["LOG_NAME", "append_record", "read_records"]
