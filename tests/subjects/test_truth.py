"""The truth table: on the tiny operator, with two seeds, every planted effect is recovered (or
too weak to show), and a deliberately broken analysis makes the row of the effect it breaks
fail."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import RESULT_CHURN, RESULT_RULES, make_project
from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.subjects import churn, cross_sell, truth

#: the suite's tiny operator has the configured seed (20260101); the table is checked on this one
#: too, generated, built and reported on from scratch, so no row passes by one seed's luck
SECOND_SEED = 7


def _truth_after_the_reports(spark, settings, period: str) -> pd.DataFrame:
    """The churn and cross-sell reports' results for ``period`` (the settings of the result
    marts the first seed's table reads), then the truth table."""
    churn.run(spark, settings, period, **RESULT_CHURN)
    cross_sell.run(spark, settings, period, **RESULT_RULES)
    return truth.run(settings, period)


@pytest.fixture(scope="module")
def truth_table(tiny_results, tiny_manifest):
    """The table on the tiny operator's result marts, made once per run for every test that
    reads them (tests.conftest.results_project)."""
    return truth.run(tiny_results, tiny_manifest["months"][-1])


@pytest.fixture(scope="module")
def second_seed_truth_table(spark, tmp_path_factory):
    """The tiny operator of :data:`SECOND_SEED`: generated, built, reported on, checked."""
    from workbench.generate import generate_operator
    from workbench.warehouse.build import build_warehouse

    settings = make_project(tmp_path_factory.mktemp("second_seed"))
    manifest = generate_operator(spark, settings, profile="tiny", seed=SECOND_SEED)
    build_warehouse(spark, settings)
    return _truth_after_the_reports(spark, settings, manifest["months"][-1])


@pytest.mark.parametrize("table", ["truth_table", "second_seed_truth_table"])
def test_every_planted_effect_is_recovered_on_the_tiny_operator(table, request):
    truth_table = request.getfixturevalue(table)
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
    # tiny's 50 churners a month are too few to read driver signs or rank the drivers: said,
    # not passed (one row per driver's sign, one for their order)
    churn_rows = truth_table[truth_table["area"].str.endswith("Churn")]
    assert len(churn_rows) == len(truth.DRIVER_FEATURES) + 1
    assert set(churn_rows["status"]) == {"n/a"}
    assert churn_rows["recovered"].str.contains("too few to (?:read signs|rank drivers)").all()
    # tiny's 328 targeted lines put the campaign's uplift at under 1 standard error: n/a, naming
    # the lines it needs; the competition slope, at 7 standard errors, is decided
    uplift = truth_table[truth_table["effect"].str.contains("uplift on churn")]
    assert list(uplift["status"]) == ["n/a"]
    assert (
        uplift["recovered"]
        .str.contains(r"too few lines to tell from zero \(needs about [\d,]+ targeted lines\)")
        .all()
    )
    slope = truth_table[truth_table["area"].str.endswith("Competition")]
    assert list(slope["status"]) == ["PASS"]
    others = truth_table[~truth_table["area"].str.endswith("Churn")].drop(uplift.index)
    assert set(others["status"]) == {"PASS"}
    assert "too weak" in truth.verdict(truth_table)


def test_a_flipped_or_dropped_driver_fails_its_row(tiny_results, tiny_manifest, truth_table):
    """Signs read without the churner gate: tiny's strongest driver (the competitor share,
    +3.0 log-odds) passes, and flipping its direction fails that row and no other."""
    coefficients = tiny_manifest["planted"]["churn_hazard"]["coefficients"]
    drivers = read_mart("ads_churn_drivers", tiny_results, months=[tiny_manifest["months"][-1]])
    before = {c.effect: c.passed for c in truth.driver_signs(drivers, coefficients)}
    (competitor,) = [e for e in before if "competitor_share" in e]
    assert before[competitor] is True

    is_competitor = drivers["feature"].isin(truth.DRIVER_FEATURES["competitor_share"][0])
    flipped = drivers.assign(
        direction=drivers["direction"].where(~is_competitor, -drivers["direction"])
    )
    after = {c.effect: c.passed for c in truth.driver_signs(flipped, coefficients)}
    assert after[competitor] is False
    assert {e: p for e, p in after.items() if e != competitor} == {
        e: p for e, p in before.items() if e != competitor
    }

    dropped = drivers[~is_competitor]
    rows = {c.effect: c for c in truth.driver_signs(dropped, coefficients)}
    assert rows[competitor].passed is False and "not among" in rows[competitor].recovered


#: planted contributions (log-odds, signed) of the drivers the model sees, strongest first
CONTRIBUTIONS = dict(
    zip(
        truth.DRIVER_FEATURES,
        (0.44, 0.08, 0.09, 0.05, 0.14, 0.24, -0.17, -0.11, -0.12),
        strict=True,
    )
)


def _drivers(strength: dict[str, float]) -> pd.DataFrame:
    """An ``ads_churn_drivers`` table giving each driver's feature the mean |contribution|
    ``strength[driver]``, plus a feature no driver is measured by."""
    rows = [
        {"feature": truth.DRIVER_FEATURES[d][0][0], "mean_abs_contribution": v}
        for d, v in strength.items()
    ]
    return pd.DataFrame([*rows, {"feature": "region_id", "mean_abs_contribution": 0.3}])


def _ranks(drivers: pd.DataFrame, churners: int | None = None) -> truth.Check:
    planted = {d: {"contribution": c} for d, c in CONTRIBUTIONS.items()}
    return truth.driver_ranks(drivers, planted, monthly_churners=churners)


def test_the_drivers_order_passes_when_it_follows_the_planted_one_and_fails_otherwise():
    """The planted order (or one with two close drivers swapped) passes; the reverse order, or
    the strongest driver read as the weakest, fails; a driver the model cannot see fails; too
    few churners make the row n/a; a manifest without contributions fails saying so."""
    exact = {d: abs(c) for d, c in CONTRIBUTIONS.items()}
    row = _ranks(_drivers(exact))
    assert row.passed is True and "rank correlation +1.00" in row.recovered
    assert row.planted.startswith("competitor_share + offnet_share 0.44 > home_cell_drop_rate 0.24")
    swapped = {**exact, "enterprise_line": 0.11, "family_plan": 0.12}
    assert _ranks(_drivers(swapped)).passed is True

    reverse = {d: 1.0 - v for d, v in exact.items()}
    assert _ranks(_drivers(reverse)).passed is False
    weakest = {**exact, "competitor_share": 0.01}  # the strongest driver read as the weakest
    row = _ranks(_drivers(weakest))
    assert row.passed is False and row.recovered.endswith("competitor_share + offnet_share 0.01")

    unseen = _drivers(exact).query("feature != 'n_products'")
    row = _ranks(unseen)
    assert row.passed is False and "n_products" in row.recovered
    assert _ranks(_drivers(exact), churners=50).passed is None
    assert truth.driver_ranks(_drivers(exact), {}).passed is False


def test_a_driver_measured_by_two_features_gets_the_attention_of_both():
    """A tree ensemble splits a driver's attention between features that measure it alike (the
    off-net share equals the competitor share on the synthetic operator; a usage decline lowers
    minutes and data alike): the driver's rows read the sum and the attention-weighted direction,
    so a split neither hides nor reorders the driver."""
    exact = {d: abs(c) for d, c in CONTRIBUTIONS.items()}
    halves = {**exact, "competitor_share": 0.22}  # 0.22 each: alone, neither is the strongest
    split = pd.concat(
        [
            _drivers(halves),
            pd.DataFrame([{"feature": "offnet_share", "mean_abs_contribution": 0.22}]),
        ]
    )
    row = _ranks(split)
    assert row.passed is True and "rank correlation +1.00" in row.recovered
    assert row.recovered.startswith("rank correlation +1.00: competitor_share + offnet_share 0.44")

    usage = pd.DataFrame(
        {
            "feature": ["mou_change_ratio", "data_change_ratio", "region_id"],
            "mean_abs_contribution": [0.03, 0.01, 0.96],
            "share": [0.015, 0.01, 0.96],  # each under MIN_DRIVER_SHARE, together over it
            "direction": [-0.9, 0.1, float("nan")],
        }
    )
    seen = truth.driver_attention(usage, "usage_drop_last_month")
    assert seen.features == ("mou_change_ratio", "data_change_ratio")
    assert seen.share == pytest.approx(0.025)
    assert seen.direction == pytest.approx((-0.9 * 0.03 + 0.1 * 0.01) / 0.04)
    coefficients = {d: math.copysign(1.0, c) for d, c in CONTRIBUTIONS.items()}
    rows = {c.effect: c for c in truth.driver_signs(usage, coefficients)}
    (usage_row,) = [c for e, c in rows.items() if "usage_drop_last_month" in e]
    assert usage_row.passed is True and "share 2.5%" in usage_row.recovered
    flipped = usage.assign(direction=-usage["direction"])
    rows = {c.effect: c for c in truth.driver_signs(flipped, coefficients)}
    assert [c.passed for e, c in rows.items() if "usage_drop_last_month" in e] == [False]


def test_a_random_order_of_the_drivers_reaches_the_threshold_1_time_in_20():
    """RANK_AGREEMENT is the one-sided 5% critical value of Spearman's correlation for the 9
    drivers: of all 9! orders, under 5% reach it (exactly 4.8%)."""
    import itertools

    import numpy as np

    n = len(truth.DRIVER_FEATURES)
    orders = np.array(list(itertools.permutations(range(n))), dtype=np.int32)
    rho = 1 - 6 * ((orders - np.arange(n)) ** 2).sum(axis=1) / (n * (n * n - 1))
    chance = float((rho >= truth.RANK_AGREEMENT - 1e-12).mean())
    assert 0.04 < chance <= 0.05


def test_the_manifest_holds_each_drivers_contribution_with_its_sign(tiny_manifest):
    """Coefficient x mean absolute deviation of the driver over the line-months: signed as the
    coefficient, and on tiny the competitor share, the strongest coefficient on a wide spread,
    contributes most of the drivers the model sees."""
    hazard = tiny_manifest["planted"]["churn_hazard"]
    by_driver = hazard["contributions"]["by_driver"]
    assert set(by_driver) == set(hazard["coefficients"]) - {"intercept"}
    for driver, value in by_driver.items():
        assert value["coefficient"] == hazard["coefficients"][driver]
        assert value["mean_abs_deviation"] > 0, driver
        # both are rounded to 6 decimals from the unrounded product: the deviation's rounding
        # (half a millionth) grows by the coefficient, the contribution's adds half a millionth
        rounding = 0.5e-6 * (abs(value["coefficient"]) + 1) + 1e-12
        assert value["contribution"] == pytest.approx(
            value["coefficient"] * value["mean_abs_deviation"], abs=rounding
        )
    visible = {d: abs(by_driver[d]["contribution"]) for d in truth.DRIVER_FEATURES}
    assert max(visible, key=visible.get) == "competitor_share"


def test_a_lost_or_wrong_rule_fails_its_row(tiny_results, tiny_manifest, truth_table):
    affinities = tiny_manifest["planted"]["product_affinities"]
    rules = read_mart("ads_basket_rules", tiny_results, months=[tiny_manifest["months"][-1]])
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


def _economics(**roi: float) -> tuple[pd.DataFrame, dict]:
    """A report's summary and the manifest's truth for channels named by keyword, each with
    cost per add 100 CNY and the given true ROI (LTV = 100 x (1 + ROI))."""
    truth = {c: {"cac_cny": 100.0, "ltv_cny": 100.0 * (1 + r), "roi": r} for c, r in roi.items()}
    summary = pd.DataFrame(
        [{"channel_id": c, "ltv_cny": v["ltv_cny"], "roi": v["roi"]} for c, v in truth.items()]
    )
    return summary, {"by_month": {"2026-06": truth}}


def _passed(summary: pd.DataFrame, economics: dict | None, bad: str = "BAD") -> list[bool | None]:
    return [c.passed for c in truth.economics_checks(summary, economics, "2026-06", bad)]


def test_channel_economics_rows_pass_on_the_truth_and_fail_off_it():
    """LTV, ROI and the worst channel: equal values pass (a gap under the manifest's rounding
    too); a tenth of a yuan of LTV, a lost channel or another channel reported worst fail."""
    summary, economics = _economics(BAD=-0.5, A=2.0, B=9.0)
    assert _passed(summary, economics) == [True, True, True]
    rounded = summary.assign(ltv_cny=summary["ltv_cny"] + 0.00005, roi=summary["roi"] + 5e-7)
    assert _passed(rounded, economics) == [True, True, True]

    # 0.1 CNY more lifetime value for A (say, a month's revenue counted twice): LTV and ROI fail
    off = summary.assign(
        ltv_cny=summary["ltv_cny"].where(summary["channel_id"] != "A", 300.1),
        roi=summary["roi"].where(summary["channel_id"] != "A", 2.001),
    )
    rows = truth.economics_checks(off, economics, "2026-06", "BAD")
    assert [r.passed for r in rows] == [False, False, True]
    assert "(A)" in rows[0].recovered and "0.1000" in rows[0].recovered

    # a channel the report lost, and a value it could not compute, fail
    assert _passed(summary[summary["channel_id"] != "B"], economics)[:2] == [False, False]
    unknown = summary.assign(ltv_cny=summary["ltv_cny"].where(summary["channel_id"] != "B"))
    assert _passed(unknown, economics)[0] is False

    # the report finds A worst (its ROI read too low): the worst-channel row fails
    wrong = summary.assign(roi=summary["roi"].where(summary["channel_id"] != "A", -0.6))
    assert _passed(wrong, economics)[2] is False
    # a manifest without the channels' true economics is a failed row saying so
    (row,) = truth.economics_checks(summary, {}, "2026-06", "BAD")
    assert row.passed is False and "regenerate" in row.tolerance


def test_the_worst_channel_row_names_the_truly_worst_when_it_is_not_the_bad_agent():
    """The claim "the fake-activation agent has the worst ROI" is checked, not assumed: when
    another channel is truly worse, the row names it and where the agent truly ranks, and the
    report must find that channel."""
    summary, economics = _economics(BAD=0.5, A=-0.2, B=9.0)
    rows = truth.economics_checks(summary, economics, "2026-06", "BAD")
    assert rows[2].passed is True
    assert rows[2].planted.startswith("A (ROI -0.20)")
    assert "BAD ranks 2 of 3 from the best" in rows[2].planted
    found_bad = summary.assign(roi=summary["roi"].where(summary["channel_id"] != "BAD", -0.3))
    assert _passed(found_bad, economics)[2] is False


def test_the_channel_reports_economics_are_the_true_ones(tiny_warehouse, tiny_manifest):
    """On tiny every channel's LTV and ROI from the channel ROI report equal the manifest's true
    ones within the manifest's rounding (the same lines valued alike, see LTV_TOLERANCE_CNY), the
    fake-activation agent's among them; its LTV read a tenth of a yuan high fails the row."""
    from workbench.subjects import channel_roi

    period = tiny_manifest["months"][-1]
    planted = tiny_manifest["planted"]["channels"]
    economics, bad = planted["economics"], planted["bad_channel_id"]
    summary = channel_roi.run(tiny_warehouse, period).roi.summary
    rows = truth.economics_checks(summary, economics, period, bad)
    assert [r.passed for r in rows] == [True, True, True], rows
    assert set(summary["channel_id"]) == set(economics["by_month"][period])
    assert bad in rows[0].planted and bad in rows[1].planted

    high = summary.assign(
        ltv_cny=summary["ltv_cny"] + 0.1 * (summary["channel_id"] == bad).astype(float)
    )
    assert truth.economics_checks(high, economics, period, bad)[0].passed is False


def test_the_command_exits_1_naming_the_reports_to_run(tiny_results, tmp_path):
    """A copy of the warehouse without the churn and cross-sell results: their rows fail and
    name the report to run; the command exits 1."""
    project = make_project(tmp_path / "copy")
    shutil.copytree(tiny_results.raw_dir, project.raw_dir)
    shutil.copytree(tiny_results.warehouse_dir, project.warehouse_dir)
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
    assert "18 of 20 rows hold; 2 failed" in shown


def test_without_a_manifest_the_checks_say_why(tmp_path):
    with pytest.raises(InputDataError, match="manifest"):
        truth.run(make_project(tmp_path / "empty"))


#: a campaign's truth as the manifest holds it: churn of 22.9% untreated and 18.6% treated (the
#: true uplift 4.3 points, tiny's), with 30% of ``lines`` held out as control
def _campaign(lines: int) -> dict:
    control = round(0.3 * lines)
    return {
        "n_treatment": lines - control,
        "n_control": control,
        "churn_rate_if_none_treated": 0.229,
        "churn_rate_if_all_treated": 0.186,
        "true_uplift": 0.043,
    }


def _uplift(lines: int, estimate: float, low: float, high: float) -> truth.Check:
    row = pd.Series({"churn_uplift": estimate, "churn_uplift_low": low, "churn_uplift_high": high})
    return truth.uplift_check(_campaign(lines), row)


def test_the_campaign_uplift_is_checked_only_where_the_lines_can_tell_it_from_zero():
    """2.8 standard errors is 80% power at 5%. With 1,000 targeted lines the 4.3-point uplift is
    1.5 standard errors (0.028): an interval holding zero and the uplift is n/a, naming the lines
    needed (1,000 x (2.8 x 0.028 / 0.043)^2 = 3,417, about 3,500); with 10,000 (4.8 standard
    errors) the same interval fails, one missing the uplift fails, one holding it above zero
    passes. An interval missing the uplift fails on the small sample too."""
    assert round(truth.DETECTABLE_SE, 2) == 2.80
    assert truth.uplift_standard_error(_campaign(1000)) == pytest.approx(0.02837, abs=1e-5)

    small = _uplift(1000, 0.01, -0.045, 0.065)
    assert small.passed is None
    assert small.recovered.endswith(
        "too few lines to tell from zero (needs about 3,500 targeted lines)"
    )
    assert _uplift(1000, 0.12, 0.065, 0.175).passed is False  # misses the uplift

    assert _uplift(10_000, 0.015, -0.002, 0.032).passed is False  # holds zero
    assert _uplift(10_000, 0.015, -0.002, 0.05).passed is False  # holds zero and the uplift
    assert _uplift(10_000, 0.065, 0.05, 0.08).passed is False  # misses the uplift
    row = _uplift(10_000, 0.04, 0.022, 0.058)
    assert row.passed is True and row.planted == "4.30%"

    # the lines the row asks for are enough: at them the gate decides
    assert _uplift(3500, 0.015, -0.002, 0.05).passed is False


def test_the_competition_slope_is_checked_only_where_the_lines_can_tell_it_from_zero():
    """Planted 3.0 log-odds per unit of share. At a standard error of 0.5 (6 standard errors) an
    attenuated slope above zero passes, an interval reaching zero or a slope above the planted one
    fails; at 2.0 (1.5 standard errors) an interval holding zero is n/a, one wholly above the
    planted slope still fails."""
    assert truth.slope_check(3.0, 1.5, (0.5, 2.5), 0.5, 20_000).passed is True
    assert truth.slope_check(3.0, 0.9, (-0.1, 1.9), 0.5, 20_000).passed is False
    assert truth.slope_check(3.0, 3.5, (2.5, 4.5), 0.5, 20_000).passed is False
    row = truth.slope_check(3.0, 1.5, (-1.0, 4.0), 2.0, 20_000)
    # 20,000 x (2.8 x 2.0 / 3.0)^2 = 69,800 line-months
    assert row.passed is None and "needs about 69,800 line-months" in row.recovered
    assert truth.slope_check(3.0, 5.0, (3.5, 6.5), 2.0, 20_000).passed is False


def test_the_slopes_standard_error_comes_from_the_manifests_counts():
    """Pooled: the months whose next month is known (2 of 3), 10,000 lines live at each end, 300
    churners in each following month (3%), the share's spread 0.15: 1 / sqrt(20,000 x 0.03 x
    0.97 x 0.15^2) = 0.276. A manifest without the spread has an infinite one (n/a)."""
    months = ["2026-01", "2026-02", "2026-03"]
    manifest = {
        "months": months,
        "truth": {m: {"live_end": 10_000, "churned": 300} for m in months},
        "planted": {
            "churn_hazard": {
                "contributions": {"by_driver": {"competitor_share": {"mean_abs_deviation": 0.15}}}
            }
        },
    }
    error, lines = truth.slope_standard_error(manifest, "2026-03")
    assert lines == 20_000 and error == pytest.approx(0.2763, abs=1e-4)
    error, lines = truth.slope_standard_error(manifest, "2026-01")  # one month pooled
    assert lines == 10_000 and error == pytest.approx(0.3908, abs=1e-4)
    manifest["planted"]["churn_hazard"] = {}
    assert truth.slope_standard_error(manifest, "2026-03")[0] == float("inf")
