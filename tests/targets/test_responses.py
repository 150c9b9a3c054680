"""Responses loaded back: validation with every quarantine reason, idempotent reloads, and the
CLI of both commands."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import make_project
from tests.targets.conftest import subscriber, write_table
from workbench.targets.errors import TargetError
from workbench.targets.responses import load_responses
from workbench.warehouse.storage import read_table

NOW = datetime(2026, 7, 20, 12, 0)


@pytest.fixture
def exported(spark, tmp_path):
    """Campaign RET contacted subscribers 1-4 on 2026-07-01 (1, 2 treated; 3, 4 control)."""
    settings = make_project(tmp_path)
    write_table(spark, settings, "dwd_dim_subscriber", [subscriber(i) for i in range(1, 6)])
    write_table(
        spark,
        settings,
        "ads_target_contacts",
        [
            {
                "contact_id": f"k{i}",
                "campaign_id": "RET",
                "wave_id": "w1",
                "subscriber_id": i,
                "assignment": "treatment" if i < 3 else "control",
                "is_treated": i < 3,
                "contact_date": date(2026, 7, 1),
                "source": "churn",
                "month": "2026-07",
            }
            for i in range(1, 5)
        ],
    )
    return settings


ROWS = [
    # campaign, subscriber_id, msisdn, responded_at, response -> expected reason
    ("RET", "1", "", "2026-07-03 10:00:00", "accepted", None),
    ("RET", "", "13800000002", "2026-07-04", "Declined", None),  # by MSISDN, any case
    ("RET", "3", "", "2026-07-05T09:30:00", "accepted", None),  # control responds too
    ("RET", "1", "", "2026-07-03 10:00:00", "accepted", "duplicate"),
    ("", "1", "", "2026-07-03", "accepted", "missing_key"),
    ("RET", "", "", "2026-07-03", "accepted", "missing_key"),
    ("NOPE", "1", "", "2026-07-03", "accepted", "unknown_campaign"),
    ("RET", "2", "", "yesterday", "accepted", "bad_date"),
    ("RET", "2", "", "2026-08-30", "accepted", "bad_date"),  # in the future
    ("RET", "2", "", "2026-06-15", "accepted", "bad_date"),  # before the contact
    ("RET", "2", "", "2026-07-06", "maybe", "bad_response"),
    ("RET", "5", "", "2026-07-06", "accepted", "unknown_subscriber"),  # not in the campaign
    ("RET", "abc", "", "2026-07-06", "accepted", "unknown_subscriber"),
    ("RET", "", "19999999999", "2026-07-06", "accepted", "unknown_subscriber"),
]


def _write(path, rows):
    frame = pd.DataFrame(
        [r[:5] for r in rows],
        columns=["campaign", "subscriber_id", "msisdn", "responded_at", "response"],
    )
    frame.to_csv(path, index=False)
    return path


def test_every_row_is_loaded_or_quarantined_with_its_reason(spark, exported, tmp_path):
    path = _write(tmp_path / "resp.csv", ROWS)
    result = load_responses(spark, exported, path, now=NOW)
    assert (result.n_read, result.n_accepted, result.n_quarantined) == (14, 3, 11)
    loaded = read_table(spark, exported, "ads_target_responses").toPandas()
    assert sorted(loaded.subscriber_id) == [1, 2, 3] and set(loaded.month) == {"2026-07"}
    assert loaded.set_index("subscriber_id").is_accepted.to_dict() == {1: True, 2: False, 3: True}
    bad = read_table(spark, exported, "quarantine_target_responses").toPandas()
    expected = {i: r[5] for i, r in enumerate(ROWS, start=1) if r[5]}
    assert bad.set_index("source_row").reason.to_dict() == expected
    assert result.by_reason["bad_date"] == 3

    again = load_responses(spark, exported, path, now=NOW)  # a reload changes nothing
    assert again.n_accepted == 3
    assert read_table(spark, exported, "ads_target_responses").count() == 3
    assert read_table(spark, exported, "quarantine_target_responses").count() == 11


def test_rejects_are_kept_per_file_identity_not_per_name(spark, exported, tmp_path):
    """Two ``responses.csv`` from different folders keep their own rejects; reloading one
    replaces only its own, and a changed file is another file."""
    rows = [r for r in ROWS if r[5] in ("missing_key", "bad_response")]  # 3 rejects each
    first = _write(_folder(tmp_path, "gz") / "responses.csv", rows)
    second = _write(_folder(tmp_path, "sz") / "responses.csv", rows[:2])
    load_responses(spark, exported, first, now=NOW)
    load_responses(spark, exported, second, now=NOW)
    load_responses(spark, exported, first, now=NOW)  # a reload replaces its own rows only

    def rejects() -> dict[str, int]:
        bad = read_table(spark, exported, "quarantine_target_responses").toPandas()
        assert set(bad.source_file) == {"responses.csv"}
        return bad.groupby("source_path").size().to_dict()

    assert rejects() == {str(first.resolve()): 3, str(second.resolve()): 2}
    _write(second, rows[:1])  # the same path with other content: another file
    load_responses(spark, exported, second, now=NOW)
    assert sorted(rejects().values()) == [3, 3]  # 3 of the first; 2 + 1 of the second's two


def _folder(root, name):
    (root / name).mkdir()
    return root / name


def test_a_file_without_required_columns_is_refused(spark, exported, tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"campaign": ["RET"], "subscriber_id": ["1"]}).to_csv(path, index=False)
    with pytest.raises(TargetError, match="responded_at"):
        load_responses(spark, exported, path, now=NOW)
    with pytest.raises(TargetError, match="no such"):
        load_responses(spark, exported, tmp_path / "missing.csv", now=NOW)


def test_cli_exports_and_loads_responses(spark, small_warehouse, tmp_path, monkeypatch):
    from workbench.cli import _register, app

    _register()
    config = str(small_warehouse.root / "pipelines" / "config.yml")
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["--config", config, "targets", "export", "--campaign", "RET", "--source", "churn",
         "--size", "10", "--format", "parquet"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    listed = pd.read_parquet(small_warehouse.targets_dir / "RET_20260701.parquet")
    assert (
        len(listed)
        + len(pd.read_parquet(small_warehouse.targets_dir / "RET_20260701_control.parquet"))
        == 10
    )
    responses = tmp_path / "answers.parquet"
    pd.DataFrame(
        {"campaign_id": ["RET", "RET"], "subscriber_id": [str(listed.subscriber_id[0]), "999"],
         "responded_at": ["2026-07-02", "2026-07-02"], "response": ["accepted", "accepted"]}
    ).to_parquet(responses)  # fmt: skip
    out = runner.invoke(app, ["--config", config, "campaigns", "load-responses", str(responses)])
    assert out.exit_code == 0, out.output
    assert "1 loaded, 1 quarantined" in out.output and "unknown_subscriber" in out.output
    bad = runner.invoke(
        app, ["--config", config, "targets", "export", "--campaign", "../x", "--source", "churn"]
    )
    assert bad.exit_code == 2 and "campaign" in bad.output


def test_round_trip_export_respond_load_then_campaign_results(spark, small_warehouse, tmp_path):
    """Export, answer for some treated and control subscribers, load, and measure response rates
    with the warehouse's own campaign-results transform over the two loop tables."""
    from pyspark.sql import functions as F

    from workbench.targets.export import export_targets
    from workbench.warehouse.ads import (
        as_campaign_contacts,
        as_campaign_responses,
        to_campaign_results,
    )

    settings = small_warehouse
    export_targets(spark, settings, campaign="LOOP", source="churn")
    contacts = read_table(spark, settings, "ads_target_contacts").toPandas()
    treated = sorted(contacts[contacts.is_treated].subscriber_id)
    control = sorted(contacts[~contacts.is_treated].subscriber_id)
    responders = treated[:4] + control[:1]
    path = tmp_path / "loop.csv"
    pd.DataFrame(
        {"campaign": "LOOP", "subscriber_id": responders, "responded_at": "2026-07-09 08:00",
         "response": "accepted"}
    ).to_csv(path, index=False)  # fmt: skip
    assert load_responses(spark, settings, path, now=NOW).n_accepted == 5

    month = spark.createDataFrame(
        [(int(s), "2026-07", 10.0, "R1", "mass", "postpaid") for s in contacts.subscriber_id],
        "subscriber_id bigint, month string, revenue_cny double, region_id string, "
        "segment string, plan_type string",
    )
    campaigns = spark.createDataFrame(
        [("LOOP", "retention", None)],
        "campaign_id string, campaign_type string, offer_product_id string",
    )
    history = spark.createDataFrame([(1, None)], "subscriber_id bigint, deactivation_date date")
    # the loop tables in the columns of the operator's contacts and responses
    exported = as_campaign_contacts(read_table(spark, settings, "ads_target_contacts"))
    results = exported.transform(
        to_campaign_results(
            as_campaign_responses(read_table(spark, settings, "ads_target_responses")),
            campaigns,
            month,
            history,
            window_months=1,
            last_month="2026-08",
        )
    )
    rates = {
        r["assignment"]: r["rate"]
        for r in results.groupBy("assignment")
        .agg(F.avg(F.col("is_responded").cast("double")).alias("rate"))
        .collect()
    }
    assert rates["treatment"] == pytest.approx(4 / len(treated))
    assert rates["control"] == pytest.approx(1 / len(control))
