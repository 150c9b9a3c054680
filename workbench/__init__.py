"""Analytical CRM workbench for a mobile operator.

Analysts start here in JupyterLab::

    import workbench
    subs = workbench.table("dws_subscriber_month")     # a Spark DataFrame
    kpis = workbench.read_mart("ads_kpi_cube")          # pandas via DuckDB, no JVM

Nothing is started at import time.
"""

__version__ = "0.1.0"
