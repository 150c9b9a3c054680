"""Cross-sell explorer app: the basket rules filtered by support, confidence, lift and product,
the strongest associations, how many subscribers each offer would reach, and the export of the
chosen offer's audience as a target list.

Inputs (DuckDB reads): ``ads_basket_rules`` and ``ads_offers`` of a month. The offers are the
subscribers' next-best offers from the overall rules; a rule's id is a hash of its items, so the
same rule carries the same id in every scope. The *audience* of an offer product under the
current filters is the subscribers whose offer of that product comes from a rule passing them.

Region scoping: a manager restricted to regions sees only the rules mined within those regions
(the overall and segment rules are computed over every region) and only the offers of
subscribers in them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench import formats
from workbench.catalog.results import ALL_SCOPE
from workbench.dashboards import APP_INFO
from workbench.errors import ParameterError, require_columns

if TYPE_CHECKING:
    import ipywidgets as widgets
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer
    from workbench.filters import Condition

log = logging.getLogger(__name__)

#: the app's title in English and Chinese (declared with the others in workbench.dashboards)
TITLE = APP_INFO["cross_sell"][:2]

RULE_COLUMNS = [
    "scope",
    "scope_value",
    "rule_id",
    "antecedent",
    "consequent",
    "support",
    "confidence",
    "lift",
]
OFFER_COLUMNS = ["subscriber_id", "offer_product_id", "rule_id"]
ITEM_SEPARATOR = " + "
ANY_PRODUCT = ""
TOP_RULES = 15


@dataclass(frozen=True)
class RuleFilter:
    """The explorer's controls."""

    scope: str = "overall"
    scope_value: str = ALL_SCOPE
    min_support: float = 0.0
    min_confidence: float = 0.0
    min_lift: float = 1.0
    product: str = ANY_PRODUCT  # "": any; else rules offering or requiring this product


def rule_scopes(rules: pd.DataFrame, regions: frozenset[str] | None) -> list[tuple[str, str]]:
    """The (scope, scope value) choices a viewer may pick, overall first.

    Args:
        regions: the viewer's regions (``None``: every region, and every scope).
    """
    require_columns(rules.columns, ["scope", "scope_value"], "ads_basket_rules")
    order = {"overall": 0, "region": 1, "segment": 2}
    pairs = rules[["scope", "scope_value"]].drop_duplicates()
    if regions is not None:
        pairs = pairs[(pairs["scope"] == "region") & pairs["scope_value"].isin(regions)]
    ranked = sorted((str(s), str(v)) for s, v in pairs.itertuples(index=False, name=None))
    return sorted(ranked, key=lambda p: (order.get(p[0], 9), p[1]))


def rule_products(rules: pd.DataFrame) -> list[str]:
    """Every product named by a rule (antecedent items and consequents), sorted."""
    require_columns(rules.columns, ["antecedent", "consequent"], "ads_basket_rules")
    items = set(rules["consequent"].dropna().astype(str))
    for antecedent in rules["antecedent"].dropna().astype(str):
        items.update(i for i in antecedent.split(ITEM_SEPARATOR) if i)
    return sorted(items)


def _check_share(value: float, name: str, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise ParameterError(f"{name} must be a number in [0, {high}], got {value!r}")
    return float(value)


def filter_rules(rules: pd.DataFrame, selection: RuleFilter) -> pd.DataFrame:
    """The rules of one scope at or above the thresholds; with a product, those offering it or
    requiring it. Strongest first (lift, then confidence, then rule id for a stable order)."""
    require_columns(rules.columns, RULE_COLUMNS, "ads_basket_rules")
    _check_share(selection.min_support, "min_support")
    _check_share(selection.min_confidence, "min_confidence")
    if (
        isinstance(selection.min_lift, bool)
        or not isinstance(selection.min_lift, int | float)
        or selection.min_lift < 0
    ):
        raise ParameterError(f"min_lift must be a number >= 0, got {selection.min_lift!r}")
    keep = (
        (rules["scope"] == selection.scope)
        & (rules["scope_value"] == selection.scope_value)
        & (rules["support"] >= selection.min_support)
        & (rules["confidence"] >= selection.min_confidence)
        & (rules["lift"] >= selection.min_lift)
    )
    if selection.product:
        held = rules["antecedent"].fillna("").str.split(ITEM_SEPARATOR, regex=False)
        requires = held.map(lambda items: selection.product in items)
        keep &= (rules["consequent"] == selection.product) | requires
    out = rules[keep]
    return out.sort_values(
        ["lift", "confidence", "rule_id"], ascending=[False, False, True]
    ).reset_index(drop=True)


def offer_audience(offers: pd.DataFrame, rules: pd.DataFrame, product: str) -> pd.DataFrame:
    """The subscribers whose offer of ``product`` comes from one of ``rules`` (one row each)."""
    require_columns(offers.columns, OFFER_COLUMNS, "ads_offers")
    if not product:
        raise ParameterError("choose an offer product")
    chosen = offers[
        (offers["offer_product_id"] == product) & offers["rule_id"].isin(set(rules["rule_id"]))
    ]
    return (
        chosen.drop_duplicates("subscriber_id").sort_values("subscriber_id").reset_index(drop=True)
    )


def reach_by_offer(offers: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """How many subscribers each offer product would reach through the filtered ``rules``.

    Returns:
        ``offer_product_id, n_subscribers, n_rules``, largest audience first.
    """
    require_columns(offers.columns, OFFER_COLUMNS, "ads_offers")
    chosen = offers[offers["rule_id"].isin(set(rules["rule_id"]))]
    reach = chosen.groupby("offer_product_id")["subscriber_id"].nunique().rename("n_subscribers")
    n_rules = rules.groupby("consequent")["rule_id"].nunique().rename("n_rules")
    out = pd.concat([reach, n_rules.rename_axis("offer_product_id")], axis=1).fillna(0)
    out = out.astype("int64").reset_index().rename(columns={"index": "offer_product_id"})
    return out.sort_values(
        ["n_subscribers", "offer_product_id"], ascending=[False, True]
    ).reset_index(drop=True)


def strongest_figure(rules: pd.DataFrame, top: int = TOP_RULES) -> go.Figure:
    """The ``top`` strongest associations by lift, as horizontal bars (strongest on top)."""
    import plotly.graph_objects as go

    from workbench import viz

    require_columns(rules.columns, ["antecedent", "consequent", "lift", "confidence"], "rules")
    shown = rules.nlargest(top, "lift").iloc[::-1]
    labels = shown["antecedent"].astype(str) + " ⇒ " + shown["consequent"].astype(str)
    fig = viz._figure("最强关联 Strongest associations", "提升度 Lift", "")
    fig.add_trace(
        go.Bar(
            x=shown["lift"],
            y=labels,
            orientation="h",
            marker_color=viz.NEUTRAL,
            customdata=shown["confidence"],
            hovertemplate="%{y}<br>lift %{x:.2f}<br>confidence %{customdata:.1%}<extra></extra>",
        )
    )
    fig.add_vline(x=1.0, line_dash="dot")
    fig.update_layout(height=max(300, 26 * len(shown) + 110), margin={"l": 230, "r": 20, "t": 50})
    return fig


# --------------------------------------------------------------------------- export


def audience_filters(
    product: str, rule_ids: Sequence[str], regions: frozenset[str] | None
) -> tuple[Condition, ...]:
    """The ``ads_offers`` filter of an offer's audience: the product, from these rules, in the
    viewer's regions, as bound conditions (:mod:`workbench.filters`) that DuckDB and Spark read
    alike."""
    from workbench.filters import among, equals

    if not product:
        raise ParameterError("choose an offer product")
    if not rule_ids:
        raise ParameterError(f"no rule passing the filters offers {product}")
    parts = [equals("offer_product_id", product), among("rule_id", rule_ids)]
    if regions is not None:
        parts.append(among("region_id", regions))
    return tuple(parts)


def default_campaign(product: str, period: str, user: str) -> str:
    """A campaign name for an offer's list, the viewer's own for the month:
    ``XS_<product>_<YYYYMM>_<user>`` (letters, digits, _), so two managers never share one."""
    from workbench.targets.names import default_campaign_name

    return default_campaign_name(f"XS_{product}", period, user)


def export_offer_audience(
    settings: Settings,
    viewer: Viewer,
    *,
    product: str,
    rule_ids: Sequence[str],
    period: str,
    campaign: str,
    timeout_seconds: float = 600,
) -> dict:
    """Export the chosen offer's audience as a target list (source ``offers``) with
    :func:`workbench.dashboards.data.export_target_list` (a child process runs Spark), limited
    to the viewer's regions.

    Returns:
        the export-log record (``file``, ``n_treated``, ``n_control``, ``counts``...).
    """
    from workbench.dashboards.data import export_target_list

    # export_target_list adds the viewer's region filter itself (and refuses a denied viewer)
    filters = audience_filters(product, rule_ids, None)
    region = next(iter(viewer.regions)) if viewer.regions and len(viewer.regions) == 1 else None
    return export_target_list(
        settings,
        viewer,
        source="offers",
        campaign=campaign,
        period=period,
        filters=filters,
        region=region,
        timeout_seconds=timeout_seconds,
    )


# --------------------------------------------------------------------------- the app


@dataclass
class _State:
    period: str = ""
    rules: pd.DataFrame | None = None
    offers: pd.DataFrame | None = None
    shown: pd.DataFrame | None = None


def load_month(
    settings: Settings, viewer: Viewer, period: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month's rules (the scopes the viewer may see) and offers (the viewer's regions)."""
    from workbench.dashboards.data import EmptySelection, load_mart
    from workbench.filters import among

    rules = load_mart("ads_basket_rules", settings, viewer, months=[period])
    if viewer.regions is not None:
        rules = rules[(rules["scope"] == "region") & rules["scope_value"].isin(viewer.regions)]
    if rules.empty:
        raise EmptySelection(f"No basket rules for {period} in {viewer.scope_label}.")
    offers = load_mart(
        "ads_offers",
        settings,
        viewer,
        months=[period],
        columns=["subscriber_id", "offer_product_id", "rule_id", "region_id", "segment"],
        filters=[among("rule_id", rules["rule_id"])],
    )
    return rules.reset_index(drop=True), offers


def build(settings: Settings, viewer: Viewer) -> widgets.Widget:
    """The cross-sell explorer for ``viewer``."""
    import ipywidgets as widgets

    from workbench.dashboards import ui
    from workbench.dashboards.data import MartUnavailable, available_months

    out = ui.named(widgets.Output(), "content")
    if viewer.denied:
        return ui.app_frame(*TITLE, out, viewer)
    months = available_months("ads_basket_rules", settings)
    if not months:
        body = ui.message(
            str(
                MartUnavailable(
                    "No data yet: ads_basket_rules has not been built. "
                    "Ask the analytics team to run the cross-sell subject."
                )
            ),
            "warning",
        )
        return ui.app_frame(*TITLE, body, viewer)

    style = {"description_width": "150px"}
    layout = widgets.Layout(width="420px")
    month = ui.named(
        widgets.Dropdown(options=months[::-1], description="Month 月份", style=style), "month"
    )
    scope = ui.named(widgets.Dropdown(description="Rules of 规则范围", style=style), "scope-select")

    def threshold(name: str, description: str, value: float, top: float, step: float, fmt: str):
        """A minimum-threshold slider applied on release (class ``wb-<name>``)."""
        return ui.named(
            widgets.FloatSlider(
                value=value,
                min=0.0,
                max=top,
                step=step,
                readout_format=fmt,
                description=description,
                continuous_update=False,
                style=style,
                layout=layout,
            ),
            name,
        )

    support = threshold("min-support", "Min support 支持度", 0.0, 0.2, 0.001, ".3f")
    confidence = threshold("min-confidence", "Min confidence 置信度", 0.0, 1.0, 0.01, ".2f")
    lift = threshold("min-lift", "Min lift 提升度", 1.0, 10.0, 0.1, ".1f")
    product = ui.named(widgets.Dropdown(description="Product 产品", style=style), "product")
    offer = ui.named(widgets.Dropdown(description="Offer 推荐产品", style=style), "offer")
    campaign = ui.named(
        widgets.Text(description="Campaign 活动", style=style, layout=layout), "campaign"
    )
    export = ui.named(
        widgets.Button(
            description="Export audience 导出名单",
            button_style="primary",
            icon="download",
            layout=widgets.Layout(width="220px"),
        ),
        "export",
    )
    n_rules = ui.figure_value("n-rules", "-", caption="Rules shown 规则数")
    reach = ui.figure_value("reach", "-", caption="Audience of the offer 推荐可触达用户")
    chart = ui.named(widgets.Output(), "chart-strongest")
    reach_box = widgets.VBox()
    rules_box = widgets.VBox()
    export_out = ui.named(widgets.Output(), "export-result")
    state = _State()
    muted = {"on": False}

    def selection() -> RuleFilter:
        scope_name, scope_value = scope.value or ("overall", ALL_SCOPE)
        return RuleFilter(
            scope_name,
            scope_value,
            support.value,
            confidence.value,
            lift.value,
            product.value or ANY_PRODUCT,
        )

    def show_offer(*_: object) -> None:
        if not viewer.allowed_now():  # the page was rebuilt for the viewer's new access
            return
        with ui.guarded(export_out):
            ui.show(export_out)
            if state.shown is None or not offer.value:
                ui.set_value(reach, "0", caption="Audience of the offer 推荐可触达用户")
                return
            audience = offer_audience(state.offers, state.shown, offer.value)
            ui.set_value(
                reach, f"{len(audience):,}", caption=f"Audience of {offer.value} 推荐可触达用户"
            )
            campaign.value = default_campaign(offer.value, state.period, viewer.user)

    def refresh(*_: object) -> None:
        if not viewer.allowed_now() or muted["on"] or state.rules is None:
            return
        with ui.guarded(out):
            ui.show(out)
            shown = filter_rules(state.rules, selection())
            state.shown = shown
            ui.set_value(n_rules, f"{len(shown):,}", caption="Rules shown 规则数")
            reach_table = reach_by_offer(state.offers, shown)
            offers_with_reach = reach_table[reach_table["n_subscribers"] > 0][
                "offer_product_id"
            ].tolist()
            previous = offer.value
            offer.options = offers_with_reach
            offer.value = (
                previous
                if previous in offers_with_reach
                else (offers_with_reach[0] if offers_with_reach else None)
            )
            show_offer()
            if shown.empty:
                rules_box.children = []
                reach_box.children = []
                ui.show(chart)
                ui.show(
                    out,
                    ui.message(
                        "No rule passes these filters: lower the thresholds. 没有满足条件的规则。",
                        "info",
                    ),
                )
                return
            reach_box.children = [
                ui.table_html(
                    reach_table.rename(
                        columns={
                            "offer_product_id": "offer 推荐产品",
                            "n_subscribers": "subscribers reached 可触达用户",
                            "n_rules": "rules 规则数",
                        }
                    ),
                    "reach",
                )
            ]
            table = shown[["antecedent", "consequent", "support", "confidence", "lift"]].copy()
            table[["support", "confidence"]] = table[["support", "confidence"]].map(
                lambda v: formats.format_value(v, "share")
            )
            table["lift"] = table["lift"].map(lambda v: formats.format_value(v, "ratio"))
            table = table.rename(
                columns={
                    "antecedent": "holds 已持有",
                    "consequent": "offer 推荐",
                    "support": "support 支持度",
                    "confidence": "confidence 置信度",
                    "lift": "lift 提升度",
                }
            )
            rules_box.children = [ui.table_html(table, "rules")]
            ui.plot(strongest_figure(shown), "strongest", chart)

    def load(*_: object) -> None:
        if not viewer.allowed_now():
            return
        with ui.guarded(out):
            ui.show(out)
            state.rules = state.shown = None
            state.period = month.value
            rules, state.offers = load_month(settings, viewer, month.value)
            choices = rule_scopes(rules, viewer.regions)
            muted["on"] = True  # setting the choices must not refresh on every step
            try:
                scope.options = [
                    (f"{s} {v}" if s != "overall" else "overall 全部", (s, v)) for s, v in choices
                ]
                scope.value = choices[0]
                product.options = [
                    ("(any 任意)", ANY_PRODUCT),
                    *[(p, p) for p in rule_products(rules)],
                ]
                product.value = ANY_PRODUCT
            finally:
                muted["on"] = False
            state.rules = rules
            refresh()

    def do_export(_: object) -> None:
        if not viewer.allowed_now():  # no export: the page now says why
            return
        with ui.guarded(export_out):
            ui.show(export_out)
            if state.shown is None or not offer.value:
                raise ParameterError("choose an offer with an audience first")
            export.disabled = True
            try:
                ids = state.shown.loc[state.shown["consequent"] == offer.value, "rule_id"]
                record = export_offer_audience(
                    settings,
                    viewer,
                    product=offer.value,
                    rule_ids=list(ids),
                    period=state.period,
                    campaign=campaign.value,
                )
            finally:
                export.disabled = False
            ui.show(
                export_out,
                ui.export_message(record["file"], record["n_treated"], record["n_control"]),
            )

    for control in (scope, product, support, confidence, lift):
        control.observe(refresh, "value")
    month.observe(load, "value")
    offer.observe(show_offer, "value")
    export.on_click(do_export)
    load()
    n_rules.layout.width, reach.layout.width = "140px", "300px"
    figures = widgets.HBox([n_rules, reach])
    export_box = widgets.VBox(
        [
            widgets.HTML("<b>Export the offer's audience 导出推荐名单</b>"),
            offer,
            campaign,
            export,
            export_out,
        ]
    )
    left = widgets.VBox(
        [month, scope, product, support, confidence, lift, figures, export_box],
        layout=widgets.Layout(width="480px"),
    )
    right = widgets.VBox([out, chart], layout=widgets.Layout(width="860px"))
    tables = widgets.HBox(
        [
            widgets.VBox(
                [
                    widgets.HTML("<b>Subscribers each offer would reach 各推荐可触达用户</b>"),
                    reach_box,
                ],
                layout=widgets.Layout(width="480px"),
            ),
            widgets.VBox([widgets.HTML("<b>Rules 关联规则</b>"), rules_box]),
        ]
    )
    body = widgets.VBox([widgets.HBox([left, right]), tables])
    return ui.app_frame(*TITLE, body, viewer)
