"""The export log: one JSON line per export in ``<targets.output>/export_log.jsonl``
(see :mod:`workbench.jsonl` for why concurrent exports never interleave records)."""

from __future__ import annotations

from workbench.jsonl import append_record, read_records

LOG_NAME = "export_log.jsonl"

__all__ = ["LOG_NAME", "append_record", "read_records"]
