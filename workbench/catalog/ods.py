"""ODS: typed, validated copies of each raw extract, and the quarantine of rejected rows."""

from __future__ import annotations
