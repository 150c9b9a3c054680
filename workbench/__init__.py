"""Analytical CRM workbench for a mobile operator.

Analysts start here in JupyterLab::

    import workbench
    subs = workbench.table("dws_subscriber_month")     # a Spark DataFrame
    kpis = workbench.read_mart("ads_kpi_cube")          # pandas via DuckDB, no JVM

Nothing is started at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from workbench.config import Settings

__version__ = "0.1.0"


def table(
    name: str, months: list[str] | None = None, settings: Settings | None = None
) -> DataFrame:
    """A warehouse table as a Spark DataFrame (the session is built from the settings)."""
    from workbench.config import load_settings
    from workbench.spark import get_spark
    from workbench.warehouse.storage import read_table

    settings = settings or load_settings()
    return read_table(get_spark(settings.spark), settings, name, months)


def read_mart(
    name: str,
    settings: Settings | None = None,
    where: str | None = None,
    months: list[str] | None = None,
) -> pd.DataFrame:
    """A table as pandas through DuckDB, without starting Spark (see :mod:`workbench.marts`)."""
    from workbench.marts import read_mart as _read_mart

    return _read_mart(name, settings=settings, where=where, months=months)
