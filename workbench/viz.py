"""Plotly figure builders for the subject notebooks and dashboards.

Every builder takes a small, already aggregated pandas frame (a lift table, a rules table, a
cohort curve...) and returns a :class:`plotly.graph_objects.Figure`; none reads data itself.
Titles and axes are labelled in Chinese and English, as managers read both. :func:`format_table`
turns a result frame into a table a manager can read (formatted numbers, bilingual headers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from workbench.analysis.errors import require_columns

if TYPE_CHECKING:
    import plotly.graph_objects as go

TEMPLATE = "plotly_white"
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#1565c0"


def _figure(title: str, x: str, y: str) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template=TEMPLATE, legend_title_text=""
    )
    return fig


def lift_gains(lift: pd.DataFrame) -> go.Figure:
    """Lift by risk decile (bars) and cumulative gains (line, right axis)."""
    import plotly.graph_objects as go

    require_columns(lift.columns, ["decile", "lift", "cum_gain"], "lift table")
    fig = _figure(
        "提升度与累计收益 Lift and cumulative gains", "风险十分位 Risk decile", "提升度 Lift"
    )
    fig.add_trace(
        go.Bar(x=lift["decile"], y=lift["lift"], name="提升度 Lift", marker_color=NEUTRAL)
    )
    fig.add_trace(
        go.Scatter(
            x=lift["decile"],
            y=lift["cum_gain"],
            name="累计收益 Cumulative gain",
            yaxis="y2",
            mode="lines+markers",
            line_color=GOOD,
        )
    )
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="随机 Random")
    fig.update_layout(
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 1.05], "tickformat": ".0%"},
        xaxis={"dtick": 1},
    )
    return fig


def calibration(table: pd.DataFrame) -> go.Figure:
    """Observed churn rate against the mean predicted probability per bin."""
    import plotly.graph_objects as go

    require_columns(table.columns, ["mean_predicted", "observed_rate"], "calibration table")
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.01))
    fig = _figure(
        "校准图 Calibration", "预测概率 Predicted probability", "实际流失率 Observed rate"
    )
    fig.add_trace(
        go.Scatter(x=[0, top], y=[0, top], mode="lines", name="理想 Perfect", line_dash="dot")
    )
    fig.add_trace(
        go.Scatter(
            x=table["mean_predicted"],
            y=table["observed_rate"],
            mode="lines+markers",
            name="模型 Model",
            line_color=NEUTRAL,
        )
    )
    fig.update_layout(xaxis_tickformat=".0%", yaxis_tickformat=".0%")
    return fig


def pr_curve(curve: pd.DataFrame, base_rate: float | None = None) -> go.Figure:
    """Precision against recall."""
    import plotly.graph_objects as go

    require_columns(curve.columns, ["precision", "recall"], "PR curve")
    fig = _figure("精确率-召回率 Precision-recall", "召回率 Recall", "精确率 Precision")
    fig.add_trace(go.Scatter(x=curve["recall"], y=curve["precision"], mode="lines", name="模型"))
    if base_rate is not None:
        fig.add_hline(y=base_rate, line_dash="dot", annotation_text="基准 Base rate")
    fig.update_layout(xaxis_tickformat=".0%", yaxis_tickformat=".0%")
    return fig


def drivers(
    table: pd.DataFrame, top: int = 12, labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Horizontal bars of the strongest drivers (mean |contribution|)."""
    import plotly.graph_objects as go

    require_columns(table.columns, ["feature", "mean_abs_contribution"], "drivers")
    shown = table.nlargest(top, "mean_abs_contribution").iloc[::-1]
    names = [labels.get(f, f) if labels else f for f in shown["feature"]]
    fig = _figure("流失驱动因素 Churn drivers", "平均贡献 Mean |SHAP| (log-odds)", "")
    fig.add_trace(
        go.Bar(x=shown["mean_abs_contribution"], y=names, orientation="h", marker_color=BAD)
    )
    return fig


def rules_scatter(rules: pd.DataFrame) -> go.Figure:
    """Support against confidence, coloured by lift; hover names the rule."""
    import plotly.graph_objects as go

    require_columns(
        rules.columns, ["antecedent", "consequent", "support", "confidence", "lift"], "rules"
    )
    text = rules["antecedent"].astype(str) + " ⇒ " + rules["consequent"].astype(str)
    fig = _figure("关联规则 Association rules", "支持度 Support", "置信度 Confidence")
    fig.add_trace(
        go.Scatter(
            x=rules["support"],
            y=rules["confidence"],
            mode="markers",
            text=text,
            marker={
                "color": rules["lift"],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "提升度 Lift"},
                "size": 9,
            },
            hovertemplate="%{text}<br>support %{x:.2%}<br>confidence %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_tickformat=".1%", yaxis_tickformat=".0%")
    return fig


def survival_curves(curves: pd.DataFrame, months: int = 24, group: str = "channel_id") -> go.Figure:
    """Kaplan-Meier survival by month since activation, one line per group (observed part solid,
    extrapolated part dotted)."""
    import plotly.graph_objects as go

    require_columns(curves.columns, [group, "months_since_activation", "survival"], "curves")
    fig = _figure(
        "在网留存曲线 Survival by channel", "激活后月数 Months since activation", "留存率 Survival"
    )
    shown = curves[curves["months_since_activation"] < months]
    for key, part in shown.groupby(group, sort=True):
        extrapolated = part.get("is_extrapolated", pd.Series(False, index=part.index))
        fig.add_trace(
            go.Scatter(
                x=part["months_since_activation"],
                y=part["survival"],
                mode="lines",
                name=str(key),
                line_dash="solid" if not extrapolated.any() else "dash",
            )
        )
    fig.update_layout(yaxis_tickformat=".0%")
    return fig


def roi_bars(summary: pd.DataFrame, label: str = "channel_id", value: str = "roi") -> go.Figure:
    """ROI per channel or campaign, best first; negative bars in red."""
    import plotly.graph_objects as go

    require_columns(summary.columns, [label, value], "ROI summary")
    shown = summary.sort_values(value, ascending=False)
    colours = [GOOD if v >= 0 else BAD for v in shown[value].fillna(0)]
    fig = _figure("投资回报率 ROI", "", "ROI")
    fig.add_trace(go.Bar(x=shown[label].astype(str), y=shown[value], marker_color=colours))
    fig.update_layout(yaxis_tickformat=".0%")
    return fig


def uplift_intervals(summary: pd.DataFrame, true_value: float | None = None) -> go.Figure:
    """Churn uplift per campaign with its confidence interval."""
    import plotly.graph_objects as go

    require_columns(
        summary.columns,
        ["campaign_id", "churn_uplift", "churn_uplift_low", "churn_uplift_high"],
        "campaign ROI",
    )
    fig = _figure("流失降低幅度 Churn uplift (control − treated)", "", "Uplift")
    fig.add_trace(
        go.Scatter(
            x=summary["campaign_id"],
            y=summary["churn_uplift"],
            mode="markers",
            marker={"size": 12, "color": NEUTRAL},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": summary["churn_uplift_high"] - summary["churn_uplift"],
                "arrayminus": summary["churn_uplift"] - summary["churn_uplift_low"],
            },
            name="估计 Estimate",
        )
    )
    fig.add_hline(y=0, line_dash="dot")
    if true_value is not None:
        fig.add_hline(y=true_value, line_color=GOOD, annotation_text="真实 Planted")
    fig.update_layout(yaxis_tickformat=".1%")
    return fig


def kpi_tiles(
    table: pd.DataFrame, codes: Sequence[str] | None = None, columns: int = 4
) -> go.Figure:
    """One indicator tile per KPI: the value and its change against last month."""
    import plotly.graph_objects as go

    require_columns(
        table.columns,
        ["kpi_code", "kpi_name_zh", "kpi_name_en", "value", "value_prev"],
        "KPI table",
    )
    shown = table if codes is None else table[table["kpi_code"].isin(list(codes))]
    shown = shown.reset_index(drop=True)
    rows = max(1, -(-len(shown) // columns))
    fig = go.Figure()
    for i, row in shown.iterrows():
        higher_better = row.get("better", "higher") != "lower"
        fig.add_trace(
            go.Indicator(
                mode="number+delta",
                value=row["value"],
                delta={
                    "reference": row["value_prev"],
                    "relative": True,
                    "valueformat": ".1%",
                    "increasing": {"color": GOOD if higher_better else BAD},
                    "decreasing": {"color": BAD if higher_better else GOOD},
                },
                title={"text": f"{row['kpi_name_zh']}<br><sub>{row['kpi_name_en']}</sub>"},
                domain={"row": i // columns, "column": i % columns},
            )
        )
    fig.update_layout(grid={"rows": rows, "columns": columns}, height=180 * rows, template=TEMPLATE)
    return fig


def kpi_trend(trend: pd.DataFrame, codes: Sequence[str]) -> go.Figure:
    """Monthly values of a few KPIs."""
    import plotly.graph_objects as go

    require_columns(trend.columns, ["kpi_code", "month", "value"], "KPI trend")
    fig = _figure("指标趋势 KPI trend", "月份 Month", "")
    for code in codes:
        part = trend[trend["kpi_code"] == code].sort_values("month")
        name = (
            part["kpi_name_zh"].iloc[0] + " " + part["kpi_name_en"].iloc[0]
            if len(part) and "kpi_name_zh" in part
            else code
        )
        fig.add_trace(go.Scatter(x=part["month"], y=part["value"], mode="lines+markers", name=name))
    return fig


def format_table(
    frame: pd.DataFrame,
    columns: Mapping[str, tuple[str, str]],
) -> pd.DataFrame:
    """A display copy: only ``columns`` (name -> (header, format)), numbers formatted.

    Formats: ``int`` (thousands separators), ``pct`` (one decimal %), ``cny`` (¥ with two
    decimals), ``num`` (two decimals), ``text``.
    """
    require_columns(frame.columns, list(columns), "table to format")
    formats = {
        "int": lambda v: f"{int(v):,}",
        "pct": lambda v: f"{v:.1%}",
        "cny": lambda v: f"¥{v:,.2f}",
        "num": lambda v: f"{v:,.2f}",
        "text": str,
    }
    out = pd.DataFrame(index=frame.index)
    for name, (header, kind) in columns.items():
        fmt = formats[kind]
        out[header] = [("—" if pd.isna(v) else fmt(v)) for v in frame[name]]
    return out.reset_index(drop=True)
