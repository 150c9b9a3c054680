"""The derived tables of the warehouse in build order (DWD, then DWS, then ADS)."""

from __future__ import annotations

from workbench.warehouse.model import Model

MODELS: list[Model] = []
