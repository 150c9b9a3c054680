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

from workbench import formats
from workbench.errors import require_columns
from workbench.formats import Lang

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
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.05],
            "tickformat": ".0%",
            "title": "累计收益 Cumulative gain",
        },
        xaxis={"dtick": 1},
        # the legend below the chart: at its default place it covers the right axis's labels
        legend={"orientation": "h", "y": -0.25, "x": 0},
        margin={"r": 80, "b": 100},
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


def kpi_tiles(table: pd.DataFrame, lang: Lang = "en") -> str:
    """One tile per KPI of :func:`~workbench.subjects.kpi_overview.compare_periods`, as HTML:
    the value in its unit, the change on last month (环比) and on the same month last year
    (同比), rates in points, coloured by whether the move is good, and the gap to target.

    A CSS grid of fixed-size tiles: the tiles wrap instead of overlapping at any page width.
    """
    import html

    require_columns(
        table.columns,
        ["kpi_name_zh", "kpi_name_en", "unit", "better", "value", "value_prev", "value_ly"],
        "KPI table",
    )

    def moved(value: float, before: float, unit: str, better: str, label: str) -> str:
        shown = formats.format_change(value, before, unit, lang)
        step = formats.change(value, before, unit)
        colour = "#666" if not step else GOOD if (step > 0) == (better != "lower") else BAD
        return f"<span style='color:{colour}'>{label} {html.escape(shown)}</span>"

    tiles = []
    for r in table.itertuples(index=False):
        target = getattr(r, "target", None)
        gap = (
            f"<div class='wb-kpi-target'>目标 Target {formats.format_value(target, r.unit, lang)}"
            f" ({formats.format_gap(r.value, target, r.unit, lang)})</div>"
            if target is not None and not pd.isna(target)
            else ""
        )
        tiles.append(
            "<div class='wb-kpi-tile'>"
            f"<div class='wb-kpi-name'>{html.escape(r.kpi_name_zh)}<br>"
            f"<small>{html.escape(r.kpi_name_en)}</small></div>"
            f"<div class='wb-kpi-value'>{formats.format_value(r.value, r.unit, lang)}</div>"
            f"<div class='wb-kpi-change'>"
            f"{moved(r.value, r.value_prev, r.unit, r.better, '环比 MoM')}<br>"
            f"{moved(r.value, r.value_ly, r.unit, r.better, '同比 YoY')}</div>{gap}</div>"
        )
    style = (
        "<style>.wb-kpi-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));"
        "gap:12px;margin:8px 0 16px}.wb-kpi-tile{border:1px solid #ddd;border-radius:6px;"
        "padding:10px 12px;background:#fff;overflow:hidden}.wb-kpi-name{font-size:13px;"
        "color:#333;line-height:1.3}.wb-kpi-name small{color:#777}.wb-kpi-value{font-size:26px;"
        "font-weight:600;margin:6px 0;white-space:nowrap}.wb-kpi-change,.wb-kpi-target"
        "{font-size:12px;line-height:1.5}.wb-kpi-target{color:#555}</style>"
    )
    return style + "<div class='wb-kpi-grid'>" + "".join(tiles) + "</div>"


def alert_list(alerts: pd.DataFrame, period: str, top: int = 15, all_in: str = "") -> str:
    """The ``top`` alerts of a ranked list (``severity``, ``sentence_en``, ``sentence_zh``) as
    sentences coloured by severity, with how many more there are and where to find them all."""
    import html

    require_columns(alerts.columns, ["severity", "sentence_en", "sentence_zh"], "alerts")
    if alerts.empty:
        return f"<p>{period}: 无告警 no alerts.</p>"
    counts = alerts["severity"].value_counts()
    heading = (
        f"<h4>{period}: {counts.get('alarm', 0):,} 告警 alarm(s), "
        f"{counts.get('warning', 0):,} 预警 warning(s)</h4>"
    )
    colour = {"alarm": BAD, "warning": "#e65100"}
    items = "".join(
        f"<li style='color:{colour.get(a.severity, '#333')};margin:2px 0'>"
        f"{html.escape(a.sentence_zh)}<br><span style='color:#555'>"
        f"{html.escape(a.sentence_en)}</span></li>"
        for a in alerts.head(top).itertuples(index=False)
    )
    rest = len(alerts) - top
    more = ""
    if rest > 0:
        where = f": <a href='{html.escape(all_in)}'>{html.escape(all_in)}</a>" if all_in else ""
        more = f"<p>另有 {rest:,} 条 / {rest:,} more, all listed{where}</p>"
    return f"{heading}<ol>{items}</ol>{more}"


def axis_format(unit: str | None) -> dict[str, str]:
    """Plotly axis settings showing values in their unit (percent for shares, ¥ for money)."""
    read = formats.unit_of(unit)
    if read.kind == "share":
        return {"tickformat": ".1%"}
    if read.kind == "money":
        return {"tickformat": ",.0f", "tickprefix": "¥", "ticksuffix": read.suffix_en}
    if read.kind == "count":
        return {"tickformat": ",.0f"}
    if read.kind == "ratio":
        return {"tickformat": ".2f", "ticksuffix": "×"}
    if read.kind == "change":
        return {"tickformat": "+.0%"}
    return {"tickformat": ",.0f", "ticksuffix": f" {read.suffix_en}"}


def kpi_trend(trend: pd.DataFrame, codes: Sequence[str], columns: int = 2) -> go.Figure:
    """Monthly values of a few KPIs, one small chart each with its own axis in its own unit
    (subscriber counts and a churn rate on one axis would flatten the rate to zero)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    require_columns(trend.columns, ["kpi_code", "month", "value", "unit"], "KPI trend")
    codes = [c for c in codes if c in set(trend["kpi_code"])]
    rows = max(1, -(-len(codes) // columns))
    names = []
    for code in codes:
        first = trend[trend["kpi_code"] == code].iloc[0]
        names.append(f"{first.get('kpi_name_zh', '')} {first.get('kpi_name_en', code)}".strip())
    fig = make_subplots(
        rows=rows, cols=columns, subplot_titles=names, vertical_spacing=0.5 / max(rows, 1)
    )
    for i, code in enumerate(codes):
        part = trend[trend["kpi_code"] == code].sort_values("month")
        where = {"row": i // columns + 1, "col": i % columns + 1}
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["value"],
                mode="lines+markers",
                marker_color=NEUTRAL,
                name=names[i],
                showlegend=False,
            ),
            **where,
        )
        fig.update_yaxes(**axis_format(part["unit"].iloc[0]), **where)
    fig.update_layout(
        title="指标趋势 KPI trend",
        template=TEMPLATE,
        height=280 * rows + 60,
        margin={"l": 70, "r": 20, "t": 90, "b": 40},
    )
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


# -- network subjects: service quality, competition, new products ------------------------------


def rate_bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    *,
    low: str | None = None,
    high: str | None = None,
    percent: bool = False,
    y_title: str = "",
) -> go.Figure:
    """Bars of a rate per group, with the interval ``low``..``high`` as error bars if given."""
    import plotly.graph_objects as go

    require_columns(frame.columns, [x, y, *(c for c in (low, high) if c)], title)
    error = None
    if low and high:
        error = {
            "type": "data",
            "symmetric": False,
            "array": frame[high] - frame[y],
            "arrayminus": frame[y] - frame[low],
        }
    fig = _figure(title, "", y_title)
    fig.add_trace(
        go.Bar(x=frame[x].astype(str), y=frame[y], error_y=error, marker_color=NEUTRAL, name=y)
    )
    if percent:
        fig.update_layout(yaxis_tickformat=".1%")
    return fig


def category_heatmap(frame: pd.DataFrame, x: str, y: str, z: str, title: str) -> go.Figure:
    """A heat map of ``z`` over two categorical columns (e.g. region x complaint category)."""
    import plotly.graph_objects as go

    require_columns(frame.columns, [x, y, z], title)
    wide = frame.pivot_table(index=y, columns=x, values=z, aggfunc="sum")
    fig = _figure(title, "", "")
    fig.add_trace(
        go.Heatmap(
            z=wide.to_numpy(),
            x=[str(c) for c in wide.columns],
            y=[str(i) for i in wide.index],
            colorscale="Reds",
        )
    )
    return fig


def stacked_bars(
    frame: pd.DataFrame,
    x: str,
    stack: str,
    value: str,
    title: str,
    *,
    percent: bool = True,
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Bars of ``value`` per ``x`` stacked by ``stack`` (e.g. resolution bands per category);
    ``names``: how the legend names each ``stack`` value (default: the value)."""
    import plotly.graph_objects as go

    require_columns(frame.columns, [x, stack, value], title)
    fig = _figure(title, "", "")
    for name, part in frame.groupby(stack, sort=False):
        label = (names or {}).get(str(name), str(name))
        fig.add_trace(go.Bar(x=part[x].astype(str), y=part[value], name=label))
    # months such as 2026-01 are categories, not dates plotly should space by day
    fig.update_layout(barmode="stack", xaxis_type="category")
    if percent:
        fig.update_layout(yaxis_tickformat=".0%")
    return fig


def share_trend(
    frame: pd.DataFrame, x: str, columns: Mapping[str, str], title: str, *, percent: bool = True
) -> go.Figure:
    """Lines of several columns over ``x`` (``columns``: column -> legend label)."""
    import plotly.graph_objects as go

    require_columns(frame.columns, [x, *columns], title)
    fig = _figure(title, "月份 Month", "")
    for column, label in columns.items():
        fig.add_trace(go.Scatter(x=frame[x], y=frame[column], mode="lines+markers", name=label))
    if percent:
        fig.update_layout(yaxis_tickformat=".1%")
    return fig


def adoption_curve(adoption: pd.DataFrame, launch_month: str | None = None) -> go.Figure:
    """Holders (bars) and new adopters (line) by month, penetration on the right axis."""
    import plotly.graph_objects as go

    require_columns(adoption.columns, ["month", "n_holders", "n_new", "penetration"], "adoption")
    fig = _figure("新产品渗透曲线 Adoption curve", "月份 Month", "用户数 Lines")
    fig.add_trace(
        go.Bar(
            x=adoption["month"], y=adoption["n_holders"], name="持有 Holders", marker_color=NEUTRAL
        )
    )
    fig.add_trace(
        go.Scatter(
            x=adoption["month"],
            y=adoption["n_new"],
            name="新增 New adopters",
            mode="lines+markers",
            line_color=GOOD,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=adoption["month"],
            y=adoption["penetration"],
            name="渗透率 Penetration",
            mode="lines",
            yaxis="y2",
            line_dash="dot",
            line_color=BAD,
        )
    )
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "tickformat": ".1%"})
    if launch_month is not None and launch_month in set(adoption["month"]):
        # a month axis is categorical: draw the line as a shape, not with add_vline's annotation
        fig.add_shape(
            type="line",
            x0=launch_month,
            x1=launch_month,
            y0=0,
            y1=1,
            yref="paper",
            line={"dash": "dash"},
        )
        fig.add_annotation(x=launch_month, y=1, yref="paper", text="上市 Launch", showarrow=False)
    return fig


def profile_index(profile: pd.DataFrame) -> go.Figure:
    """Adopter index per plan type and segment (100 = like the base)."""
    import plotly.graph_objects as go

    require_columns(profile.columns, ["dimension", "value", "index"], "adopter profile")
    fig = _figure("用户画像指数 Adopter profile index (100 = base)", "", "指数 Index")
    colours = [GOOD if v >= 100 else BAD for v in profile["index"].fillna(100)]
    labels = profile["dimension"].astype(str) + ": " + profile["value"].astype(str)
    fig.add_trace(go.Bar(x=labels, y=profile["index"], marker_color=colours))
    fig.add_hline(y=100, line_dash="dot")
    return fig


# -- value subjects: value segments, key accounts, revenue ----------------------------------------


def transition_heatmap(
    matrix: pd.DataFrame, title: str = "价值层级迁移 Tier migration"
) -> go.Figure:
    """A transition matrix (rows: from, columns: to) as an annotated heat map of row shares."""
    import plotly.graph_objects as go

    from workbench.errors import InputDataError

    if matrix.empty:
        raise InputDataError(f"{title}: the transition matrix is empty")
    fig = _figure(title, "本月层级 Tier this month", "上月层级 Tier last month")
    values = matrix.to_numpy(dtype=float)
    fig.add_trace(
        go.Heatmap(
            z=values,
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="Blues",
            text=[
                [("—" if v != v else f"{v:.1%}" if v <= 1 else f"{v:,.0f}") for v in row]
                for row in values
            ],
            texttemplate="%{text}",
        )
    )
    fig.update_layout(yaxis_autorange="reversed")
    return fig


def tier_bars(tiers: pd.DataFrame, value: str = "n_lines") -> go.Figure:
    """Lines (or revenue) per value tier, stacked by tenure band."""
    import plotly.graph_objects as go

    require_columns(tiers.columns, ["value_tier", "tenure_band", value], "tier table")
    fig = _figure("价值层级 Value tiers", "价值层级 Value tier", value)
    for band, part in tiers.groupby("tenure_band", sort=False):
        fig.add_trace(go.Bar(x=part["value_tier"], y=part[value], name=f"在网时长 {band}"))
    fig.update_layout(barmode="stack")
    return fig


def group_trend(frame: pd.DataFrame, group: str, value: str, title: str) -> go.Figure:
    """One line per ``group`` of ``value`` by month."""
    import plotly.graph_objects as go

    require_columns(frame.columns, ["month", group, value], title)
    fig = _figure(title, "月份 Month", value)
    for name, part in frame.groupby(group, sort=False):
        part = part.sort_values("month")
        fig.add_trace(
            go.Scatter(x=part["month"], y=part[value], mode="lines+markers", name=str(name))
        )
    return fig


def pareto_curve(concentration: pd.DataFrame, top_fraction: float = 0.2) -> go.Figure:
    """Cumulative revenue share against the share of customers ranked by revenue."""
    import plotly.graph_objects as go

    require_columns(
        concentration.columns, ["percentile", "cumulative_revenue_share"], "concentration"
    )
    fig = _figure(
        "收入集中度 Revenue concentration",
        "客户占比 Share of customers",
        "收入占比 Share of revenue",
    )
    x = concentration["percentile"] / 100
    fig.add_trace(
        go.Scatter(
            x=x, y=concentration["cumulative_revenue_share"], mode="lines", name="累计 Cumulative"
        )
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line_dash="dot", name="均匀 Equal"))
    fig.add_vline(x=top_fraction, line_dash="dot", line_color=BAD)
    fig.update_layout(xaxis_tickformat=".0%", yaxis_tickformat=".0%")
    return fig


def forecast_fan(
    history: pd.DataFrame, forecast: pd.DataFrame, backtest: pd.DataFrame
) -> go.Figure:
    """Monthly history, the forecast with its prediction interval, and the back-test's
    one-step forecasts."""
    import plotly.graph_objects as go

    require_columns(history.columns, ["month", "value"], "history")
    fig = _figure("收入预测 Revenue forecast", "月份 Month", "收入 Revenue (CNY)")
    fig.add_trace(
        go.Scatter(
            x=history["month"],
            y=history["value"],
            mode="lines+markers",
            name="实际 Actual",
            line_color=NEUTRAL,
        )
    )
    if len(forecast):
        require_columns(forecast.columns, ["month", "forecast", "lower", "upper"], "forecast")
        band_x = list(forecast["month"]) + list(forecast["month"])[::-1]
        band_y = list(forecast["upper"]) + list(forecast["lower"])[::-1]
        fig.add_trace(
            go.Scatter(
                x=band_x,
                y=band_y,
                fill="toself",
                line_width=0,
                opacity=0.25,
                name="预测区间 Interval",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=forecast["month"],
                y=forecast["forecast"],
                mode="lines+markers",
                line_dash="dash",
                name="预测 Forecast",
                line_color=GOOD,
            )
        )
    if len(backtest):
        fig.add_trace(
            go.Scatter(
                x=backtest["month"],
                y=backtest["predicted"],
                mode="markers",
                marker_symbol="x",
                name="回测 Back-test",
            )
        )
    return fig
