"""DWS: summaries, above all the subscriber-month wide table."""

from __future__ import annotations
