"""The closed loop on a copy of the tiny warehouse: export churn lists through the CLI, answer
them, load the answers, refresh the campaign results and read the campaign ROI report.

Two campaigns: LOOP_MAR is contacted on 2026-03-01, so its 3-month horizon (April to June) is in
the warehouse; LOOP_MAY is contacted on 2026-05-01 and only June is observed. Response rates in
the report must equal those computed here from the responses file written by the test.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest
from pyspark.sql import functions as F
from typer.testing import CliRunner

from tests.conftest import make_project
from workbench.cli import _register, app
from workbench.marts import read_mart
from workbench.reports import run_subject
from workbench.subjects.common import write_result

RATES = {"treatment": 0.30, "control": 0.10}  # who answers, by group
ACCEPT = 0.7  # share of answers that accept the offer
COST_PER_CONTACT, OFFER_COST = 3.0, 20.0


def _unit(tag: str, subscriber_id: int) -> float:
    """A draw in [0, 1) independent of the control-group hash (another key)."""
    digest = hashlib.sha256(f"{tag}|{subscriber_id}".encode()).hexdigest()
    return int(digest[:12], 16) / 16**12


def _write_scores(spark, settings, month: str) -> None:
    """Stand-in churn scores for the month's live lines (the list's ranking is not under test)."""
    live = read_mart("ads_churn_features", settings, months=[month])
    frame = spark.createDataFrame(
        live[["subscriber_id", "region_id", "segment", "plan_type", "is_do_not_contact"]]
    )
    p = (F.abs(F.xxhash64("subscriber_id")) % 1000) / 1000.0
    scores = (
        frame.withColumn("churn_probability", p)
        .withColumn("model_id", F.lit("loop-test"))
        .withColumn("risk_decile", F.least(F.lit(10), (F.floor(p * 10) + 1).cast("int")))
        .withColumn("risk_band", F.when(p > 0.5, "high").otherwise("low"))
        .withColumn("reason_1", F.lit("n_complaints_3m"))
        .withColumn("reason_1_text", F.lit("近3月投诉 2，高于 95% 用户 / complaints in 3 months 2"))
        .withColumn("horizon_months", F.lit(3))
    )
    from workbench.catalog import get_table

    for column in get_table("ads_churn_scores").column_names:
        if column not in scores.columns and column != "month":
            scores = scores.withColumn(column, F.lit(None))
    write_result(scores, "ads_churn_scores", settings, month)


@pytest.fixture(scope="module")
def loop(spark, tiny_warehouse, tmp_path_factory):
    """A project holding a copy of the tiny warehouse (the shared one stays untouched)."""
    root = tmp_path_factory.mktemp("loop")
    settings = make_project(root, **{"targets.control_share": 0.25})
    shutil.copytree(tiny_warehouse.warehouse_dir, settings.warehouse_dir)
    for month in ("2026-02", "2026-04"):
        _write_scores(spark, settings, month)
    _register()
    return settings


def _cli(settings, *args: str):
    config = str(settings.root / "pipelines" / "config.yml")
    out = CliRunner().invoke(app, ["--config", config, *args])
    return out


def _answers(settings, campaign: str, file: str, day: str) -> tuple[pd.DataFrame, dict]:
    """Answers to one exported list, drawn by hash; returns them and the expected counts."""
    folder = settings.targets_dir
    treated = pd.read_csv(folder / f"{file}.csv")
    control = pd.read_csv(folder / f"{file}_control.csv")
    rows, expected = [], {}
    for group, listed in (("treatment", treated), ("control", control)):
        ids = [int(s) for s in listed["subscriber_id"]]
        answered = [s for s in ids if _unit(f"answer-{campaign}", s) < RATES[group]]
        accepted = [s for s in answered if _unit(f"accept-{campaign}", s) < ACCEPT]
        expected[group] = {"n": len(ids), "answered": len(answered), "accepted": len(accepted)}
        rows += [
            {
                "campaign": campaign,
                "subscriber_id": s,
                "responded_at": f"{day} 10:00:00",
                "response": "accepted" if s in accepted else "declined",
            }
            for s in answered
        ]
    return pd.DataFrame(rows), expected


def test_export_answer_load_refresh_and_report(spark, loop, tiny_manifest, tmp_path):
    settings = loop
    offer = read_mart("dwd_dim_product", settings)["product_id"].iloc[0]
    out = _cli(
        settings,
        "targets", "export", "--campaign", "LOOP_MAR", "--source", "churn", "--period",
        "2026-02", "--size", "300", "--offer", offer, "--cost-per-contact",
        str(COST_PER_CONTACT), "--offer-cost", str(OFFER_COST), "--name", "Loop March",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    out = _cli(
        settings, "targets", "export", "--campaign", "LOOP_MAY", "--source", "churn",
        "--period", "2026-04", "--size", "200",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    # default file names: <campaign>_<wave>, the wave being the contact date
    march, want_mar = _answers(settings, "LOOP_MAR", "LOOP_MAR_20260301", "2026-03-04")
    may, want_may = _answers(settings, "LOOP_MAY", "LOOP_MAY_20260501", "2026-05-06")
    assert want_mar["control"]["answered"] > 0  # both groups answer: neither rate is trivial
    answers = tmp_path / "answers.csv"
    pd.concat([march, may]).to_csv(answers, index=False)

    out = _cli(settings, "campaigns", "load-responses", str(answers))
    assert out.exit_code == 0, out.output
    assert f"{len(march) + len(may)} loaded, 0 quarantined" in out.output
    out = _cli(settings, "campaigns", "refresh")
    assert out.exit_code == 0, out.output
    assert "2026-03, 2026-05" in out.output

    paths = run_subject("campaign_roi", "2026-06", {}, settings)  # open campaigns shown by default
    report = {
        r["campaign_id"]: r for r in json.loads((paths.directory / "campaign_roi.json").read_text())
    }
    html = paths.html.read_text(encoding="utf-8")
    for campaign, want in (("LOOP_MAR", want_mar), ("LOOP_MAY", want_may)):
        row = report[campaign]
        assert row["n_treated"] == want["treatment"]["n"]
        assert row["n_control"] == want["control"]["n"]
        for group, side in (("treatment", "treated"), ("control", "control")):
            rate = want[group]["answered"] / want[group]["n"]
            assert row[f"response_rate_{side}"] == pytest.approx(rate)
            assert f"{rate:.1%}" in html
        assert row["response_uplift_low"] <= row["response_uplift"] <= row["response_uplift_high"]
    # March: the horizon is in the warehouse, so churn, revenue and ROI are measured
    mar = report["LOOP_MAR"]
    assert mar["measurement"] == "complete" and mar["campaign_name_en"] == "Loop March"
    assert mar["churn_uplift_low"] <= mar["churn_uplift"] <= mar["churn_uplift_high"]
    assert mar["n_accepted"] == want_mar["treatment"]["accepted"]
    cost = want_mar["treatment"]["n"] * COST_PER_CONTACT + mar["n_accepted"] * OFFER_COST
    assert mar["campaign_cost_cny"] == pytest.approx(cost)
    assert mar["roi"] == pytest.approx((mar["incremental_revenue_cny"] - cost) / cost)
    # May: only June is observed, which the report says plainly
    may_row = report["LOOP_MAY"]
    assert may_row["measurement"] == "horizon incomplete: 1 of 3 months observed"
    assert pd.isna(may_row["churn_uplift"]) and pd.isna(may_row["roi"])
    assert "horizon incomplete: 1 of 3 months observed" in html
    # the operator's own campaign is measured as before
    truth = tiny_manifest["campaign_truth"]
    own = report[truth["campaign_id"]]
    assert (own["n_treated"], own["n_control"]) == (truth["n_treatment"], truth["n_control"])
    # the exported campaigns carry their offer into the warehouse
    results = read_mart("ads_campaign_results", settings)
    assert set(results.loc[results.campaign_id == "LOOP_MAR", "offer_product_id"]) == {offer}


def test_refresh_and_export_refuse_bad_requests(loop):
    settings = loop
    out = _cli(settings, "campaigns", "refresh", "--campaign", "NEVER_SENT")
    assert out.exit_code == 2 and "NEVER_SENT" in out.output
    out = _cli(
        settings, "targets", "export", "--campaign", "X1", "--source", "churn",
        "--period", "2026-02", "--cost-per-contact", "-1",
    )  # fmt: skip
    assert out.exit_code == 2 and "--cost-per-contact" in out.output
    out = _cli(
        settings, "targets", "export", "--campaign", "X2", "--source", "churn",
        "--period", "2026-02", "--offer", "NO_SUCH_PRODUCT",
    )  # fmt: skip
    assert out.exit_code == 2 and "NO_SUCH_PRODUCT" in out.output
    out = _cli(
        settings, "targets", "export", "--campaign", "CMP_RET_202603", "--source", "churn",
        "--period", "2026-02",
    )  # fmt: skip
    assert out.exit_code == 2 and "operator's campaign" in out.output


def test_a_build_started_during_an_export_waits_for_it_and_both_complete(
    spark, loop, tiny_warehouse, monkeypatch, caplog
):
    """A manager's export (the dashboards' path: its own process) holds the warehouse write lock;
    a build started meanwhile waits for it, then builds, and the export's contacts, log line and
    file are all there afterwards. The build is the real one with the models left out (its ODS
    step): what is under test is who waits for whom, not the models."""
    import logging
    import threading
    import time
    from datetime import UTC, datetime
    from pathlib import Path

    from workbench.dashboards.access import Viewer
    from workbench.dashboards.data import export_target_list
    from workbench.targets.log import LOG_NAME, read_records
    from workbench.warehouse import build as build_module
    from workbench.warehouse.lock import read_holder
    from workbench.warehouse.storage import read_table

    settings = loop
    shutil.copytree(
        tiny_warehouse.raw_dir, settings.raw_dir, dirs_exist_ok=True
    )  # the build reads it
    monkeypatch.setattr(build_module, "_models", lambda s: [])
    exported: dict = {}
    export = threading.Thread(
        target=lambda: exported.update(
            export_target_list(
                settings,
                Viewer("ceo", None),
                source="churn",
                campaign="DURING_BUILD",
                period="2026-04",
                timeout_seconds=900,
            )
        )
    )
    export.start()
    deadline = time.monotonic() + 300
    while not ((holder := read_holder(settings)) and holder.purpose.startswith("export")):
        assert export.is_alive() and time.monotonic() < deadline, "the export never took the lock"
        time.sleep(0.05)
    with caplog.at_level(logging.INFO, logger="workbench.warehouse.lock"):
        result = build_module.build_warehouse(spark, settings, ["2026-06"])
    export.join()
    assert result.status == "ok"
    waited = [r.getMessage() for r in caplog.records if "DURING_BUILD" in r.getMessage()]
    assert waited, "the build did not wait for the export"
    # the export finished whole before the build began: its file, log line and contacts
    file = Path(exported["file"])
    assert file.is_file()
    started = datetime.fromisoformat(result.started_at)
    assert datetime.fromtimestamp(int(file.stat().st_mtime), UTC) <= started
    logged = [
        r for r in read_records(settings.targets_dir / LOG_NAME) if r["campaign"] == "DURING_BUILD"
    ]
    assert [r["checksum"] for r in logged] == [exported["checksum"]]
    contacts = read_table(spark, settings, "ads_target_contacts").where(
        F.col("campaign_id") == "DURING_BUILD"
    )
    assert contacts.count() == exported["n_treated"] + exported["n_control"] > 0
