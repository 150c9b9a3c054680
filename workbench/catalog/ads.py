"""ADS: application marts for the subject analyses and the dashboards."""

from __future__ import annotations
