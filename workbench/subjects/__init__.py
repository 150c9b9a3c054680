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

#: each subject's title (English, Chinese): the notebook's heading, the reports' index and the
#: mail that delivers a report all show it (a test holds the notebooks to it)
TITLES: dict[str, tuple[str, str]] = {
    "churn": ("Churn prediction", "客户流失预测"),
    "cross_sell": ("Cross-sell baskets", "交叉销售"),
    "channel_roi": ("Channel ROI", "渠道投资回报"),
    "campaign_roi": ("Campaign ROI", "营销活动回报"),
    "kpi_overview": ("KPI overview", "经营指标概览"),
    "service_quality": ("Service quality", "服务质量"),
    "competition": ("Competition", "竞争分析"),
    "new_products": ("New products", "新产品分析"),
    "value_segments": ("Value segments and lifecycle", "价值分层与生命周期"),
    "key_accounts": ("Key accounts", "重点客户"),
    "revenue": ("Revenue trend, structure and forecast", "收入分析与预测"),
    "truth": ("Truth: planted against recovered", "真值校验"),
}


def title(subject: str, lang: str = "en") -> str:
    """``subject``'s title in ``lang`` (en or zh); a notebook without a declared title (one of
    ``reports.extra_notebooks``) is shown by its name."""
    en, zh = TITLES.get(subject, (subject, subject))
    return zh if lang == "zh" else en
