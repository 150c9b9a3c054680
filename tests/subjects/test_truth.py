"""The truth table: on the tiny operator every planted effect is recovered (or too weak to show),
and a deliberately broken analysis makes the row of the effect it breaks fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import make_project
from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import churn, cross_sell, truth


@pytest.fixture(scope="module")
def truth_table(spark, tiny_warehouse, tiny_manifest):
    """The churn and cross-sell reports' results for the last month, then the truth table."""
    period = tiny_manifest["months"][-1]
    churn.run(spark, tiny_warehouse, period, horizon_months=1, train_months=3)
    cross_sell.run(spark, tiny_warehouse, period, min_support=0.004, min_confidence=0.01, max_len=2)
    return truth.run(tiny_warehouse, period)


def test_every_planted_effect_is_recovered_on_the_tiny_operator(truth_table):
    assert truth.failed(truth_table).empty, truth.failed(truth_table).to_dict("records")
    assert set(truth_table["area"].str.split().str[-1]) == {
        "Warehouse",
        "accounts",
        "products",
        "Campaigns",
        "Channels",
        "quality",
        "Competition",
        "Churn",
        "Cross-sell",
    }
    # tiny's 50 churners a month are too few to read driver signs: said, not passed
    churn_rows = truth_table[truth_table["area"].str.endswith("Churn")]
    assert len(churn_rows) == len(truth.DRIVER_FEATURES)
    assert set(churn_rows["status"]) == {"n/a"}
    assert churn_rows["recovered"].str.contains("too few to read signs").all()
    others = truth_table[~truth_table["area"].str.endswith("Churn")]
    assert set(others["status"]) == {"PASS"}
    assert "too weak" in truth.verdict(truth_table)


def test_a_flipped_or_dropped_driver_fails_its_row(tiny_warehouse, tiny_manifest, truth_table):
    """Signs read without the churner gate: tiny's strongest driver (the competitor share,
    +3.0 log-odds) passes, and flipping its direction fails that row and no other."""
    coefficients = tiny_manifest["planted"]["churn_hazard"]["coefficients"]
    drivers = read_mart("ads_churn_drivers", tiny_warehouse, months=[tiny_manifest["months"][-1]])
    before = {c.effect: c.passed for c in truth.driver_signs(drivers, coefficients)}
    (competitor,) = [e for e in before if "competitor_share" in e]
    assert before[competitor] is True

    is_competitor = drivers["feature"] == "competitor_share"
    flipped = drivers.assign(
        direction=drivers["direction"].where(~is_competitor, -drivers["direction"])
    )
    after = {c.effect: c.passed for c in truth.driver_signs(flipped, coefficients)}
    assert after[competitor] is False
    assert {e: p for e, p in after.items() if e != competitor} == {
        e: p for e, p in before.items() if e != competitor
    }

    dropped = drivers[drivers["feature"] != "competitor_share"]
    rows = {c.effect: c for c in truth.driver_signs(dropped, coefficients)}
    assert rows[competitor].passed is False and "not among" in rows[competitor].recovered


def test_a_lost_or_wrong_rule_fails_its_row(tiny_warehouse, tiny_manifest, truth_table):
    affinities = tiny_manifest["planted"]["product_affinities"]
    rules = read_mart("ads_basket_rules", tiny_warehouse, months=[tiny_manifest["months"][-1]])
    assert all(c.passed for c in truth.pair_lifts(rules, affinities))
    first = affinities["affine_pairs"][0]
    mine = (rules["antecedent"] == first["antecedent"]) & (
        rules["consequent"] == first["consequent"]
    )
    lost = [c for c in truth.pair_lifts(rules[~mine], affinities) if not c.passed]
    assert len(lost) == 1 and first["antecedent"] in lost[0].effect
    off = rules.assign(lift=rules["lift"].where(~mine, rules["lift"] * 1.01))
    wrong = [c for c in truth.pair_lifts(off, affinities) if not c.passed]
    assert len(wrong) == 1 and wrong[0].recovered != wrong[0].planted


def test_a_survival_curve_a_month_off_fails_its_row(tiny_warehouse, tiny_manifest, truth_table):
    """The channel ROI report's survival equals the generator's true curve on tiny; read a
    month late (each month's survival the next month's), the row fails."""
    from workbench.subjects import channel_roi

    period = tiny_manifest["months"][-1]
    planted = tiny_manifest["planted"]["channels"]
    cohorts, bad = planted["cohorts"]["by_channel"], planted["bad_channel_id"]
    curves = channel_roi.run(tiny_warehouse, period).roi.curves
    assert truth.survival_check(curves, cohorts, period, bad).passed is True

    late = curves.copy()
    late["survival"] = late.groupby("channel_id")["survival"].shift(-1).fillna(late["survival"])
    row = truth.survival_check(late, cohorts, period, bad)
    assert row.passed is False and row.recovered != row.planted


def test_the_command_exits_1_naming_the_reports_to_run(tiny_warehouse, tmp_path):
    """A copy of the warehouse without the churn and cross-sell results: their rows fail and
    name the report to run; the command exits 1."""
    project = make_project(tmp_path / "copy")
    shutil.copytree(tiny_warehouse.raw_dir, project.raw_dir)
    shutil.copytree(tiny_warehouse.warehouse_dir, project.warehouse_dir)
    for mart in ("ads_churn_drivers", "ads_basket_rules"):
        shutil.rmtree(project.warehouse_dir / "ads" / mart, ignore_errors=True)
    config = project.root / "pipelines" / "config.yml"
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", str(config), "truth"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    shown = " ".join((done.stdout + done.stderr).split())  # the console writes to stderr
    assert "FAIL ads_churn_drivers of 2026-06: missing; run `workbench report run churn" in shown
    assert "15 of 17 rows hold; 2 failed" in shown


def test_without_a_manifest_the_checks_say_why(tmp_path):
    with pytest.raises(InputDataError, match="manifest"):
        truth.run(make_project(tmp_path / "empty"))
