"""Churn retention: selection, revenue at risk and saving against independent computations over
the marts' files, masking (also when the configuration turns it off), do-not-contact lines
flagged in the list, the export read back, region scoping, and the app in a browser."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from tests.dashboards.conftest import choose, screenshot, value_text
from tests.pages import open_page_at_both_sizes
from workbench.dashboards import churn_retention as app
from workbench.dashboards import ui
from workbench.dashboards.access import AccessDenied, Viewer, denied_viewer
from workbench.dashboards.data import export_target_list
from workbench.filters import at_least, equals
from workbench.targets.control import hash_unit
from workbench.targets.errors import TargetError
from workbench.targets.privacy import mask_msisdn


def _expected(settings, period: str, threshold: float, region=None, segment=None) -> pd.DataFrame:
    """The selection straight from the Parquet files (scores + revenue + MSISDN)."""
    ads = settings.warehouse_dir / "ads"
    where = [f"s.churn_probability >= {threshold}"]
    if region:
        where.append(f"s.region_id = '{region}'")
    if segment:
        where.append(f"s.segment = '{segment}'")
    return duckdb.sql(
        f"""
        SELECT s.subscriber_id, s.region_id, s.churn_probability, s.is_do_not_contact,
               f.revenue_cny, d.msisdn, d.is_do_not_contact AS is_do_not_contact_now
        FROM read_parquet('{ads}/ads_churn_scores/month={period}/*.parquet') s
        LEFT JOIN read_parquet('{ads}/ads_churn_features/month={period}/*.parquet') f
          USING (subscriber_id)
        LEFT JOIN (SELECT DISTINCT subscriber_id, msisdn, is_do_not_contact
                   FROM read_parquet('{settings.warehouse_dir}/dwd/dwd_dim_subscriber/**/*.parquet')
                   WHERE is_current) d USING (subscriber_id)
        WHERE {" AND ".join(where)}
        """
    ).df()


def _must_not_contact(truth: pd.DataFrame) -> dict[int, bool]:
    """Subscriber -> must not be contacted: flagged when scored or now, or consent unknown."""
    scored = truth["is_do_not_contact"].astype("boolean").fillna(True)
    now = truth["is_do_not_contact_now"].astype("boolean").fillna(True)
    return dict(zip(truth["subscriber_id"].astype(int), (scored | now).astype(bool), strict=True))


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscriber_id": [1, 2, 3, 4, 5],
            "region_id": ["GZ", "GZ", "SZ", "GZ", "SZ"],
            "segment": ["mass", "youth", "mass", "mass", "youth"],
            "churn_probability": [0.9, 0.4, 0.8, 0.6, 0.1],
            "revenue_cny": [100.0, 50.0, 80.0, None, 30.0],
            "reason_1": ["n_complaints", "tenure_months", "n_complaints", "offnet_share", None],
            "reason_1_text": [
                "投诉次数 2 / complaints 2",
                "在网时长 / tenure",
                "投诉",
                "异网",
                None,
            ],
            "risk_decile": [1, 4, 1, 2, 9],
            "is_do_not_contact": [False, False, False, True, False],
            "msisdn": ["138****0001", "138****0002", "138****0003", "138****0004", "138****0005"],
        }
    )


def test_selection_revenue_saving_and_reasons():
    scores = _scores()
    chosen = app.select_at_risk(scores, app.Selection(region="GZ", threshold=0.5))
    assert list(chosen["subscriber_id"]) == [1, 4]  # riskiest first
    everyone = app.select_at_risk(scores, app.Selection(threshold=0.5))
    expected = sum(
        p * (r if pd.notna(r) else 0)
        for p, r in everyone[["churn_probability", "revenue_cny"]].itertuples(index=False)
    )
    assert app.revenue_at_risk(everyone) == pytest.approx(expected)
    assert app.retention_saving(200.0, 0.25) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="retained_share"):
        app.retention_saving(200.0, 1.5)
    reasons = app.top_reasons(everyone)
    assert reasons.iloc[0]["reason"] == "n_complaints" and reasons.iloc[0]["n_subscribers"] == 2
    # as shown: the factor's catalog names, not its column name; the share in percent
    shown = app.reasons_table(reasons).iloc[0]
    assert list(shown) == ["投诉次数 complaints", "2", "66.7%"]
    dist = app.risk_distribution(scores).set_index("risk_decile")
    assert dist.loc[1, "n_subscribers"] == 2 and dist.loc[1, "mean_probability"] == pytest.approx(
        0.85
    )
    assert app.select_at_risk(scores, app.Selection(segment="youth", threshold=0.95)).empty


def test_do_not_contact_lines_are_flagged_in_the_at_risk_list():
    current = pd.DataFrame(
        {"subscriber_id": [1, 2, 3, 4], "is_do_not_contact": [False, True, None, False]}
    )
    scores = app.with_contact_consent(_scores().assign(plan_type="prepaid"), current)
    # 2: flagged now; 3: consent unknown; 4: flagged when scored; 5: no current row
    expected = {1: False, 2: True, 3: True, 4: True, 5: True}
    assert dict(zip(scores["subscriber_id"], scores["is_do_not_contact"], strict=True)) == expected
    table = app.at_risk_table(app.select_at_risk(scores, app.Selection(threshold=0.0)))
    subscriber = app.AT_RISK_HEADERS["subscriber_id"]
    assert list(table.columns[:3]) == [subscriber, "号码 MSISDN", ui.CONTACT_COLUMN]
    assert "is_do_not_contact" not in table.columns
    shown = dict(zip(table[subscriber], table[ui.CONTACT_COLUMN], strict=True))
    assert shown == {s: ui.DO_NOT_CONTACT if dnc else "" for s, dnc in expected.items()}


def test_the_at_risk_list_flags_every_do_not_contact_line_of_the_marts(
    dashboard_project, dashboard_period
):
    scores = app.load_scores(dashboard_project, Viewer("ceo", None), dashboard_period)
    expected = _must_not_contact(_expected(dashboard_project, dashboard_period, 0.0))
    assert any(expected.values())  # the tiny operator has such lines
    assert dict(zip(scores["subscriber_id"], scores["is_do_not_contact"], strict=True)) == expected
    table = app.at_risk_table(scores, rows=len(scores))
    flagged = table.loc[
        table[ui.CONTACT_COLUMN] == ui.DO_NOT_CONTACT, app.AT_RISK_HEADERS["subscriber_id"]
    ]
    assert set(flagged) == {s for s, dnc in expected.items() if dnc}


def test_masking_matches_the_target_list_rule():
    numbers = pd.Series(["13812345678", "1234567", None, "8613912345678"])
    assert list(app.mask_msisdns(numbers).fillna("<NA>")) == [
        mask_msisdn(n) if n is not None else "<NA>" for n in numbers
    ]


def test_export_refuses_bad_names_and_denied_links(dashboard_project):
    with pytest.raises(TargetError, match="campaign"):
        export_target_list(
            dashboard_project,
            Viewer("ceo", None),
            source="churn",
            campaign="../x",
            period="2026-06",
        )
    with pytest.raises(AccessDenied):
        export_target_list(
            dashboard_project, denied_viewer("no"), source="churn", campaign="c1", period="2026-06"
        )
    chosen = app.selection_filters(app.Selection(region="GZ", segment="it's", threshold=0.25))
    assert chosen == (
        at_least("churn_probability", 0.25),
        equals("region_id", "GZ"),
        equals("segment", "it's"),  # a value, bound: never quoted into SQL text
    )


def test_retention_app_in_the_browser(dashboard_project, dashboard_period, page, open_app):
    settings, period = dashboard_project, dashboard_period
    open_app(page, "churn_retention", "ceo")
    threshold = float(page.locator(".wb-threshold .widget-readout").inner_text())
    truth = _expected(settings, period, threshold)
    assert int(value_text(page, "at-risk").replace(",", "")) == len(truth) > 0
    revenue = (truth["churn_probability"] * truth["revenue_cny"].fillna(0)).sum()
    # money in yuan: whole from a thousand up
    assert value_text(page, "revenue-at-risk") == (
        f"¥{revenue:,.0f}" if revenue >= 1000 else f"¥{revenue:,.2f}"
    )
    # every line listed that must not be contacted says so
    ids = page.locator(".wb-table-at-risk td:nth-child(1)").all_inner_texts()
    flags = page.locator(".wb-table-at-risk td:nth-child(3)").all_inner_texts()
    must_not = _must_not_contact(truth)
    assert ids and [f.strip() == ui.DO_NOT_CONTACT for f in flags] == [
        must_not[int(i)] for i in ids
    ]

    choose(page, "segment", "mass")
    mass = _expected(settings, period, threshold, segment="mass")
    page.wait_for_function(
        "v => document.querySelector('.wb-value-at-risk .wb-number')"
        ".innerText.replace(/,/g, '') == v",
        arg=str(len(mass)),
    )
    # the table follows the filter: the riskiest rows of the selection
    page.wait_for_function(
        "n => document.querySelector('.wb-details').innerText.includes('of ' + n + ')')",
        arg=f"{len(mass):,}",
    )
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.wb-table-at-risk td:nth-child(5)')];"
        " return c.length > 0 && c.every(e => e.innerText.trim() == 'mass'); }"
    )
    screenshot(page, "churn_retention")
    # as managers read it, at a laptop's and a desktop's size
    assert open_page_at_both_sizes(page) == {}


def test_a_region_manager_sees_and_exports_only_their_region(
    dashboard_project, dashboard_period, page, open_app
):
    open_app(page, "churn_retention", "gz_manager")
    assert page.locator(".wb-region select option").all_inner_texts() == ["GZ"]
    threshold = float(page.locator(".wb-threshold .widget-readout").inner_text())
    truth = _expected(dashboard_project, dashboard_period, threshold, region="GZ")
    assert int(value_text(page, "at-risk").replace(",", "")) == len(truth)
    regions = page.locator(".wb-table-at-risk td:nth-child(4)").all_inner_texts()
    assert regions and set(regions) == {"GZ"}

    # the export: the selection through the target-list code, suppressed, inside GZ only
    # the proposed campaign name is the manager's own for the month
    proposed = page.locator(".wb-campaign input").input_value()
    assert proposed == f"retention_{dashboard_period.replace('-', '')}_gz_manager"
    page.locator(".wb-campaign input").fill("gz_browser_retention")
    page.locator(".wb-export").click()
    page.wait_for_selector(".wb-export-result", timeout=300_000)
    files = dashboard_project.targets_dir
    log = [json.loads(line) for line in (files / "export_log.jsonl").read_text().splitlines()]
    record = log[-1]
    assert record["user"] == "gz_manager" and record["wave_id"].endswith("_GZ")
    treated = pd.read_csv(record["file"])
    held_out = pd.read_csv(record["control_file"])
    exported = set(treated["subscriber_id"]) | set(held_out["subscriber_id"])
    assert exported and exported <= set(truth["subscriber_id"])
    assert set(treated["region_id"]) | set(held_out["region_id"]) == {"GZ"}
    dnc = set(truth.loc[truth["is_do_not_contact"].fillna(False), "subscriber_id"])
    assert not exported & dnc
    share = dashboard_project.targets.control_share
    assert set(held_out["subscriber_id"]) == {
        s for s in exported if hash_unit("gz_browser_retention", int(s)) < share
    }
    phones = dict(zip(truth["subscriber_id"], truth["msisdn"], strict=True))
    assert len(treated) > 0
    assert all(
        m == mask_msisdn(phones[s])
        for s, m in treated[["subscriber_id", "msisdn"]].itertuples(index=False)
    )
    assert record["campaign"] == "gz_browser_retention"
    assert record["counts"][0]["before"] == len(truth)  # the candidates are the selection
    assert record["n_treated"] + record["n_control"] == len(exported)


def test_dashboard_exports_are_masked_even_when_the_configuration_turns_masking_off(
    dashboard_project, dashboard_period
):
    """``targets.mask_msisdn: false`` is for the CLI's authorised exports: a dashboard's list
    is masked all the same, and its log line says so (not authorised, masked)."""
    unmasked = dashboard_project.model_copy(
        update={"targets": dashboard_project.targets.model_copy(update={"mask_msisdn": False})}
    )
    record = export_target_list(
        unmasked,
        Viewer("ceo", None),
        source="churn",
        campaign="mask_check_retention",
        period=dashboard_period,
        # SZ only: GZ's lines stay uncontacted for the browser test's export
        filters=(equals("region_id", "SZ"), at_least("churn_probability", 0.05)),
    )
    treated = pd.read_csv(record["file"], dtype={"msisdn": str})
    truth = _expected(dashboard_project, dashboard_period, 0.05, region="SZ")
    phones = dict(zip(truth["subscriber_id"], truth["msisdn"], strict=True))
    assert len(treated) > 0
    assert all(
        m == mask_msisdn(phones[s]) and m != phones[s]
        for s, m in treated[["subscriber_id", "msisdn"]].itertuples(index=False)
    )
    log_file = dashboard_project.targets_dir / "export_log.jsonl"
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    line = next(r for r in reversed(logged) if r["campaign"] == "mask_check_retention")
    assert line["authorised"] is False and line["extra"]["masked"] is True
