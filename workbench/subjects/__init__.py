"""Subject analyses over the warehouse marts: each module reads marts, calls an analysis engine
(:mod:`workbench.analysis`) and writes its result marts (:mod:`workbench.catalog.results`).

The notebooks in ``notebooks/`` call these ``run`` functions; so can any script or scheduler.
"""

#: subject name -> notebook file stem (also the folder under reports/)
SUBJECTS: tuple[str, ...] = (
    "churn",
    "cross_sell",
    "channel_roi",
    "campaign_roi",
    "kpi_overview",
    "service_quality",
    "competition",
    "new_products",
    "value_segments",
    "key_accounts",
    "revenue",
    # last: it reads the drivers and rules the churn and cross-sell reports wrote
    "truth",
)
