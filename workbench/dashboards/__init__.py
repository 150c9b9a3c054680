"""Voila decision-support apps for managers (``workbench serve``).

Each app module keeps pure functions (DataFrame in, frames and figures out) and a ``build(settings,
viewer)`` that wires them into ipywidgets. Apps read marts through DuckDB only (:mod:`.data`): no
JVM ever starts in a dashboard kernel. Who is looking is a :class:`~.access.Viewer`, taken from a
signed link (:mod:`.access`), and every read is scoped to the viewer's regions.
"""

APPS = ("kpi_cockpit", "churn_retention", "cross_sell", "channel_whatif", "subjects")

__all__ = ["APPS"]
