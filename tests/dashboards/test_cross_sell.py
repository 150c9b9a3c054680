"""Cross-sell explorer: rules filtered by the sliders and product, the reach of each offer, the
region scoping, and the app in a real browser with an export of one offer's audience."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tests.pages import open_page_at_both_sizes
from workbench.dashboards import cross_sell as app
from workbench.errors import InputDataError, ParameterError


def _rules() -> pd.DataFrame:
    rows = [
        # scope, value, rule, antecedent, consequent, support, confidence, lift
        ("overall", "ALL", "r1", "VIDEO", "DATA_L", 0.10, 0.6, 3.0),
        ("overall", "ALL", "r2", "FAMILY", "HOME_BB", 0.05, 0.5, 2.5),
        ("overall", "ALL", "r3", "DATA_L + VIDEO", "MUSIC", 0.02, 0.2, 1.1),
        ("overall", "ALL", "r4", "MUSIC", "CLOUD", 0.01, 0.1, 0.9),
        ("region", "GZ", "r1", "VIDEO", "DATA_L", 0.12, 0.7, 3.2),
        ("region", "SZ", "r2", "FAMILY", "HOME_BB", 0.04, 0.4, 2.0),
        ("segment", "mass", "r2", "FAMILY", "HOME_BB", 0.04, 0.4, 2.0),
    ]
    return pd.DataFrame(rows, columns=app.RULE_COLUMNS)


def _offers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscriber_id": [1, 2, 3, 3, 4, 5],
            "offer_product_id": ["DATA_L", "DATA_L", "HOME_BB", "MUSIC", "MUSIC", "CLOUD"],
            "rule_id": ["r1", "r1", "r2", "r3", "r3", "r4"],
            "region_id": ["GZ", "SZ", "GZ", "GZ", "SZ", "GZ"],
        }
    )


def test_filters_scopes_and_reach():
    rules = _rules()
    strong = app.filter_rules(rules, app.RuleFilter(min_support=0.02, min_lift=1.0))
    assert list(strong["rule_id"]) == ["r1", "r2", "r3"]  # lift order
    assert list(app.filter_rules(rules, app.RuleFilter(min_confidence=0.5))["rule_id"]) == [
        "r1",
        "r2",
    ]
    # a product selects the rules offering it or requiring it
    video = app.filter_rules(rules, app.RuleFilter(product="VIDEO", min_lift=0))
    assert list(video["rule_id"]) == ["r1", "r3"]
    gz = app.filter_rules(rules, app.RuleFilter(scope="region", scope_value="GZ"))
    assert gz["support"].tolist() == [0.12]
    assert app.rule_products(rules) == ["CLOUD", "DATA_L", "FAMILY", "HOME_BB", "MUSIC", "VIDEO"]

    assert app.rule_scopes(rules, None)[0] == ("overall", "ALL")
    assert ("segment", "mass") in app.rule_scopes(rules, None)
    assert app.rule_scopes(rules, frozenset({"GZ"})) == [("region", "GZ")]

    reach = app.reach_by_offer(_offers(), strong).set_index("offer_product_id")
    assert reach.loc["DATA_L", "n_subscribers"] == 2
    assert reach.loc["MUSIC", "n_subscribers"] == 2
    assert "CLOUD" not in reach.index  # r4 fails the lift
    audience = app.offer_audience(_offers(), strong, "MUSIC")
    assert audience["subscriber_id"].tolist() == [3, 4]
    assert len(app.strongest_figure(strong).data[0].y) == 3


def test_bad_filters_are_named():
    with pytest.raises(ParameterError, match="min_support must be a number in"):
        app.filter_rules(_rules(), app.RuleFilter(min_support=2.0))
    with pytest.raises(ParameterError, match="min_lift"):
        app.filter_rules(_rules(), app.RuleFilter(min_lift=-1))
    with pytest.raises(InputDataError, match="'lift'"):
        app.filter_rules(_rules().drop(columns="lift"), app.RuleFilter())
    with pytest.raises(ParameterError, match="choose an offer product"):
        app.offer_audience(_offers(), _rules(), "")


def test_audience_filter_is_bound_for_the_viewer():
    import duckdb

    from workbench.filters import duckdb_where

    where, params = duckdb_where(app.audience_filters("MUSIC", ["r3", "r4"], frozenset({"GZ"})))
    offers = _offers()  # noqa: F841  (read by DuckDB below)
    with duckdb.connect() as con:
        kept = con.execute(f"SELECT subscriber_id FROM offers WHERE {where}", params).df()
    assert kept["subscriber_id"].tolist() == [3]  # 4 is in SZ
    assert "FALSE" in duckdb_where(app.audience_filters("MUSIC", ["r3"], frozenset()))[0]
    with pytest.raises(ParameterError, match="no rule passing the filters offers MUSIC"):
        app.audience_filters("MUSIC", [], None)
    # the proposed name is the viewer's own for the month
    assert app.default_campaign("VIDEO_PACK", "2026-06", "gz_manager") == (
        "XS_VIDEO_PACK_202606_gz_manager"
    )
    assert app.default_campaign("VIDEO_PACK", "2026-06", "sz_manager") != (
        app.default_campaign("VIDEO_PACK", "2026-06", "gz_manager")
    )


def test_missing_mart_and_denied_link_show_messages(tmp_path):
    from tests.conftest import make_project
    from workbench.dashboards.access import Viewer, denied_viewer

    empty = make_project(tmp_path)
    text = app.build(empty, Viewer("ceo", None)).children[-1].value
    assert "ads_basket_rules has not been built" in text and "Traceback" not in text
    denied = app.build(empty, denied_viewer("access denied: the link was altered"))
    assert "access denied" in denied.children[-1].value


# --------------------------------------------------------------------------- in the browser


def _duck(settings, sql: str) -> list[tuple]:
    """Run ``sql`` over the marts read straight from their files (``rules``, ``offers``)."""
    import duckdb

    con = duckdb.connect()
    for view, name in (("rules", "ads_basket_rules"), ("offers", "ads_offers")):
        files = settings.warehouse_dir / "ads" / name / "*" / "*.parquet"
        con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)"
        )
    return con.execute(sql).fetchall()


def _number(page, name: str) -> int:
    from tests.dashboards.conftest import value_text

    return int(value_text(page, name).replace(",", ""))


def _audience_sql(period, product, scope_where, lift, region=None) -> str:
    """Distinct subscribers offered ``product`` by a rule of the scope with lift >= ``lift``."""
    in_region = f"AND o.region_id = '{region}'" if region else ""
    return (
        "SELECT count(DISTINCT o.subscriber_id) FROM offers o WHERE o.month = "
        f"'{period}' AND o.offer_product_id = '{product}' {in_region} AND o.rule_id IN "
        f"(SELECT rule_id FROM rules WHERE month = '{period}' AND {scope_where} "
        f"AND consequent = '{product}' AND lift >= {lift})"
    )


def test_explorer_in_the_browser(dashboard_server, dashboard_period, page, open_app):
    from tests.dashboards.conftest import screenshot, set_slider

    settings, period = dashboard_server.settings, dashboard_period
    overall = "scope = 'overall'"
    open_app(page, "cross_sell", "ceo")

    def count_rules(lift):
        sql = (
            f"SELECT count(*) FROM rules WHERE month = '{period}' AND {overall} AND lift >= {lift}"
        )
        return _duck(settings, sql)[0][0]

    assert _number(page, "n-rules") == count_rules(1.0)
    set_slider(page, "min-lift", 2.0)
    expected = count_rules(2.0)
    page.wait_for_function(
        "v => document.querySelector('.wb-value-n-rules .wb-number').innerText == v",
        arg=f"{expected:,}",
    )
    # the offer picker and its audience follow the rule count (later messages of the same
    # update): wait until the audience on screen is the one of the offer on screen
    deadline = time.monotonic() + 30
    while True:
        offer = page.locator(".wb-offer select").input_value()
        want = _duck(settings, _audience_sql(period, offer, overall, 2.0))[0][0]
        if _number(page, "reach") == want or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert want > 0 and _number(page, "reach") == want
    page.locator(".wb-chart-strongest .js-plotly-plot").wait_for()
    page.set_viewport_size({"width": 1400, "height": 1300})
    screenshot(page, "cross_sell")
    # as managers read it, at a laptop's and a desktop's size
    assert open_page_at_both_sizes(page) == {}

    # nothing passes: a plain message, not a traceback
    set_slider(page, "min-lift", 10.0)
    page.wait_for_selector(".wb-content .wb-message", timeout=30_000)
    assert "No rule passes these filters" in page.locator(".wb-content").inner_text()
    assert _number(page, "n-rules") == 0 and "Traceback" not in page.inner_text("body")


def test_a_region_manager_sees_and_exports_only_their_region(
    dashboard_server, dashboard_period, page, open_app
):
    import pandas as pd

    settings, period = dashboard_server.settings, dashboard_period
    open_app(page, "cross_sell", "gz_manager")
    assert page.locator(".wb-scope-select select option").all_inner_texts() == ["region\xa0GZ"]
    offer = page.locator(".wb-offer select").input_value()
    gz = "scope = 'region' AND scope_value = 'GZ'"
    audience = _duck(settings, _audience_sql(period, offer, gz, 1.0, region="GZ"))[0][0]
    assert audience > 0 and _number(page, "reach") == audience
    # every rule row shown is a GZ rule: the overall ones are mined over every region
    n_gz = _duck(
        settings, f"SELECT count(*) FROM rules WHERE month = '{period}' AND {gz} AND lift >= 1"
    )[0][0]
    assert _number(page, "n-rules") == n_gz

    campaign = page.locator(".wb-campaign input").input_value()
    page.locator("button.wb-export").click()
    page.wait_for_selector(".wb-export-result", timeout=300_000)
    assert campaign.endswith("_gz_manager")  # proposed per user and month
    log = [
        __import__("json").loads(line)
        for line in (settings.targets_dir / "export_log.jsonl").read_text().splitlines()
    ]
    record = next(r for r in log if r["campaign"] == campaign)
    assert record["user"] == "gz_manager"
    treated = pd.read_csv(record["file"])
    control = pd.read_csv(record["control_file"])
    listed = pd.concat([treated, control])
    assert len(treated) > 0 and set(listed["region_id"]) == {"GZ"}
    assert set(listed["offer_product_id"]) == {offer}
    offered = {
        r[0]
        for r in _duck(
            settings,
            f"SELECT subscriber_id FROM offers WHERE month = '{period}' AND region_id = 'GZ' "
            f"AND offer_product_id = '{offer}'",
        )
    }
    assert set(listed["subscriber_id"]) <= offered
    assert listed["msisdn"].astype(str).str.contains(r"\*\*\*\*").all()  # masked
    # the export started from exactly the audience the app showed, then suppressed
    assert record["counts"][0]["before"] == audience
    assert record["n_treated"] + record["n_control"] == len(listed)
    assert record["n_treated"] == len(treated)
