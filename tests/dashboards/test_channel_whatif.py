"""Channel ROI what-if app: the recomputation reproduces the mart, reacts to the sliders as an
independent computation says, and the app shows it in a real browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.pages import open_page_at_both_sizes
from workbench.dashboards import channel_whatif as app
from workbench.errors import InputDataError, ParameterError


def _cohorts() -> pd.DataFrame:
    # two channels, one cohort each, observed 3 months
    rows = []
    for channel, adds, churn, arpu in (("A", 10, [1, 2, 1], 50.0), ("B", 20, [2, 2, 2], 30.0)):
        survivors = adds
        for m, c in enumerate(churn):
            survivors -= c
            rows.append(
                {
                    "channel_id": channel,
                    "activation_month": "2026-01",
                    "months_since_activation": m,
                    "n_gross_adds": adds,
                    "n_survivors": survivors,
                    "n_churned": c,
                    "revenue_cny": arpu * (survivors + c),
                    "cost_cny": 0.0,
                    "is_cohort_complete": True,
                    "month": f"2026-0{m + 1}",
                }
            )
    return pd.DataFrame(rows)


COSTS = pd.DataFrame(
    {
        "channel_id": ["A", "B"],
        "month": ["2026-01", "2026-01"],
        "commission_per_gross_add_cny": [100.0, 40.0],
        "fixed_cost_cny": [0.0, 200.0],
    }
)


def _roi_mart(margin=0.5, horizon=3, rate=0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": ["A", "B"],
            "channel_name_en": ["Shop", "Agent"],
            "channel_name_zh": ["店", "代理"],
            "is_warning": [False, True],
            "margin": [margin, margin],
            "horizon_months": [horizon, horizon],
            "annual_discount_rate": [rate, rate],
            "month": ["2026-03", "2026-03"],
        }
    )


def _independent_roi(cohorts, channel, commission, fixed_per_add, margin, arpu_factor=1.0):
    """ROI by hand: Kaplan-Meier from the cohort counts, no discounting, horizon 3."""
    part = cohorts[cohorts["channel_id"] == channel].sort_values("months_since_activation")
    at_risk = (part["n_survivors"] + part["n_churned"]).to_numpy(float)
    survival = np.cumprod(1 - part["n_churned"].to_numpy(float) / at_risk)
    p_active = np.concatenate([[1.0], survival[:-1]])
    arpu = part["revenue_cny"].to_numpy(float) / at_risk
    ltv = float((margin * arpu_factor * p_active * arpu).sum())
    cac = commission + fixed_per_add
    return (ltv - cac) / cac


def test_defaults_reproduce_and_commission_changes_roi():
    cohorts = _cohorts()
    base = app.whatif_base(_roi_mart(), cohorts, COSTS, period="2026-03")
    same = app.recompute(base, app.Assumptions()).set_index("channel_id")
    assert same.loc["A", "roi"] == pytest.approx(_independent_roi(cohorts, "A", 100, 0, 0.5))
    assert same.loc["B", "roi"] == pytest.approx(_independent_roi(cohorts, "B", 40, 10, 0.5))
    assert same.loc["B", "channel_name_zh"] == "代理"
    cheaper = app.recompute(
        base, app.Assumptions(commission_pct=50, commission_channel="A", arpu_pct=120)
    ).set_index("channel_id")
    assert cheaper.loc["A", "roi"] == pytest.approx(_independent_roi(cohorts, "A", 50, 0, 0.5, 1.2))
    # only A's commission moved
    assert cheaper.loc["B", "commission_per_add_cny"] == pytest.approx(40.0)
    assert cheaper.loc["B", "roi"] == pytest.approx(
        _independent_roi(cohorts, "B", 40, 10, 0.5, 1.2)
    )
    curves = app.survival_by_channel(base, 2)
    assert set(curves["months_since_activation"]) == {0, 1}
    assert curves.loc[curves["channel_id"] == "A", "survival"].iloc[0] == pytest.approx(0.9)


def test_bad_inputs_are_named():
    cohorts = _cohorts()
    with pytest.raises(InputDataError, match="ads_channel_roi has no rows for 2026-05"):
        app.whatif_base(_roi_mart(), cohorts, COSTS, period="2026-05")
    mixed = _roi_mart()
    mixed.loc[1, "margin"] = 0.9
    with pytest.raises(InputDataError, match="different parameters"):
        app.whatif_base(mixed, cohorts, COSTS, period="2026-03")
    base = app.whatif_base(_roi_mart(), cohorts, COSTS, period="2026-03")
    with pytest.raises(ParameterError, match="commission channel 'Z'"):
        app.recompute(base, app.Assumptions(commission_channel="Z"))
    with pytest.raises(ParameterError, match="commission_pct must be >= 0"):
        app.recompute(base, app.Assumptions(commission_pct=-5))
    with pytest.raises(ParameterError, match="margin"):
        app.recompute(base, app.Assumptions(margin=1.5))


def test_missing_mart_and_denied_link_show_messages(tmp_path):
    from tests.conftest import make_project
    from workbench.dashboards.access import Viewer, denied_viewer

    empty = make_project(tmp_path)
    text = app.build(empty, Viewer("ceo", None)).children[-1].value
    assert "ads_channel_roi has not been built" in text and "Traceback" not in text
    denied = app.build(empty, denied_viewer("access denied: the link was altered"))
    assert "access denied" in denied.children[-1].value
    assert "wb-value" not in str(denied.children)


# --------------------------------------------------------------------------- in the browser


def _mart(settings, name: str, where: str = "TRUE") -> pd.DataFrame:
    """A mart read straight from its Parquet files (independent of the app's reader)."""
    import duckdb

    files = str(settings.warehouse_dir / name.split("_")[0] / name / "*" / "*.parquet")
    return duckdb.sql(
        f"SELECT * FROM read_parquet('{files}', hive_partitioning = true) WHERE {where}"
    ).df()


def _commission_per_add(settings, channel: str, period: str) -> float:
    """Commission per gross add: the cost months' commissions weighted by each complete
    cohort's gross adds (month 0 of the cohort table)."""
    cohorts = _mart(
        settings,
        "ads_channel_cohorts",
        f"channel_id = '{channel}' AND months_since_activation = 0 AND is_cohort_complete "
        f"AND month <= '{period}'",
    )
    costs = _mart(settings, "dwd_fct_channel_cost", f"channel_id = '{channel}'")
    joined = cohorts.merge(costs, left_on="activation_month", right_on="month")
    adds = joined["n_survivors"] + joined["n_churned"]
    return float((adds * joined["commission_per_gross_add_cny"]).sum() / adds.sum())


def _shown_roi(page, channel: str) -> float:
    from tests.dashboards.conftest import value_text

    return float(value_text(page, f"roi-{channel}").replace("%", "").replace(",", "")) / 100


def test_whatif_in_the_browser(dashboard_server, dashboard_period, tiny_manifest, page, open_app):
    import psutil

    from tests.dashboards.conftest import screenshot, set_slider, value_text

    settings = dashboard_server.settings
    open_app(page, "channel_whatif", "ceo")
    server = psutil.Process(dashboard_server.process.pid)
    assert not [p for p in server.children(recursive=True) if "java" in p.name()]

    # at the subject's parameters the app shows the mart's ROI, and as worst the channel whose
    # true ROI (the manifest's, valued as the report does) is the lowest
    mart = _mart(settings, "ads_channel_roi", f"month = '{dashboard_period}'")
    for row in mart.itertuples():
        assert _shown_roi(page, row.channel_id) == pytest.approx(row.roi, abs=6e-4)
    truth = tiny_manifest["planted"]["channels"]["economics"]["by_month"][dashboard_period]
    assert value_text(page, "worst-channel").startswith(min(truth, key=lambda c: truth[c]["roi"]))

    # half the commission of one channel: its cost per add drops by half its commission, the
    # lifetime value does not move, so ROI = (ltv - cac') / cac'
    channel = tiny_manifest["planted"]["channels"]["cheapest_channel_id"]
    row = mart.set_index("channel_id").loc[channel]
    cac = row["cac_cny"] - 0.5 * _commission_per_add(settings, channel, dashboard_period)
    expected = (row["ltv_cny"] - cac) / cac
    other = mart.set_index("channel_id").drop(index=channel).iloc[0]
    page.locator(".wb-commission-channel select").select_option(
        label=f"{channel} {row['channel_name_zh']}"
    )
    before = value_text(page, f"roi-{channel}")
    set_slider(page, "commission", 50)
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).innerText != old",
        arg=[f".wb-value-roi-{channel} .wb-number", before],
    )
    assert _shown_roi(page, channel) == pytest.approx(expected, abs=6e-4)
    assert _shown_roi(page, other.name) == pytest.approx(other["roi"], abs=6e-4)

    page.set_viewport_size({"width": 1400, "height": 2000})
    page.locator(".wb-chart-survival .js-plotly-plot").wait_for()
    screenshot(page, "channel_whatif")
    # as managers read it, at a laptop's and a desktop's size
    assert open_page_at_both_sizes(page) == {}
    assert "Traceback" not in page.inner_text("body")
