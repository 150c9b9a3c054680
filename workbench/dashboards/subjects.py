"""Subject analyses app (专题分析): a tab per classic subject -- value segments and lifecycle, key
accounts, revenue, service quality, competition, new products -- for a month and a region.

Every figure comes from the subject's own dashboard functions (:mod:`workbench.subjects`), which
read the marts through DuckDB: no JVM in this kernel. Only the tab on screen is computed; a tab is
recomputed when the month or region changes, and its widgets are updated in place
(:class:`~workbench.dashboards.ui.PartsView`).

Region scoping: an unrestricted viewer picks ``ALL`` (every region) or one region; a restricted
viewer picks only among their own regions, and every subject function is called with that
region, so other regions' rows are never read. New products have no region in their marts: a
restricted viewer sees that tab's company-wide figures under a notice saying so (product adoption
is an aggregate the whole company shares, and hiding the tab would hide launches from the
regions selling them). The key-account revenue concentration (top-20% share) is likewise
company-wide and labelled so.

The page opens on the tab named by the ``subject=`` query parameter (the KPI cockpit's links).
"""

from __future__ import annotations

import html
import logging
import os
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

import pandas as pd

# The revenue tab's forecasting is the slowest first import of any tab: imported with the app,
# so a preheated kernel has paid for it before anyone opens the page.
import workbench.subjects.revenue  # noqa: F401
from workbench import formats
from workbench.catalog.ads import ALL
from workbench.catalog.ads_value import REVENUE_CATEGORY_LABELS
from workbench.dashboards import APP_INFO
from workbench.dashboards.access import TOKEN_PARAM
from workbench.dashboards.data import (
    EmptySelection,
    MartUnavailable,
    available_months,
    load_mart,
)
from workbench.dashboards.ui import Chart, Note, Part, PartsView, Row, Table, Value
from workbench.subjects.common import cell_filters

if TYPE_CHECKING:
    import ipywidgets as widgets

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer

log = logging.getLogger(__name__)

#: the app's title in English and Chinese (declared with the others in workbench.dashboards)
TITLE = APP_INFO["subjects"][:2]

SUBJECT_PARAM = "subject"
#: subject -> (English, Chinese) tab label, in tab order
SUBJECTS: dict[str, tuple[str, str]] = {
    "value_segments": ("Value segments", "价值分层"),
    "key_accounts": ("Key accounts", "重点客户"),
    "revenue": ("Revenue", "收入分析"),
    "service_quality": ("Service quality", "服务质量"),
    "competition": ("Competition", "竞争分析"),
    "new_products": ("New products", "新产品"),
}
DEFAULT_SUBJECT = "value_segments"
#: subjects whose marts have no region: company-wide figures for everyone
COMPANY_WIDE = frozenset({"new_products"})
COMPANY_WIDE_NOTE = (
    "New products have no regional breakdown: this tab shows company-wide figures. "
    "新产品数据无地市拆分，本页为全公司数据。"
)
MONTHS_MART = "ads_value_segments"
TOP_ACCOUNTS = 20
_ACCOUNT_COLUMNS = [
    "revenue_rank",
    "customer_id",
    "manager_id",
    "revenue_cny",
    "revenue_change",
    "warnings",
]


def subject_from_query(query: str) -> str:
    """The tab a query string asks for (``subject=revenue``); the first tab when it names none
    or an unknown one."""
    values = parse_qs(query or "").get(SUBJECT_PARAM, [])
    if not values:
        return DEFAULT_SUBJECT
    if values[0] not in SUBJECTS:
        log.warning("unknown subject %r in the link: opening %s", values[0], DEFAULT_SUBJECT)
        return DEFAULT_SUBJECT
    return values[0]


def page_query() -> str:
    """This kernel's page query string (set once :func:`~.access.open_session` has waited for
    the request; asked of Voila otherwise)."""
    if os.environ.get("QUERY_STRING"):
        return os.environ["QUERY_STRING"]
    from workbench.dashboards.voila import page_query_string

    return page_query_string()


def requested_subject() -> str:
    """The tab this page's link asks for."""
    return subject_from_query(page_query())


def subject_links(query: str) -> list[tuple[str, str]]:
    """``(subject, relative URL)`` of each subject tab, carrying the page's own signed token.

    The token is passed on unchanged (never a new one, never another user's): the subjects app
    verifies it again. No token in ``query``: no links.
    """
    tokens = parse_qs(query or "").get(TOKEN_PARAM, [])
    if len(tokens) != 1:
        return []
    token = quote(tokens[0], safe="")
    return [
        (subject, f"subjects.ipynb?{TOKEN_PARAM}={token}&{SUBJECT_PARAM}={subject}")
        for subject in SUBJECTS
    ]


def links_html(links: list[tuple[str, str]]) -> str:
    """The cockpit's "专题分析 Subjects" row (one anchor of class ``wb-link-<subject>`` each)."""
    anchors = " &middot; ".join(
        f"<a class='wb-link-{s}' href='{html.escape(url, quote=True)}' target='_self'>"
        f"{html.escape(SUBJECTS[s][1])} {html.escape(SUBJECTS[s][0])}</a>"
        for s, url in links
    )
    return f"<div class='wb-subject-links'><b>专题分析 Subjects</b>: {anchors}</div>"


def region_choices(regions: list[str], viewer: Viewer) -> list[str]:
    """Regions a viewer may pick: ``ALL`` first for an unrestricted viewer, else only theirs."""
    visible = sorted(r for r in set(regions) if r != ALL and viewer.can_see(r))
    return ([ALL] if viewer.regions is None else []) + visible


def _count(value: float | None) -> str:
    return formats.format_value(value, "count")


def _share(value: float | None) -> str:
    return formats.format_value(value, "share")


# --------------------------------------------------------------------------- one tab each


def _value_segments(settings: Settings, period: str, region: str) -> list[Part]:
    from workbench import viz
    from workbench.subjects import value_segments

    tiers = value_segments.tier_summary(settings, period, region)
    rates = value_segments.transition_matrix(settings, period, region, rates=True)
    by_tier = tiers.groupby("value_tier")["n_lines"].sum()
    high = float(by_tier.get("high", 0)) / float(by_tier.sum()) if by_tier.sum() else None
    stay = rates.loc["high", "high"] if "high" in rates.index else None
    return [
        Row(
            Value("vs-lines", _count(tiers["n_lines"].sum()), "Lines 用户数"),
            Value("vs-high-share", _share(high), "High tier 高价值占比"),
            Value("vs-high-stay", _share(stay), "High tier kept since last month 高价值留存"),
        ),
        Chart("tiers", partial(viz.tier_bars, tiers)),
        Chart("transitions", partial(viz.transition_heatmap, rates)),
    ]


def _key_accounts(settings: Settings, period: str, region: str, viewer: Viewer) -> list[Part]:
    from workbench import viz
    from workbench.dashboards import ui
    from workbench.subjects import key_accounts
    from workbench.subjects.value_segments import read_mart_for

    # a region may hold no enterprise customer at all: say so rather than report an error
    present = load_mart(
        "ads_key_account_health",
        settings,
        viewer,
        months=[period],
        columns=["customer_id"],
        filters=cell_filters(region_id=region),
    )
    table = (
        key_accounts.key_account_table(settings, period, region)
        if len(present)
        else pd.DataFrame({"n_warnings": pd.Series(dtype="int64")})
    )
    concentration = read_mart_for("ads_revenue_concentration", settings, period)
    share = key_accounts.top_share(concentration, period, key_accounts.DEFAULTS["top_fraction"])
    scope = " (company-wide 全公司)" if viewer.regions is not None else ""
    shown = viz.format_table(
        table.head(TOP_ACCOUNTS) if len(table) else pd.DataFrame(columns=_ACCOUNT_COLUMNS),
        {
            "revenue_rank": ("排名 Rank", "int"),
            "customer_id": ("客户 Customer", "text"),
            "manager_id": ("客户经理 Manager", "text"),
            "revenue_cny": ("收入 Revenue", "cny"),
            "revenue_change": ("环比 MoM", "pct"),
            "warnings": ("预警 Warnings", "text"),
        },
    )
    note = [] if len(table) else [Note(f"No key accounts in {region} in {period}.")]
    return [
        *note,
        Row(
            Value("ka-accounts", _count(len(table)), "Key accounts 重点客户数"),
            Value(
                "ka-warnings",
                _count(int((table["n_warnings"] > 0).sum())),
                "With warning signs 有预警",
                ui.WARNING,
            ),
            Value(
                "ka-top-share",
                _share(share),
                f"Revenue of the top 20% customers 前20%客户收入占比{scope}",
            ),
        ),
        *([Table("key-accounts", shown, TOP_ACCOUNTS)] if len(table) else []),
    ]


def _revenue(settings: Settings, period: str, region: str) -> list[Part]:
    from workbench import viz
    from workbench.subjects import revenue

    structure = revenue.read_structure(settings, period, region)
    trend = revenue.monthly_revenue(structure)
    by_category = revenue.compare_structure(structure, period, "category")
    forecast = revenue.revenue_forecast(settings, period, region)
    now = trend.loc[trend["month"] == period, "revenue_cny"]
    parts: list[Part] = [
        Row(
            Value(
                "rev-revenue",
                formats.format_value(float(now.iloc[0]) if len(now) else None, "CNY"),
                "Revenue 收入",
            ),
            Value("rev-mape", _share(forecast.mape), "Forecast back-test MAPE 回测误差"),
        ),
        Chart(
            "revenue-structure",
            partial(
                viz.stacked_bars,
                structure.groupby(["month", "category"], as_index=False)["revenue_cny"].sum(),
                "month",
                "category",
                "revenue_cny",
                "收入结构 Revenue by category",
                percent=False,
                names=REVENUE_CATEGORY_LABELS,
            ),
        ),
        Chart(
            "fan", partial(viz.forecast_fan, forecast.history, forecast.forecast, forecast.backtest)
        ),
        Table(
            "revenue-by-category",
            viz.format_table(
                by_category,
                {
                    "category": ("类别 Category", "text"),
                    "revenue_cny": ("本月 This month", "cny"),
                    "change_mom": ("环比 MoM", "pct"),
                    "share": ("占比 Share", "pct"),
                },
            ),
        ),
    ]
    if forecast.message:
        parts.insert(1, Note(forecast.message))
    return parts


def _service_quality(settings: Settings, period: str, region: str) -> list[Part]:
    from workbench import viz
    from workbench.subjects import service_quality

    by_region = service_quality.complaint_rates(settings, period, region, by="region_id")
    by_category = service_quality.complaint_rates(settings, period, region, by="category")
    lines = float(by_region["n_lines"].sum())
    per_10k = by_region["n_complaints"].sum() * service_quality.PER / lines if lines else None
    cells, window = service_quality.poor_cell_churn(settings, period, region)
    difference = float(cells["difference"].iloc[0]) if len(cells) else None
    return [
        Row(
            Value(
                "sq-per-10k",
                formats.format_value(per_10k, "complaints per 10k lines"),
                "Complaints 投诉",
            ),
            Value(
                "sq-poor-gap",
                formats.format_points(difference),
                f"Churn gap, poor - other cells 质差小区流失差 ({', '.join(window)})",
            ),
        ),
        Chart(
            "complaints",
            partial(
                viz.rate_bars,
                by_category,
                "category",
                "complaints_per_10k",
                "万户投诉率（按类别） Complaints per 10k by category",
                y_title="per 10k",
            ),
        ),
        Chart(
            "complaints-region",
            partial(
                viz.rate_bars,
                by_region,
                "region_id",
                "complaints_per_10k",
                "万户投诉率（地市） Complaints per 10k by region",
                y_title="per 10k",
            ),
        ),
        Chart(
            "poor-cells",
            partial(
                viz.rate_bars,
                cells,
                "cell_group",
                "churn_rate",
                "质差小区用户次月流失率 Next-month churn: poor vs other cells",
                low="churn_rate_low",
                high="churn_rate_high",
                percent=True,
            ),
        ),
    ]


def _competition(settings: Settings, period: str, region: str) -> list[Part]:
    from workbench import viz
    from workbench.dashboards import ui
    from workbench.subjects import competition

    shares = competition.competitor_shares(settings, period, "region_id", region)
    totals = competition.with_shares(shares.sum(numeric_only=True).to_frame().T)
    bands, _window = competition.churn_by_band(settings, period, region)
    risers = competition.rising_share_list(settings, period, region, top_n=10**9)
    return [
        Row(
            Value(
                "comp-share",
                _share(float(totals["competitor_share"].iloc[0])),
                "Competitor share of voice minutes 异网通话占比",
            ),
            Value(
                "comp-risers",
                _count(len(risers)),
                "Lines with a rising competitor share 异网占比上升用户",
                ui.WARNING,
            ),
        ),
        Chart(
            "competitors",
            partial(
                viz.stacked_bars,
                shares.melt(
                    "region_id",
                    ["competitor_a_share", "competitor_b_share"],
                    var_name="competitor",
                    value_name="share",
                ),
                "region_id",
                "competitor",
                "share",
                "异网通话占比 Share by competitor",
            ),
        ),
        Chart(
            "bands",
            partial(
                viz.rate_bars,
                bands,
                "share_band",
                "churn_rate",
                "异网占比分档次月流失率 Next-month churn by competitor-share band",
                low="churn_rate_low",
                high="churn_rate_high",
                percent=True,
            ),
        ),
    ]


def _new_products(settings: Settings, period: str, viewer: Viewer) -> list[Part]:
    from workbench import viz
    from workbench.subjects import new_products

    product = new_products.resolve_product(settings, new_products.NEWEST)
    adoption = new_products.adoption_curve(settings, str(product["product_id"]), period)
    now = adoption[adoption["month"] == period].iloc[-1]
    launch = product["launch_month"] if isinstance(product["launch_month"], str) else None
    parts: list[Part] = [
        Row(
            Value(
                "np-holders",
                _count(float(now["n_holders"])),
                f"Holders of {product['product_id']} 持有用户",
            ),
            Value("np-penetration", _share(float(now["penetration"])), "Penetration 渗透率"),
        ),
        Chart("adoption", partial(viz.adoption_curve, adoption, launch)),
    ]
    if viewer.regions is not None:
        parts.insert(0, Note(COMPANY_WIDE_NOTE))
    return parts


def subject_parts(
    subject: str, settings: Settings, viewer: Viewer, period: str, region: str
) -> list[Part]:
    """What one tab shows for ``period`` and ``region`` (one the viewer may see)."""
    from workbench.dashboards.data import region_filter

    region_filter(MONTHS_MART, viewer)  # a denied viewer reads nothing
    if region == ALL and viewer.regions is not None:
        raise EmptySelection("Choose one of your regions.")
    if region != ALL and not viewer.can_see(region):
        raise EmptySelection(f"Region {region} is not among your regions.")
    if subject == "value_segments":
        return _value_segments(settings, period, region)
    if subject == "key_accounts":
        return _key_accounts(settings, period, region, viewer)
    if subject == "revenue":
        return _revenue(settings, period, region)
    if subject == "service_quality":
        return _service_quality(settings, period, region)
    if subject == "competition":
        return _competition(settings, period, region)
    if subject == "new_products":
        return _new_products(settings, period, viewer)
    raise EmptySelection(f"Unknown subject {subject!r}: choose one of {', '.join(SUBJECTS)}.")


def subject_widgets(
    subject: str, settings: Settings, viewer: Viewer, period: str, region: str
) -> list[widgets.Widget]:
    """The widgets of one tab for ``period`` and ``region`` (one the viewer may see)."""
    view = PartsView(f"wb-tab-{subject}")
    return list(view.show(subject_parts(subject, settings, viewer, period, region)).children)


# --------------------------------------------------------------------------- the app


def _regions(settings: Settings, viewer: Viewer, period: str) -> list[str]:
    frame = load_mart(MONTHS_MART, settings, viewer, months=[period], columns=["region_id"])
    return region_choices(list(frame["region_id"].unique()), viewer)


def _body(settings: Settings, viewer: Viewer, subject: str) -> widgets.Widget:
    import ipywidgets as widgets

    from workbench.dashboards import ui

    months = available_months(MONTHS_MART, settings)
    if not months:
        raise MartUnavailable(
            f"No data yet: {MONTHS_MART} has not been built. Ask the analytics team to run it."
        )
    regions = _regions(settings, viewer, months[-1])
    if not regions:
        raise EmptySelection("No subject data for your regions yet.")
    tabs = ui.named(
        widgets.ToggleButtons(
            options=[(f"{zh} {en}", s) for s, (en, zh) in SUBJECTS.items()],
            value=subject if subject in SUBJECTS else DEFAULT_SUBJECT,
            style={"button_width": "200px"},
        ),
        "subject",
    )
    month = ui.named(
        widgets.Dropdown(options=months[::-1], value=months[-1], description="Month 月份"), "month"
    )
    region = ui.named(
        widgets.Dropdown(
            options=regions,
            value=regions[0],
            description="Region 地市",
            disabled=len(regions) == 1,
        ),
        "region",
    )
    content = ui.named(widgets.Output(), "content")
    # one view per tab, kept: a month or region change updates the tab's widgets in place
    views = {subject: PartsView(f"wb-tab-{subject}") for subject in SUBJECTS}

    def refresh(*_: object) -> None:
        if not viewer.allowed_now():  # the page was rebuilt for the viewer's new access
            return
        with ui.guarded(content):
            # the region picker means nothing on a company-wide tab
            region.layout.visibility = "hidden" if tabs.value in COMPANY_WIDE else "visible"
            parts = subject_parts(tabs.value, settings, viewer, month.value, region.value)
            ui.show(content, views[tabs.value].show(parts))

    for control in (tabs, month, region):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([tabs, widgets.HBox([month, region]), content])


def build(settings: Settings, viewer: Viewer, subject: str | None = None) -> widgets.Widget:
    """The subjects page for ``viewer``, opened on ``subject``'s tab (default: the one the
    page's link names, :func:`requested_subject`)."""
    from workbench.dashboards import ui

    subject = subject or requested_subject()
    if viewer.denied:  # the frame shows only the reason
        return ui.app_frame(*TITLE, ui.message(viewer.denied), viewer)
    body = ui.guard(_body)(settings, viewer, subject)
    return ui.app_frame(*TITLE, body, viewer)


__all__ = [
    "SUBJECTS",
    "build",
    "region_choices",
    "requested_subject",
    "subject_from_query",
    "subject_links",
    "subject_widgets",
]
