"""The KPI dictionary: loading and validation, the cube and the alerts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.frames import frame
from workbench.catalog.kpis import (
    AlertPolicy,
    Kpi,
    KpiDictionaryError,
    load_alert_policy,
    load_kpis,
)
from workbench.errors import MissingColumnError
from workbench.warehouse.kpi import compute_kpi_alerts, compute_kpi_cube

DICTIONARY = Path(__file__).resolve().parents[2] / "pipelines" / "kpis.yml"
REQUIRED_CODES = {
    "active_subscribers",
    "gross_adds",
    "net_adds",
    "churn_rate",
    "churn_rate_prepaid",
    "churn_rate_postpaid",
    "arpu",
    "mou",
    "dou",
    "revenue_voice",
    "revenue_data",
    "revenue_vas",
    "data_penetration",
    "vas_penetration",
    "complaint_rate_per_10k",
    "competitor_offnet_share",
    "key_account_revenue_share",
    "channel_cac",
}


def line(sub, month, region="GZ", plan="prepaid", **values):
    row = {
        "subscriber_id": sub,
        "month": month,
        "region_id": region,
        "segment": "mass",
        "plan_type": plan,
        "is_opening": True,
        "is_active": True,
        "is_gross_add": False,
        "is_churned_this_month": False,
        "revenue_cny": 10.0,
        "mou_min": 100.0,
        "data_mb": 0.0,
        "n_complaints": 0,
        "n_products": 0,
        "is_enterprise": False,
        "competitor_a_min": 0.0,
        "competitor_b_min": 0.0,
    }
    row.update(values)
    return row


@pytest.fixture(scope="module")
def base(spark):
    rows = [
        line(1, "2026-01"),
        line(2, "2026-01", region="SZ", plan="postpaid", revenue_cny=50.0),
        line(3, "2026-01", is_active=False, is_churned_this_month=True),
        line(4, "2026-01", region=None, is_opening=False, is_gross_add=True, n_complaints=2),
        line(1, "2026-02", revenue_cny=20.0),
        line(2, "2026-02", region="SZ", plan="postpaid", revenue_cny=10.0),
    ]
    return frame(spark, "dws_subscriber_month", rows).cache()


def channel_month(spark):
    return frame(
        spark,
        "dws_channel_month",
        [
            {
                "channel_id": "A",
                "n_gross_adds": 2,
                "acquisition_cost_cny": 100.0,
                "month": "2026-01",
            },
            {
                "channel_id": "B",
                "n_gross_adds": 0,
                "acquisition_cost_cny": 20.0,
                "month": "2026-01",
            },
        ],
    )


def cube_of(spark, base, kpis=None):
    kpis = kpis or load_kpis(DICTIONARY)
    return compute_kpi_cube(
        kpis, {"dws_subscriber_month": base, "dws_channel_month": channel_month(spark)}
    )


def value(cube, code, month="2026-01", region="ALL", segment="ALL", plan="ALL"):
    rows = cube.where(
        f"kpi_code = '{code}' and month = '{month}' and region_id = '{region}' "
        f"and segment = '{segment}' and plan_type = '{plan}'"
    ).collect()
    assert len(rows) == 1, (code, month, region, segment, plan, rows)
    return rows[0]["value"]


def test_the_dictionary_covers_the_required_indicators():
    kpis = load_kpis(DICTIONARY)
    assert {k.code for k in kpis} >= REQUIRED_CODES
    assert all(k.name_zh and k.name_en and k.unit for k in kpis)
    assert {k.source for k in kpis} == {"dws_subscriber_month", "dws_channel_month"}


def test_cube_values_and_rollups(spark, base):
    cube = cube_of(spark, base).cache()
    assert value(cube, "active_subscribers") == 3
    assert value(cube, "active_subscribers", region="SZ") == 1
    assert value(cube, "active_subscribers", region="UNKNOWN") == 1  # null region kept visible
    assert value(cube, "active_subscribers", region="GZ", segment="mass", plan="prepaid") == 1
    assert value(cube, "churn_rate") == pytest.approx(1 / 3)
    assert value(cube, "churn_rate_prepaid") == pytest.approx(1 / 2)
    assert value(cube, "churn_rate_postpaid") == 0.0
    assert value(cube, "net_adds") == 0
    assert value(cube, "arpu") == pytest.approx(80.0 / 3.0)  # revenue / mean(opening, closing)
    assert value(cube, "complaint_rate_per_10k") == pytest.approx(2 * 10000 / 4)
    assert value(cube, "channel_cac") == pytest.approx(60.0)
    # a source without the cube dimensions only has the all-level
    assert cube.where("kpi_code = 'channel_cac' and region_id != 'ALL'").count() == 0
    # an undefined ratio is null, not an error: no postpaid lines in GZ
    assert value(cube, "churn_rate_postpaid", region="GZ") is None
    # 8 levels of region x segment x plan_type: every row is unique on the keys
    keys = ["region_id", "segment", "plan_type", "kpi_code", "month"]
    assert cube.count() == cube.select(*keys).distinct().count()


def test_adding_an_indicator_is_one_yaml_entry(spark, base, tmp_path):
    copy = tmp_path / "kpis.yml"
    shutil.copy(DICTIONARY, copy)
    doc = yaml.safe_load(copy.read_text(encoding="utf-8"))
    doc["kpis"].append(
        {
            "code": "heavy_talkers",
            "name_en": "Lines over 50 minutes",
            "name_zh": "高话务用户数",
            "formula": "sum(if(is_active and mou_min > 50, 1, 0))",
            "unit": "lines",
            "grain": "region x segment x plan_type x month",
            "better": "higher",
        }
    )
    copy.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cube = cube_of(spark, base, load_kpis(copy))
    assert value(cube, "heavy_talkers") == 3
    assert value(cube, "heavy_talkers", month="2026-02", region="SZ") == 1


def write_dictionary(tmp_path, *entries) -> Path:
    path = tmp_path / "kpis.yml"
    path.write_text(yaml.safe_dump({"kpis": list(entries)}), encoding="utf-8")
    return path


GOOD = {
    "code": "x",
    "name_en": "X",
    "name_zh": "X",
    "formula": "count(*)",
    "unit": "lines",
    "grain": "month",
    "better": "higher",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name_zh": None}, "KPI 'x'.name_zh: required"),
        ({"better": "up"}, "KPI 'x'.better"),
        ({"warning": 0.1, "alarm": 0.2}, "KPI 'x'.alarm: 0.2 is not worse"),
        ({"warning": "high"}, "KPI 'x'.warning: must be a number"),
        ({"source": "ods_cdr__usage"}, "KPI 'x'.source"),
        ({"colour": "red"}, "unknown field"),
        ({"code": "Bad Code"}, "code: must be lower_snake_case"),
        ({"persist_months": 4}, "KPI 'x'.persist_months: must be 1 to 3"),
        ({"persist_months": "two"}, "KPI 'x'.persist_months: must be a whole number"),
    ],
)
def test_dictionary_errors_name_the_kpi_and_field(tmp_path, change, message):
    path = write_dictionary(tmp_path, {**GOOD, **change})
    with pytest.raises(KpiDictionaryError, match=re.escape(message)):
        load_kpis(path)


def test_duplicate_codes_and_missing_file_are_rejected(tmp_path):
    with pytest.raises(KpiDictionaryError, match=r"'x'\.code: defined twice"):
        load_kpis(write_dictionary(tmp_path, GOOD, GOOD))
    with pytest.raises(KpiDictionaryError, match="not found"):
        load_kpis(tmp_path / "nope.yml")


def test_a_formula_that_does_not_evaluate_names_its_kpi(spark, base):
    bad = Kpi(**{**GOOD, "code": "broken", "formula": "sum(no_such_column)"})
    with pytest.raises(KpiDictionaryError, match=r"KPI 'broken'\.formula"):
        compute_kpi_cube([bad], {"dws_subscriber_month": base})
    not_aggregate = Kpi(**{**GOOD, "code": "row_level", "formula": "revenue_cny"})
    with pytest.raises(KpiDictionaryError, match=r"KPI 'row_level'\.formula"):
        compute_kpi_cube([not_aggregate], {"dws_subscriber_month": base})


def test_alerts_follow_the_thresholds(spark, base):
    kpis = [
        Kpi(
            **{
                **GOOD,
                "code": "churn",
                "formula": (
                    "try_divide(sum(if(is_churned_this_month, 1, 0)), sum(if(is_opening, 1, 0)))"
                ),
                "better": "lower",
                "warning": 0.2,
                "alarm": 0.4,
            }
        ),
        Kpi(
            **{
                **GOOD,
                "code": "revenue",
                "formula": "sum(revenue_cny)",
                "basis": "mom_change",
                "warning": -0.1,
                "alarm": -0.5,
            }
        ),
    ]
    cube = compute_kpi_cube(kpis, {"dws_subscriber_month": base})
    alerts = compute_kpi_alerts(kpis, cube).cache()
    got = {
        (r.kpi_code, r.month, r.region_id, r.segment, r.plan_type): (
            r.severity,
            r.threshold,
            r.direction,
            round(r.measured, 6),
        )
        for r in alerts.collect()
    }
    # churn: ALL 1/3 (warning); prepaid 1/2 (alarm); GZ prepaid 1/2 (alarm)
    assert got[("churn", "2026-01", "ALL", "ALL", "ALL")] == ("warning", 0.2, "above", 0.333333)
    assert got[("churn", "2026-01", "ALL", "ALL", "prepaid")][0] == "alarm"
    # revenue ALL: 80 -> 30 is -62.5 % (alarm); SZ 50 -> 10 is -80 % (alarm); GZ 10 -> 20 fine
    assert got[("revenue", "2026-02", "ALL", "ALL", "ALL")] == ("alarm", -0.5, "below", -0.625)
    assert ("revenue", "2026-02", "GZ", "ALL", "ALL") not in got
    assert not any(k[0] == "revenue" and k[1] == "2026-01" for k in got)  # no previous month
    assert not any(k[0] == "churn" and k[1] == "2026-02" for k in got)  # no churn in February
    with pytest.raises(MissingColumnError, match=r"ads_kpi_cube: missing column.*kpi_code"):
        compute_kpi_alerts(kpis, cube.drop("kpi_code"))


def test_alerts_wait_for_a_persistent_breach_and_skip_small_cells(spark, tmp_path):
    """Planted cells: A (1,000 lines) breaches the alarm in January and the warning in February
    (persistence 2: a warning in February, the milder of the two; nothing in January, which has
    no month before it); B (10 lines) breaches the alarm twice but is below ``min_lines``; C
    misses February, so March's breach has not lasted two months."""
    churn = Kpi(
        **{**GOOD, "code": "churn", "better": "lower", "warning": 0.2, "alarm": 0.4},
        persist_months=2,
    )
    lines = Kpi(**{**GOOD, "code": "lines"})
    rows = []
    for region, size, values in (
        ("A", 1000.0, {"2026-01": 0.5, "2026-02": 0.3, "2026-03": 0.1}),
        ("B", 10.0, {"2026-01": 0.5, "2026-02": 0.5}),
        ("C", 1000.0, {"2026-01": 0.5, "2026-03": 0.5}),
    ):
        for month, value in values.items():
            for code, v in (("churn", value), ("lines", size)):
                rows.append(
                    {
                        "region_id": region,
                        "segment": "ALL",
                        "plan_type": "ALL",
                        "kpi_code": code,
                        "kpi_name_en": code,
                        "kpi_name_zh": code,
                        "unit": "lines",
                        "value": v,
                        "month": month,
                    }
                )
    cube = frame(spark, "ads_kpi_cube", rows)
    policy = AlertPolicy(min_lines=100, size_kpi="lines")
    got = {
        (r.region_id, r.month): (r.severity, r.threshold)
        for r in compute_kpi_alerts([churn, lines], cube, policy).collect()
    }
    assert got == {("A", "2026-02"): ("warning", 0.2)}
    # without the policy and the persistence every breach alerts, B's and C's included
    at_once = {
        (r.region_id, r.month)
        for r in compute_kpi_alerts(
            [Kpi(**{**GOOD, "code": "churn", "better": "lower", "warning": 0.2, "alarm": 0.4})],
            cube,
        ).collect()
    }
    assert at_once == {
        ("A", "2026-01"),
        ("A", "2026-02"),
        ("B", "2026-01"),
        ("B", "2026-02"),
        ("C", "2026-01"),
        ("C", "2026-03"),
    }


def test_the_alert_policy_is_read_from_the_dictionary(tmp_path):
    path = write_dictionary(tmp_path, GOOD)
    assert load_alert_policy(path) == AlertPolicy()
    content = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**content, "alerting": {"min_lines": 50, "size_kpi": "x"}}))
    assert load_alert_policy(path) == AlertPolicy(min_lines=50, size_kpi="x")
    path.write_text(yaml.safe_dump({**content, "alerting": {"min_lines": 50, "size_kpi": "y"}}))
    with pytest.raises(KpiDictionaryError, match=r"alerting\.size_kpi: 'y' is not a KPI"):
        load_alert_policy(path)
    path.write_text(yaml.safe_dump({**content, "alerting": {"min_lines": -1}}))
    with pytest.raises(KpiDictionaryError, match=r"alerting\.min_lines"):
        load_alert_policy(path)
