"""Channel ROI what-if app: sliders for commission, ARPU, margin, discount rate and horizon
recompute payback and ROI per channel live; survival curves by channel.

The valuation is :mod:`workbench.analysis.roi` (:func:`~workbench.analysis.roi.channel_roi` once
from the marts, then :func:`~workbench.analysis.roi.what_if` on every slider move: small pandas
only). Inputs are read through DuckDB: ``ads_channel_roi`` (the subject's parameters and channel
names), ``ads_channel_cohorts`` and ``dwd_fct_channel_cost``. Channels are company-wide (the
marts carry no region), so a region-restricted manager sees the same channels as everyone.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench import formats
from workbench.analysis import roi as engine
from workbench.dashboards import APP_INFO
from workbench.errors import InputDataError, ParameterError
from workbench.params import defaults as declared_defaults

if TYPE_CHECKING:
    import ipywidgets as widgets
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer

log = logging.getLogger(__name__)

#: the app's title in English and Chinese (declared with the others in workbench.dashboards)
TITLE = APP_INFO["channel_whatif"][:2]

#: the channel ROI subject's declared defaults; the mart does not record ``min_at_risk``, and
#: the sliders start from the rest until the month's valuation is read
DECLARED = declared_defaults("channel_roi")
MIN_AT_RISK = DECLARED["min_at_risk"]
ALL_CHANNELS = "ALL"
#: slider ranges: (min, max, step)
COMMISSION_PCT = (0, 200, 5)
ARPU_PCT = (50, 150, 5)
MARGIN = (0.05, 1.0, 0.05)
DISCOUNT_RATE = (0.0, 0.3, 0.01)
HORIZON = (3, 60, 1)
RESULT_COLUMNS = [
    "channel_id",
    "channel_name_en",
    "channel_name_zh",
    "n_gross_adds",
    "commission_per_add_cny",
    "cac_cny",
    "arpu_cny",
    "survival_at_horizon",
    "ltv_cny",
    "payback_month",
    "roi",
]


#: the valuation table's columns as managers read them
RESULT_HEADERS = {
    "channel_id": "渠道 Channel",
    "channel_name_en": "Name",
    "channel_name_zh": "名称",
    "n_gross_adds": "新增 Gross adds",
    "commission_per_add_cny": "佣金 Commission/add",
    "cac_cny": "获客成本 CAC",
    "arpu_cny": "ARPU",
    "survival_at_horizon": "期末留存 Survival",
    "ltv_cny": "客户价值 LTV",
    "payback_month": "回本月 Payback",
    "roi": "ROI",
}


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """:func:`recompute`'s valuation as the page lists it: money in yuan, shares in percent,
    bilingual headers."""

    def money(column: str) -> list[str]:
        return [formats.format_value(v, "CNY") for v in results[column]]

    shown = results.assign(
        n_gross_adds=[formats.format_value(v, "count") for v in results["n_gross_adds"]],
        commission_per_add_cny=money("commission_per_add_cny"),
        cac_cny=money("cac_cny"),
        arpu_cny=money("arpu_cny"),
        ltv_cny=money("ltv_cny"),
        survival_at_horizon=[
            formats.format_value(v, "share") for v in results["survival_at_horizon"]
        ],
        payback_month=results["payback_month"].map(_payback_text),
        roi=results["roi"].map(_roi_text),
    )
    return shown[list(RESULT_HEADERS)].rename(columns=RESULT_HEADERS)


@dataclass(frozen=True)
class WhatIfBase:
    """The valuation at the subject's parameters plus the channel names, as of ``period``."""

    roi: engine.ChannelRoi
    channels: pd.DataFrame  # channel_id, channel_name_en, channel_name_zh, is_warning
    period: str


@dataclass(frozen=True)
class Assumptions:
    """The sliders. Percentages are of the current values (100 = unchanged)."""

    commission_pct: float = 100.0
    commission_channel: str = ALL_CHANNELS
    arpu_pct: float = 100.0
    margin: float | None = None
    annual_discount_rate: float | None = None
    horizon_months: int | None = None


def whatif_base(
    roi_mart: pd.DataFrame,
    cohorts_mart: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    period: str,
    min_at_risk: int = MIN_AT_RISK,
) -> WhatIfBase:
    """Rebuild the subject's valuation of ``period`` from the marts (DuckDB reads, no Spark).

    The margin, horizon and discount rate come from ``ads_channel_roi`` of the period, so the
    what-if at unchanged sliders reproduces the mart's ROI.
    """
    roi_rows = roi_mart[roi_mart["month"] == period] if "month" in roi_mart else roi_mart
    if roi_rows.empty:
        raise InputDataError(f"ads_channel_roi has no rows for {period}")
    params = roi_rows[["margin", "horizon_months", "annual_discount_rate"]].drop_duplicates()
    if len(params) != 1:
        raise InputDataError(
            f"ads_channel_roi {period}: channels valued with different parameters: "
            f"{params.to_dict('records')}"
        )
    # the subject's cohort table: complete cohorts observed up to the period
    observed = cohorts_mart[cohorts_mart["month"] <= period]
    if observed.empty or not observed["is_cohort_complete"].fillna(False).any():
        raise InputDataError(f"ads_channel_cohorts has no complete cohort observed by {period}")
    cohorts = engine.cohorts_from_mart(observed)
    costs = costs[costs["month"] <= period].reset_index(drop=True)
    first = params.iloc[0]
    valued = engine.channel_roi(
        cohorts,
        costs,
        margin=float(first["margin"]),
        horizon_months=int(first["horizon_months"]),
        annual_discount_rate=float(first["annual_discount_rate"]),
        min_at_risk=min_at_risk,
    )
    names = ["channel_id", "channel_name_en", "channel_name_zh", "is_warning"]
    return WhatIfBase(valued, roi_rows[names].reset_index(drop=True), period)


def commission_overrides(
    base: WhatIfBase, commission_pct: float, channel: str = ALL_CHANNELS
) -> dict[str, float]:
    """Commission per gross add of every channel after scaling ``channel`` (or all) by
    ``commission_pct`` per cent of its current value."""
    if isinstance(commission_pct, bool) or not isinstance(commission_pct, int | float):
        raise ParameterError(f"commission_pct must be a number, got {commission_pct!r}")
    if commission_pct < 0:
        raise ParameterError(f"commission_pct must be >= 0, got {commission_pct!r}")
    costs = base.roi.costs.dropna(subset=["commission_per_add_cny"])
    current = dict(zip(costs["channel_id"], costs["commission_per_add_cny"], strict=True))
    if channel != ALL_CHANNELS and channel not in current:
        raise ParameterError(
            f"commission channel {channel!r} is not valued; choose one of {sorted(current)}"
        )
    return {
        ch: value * commission_pct / 100.0 if channel in (ALL_CHANNELS, ch) else value
        for ch, value in current.items()
    }


def recompute(base: WhatIfBase, assumptions: Assumptions) -> pd.DataFrame:
    """Payback and ROI per channel under ``assumptions`` (the engine's :func:`what_if`).

    Returns:
        :data:`RESULT_COLUMNS`, best ROI first.
    """
    overrides = commission_overrides(
        base, assumptions.commission_pct, assumptions.commission_channel
    )
    if assumptions.arpu_pct < 0:
        raise ParameterError(f"arpu_pct must be >= 0, got {assumptions.arpu_pct!r}")
    out = engine.what_if(
        base.roi,
        commission_per_add_cny=overrides,
        arpu_factor=assumptions.arpu_pct / 100.0,
        margin=assumptions.margin,
        annual_discount_rate=assumptions.annual_discount_rate,
        horizon_months=assumptions.horizon_months,
    )
    out["commission_per_add_cny"] = out["channel_id"].map(overrides)
    out = out.merge(base.channels, on="channel_id", how="left")
    return (
        out[RESULT_COLUMNS]
        .sort_values(["roi", "channel_id"], ascending=[False, True], na_position="last")
        .reset_index(drop=True)
    )


def survival_by_channel(base: WhatIfBase, horizon_months: int) -> pd.DataFrame:
    """Kaplan-Meier survival per channel for the first ``horizon_months`` months (extrapolated
    months marked), for :func:`workbench.viz.survival_curves`."""
    curves = base.roi.curves
    shown = curves[curves["months_since_activation"] < horizon_months]
    return shown[
        ["channel_id", "months_since_activation", "survival", "is_extrapolated"]
    ].reset_index(drop=True)


def roi_figure(results: pd.DataFrame) -> go.Figure:
    """ROI per channel, best first (negative in red)."""
    from workbench import viz

    fig = viz.roi_bars(results, label="channel_id", value="roi")
    fig.update_layout(height=340, margin={"l": 50, "r": 20, "t": 50, "b": 80})
    return fig


def survival_figure(base: WhatIfBase, horizon_months: int) -> go.Figure:
    """Survival curves by channel over the horizon."""
    from workbench import viz

    fig = viz.survival_curves(survival_by_channel(base, horizon_months), months=horizon_months)
    fig.update_layout(height=380, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


# --------------------------------------------------------------------------- the app


def load_base(settings: Settings, viewer: Viewer, period: str) -> WhatIfBase:
    """The valuation of ``period`` from the marts (DuckDB)."""
    from workbench.dashboards.data import load_mart

    roi_mart = load_mart("ads_channel_roi", settings, viewer, months=[period])
    cohorts = load_mart("ads_channel_cohorts", settings, viewer)
    costs = load_mart(
        "dwd_fct_channel_cost",
        settings,
        viewer,
        columns=["channel_id", "commission_per_gross_add_cny", "fixed_cost_cny", "month"],
    )
    return whatif_base(roi_mart, cohorts, costs, period=period)


def _roi_text(roi: float | None) -> str:
    return formats.format_value(roi, "share")


def _payback_text(month: object) -> str:
    return "not paid back" if pd.isna(month) else f"month {int(month)}"


def build(settings: Settings, viewer: Viewer) -> widgets.Widget:
    """The channel ROI what-if app for ``viewer``."""
    import ipywidgets as widgets

    from workbench.dashboards import ui
    from workbench.dashboards.data import available_months

    title = TITLE
    out = ui.named(widgets.Output(), "content")
    if viewer.denied:
        return ui.app_frame(*title, out, viewer)
    months = available_months("ads_channel_roi", settings)
    if not months:
        body = ui.message(
            "No data yet: ads_channel_roi has not been built. "
            "Ask the analytics team to run the channel ROI subject.",
            "warning",
        )
        return ui.app_frame(*title, body, viewer)

    style = {"description_width": "170px"}
    layout = widgets.Layout(width="440px")

    def slider(kind, name, label, bounds, value, fmt):
        low, high, step = bounds
        widget = kind(
            value=value,
            min=low,
            max=high,
            step=step,
            description=label,
            continuous_update=False,
            style=style,
            layout=layout,
            **({"readout_format": fmt} if fmt else {}),
        )
        return ui.named(widget, name)

    month = ui.named(
        widgets.Dropdown(options=months[::-1], description="Valued as of 估值月份", style=style),
        "month",
    )
    channel = ui.named(
        widgets.Dropdown(description="Commission of 佣金渠道", style=style, layout=layout),
        "commission-channel",
    )
    commission = slider(
        widgets.FloatSlider, "commission", "Commission % 佣金比例", COMMISSION_PCT, 100.0, ".0f"
    )
    arpu = slider(widgets.FloatSlider, "arpu", "ARPU % 客户月均收入", ARPU_PCT, 100.0, ".0f")
    margin = slider(
        widgets.FloatSlider, "margin", "Margin 毛利率", MARGIN, DECLARED["margin"], ".2f"
    )
    rate = slider(
        widgets.FloatSlider,
        "discount-rate",
        "Discount rate 年折现率",
        DISCOUNT_RATE,
        DECLARED["annual_discount_rate"],
        ".2f",
    )
    horizon = slider(
        widgets.IntSlider,
        "horizon",
        "Horizon (months) 期限(月)",
        HORIZON,
        DECLARED["horizon_months"],
        "",
    )
    reset = ui.named(widgets.Button(description="Reset 重置", icon="undo"), "reset")
    tiles = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
    best = ui.figure_value("best-channel", "-", caption="Best ROI 最佳渠道")
    worst = ui.figure_value("worst-channel", "-", caption="Worst ROI 最差渠道")
    roi_chart = ui.named(widgets.Output(), "chart-roi")
    survival_chart = ui.named(widgets.Output(), "chart-survival")
    table_box = widgets.VBox()
    state: dict[str, WhatIfBase] = {}
    values: dict[str, tuple[widgets.HTML, str]] = {}  # channel -> its tile, its heading
    muted = {"on": False}

    def defaults(base: WhatIfBase) -> dict[str, object]:
        return {
            "commission_channel": ALL_CHANNELS,
            "commission": 100.0,
            "arpu": 100.0,
            "margin": base.roi.margin,
            "rate": base.roi.annual_discount_rate,
            "horizon": base.roi.horizon_months,
        }

    controls = {
        "commission_channel": channel,
        "commission": commission,
        "arpu": arpu,
        "margin": margin,
        "rate": rate,
        "horizon": horizon,
    }

    def make_tiles(base: WhatIfBase) -> None:
        values.clear()
        for row in base.channels.sort_values("channel_id").itertuples(index=False):
            flag = " ⚠" if row.is_warning else ""
            head = (
                f"<b>{html.escape(row.channel_id)}</b>{flag}<br><small>"
                f"{html.escape(row.channel_name_zh)} {html.escape(row.channel_name_en)}</small>"
            )
            values[row.channel_id] = (ui.tile(row.channel_id, width="160px"), head)
        tiles.children = [box for box, _ in values.values()]

    def refresh(*_: object) -> None:
        if not viewer.allowed_now() or muted["on"] or "base" not in state:
            return
        with ui.guarded(out):
            ui.show(out)
            base = state["base"]
            results = recompute(
                base,
                Assumptions(
                    commission_pct=float(commission.value),
                    commission_channel=channel.value or ALL_CHANNELS,
                    arpu_pct=float(arpu.value),
                    margin=float(margin.value),
                    annual_discount_rate=float(rate.value),
                    horizon_months=int(horizon.value),
                ),
            )
            for row in results.itertuples(index=False):
                box, head = values[row.channel_id]
                colour = ui.ALARM if pd.notna(row.roi) and row.roi < 0 else None
                roi = ui.Value(f"roi-{row.channel_id}", _roi_text(row.roi), "ROI", colour)
                # the secondary figure, smaller: "not paid back" must fit the tile unbroken
                payback = ui.Value(
                    f"payback-{row.channel_id}",
                    _payback_text(row.payback_month),
                    "Payback 回本月",
                    size=16,
                )
                ui.set_tile(box, head, [[roi], [payback]], border="#ddd")
            ranked = results.dropna(subset=["roi"])
            if not ranked.empty:
                top, bottom = ranked.iloc[0], ranked.iloc[-1]
                ui.set_value(
                    best, f"{top.channel_id} {_roi_text(top.roi)}", caption="Best ROI 最佳渠道"
                )
                ui.set_value(
                    worst,
                    f"{bottom.channel_id} {_roi_text(bottom.roi)}",
                    caption="Worst ROI 最差渠道",
                    colour=ui.ALARM,
                )
            table_box.children = [ui.table_html(results_table(results), "channels")]
            ui.plot(roi_figure(results), "roi", roi_chart)
            ui.plot(survival_figure(base, int(horizon.value)), "survival", survival_chart)

    def set_controls(base: WhatIfBase) -> None:
        # muted: setting the defaults one by one must not recompute on every step
        muted["on"] = True
        try:
            channel.options = [("all channels 全部渠道", ALL_CHANNELS)] + [
                (f"{c} {n}", c)
                for c, n in zip(
                    base.channels["channel_id"], base.channels["channel_name_zh"], strict=True
                )
            ]
            for key, value in defaults(base).items():
                controls[key].value = value
        finally:
            muted["on"] = False

    def load(*_: object) -> None:
        if not viewer.allowed_now():  # the page was rebuilt for the viewer's new access
            return
        with ui.guarded(out):
            ui.show(out)
            state.pop("base", None)
            base = load_base(settings, viewer, month.value)
            state["base"] = base
            make_tiles(base)
            set_controls(base)
            refresh()

    def do_reset(_: object) -> None:
        if viewer.allowed_now() and "base" in state:
            set_controls(state["base"])
            refresh()

    for control in controls.values():
        control.observe(refresh, "value")
    month.observe(load, "value")
    reset.on_click(do_reset)
    load()
    sliders = widgets.VBox(
        [month, channel, commission, arpu, margin, rate, horizon, reset],
        layout=widgets.Layout(width="470px"),
    )
    summary = widgets.VBox(
        [widgets.HBox([best, worst], layout=widgets.Layout(grid_gap="40px")), roi_chart],
        layout=widgets.Layout(width="820px"),
    )
    body = widgets.VBox(
        [
            widgets.HBox([sliders, summary]),
            out,
            tiles,
            survival_chart,
            widgets.HTML("<b>Channels 渠道明细</b>"),
            table_box,
        ]
    )
    return ui.app_frame(*title, body, viewer)
