"""Churn retention: who is at risk, what they are worth, why, and a list to call.

Reads ``ads_churn_scores`` (the month's scores with reason codes), ``ads_churn_features`` (each
subscriber's monthly revenue) and ``dwd_dim_subscriber`` (MSISDNs, masked as soon as they are
read) through DuckDB. The expected revenue at risk is the sum over the selection of churn
probability x monthly revenue; the saving is the share retained x that sum.

The export hands the selection (as bound conditions, :mod:`workbench.filters`) to
``workbench targets export``'s code in a child process
(:func:`workbench.dashboards.data.export_target_list`): every suppression rule, the control
group, masking, recorded contacts and the export log, and no JVM in the kernel. The proposed
campaign name is the viewer's own for the month (``retention_202606_gz_manager``), so two
managers never share a campaign by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from workbench import formats
from workbench.catalog.ads import ALL
from workbench.dashboards import APP_INFO, ui
from workbench.dashboards.data import (
    EmptySelection,
    MartUnavailable,
    available_months,
    export_target_list,
    load_mart,
)
from workbench.filters import Condition, at_least, equals, is_true
from workbench.targets.names import default_campaign_name
from workbench.targets.privacy import mask_msisdn

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.config import Settings
    from workbench.dashboards.access import Viewer

log = logging.getLogger(__name__)

#: the app's title in English and Chinese (declared with the others in workbench.dashboards)
TITLE = APP_INFO["churn_retention"][:2]

SCORES = "ads_churn_scores"
FEATURES = "ads_churn_features"
SUBSCRIBERS = "dwd_dim_subscriber"
SCORE_COLUMNS = [
    "subscriber_id",
    "region_id",
    "segment",
    "plan_type",
    "is_do_not_contact",
    "churn_probability",
    "risk_decile",
    "risk_band",
    "reason_1",
    "reason_1_text",
]
TABLE_ROWS = 50
#: the at-risk list's columns as a manager reads them (after the contact flag is placed)
AT_RISK_HEADERS = {
    "subscriber_id": "用户 Subscriber",
    "msisdn": "号码 MSISDN",
    ui.CONTACT_COLUMN: ui.CONTACT_COLUMN,
    "region_id": "地市 Region",
    "segment": "分群 Segment",
    "plan_type": "付费类型 Plan",
    "churn_probability": "流失概率 Churn risk",
    "reason_1_text": "主要原因 Main reason",
    "revenue_cny": "月消费 Monthly spend",
}


@dataclass(frozen=True)
class Selection:
    """The filters of the page."""

    region: str = ALL
    segment: str = ALL
    threshold: float = 0.5


def mask_msisdns(msisdn: pd.Series) -> pd.Series:
    """``13812345678`` -> ``138****5678``: :func:`workbench.targets.privacy.mask_msisdn`, the
    rule the list files use, on every value (missing ones stay missing)."""
    return msisdn.astype("string").map(mask_msisdn, na_action="ignore").astype("string")


def select_at_risk(scores: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Scored subscribers of the selection at or above the threshold, riskiest first."""
    keep = scores["churn_probability"] >= selection.threshold
    if selection.region != ALL:
        keep &= scores["region_id"] == selection.region
    if selection.segment != ALL:
        keep &= scores["segment"] == selection.segment
    return (
        scores[keep]
        .sort_values(["churn_probability", "subscriber_id"], ascending=[False, True])
        .reset_index(drop=True)
    )


def default_threshold(scores: pd.DataFrame, top_share: float = 0.1) -> float:
    """A starting threshold that selects about the riskiest ``top_share`` (two decimals, down)."""
    import math

    if scores.empty:
        return 0.5
    return math.floor(float(scores["churn_probability"].quantile(1 - top_share)) * 100) / 100


def revenue_at_risk(at_risk: pd.DataFrame) -> float:
    """Expected monthly revenue lost: sum of churn probability x monthly revenue (CNY)."""
    revenue = at_risk["revenue_cny"].fillna(0.0)
    return float((at_risk["churn_probability"] * revenue).sum())


def retention_saving(revenue: float, retained_share: float) -> float:
    """Monthly revenue kept if ``retained_share`` of the expected losses is retained."""
    if not 0.0 <= retained_share <= 1.0:
        raise ValueError(f"retained_share must be in [0, 1], got {retained_share}")
    return revenue * retained_share


def risk_distribution(scores: pd.DataFrame) -> pd.DataFrame:
    """Subscribers per risk decile (1 = riskiest) with the decile's mean probability."""
    return (
        scores.groupby("risk_decile", as_index=False)
        .agg(
            n_subscribers=("subscriber_id", "size"), mean_probability=("churn_probability", "mean")
        )
        .sort_values("risk_decile")
        .reset_index(drop=True)
    )


def top_reasons(at_risk: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The main reason codes (``reason_1``) of the selection, most frequent first."""
    counts = at_risk["reason_1"].dropna().value_counts()
    frame = counts.rename_axis("reason").reset_index(name="n_subscribers")
    frame["share"] = frame["n_subscribers"] / max(len(at_risk), 1)
    return frame.sort_values(["n_subscribers", "reason"], ascending=[False, True]).head(n)


def reasons_table(reasons: pd.DataFrame) -> pd.DataFrame:
    """:func:`top_reasons` as the page shows it: each factor by its name in both languages (the
    churn features' catalog labels), the lines as a count and their share in percent."""
    from workbench.catalog import get_table

    labels = get_table(FEATURES).labels

    def named(feature: str) -> str:
        label = labels.get(feature)
        return f"{label.zh} {label.en}" if label else feature

    return pd.DataFrame(
        {
            "主要原因 Main reason": [named(f) for f in reasons["reason"]],
            "用户数 Lines": [formats.format_value(n, "count") for n in reasons["n_subscribers"]],
            "占比 Share": [formats.format_value(x, "share") for x in reasons["share"]],
        }
    )


def distribution_figure(distribution: pd.DataFrame, lang: str = "en") -> go.Figure:
    import plotly.graph_objects as go

    from workbench import viz

    fig = go.Figure(
        go.Bar(
            x=distribution["risk_decile"],
            y=distribution["n_subscribers"],
            customdata=distribution["mean_probability"],
            hovertemplate="decile %{x}: %{y} lines, mean p=%{customdata:.2f}<extra></extra>",
        )
    )
    title = "风险分布" if lang == "zh" else "Risk distribution (1 = riskiest decile)"
    fig.update_layout(
        title=title, template=viz.TEMPLATE, height=300, margin={"l": 40, "r": 20, "t": 50, "b": 40}
    )
    return fig


def selection_filters(selection: Selection) -> tuple[Condition, ...]:
    """The selection as bound conditions over ``ads_churn_scores`` (what :func:`select_at_risk`
    keeps), read the same way by the export's Spark."""
    parts = [at_least("churn_probability", float(selection.threshold))]
    if selection.region != ALL:
        parts.append(equals("region_id", selection.region))
    if selection.segment != ALL:
        parts.append(equals("segment", selection.segment))
    return tuple(parts)


def with_contact_consent(scores: pd.DataFrame, subscribers: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``is_do_not_contact`` as the target lists apply it: true when the line
    was flagged when scored, is flagged now (``subscribers``: the current rows' flags), or has
    no known consent (no current row, or a null flag)."""
    now = (
        subscribers.assign(flag=subscribers["is_do_not_contact"].astype("boolean").fillna(True))
        .groupby("subscriber_id")["flag"]
        .any()
    )
    current = scores["subscriber_id"].map(now).astype("boolean").fillna(True)
    scored = scores["is_do_not_contact"].astype("boolean").fillna(True)
    return scores.assign(is_do_not_contact=(scored | current).astype(bool))


def at_risk_table(at_risk: pd.DataFrame, rows: int = TABLE_ROWS) -> pd.DataFrame:
    """The riskiest ``rows`` lines as the page lists them, do-not-contact lines flagged."""
    shown = at_risk.head(rows)[
        [
            "subscriber_id",
            "msisdn",
            "is_do_not_contact",
            "region_id",
            "segment",
            "plan_type",
            "churn_probability",
            "reason_1_text",
            "revenue_cny",
        ]
    ].copy()
    shown["churn_probability"] = [
        formats.format_value(p, "share") for p in shown["churn_probability"]
    ]
    shown["revenue_cny"] = [formats.format_value(r, "CNY") for r in shown["revenue_cny"]]
    return ui.flag_do_not_contact(shown).rename(columns=AT_RISK_HEADERS)


def load_scores(settings: Settings, viewer: Viewer, period: str) -> pd.DataFrame:
    """The month's scores in the viewer's regions, with monthly revenue, masked MSISDNs and
    the do-not-contact flag as the target lists apply it (:func:`with_contact_consent`)."""
    scores = load_mart(SCORES, settings, viewer, months=[period], columns=SCORE_COLUMNS)
    if scores.empty:
        raise EmptySelection(f"No churn scores for {period} in your regions.")
    revenue = load_mart(
        FEATURES, settings, viewer, months=[period], columns=["subscriber_id", "revenue_cny"]
    )
    current = load_mart(
        SUBSCRIBERS,
        settings,
        viewer,
        columns=["subscriber_id", "msisdn", "is_do_not_contact"],
        filters=[is_true("is_current")],
    )
    phones = current[["subscriber_id", "msisdn"]].drop_duplicates("subscriber_id")
    phones["msisdn"] = mask_msisdns(phones["msisdn"])
    scores = with_contact_consent(scores, current)
    return scores.merge(revenue, on="subscriber_id", how="left").merge(
        phones, on="subscriber_id", how="left"
    )


class _Retention:
    def __init__(self, settings: Settings, viewer: Viewer) -> None:
        self.settings, self.viewer = settings, viewer
        months = available_months(SCORES, settings)
        if not months:
            raise MartUnavailable(
                f"No data yet: {SCORES} has not been written. Run the churn subject first."
            )
        self.period = months[-1]
        self.scores = load_scores(settings, viewer, self.period)
        regions = sorted(self.scores["region_id"].dropna().unique())
        region_options = ([ALL] if viewer.regions is None or len(regions) > 1 else []) + regions
        segments = [ALL, *sorted(self.scores["segment"].dropna().unique())]
        self.region = ui.named(
            widgets.Dropdown(options=region_options, value=region_options[0], description="Region"),
            "region",
        )
        self.segment = ui.named(
            widgets.Dropdown(options=segments, value=ALL, description="Segment"), "segment"
        )
        self.threshold = ui.named(
            widgets.FloatSlider(
                value=default_threshold(self.scores),
                min=0.0,
                max=1.0,
                step=0.01,
                description="Risk ≥",
                readout_format=".2f",
            ),
            "threshold",
        )
        self.retained = ui.named(
            widgets.FloatSlider(
                value=0.2, min=0.0, max=1.0, step=0.05, description="Retained", readout_format=".0%"
            ),
            "retained",
        )
        self.campaign = ui.named(
            widgets.Text(
                value=default_campaign_name("retention", self.period, viewer.user),
                description="Campaign",
            ),
            "campaign",
        )
        self.fmt = ui.named(
            widgets.Dropdown(options=["csv", "xlsx", "parquet"], value="csv", description="Format"),
            "format",
        )
        self.export_button = ui.named(
            widgets.Button(
                description=ui.bilingual("export"),
                button_style="primary",
                layout=widgets.Layout(width="260px"),
            ),
            "export",
        )
        self.n_at_risk = ui.figure_value("at-risk", "-", caption=ui.bilingual("at_risk"))
        self.revenue = ui.figure_value(
            "revenue-at-risk", "-", caption=ui.bilingual("revenue_at_risk")
        )
        self.saving = ui.figure_value("saving", "-", caption=ui.bilingual("saving"))
        self.chart = ui.named(widgets.Output(), "chart-risk")
        self.details = ui.named(widgets.Output(), "details")
        self.export_out = ui.named(widgets.Output(), "export-out")
        for control in (self.region, self.segment, self.threshold):
            control.observe(self.refresh, names="value")
        self.retained.observe(self.update_saving, names="value")
        self.export_button.on_click(self.export)
        self.at_risk = self.scores.iloc[0:0]
        ui.plot(distribution_figure(risk_distribution(self.scores)), "risk", self.chart)
        self.refresh()

    def selection(self) -> Selection:
        return Selection(self.region.value, self.segment.value, float(self.threshold.value))

    def refresh(self, *_: object) -> None:
        if not self.viewer.allowed_now():  # the page was rebuilt for the viewer's new access
            return
        with ui.guarded(self.details):
            self.at_risk = select_at_risk(self.scores, self.selection())
            ui.set_value(self.n_at_risk, f"{len(self.at_risk):,}", caption=ui.bilingual("at_risk"))
            self.revenue_value = revenue_at_risk(self.at_risk)
            ui.set_value(
                self.revenue,
                formats.format_value(self.revenue_value, "CNY"),
                caption=ui.bilingual("revenue_at_risk"),
            )
            self.update_saving()
            if self.at_risk.empty:
                ui.show(
                    self.details,
                    ui.message("No subscriber at or above this risk in the selection.", "info"),
                )
                return
            reasons = top_reasons(self.at_risk)
            ui.show(
                self.details,
                widgets.HTML(f"<h4>{ui.bilingual('top_reasons')}</h4>"),
                ui.table_html(reasons_table(reasons), "reasons"),
                widgets.HTML(
                    f"<h4>{ui.bilingual('at_risk')} (top {min(TABLE_ROWS, len(self.at_risk))}"
                    f" of {len(self.at_risk):,})</h4>"
                ),
                ui.table_html(at_risk_table(self.at_risk), "at-risk", TABLE_ROWS),
            )

    def update_saving(self, *_: object) -> None:
        if not self.viewer.allowed_now():
            return
        value = retention_saving(getattr(self, "revenue_value", 0.0), float(self.retained.value))
        ui.set_value(
            self.saving, formats.format_value(value, "CNY"), caption=ui.bilingual("saving")
        )

    def export(self, *_: object) -> None:
        if not self.viewer.allowed_now():  # no export: the page now says why
            return
        self.export_button.disabled = True
        ui.show(self.export_out, ui.message("Exporting: checking the suppression rules...", "info"))
        try:
            with ui.guarded(self.export_out):
                if self.at_risk.empty:
                    raise EmptySelection("Nothing to export: the selection is empty.")
                record = export_target_list(
                    self.settings,
                    self.viewer,
                    source="churn",
                    campaign=self.campaign.value.strip(),
                    period=self.period,
                    filters=selection_filters(self.selection()),
                    fmt=self.fmt.value,
                )
                ui.show(
                    self.export_out,
                    ui.export_message(record["file"], record["n_treated"], record["n_control"]),
                )
        finally:
            self.export_button.disabled = False

    def widget(self) -> widgets.Widget:
        figures = widgets.HBox(
            [self.n_at_risk, self.revenue, self.saving],
            layout=widgets.Layout(justify_content="space-around"),
        )
        return widgets.VBox(
            [
                widgets.HTML(f"<div>{ui.bilingual('month')}: <b>{self.period}</b></div>"),
                widgets.HBox([self.region, self.segment]),
                widgets.HBox([self.threshold, self.retained]),
                figures,
                self.chart,
                self.details,
                widgets.HBox([self.campaign, self.fmt, self.export_button]),
                self.export_out,
            ]
        )


@ui.guard
def _body(settings: Settings, viewer: Viewer) -> widgets.Widget:
    return _Retention(settings, viewer).widget()


def build(settings: Settings, viewer: Viewer) -> widgets.Widget:
    """The churn-retention page for ``viewer``."""
    if viewer.denied:  # the frame shows only the reason
        return ui.app_frame(*TITLE, widgets.VBox(), viewer)
    return ui.app_frame(*TITLE, _body(settings, viewer), viewer)
