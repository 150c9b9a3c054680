"""Analytical CRM workbench for a mobile operator.

Analysts start here in JupyterLab::

    import workbench
    from workbench.filters import equals
    subs = workbench.table("dws_subscriber_month")     # a Spark DataFrame
    kpis = workbench.read_mart("ads_kpi_cube")          # pandas via DuckDB, no JVM
    gz = workbench.read_mart("ads_kpi_cube", filters=[equals("region_id", "GZ")])

Nothing is started at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pandas as pd
    from pyspark.sql import DataFrame

    from workbench.config import Settings
    from workbench.filters import Condition

__version__ = "0.1.0"


def table(
    name: str,
    months: list[str] | None = None,
    settings: Settings | None = None,
    jvm_log: Path | None = None,
) -> DataFrame:
    """A warehouse table as a Spark DataFrame (the session is built from the settings; when this
    starts it, ``jvm_log`` is where the JVM's own start-up output goes instead of the notebook)."""
    from workbench.config import load_settings
    from workbench.spark import get_spark
    from workbench.warehouse.storage import read_table

    settings = settings or load_settings()
    return read_table(get_spark(settings.spark, jvm_log=jvm_log), settings, name, months)


def read_mart(
    name: str,
    settings: Settings | None = None,
    months: list[str] | None = None,
    filters: Sequence[Condition] = (),
) -> pd.DataFrame:
    """A table as pandas through DuckDB, without starting Spark (see
    :func:`workbench.marts.read_mart`; ``filters`` from :mod:`workbench.filters`)."""
    from workbench.marts import read_mart as _read_mart

    return _read_mart(name, settings=settings, months=months, filters=filters)
