"""The derived tables of the warehouse in build order (DWD, then DWS, then ADS)."""

from __future__ import annotations

from workbench.config import WarehouseSettings
from workbench.warehouse.ads import ads_models
from workbench.warehouse.ads_network import network_models
from workbench.warehouse.ads_value import value_models
from workbench.warehouse.dwd import DWD_MODELS
from workbench.warehouse.dws import dws_models
from workbench.warehouse.model import Model


def get_models(churn_horizon_months: int | None = None) -> list[Model]:
    """Every model in build order; the horizon sets the look-ahead of the churn label and the
    campaign window (default: ``warehouse.churn_horizon_months``'s default)."""
    k = churn_horizon_months or WarehouseSettings().churn_horizon_months
    return [*DWD_MODELS, *dws_models(k), *ads_models(k), *network_models(k), *value_models(k)]


MODELS: list[Model] = get_models()
