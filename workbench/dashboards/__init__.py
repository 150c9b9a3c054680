"""Voila decision-support apps for managers (``workbench serve``).

Each app module keeps pure functions (DataFrame in, frames and figures out) and a ``build(settings,
viewer)`` that wires them into ipywidgets. Apps read marts through DuckDB only (:mod:`.data`): no
JVM ever starts in a dashboard kernel. Who is looking is a :class:`~.access.Viewer`, taken from a
signed link (:mod:`.access`), and every read is scoped to the viewer's regions.
"""

from __future__ import annotations

from typing import NamedTuple


class App(NamedTuple):
    """What a manager reads about an app: its title and the question it answers, in English and
    Chinese (the app's page title and the portal's card come from here)."""

    title_en: str
    title_zh: str
    answers_en: str
    answers_zh: str


#: every app, in the order the portal shows them
APP_INFO: dict[str, App] = {
    "kpi_cockpit": App(
        "KPI cockpit",
        "经营指标驾驶舱",
        "How are this month's KPIs doing against last month, last year and target?",
        "本月指标环比、同比及目标完成情况如何？",
    ),
    "churn_retention": App(
        "Churn retention",
        "流失挽留",
        "Which lines are about to leave, why, and who should call them?",
        "哪些用户即将离网、原因是什么、应由谁挽留？",
    ),
    "cross_sell": App(
        "Cross-sell explorer",
        "交叉销售分析",
        "Which products go together, and what should each line be offered next?",
        "哪些产品常被一起订购，每个用户下一步推荐什么？",
    ),
    "channel_whatif": App(
        "Channel ROI what-if",
        "渠道投资回报模拟",
        "What does each sales channel return, and what if commissions or ARPU change?",
        "各渠道投资回报如何，佣金或 ARPU 变化时又会怎样？",
    ),
    "subjects": App(
        "Subject analyses",
        "专题分析",
        "Value segments, key accounts, revenue, service quality, competition, new products.",
        "价值分群、集团客户、收入、服务质量、竞争与新产品专题。",
    ),
}
APPS = tuple(APP_INFO)

__all__ = ["APPS", "APP_INFO", "App"]
