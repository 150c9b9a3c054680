"""Planted against recovered: every effect the synthetic operator plants, checked against what the
workbench's own analyses find in the warehouse built from it.

The generator writes what it planted to ``data/raw/_manifest.json`` (parameters, and truths
counted on the lines it simulated). Each check here reads the warehouse or a subject's result
the way a report does, and states the tolerance that the sample allows and why, so a row can
fail: one table for a manager to trust the analyses before running them on an operator's real
data (``workbench truth``, ``notebooks/truth.ipynb``). The checks run the subjects' own code, so
those that write result marts (campaign and channel ROI, ...) write them as their reports do.

The churn drivers and the basket rules are read from the marts the churn and cross-sell subjects
wrote for the period (``ads_churn_drivers``, ``ads_basket_rules``): run those reports first (the
demo and the scheduled runs do); a missing mart is a failed row naming the report to run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import pairwise
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.analysis.churn_params import CLEAR_DIRECTION
from workbench.errors import InputDataError
from workbench.marts import read_mart
from workbench.months import parse_month

if TYPE_CHECKING:
    from workbench.config import Settings


@dataclass(frozen=True)
class Check:
    """One planted effect: its value, what the analysis found, what the sample allows."""

    area: str
    effect: str
    planted: str
    recovered: str
    tolerance: str
    passed: bool | None  # None: too weak to show in this sample (see churn_drivers)


#: the columns of a truth table, with the names a manager reads
COLUMNS = {
    "area": "领域 Area",
    "effect": "植入效应 Planted effect",
    "planted": "植入值 Planted",
    "recovered": "分析所得 Recovered",
    "tolerance": "容差 Tolerance",
    "status": "结果 Result",
}

#: Each planted churn driver, the features of ads_churn_features that measure it and how they
#: move when the driver grows (+1: with it; -1: against it, e.g. a usage drop is a negative change
#: in usage). A driver measured by two features gets the model's attention through both, and a
#: tree ensemble splits it between them as it pleases: the off-net share equals the competitor
#: share on an operator whose only other networks are its competitors (the split then follows
#: float rounding), and a usage decline lowers voice minutes and data volume alike. So a driver's
#: attention is the sum over its features and its direction their attention-weighted mean.
#: Left out: prepaid (a category of more than two levels has no direction), a contract ending
#: within 60 days (a window, not a slope: churn rises in the last two months before the end and
#: not further away, so no monotone reading of the months left shows it) and bill shock (a jump
#: above a threshold of a ratio near 1 for most lines).
DRIVER_FEATURES: dict[str, tuple[tuple[str, ...], int]] = {
    "competitor_share": (("competitor_share", "offnet_share"), +1),
    "usage_drop_last_month": (("mou_change_ratio", "data_change_ratio"), -1),
    "per_complaint_last_month": (("n_complaints",), +1),
    "per_unresolved_complaint_last_month": (("n_complaints_open",), +1),
    "short_tenure_under_6_months": (("tenure_months",), -1),
    "home_cell_drop_rate_pct": (("home_cell_drop_rate",), +1),
    "per_product_held": (("n_products",), +1),
    "family_plan": (("has_family_plan",), +1),
    "enterprise_line": (("is_enterprise",), +1),
}
#: a driver the model gives less than this share of its attention has too few churners behind it
#: in this sample to show a direction; its row says so instead of passing or failing
MIN_DRIVER_SHARE = 0.02
#: A model learns driver directions from its churners: with about 50 a month (tiny: some 150 in
#: three training months) a tree ensemble fits noise, and a weak driver's reading can flip (seen
#: on tiny: the home cell's drop rate at -0.35); the demo operator's 370 a month give every
#: listed driver its planted sign. Below this many churners in the period, the rows say so.
MIN_MONTHLY_CHURNERS = 300
#: months of observed churn the service-quality and competition checks pool (up to the period):
#: a year where there is one, for the narrowest intervals the operator's data allows
POOLED_CHURN_MONTHS = 12


def load_manifest(settings: Settings) -> dict[str, Any]:
    """The generator's manifest of the project's raw data."""
    path = settings.raw_dir / "_manifest.json"
    if not path.is_file():
        raise InputDataError(
            f"{path} not found: the truth checks need the synthetic operator's manifest "
            "(`workbench generate`); an operator's own extracts have no planted truth"
        )
    return json.loads(path.read_text())


def _points(value: float) -> str:
    """A rate or a difference of rates in percent with two decimals (what a reader compares)."""
    return f"{value:+.2%}" if value < 0 else f"{value:.2%}"


# --------------------------------------------------------------------------- the checks


def warehouse_counts(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The monthly status flags of ``dws_subscriber_month`` count exactly the lines the generator
    activated, deactivated and kept (the warehouse loses or invents no line)."""
    from workbench.marts import connect

    months = [m for m in manifest["months"] if m <= period]
    with connect(settings) as con:  # counted by DuckDB: a line-month table can be large
        got = (
            con.execute(
                "SELECT month, count_if(is_churned_this_month) AS churned, "
                "count_if(is_gross_add) AS gross_adds, count_if(is_active) AS live_end "
                "FROM dws_subscriber_month WHERE month <= ? GROUP BY month",
                [period],
            )
            .df()
            .set_index("month")
        )
    checks = []
    for measure, label in (
        ("churned", "离网数 lines deactivated per month"),
        ("gross_adds", "新增数 gross adds per month"),
        ("live_end", "月末在网 lines live at month end"),
    ):
        planted = [int(manifest["truth"][m][measure]) for m in months]
        recovered = [int(got[measure].get(m, 0)) for m in months]
        checks.append(
            Check(
                "数仓 Warehouse",
                label,
                ", ".join(map(str, planted)),
                ", ".join(map(str, recovered)),
                "exact: the same simulated lines, counted",
                planted == recovered,
            )
        )
    return checks


def key_accounts(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The planted key accounts are the ones ranked, with their share of fee revenue."""
    from workbench.subjects import key_accounts as subject

    planted = manifest["planted"]["key_accounts"]
    result = subject.run(settings, period)
    found = sorted(int(c) for c in result.accounts["customer_id"])
    share = float(result.key_account_share["fee_revenue_share"])
    return [
        Check(
            "集团客户 Key accounts",
            "集团客户 the key accounts",
            ", ".join(map(str, planted["customer_ids"])),
            ", ".join(map(str, found)),
            "exact",
            found == planted["customer_ids"],
        ),
        Check(
            "集团客户 Key accounts",
            "集团收入占比 their share of fee revenue",
            f"{planted['revenue_share_last_month']:.2%}",
            f"{share:.2%}",
            "±0.000001 (the manifest's rounding)",
            abs(share - planted["revenue_share_last_month"]) <= 1e-6,
        ),
    ]


def new_product(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The newest product, its launch month and its holders month by month."""
    from workbench.subjects import new_products as subject

    planted = manifest["planted"]["new_product"]
    result = subject.run(settings, period)
    curve = result.adoption.set_index("month")["n_holders"]
    months = [m for m in planted["holders_by_month"] if m <= period]
    wanted = [int(planted["holders_by_month"][m]) for m in months]
    got = [int(curve.get(m, 0)) for m in months]
    return [
        Check(
            "新产品 New products",
            "新产品及上市月 newest product and its launch",
            f"{planted['product_id']} {planted['launch_month']}",
            f"{result.product_id} {result.launch_month}",
            "exact",
            (result.product_id, result.launch_month)
            == (planted["product_id"], planted["launch_month"]),
        ),
        Check(
            "新产品 New products",
            "每月持有数 holders per month",
            ", ".join(map(str, wanted)),
            ", ".join(map(str, got)),
            "exact",
            wanted == got,
        ),
    ]


#: A planted effect is expected to show when it is at least this many standard errors of its
#: estimate: a two-sided test at 5% (1.96) then tells it from zero 4 times in 5 (+0.84: 80%
#: power), the usual size of a study. Below that the 95% interval holds zero and the planted value
#: alike as often as not: a row asking it to exclude zero would pass or fail by the seed's chance,
#: so it says "n/a" and how many lines it needs (an interval that misses the planted value still
#: fails: a 95% interval does that 1 time in 20 on any sample).
SIGNIFICANCE, POWER = 0.05, 0.80
DETECTABLE_SE = NormalDist().inv_cdf(1 - SIGNIFICANCE / 2) + NormalDist().inv_cdf(POWER)


def too_few_lines(effect: float, standard_error: float, lines: int, what: str) -> str | None:
    """Why a row cannot be decided on this sample, or None when it can: ``effect`` under
    :data:`DETECTABLE_SE` x ``standard_error`` (its estimate's standard error on ``lines``), with
    the lines it needs (``what``: the lines counted, e.g. "targeted lines")."""
    if abs(effect) >= DETECTABLE_SE * standard_error:
        return None
    needed = lines_needed(effect, standard_error, lines)
    return f"too few lines to tell from zero (needs about {needed:,} {what})"


def lines_needed(effect: float, standard_error: float, lines: int) -> int:
    """The lines an estimate needs for ``effect`` to be :data:`DETECTABLE_SE` standard errors,
    given its ``standard_error`` on ``lines`` (a standard error shrinks as 1/sqrt(lines)), rounded
    up to a hundred."""
    needed = lines * (DETECTABLE_SE * standard_error / abs(effect)) ** 2
    return int(math.ceil(needed / 100.0) * 100)


def interval_check(
    area: str,
    effect: str,
    planted: float,
    estimate: float,
    interval: tuple[float, float],
    standard_error: float,
    lines: int,
    what: str,
    shown: Callable[[float], str],
) -> Check:
    """A planted effect against an estimate and its 95% interval: PASS when the interval holds the
    planted value and excludes zero; n/a when the sample is too small to expect zero excluded
    (``planted`` under :data:`DETECTABLE_SE` x ``standard_error``, the estimate's standard error
    on these ``lines`` at the planted effect), unless the interval misses the planted value (FAIL
    on any sample).

    Args:
        what: the lines counted, for the "needs about N <what>" text (e.g. "targeted lines").
        shown: how a value of the effect reads.
    """
    low, high = interval
    holds = low <= planted <= high
    found = f"{shown(estimate)} (95% interval [{shown(low)}, {shown(high)}])"
    tolerance = (
        "the 95% interval contains the planted value and excludes zero (checked from "
        f"{DETECTABLE_SE:.1f} standard errors: {POWER:.0%} power at {SIGNIFICANCE:.0%})"
    )
    passed: bool | None = holds and (low > 0 or high < 0)
    undecided = too_few_lines(planted, standard_error, lines, what) if holds else None
    if undecided:
        found, passed = f"{found}: {undecided}", None
    return Check(area, effect, shown(planted), found, tolerance, passed)


def uplift_standard_error(truth: dict[str, Any]) -> float:
    """The standard error of the churn uplift (control - treated) the campaign's groups allow at
    the planted churn rates: each group's binomial variance at its rate with or without the
    offer (the manifest's potential outcomes over all targets). The report's Newcombe interval
    is as wide within 1% at these rates (tiny's groups and larger)."""
    treated, control = truth["churn_rate_if_all_treated"], truth["churn_rate_if_none_treated"]
    return math.sqrt(
        treated * (1 - treated) / truth["n_treatment"]
        + control * (1 - control) / truth["n_control"]
    )


def campaign(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The retention campaign's groups and its true uplift on churn (treated against control)."""
    from workbench.subjects import campaign_roi as subject

    truth = manifest["campaign_truth"]
    summary = subject.run(settings, period, campaign_id=truth["campaign_id"]).summary
    row = summary.set_index("campaign_id").loc[truth["campaign_id"]]
    groups = (int(row["n_treated"]), int(row["n_control"]))
    checks = [
        Check(
            "营销活动 Campaigns",
            "目标组/对照组 treated and control lines",
            f"{truth['n_treatment']} / {truth['n_control']}",
            f"{groups[0]} / {groups[1]}",
            "exact",
            groups == (truth["n_treatment"], truth["n_control"]),
        )
    ]
    if not bool(row["is_window_complete"]):
        return [
            *checks,
            Check(
                "营销活动 Campaigns",
                "流失降幅 uplift on churn",
                _points(truth["true_uplift"]),
                "window still open",
                f"needs the months {', '.join(truth['window']['months'])}",
                False,
            ),
        ]
    return [*checks, uplift_check(truth, row)]


def uplift_check(truth: dict[str, Any], row: pd.Series) -> Check:
    """The campaign's churn uplift and interval (``row`` of the campaign ROI summary) against the
    manifest's ``campaign_truth``."""
    return interval_check(
        "营销活动 Campaigns",
        "流失降幅 uplift on churn (control - treated)",
        float(truth["true_uplift"]),
        float(row["churn_uplift"]),
        (float(row["churn_uplift_low"]), float(row["churn_uplift_high"])),
        uplift_standard_error(truth),
        int(truth["n_treatment"]) + int(truth["n_control"]),
        "targeted lines",
        _points,
    )


def channels(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """Gross adds by channel, and the bad channel's fake activations: lines deactivated 1 to 10
    days after the commission's clawback period, the generator's signature of a fake line (the
    manifest's ``planted.channels.fake_deactivation``)."""
    from workbench.filters import among, is_true
    from workbench.subjects import channel_roi as subject

    planted = manifest["planted"]["channels"]
    by_channel = planted["gross_adds_by_channel"]
    result = subject.run(settings, period)
    early = result.early_life.set_index("channel_id")
    adds_planted = {c: int(v["gross_adds"]) for c, v in sorted(by_channel.items())}
    adds_found = {c: int(early["n_gross_adds"].get(c, 0)) for c in adds_planted}

    bad = planted["bad_channel_id"]
    months = [m for m in manifest["months"] if m <= period]
    fakes = sum(int(manifest["truth"][m]["fake_activation_churned"]) for m in months)
    lines = read_mart(
        "dwd_dim_subscriber", settings, filters=[is_true("is_current"), among("channel_id", [bad])]
    )
    costs = read_mart("dwd_fct_channel_cost", settings, filters=[among("channel_id", [bad])])
    clawback = int(costs["clawback_days"].max())
    ended = lines[lines["deactivation_date"].notna()]
    ended = ended[
        ended["deactivation_date"] <= pd.Timestamp(f"{period}-01") + pd.offsets.MonthEnd()
    ]
    days = pd.to_datetime(ended["deactivation_date"]) - pd.to_datetime(ended["activation_date"])
    found = int(days.dt.days.between(clawback + 1, clawback + 10).sum())
    # a real line of the channel may churn in the same ten days by chance: at the generator's
    # 3 to 5% a month, about 1.5% of the real lines; allowed twice that, and at least 2
    real = by_channel[bad]["gross_adds"] - by_channel[bad]["fake_adds"]
    allowance = max(2, math.ceil(0.03 * real))
    return [
        Check(
            "渠道 Channels",
            "各渠道新增 gross adds by channel",
            f"{sum(adds_planted.values()):,} in {len(adds_planted)} channels",
            f"{sum(adds_found.values()):,}, "
            + ("each equal" if adds_found == adds_planted else "differing"),
            "exact, channel by channel",
            adds_found == adds_planted,
        ),
        Check(
            "渠道 Channels",
            f"虚假激活 fake activations of {bad} ended just after the clawback",
            f"{fakes} lines",
            f"{found} lines",
            f"from the planted count to {allowance} more (real lines ending in the same days)",
            fakes <= found <= fakes + allowance,
        ),
        survival_check(result.roi.curves, planted["cohorts"]["by_channel"], period, bad),
        *economics_checks(result.roi.summary, planted.get("economics"), period, bad),
    ]


#: The channel ROI report's survival is estimated on the warehouse's lines, the true one counted
#: on the generator's: the same lines, less any the ODS quarantined (dirty rows, 0.2% of each
#: extract). On tiny (two seeds) and demo the curves agree to the third decimal; a quarantined
#: line in a small cohort moves a month's survival by about 1/at-risk (tiny: under 0.01 from
#: month 1 on), so 0.01 allows that while a mistaken hazard (a month shifted, a cohort lost)
#: moves the bad channel's curve by 0.1 or more after the clawback.
SURVIVAL_TOLERANCE = 0.01


def true_survival(cohorts: dict[str, list], period: str) -> pd.Series:
    """Kaplan-Meier survival by month since activation from the manifest's true counts of one
    channel (activation month -> [[live, deactivated], ...]), observed up to ``period``."""
    from workbench.months import add_months

    live: dict[int, int] = {}
    ended: dict[int, int] = {}
    for month, curve in cohorts.items():
        for since, (n_live, n_ended) in enumerate(curve):
            if add_months(month, since) > period:
                break
            live[since] = live.get(since, 0) + n_live
            ended[since] = ended.get(since, 0) + n_ended
    months = sorted(live)
    hazard = pd.Series([ended[m] / live[m] for m in months], index=months, dtype=float)
    return (1.0 - hazard).cumprod()


def survival_check(
    curves: pd.DataFrame, by_channel: dict[str, dict[str, list]], period: str, bad: str
) -> Check:
    """Every channel's survival curve, as the ROI report estimates it from the warehouse,
    against the generator's true one, month by month where the report observed the month."""
    observed = curves[~curves["is_extrapolated"]]
    worst, worst_at = 0.0, ""
    for channel, cohorts in sorted(by_channel.items()):
        truth = true_survival(cohorts, period)
        found = observed[observed["channel_id"] == channel].set_index("months_since_activation")
        common = found.index.intersection(truth.index)
        if common.empty:
            return Check(
                "渠道 Channels",
                "各渠道存活曲线 survival curve of every channel",
                f"{channel}: {len(truth)} month(s)",
                "no observed month in the channel ROI report",
                f"within {SURVIVAL_TOLERANCE} each month",
                False,
            )
        gap = (found.loc[common, "survival"] - truth.loc[common]).abs()
        if gap.max() >= worst:
            worst, worst_at = float(gap.max()), f"{channel} month {int(gap.idxmax())}"
    # the bad channel's row shows its survival after the clawback (90 days: month 3 or 4), at
    # the latest month the report observed, up to month 6
    bad_truth = true_survival(by_channel[bad], period)
    bad_found = observed[observed["channel_id"] == bad].set_index("months_since_activation")
    at = min(6, int(bad_found.index.max()))
    return Check(
        "渠道 Channels",
        f"各渠道存活曲线 survival curve of every channel ({bad}: month {at})",
        f"{bad}: {bad_truth.loc[at]:.1%}",
        f"{bad}: {bad_found.loc[at, 'survival']:.1%}; largest gap {worst:.3f} ({worst_at})",
        f"within {SURVIVAL_TOLERANCE} each observed month, every channel "
        "(the warehouse's lines are the generator's less the quarantined)",
        worst <= SURVIVAL_TOLERANCE,
    )


#: The channel ROI report values the warehouse's lines, the manifest the generator's, both with
#: the report's engine at its default valuation. Dirty rows are copies the generator adds and the
#: ODS sets aside, never substitutes, so the two hold the same lines, bills and top-ups: no
#: sampling lies between them, and what remains is the manifest's rounding (LTV to 0.0001 CNY)
#: and the order of floating-point sums (under 1e-9 of an amount). On tiny, seeds 20260101 and
#: 42, the largest gap is 0.00005 CNY. A tenth of a fen allows that, while one line lost or
#: valued in the wrong channel moves its channel's LTV by about LTV / gross adds: 0.02 CNY or
#: more even on the bench profile's largest channel.
LTV_TOLERANCE_CNY = 0.001
#: ROI = LTV / cost per add - 1, rounded by the manifest to 1e-6: the LTV's tolerance divided by
#: the channel's true cost per add, plus that rounding
ROI_ROUNDING = 1e-6


def _gap(found: object, planted: float) -> float:
    """How far a recovered value is from the planted one; a missing value is infinitely far."""
    value = float(found)  # type: ignore[arg-type]
    return abs(value - planted) if math.isfinite(value) and math.isfinite(planted) else math.inf


def roi_tolerance(cac_cny: float) -> float:
    """What a channel's ROI may differ from its true one: :data:`LTV_TOLERANCE_CNY` over its
    cost per gross add, plus the manifest's rounding."""
    return LTV_TOLERANCE_CNY / cac_cny + ROI_ROUNDING


def economics_checks(
    summary: pd.DataFrame, economics: dict[str, Any] | None, period: str, bad: str
) -> list[Check]:
    """Every channel's lifetime value and ROI as the channel ROI report values them
    (``summary``: :attr:`workbench.analysis.roi.ChannelRoi.summary` rows) against the manifest's
    true ones (``planted.channels.economics``) for ``period``, and the channel with the worst
    ROI: the report's must be the truly worst (which need not be the fake-activation agent
    ``bad``: the row says where it truly ranks)."""
    area = "渠道 Channels"
    truth = (economics or {}).get("by_month", {}).get(period)
    if not truth:
        return [
            Check(
                area,
                "各渠道价值与ROI lifetime value and ROI of every channel",
                "not in the manifest",
                "-",
                "regenerate the operator: its manifest values the channels as of each month",
                False,
            )
        ]
    found = summary.set_index("channel_id")
    missing = sorted(set(truth) - set(found.index))
    extra = sorted(set(found.index) - set(truth))
    ltv_gap = {
        c: _gap(found.at[c, "ltv_cny"], v["ltv_cny"]) for c, v in truth.items() if c in found.index
    }
    roi_gap = {c: _gap(found.at[c, "roi"], v["roi"]) for c, v in truth.items() if c in found.index}
    roi_over = {c: roi_gap[c] - roi_tolerance(truth[c]["cac_cny"]) for c in roi_gap}
    odd = f"; missing {', '.join(missing)}" if missing else ""
    odd += f"; not in the manifest {', '.join(extra)}" if extra else ""
    same = not missing and not extra
    checks = []
    if bad in truth and bad in found.index:
        ltv_shown = (
            f"{bad}: ¥{truth[bad]['ltv_cny']:,.2f}",
            f"{bad}: ¥{found.at[bad, 'ltv_cny']:,.2f}",
        )
        roi_shown = (f"{bad}: {truth[bad]['roi']:+.4f}", f"{bad}: {found.at[bad, 'roi']:+.4f}")
    else:
        ltv_shown = roi_shown = (f"{len(truth)} channels", f"{len(found)} channels")
    worst_ltv = max(ltv_gap, key=ltv_gap.get, default=None)
    worst_roi = max(roi_over, key=roi_over.get, default=None)
    checks.append(
        Check(
            area,
            f"各渠道生命周期价值 lifetime value of every channel ({bad})",
            ltv_shown[0],
            f"{ltv_shown[1]}; largest gap ¥{ltv_gap.get(worst_ltv, 0.0):.4f} ({worst_ltv}){odd}",
            f"within ¥{LTV_TOLERANCE_CNY} each channel (the same lines valued alike: only the "
            "manifest's rounding between them)",
            same and max(ltv_gap.values(), default=0.0) <= LTV_TOLERANCE_CNY,
        )
    )
    checks.append(
        Check(
            area,
            f"各渠道ROI ROI of every channel ({bad})",
            roi_shown[0],
            f"{roi_shown[1]}; largest gap {roi_gap.get(worst_roi, 0.0):.6f} ({worst_roi}){odd}",
            f"within ¥{LTV_TOLERANCE_CNY} / cost per add + {ROI_ROUNDING:g} each channel",
            same and max(roi_over.values(), default=0.0) <= 0,
        )
    )
    ranked = sorted(truth, key=lambda c: (truth[c]["roi"], c))
    truly_worst = ranked[0]
    planted = f"{truly_worst} (ROI {truth[truly_worst]['roi']:+.2f})"
    if bad in truth and truly_worst != bad:
        # the claim "the fake-activation agent has the worst ROI" does not hold on this operator
        planted += (
            f"; the fake-activation agent {bad} ranks {len(ranked) - ranked.index(bad)} of "
            f"{len(ranked)} from the best (ROI {truth[bad]['roi']:+.2f})"
        )
    if found.empty:
        recovered, passed = "no channel valued", False
    else:
        reported = str(found["roi"].astype(float).idxmin())
        recovered = f"{reported} (ROI {float(found.at[reported, 'roi']):+.2f})"
        # a tie within the tolerance is no error: the report's worst must be truly worst
        passed = reported in truth and truth[reported]["roi"] <= truth[truly_worst]["roi"] + (
            roi_tolerance(truth[reported]["cac_cny"])
        )
    checks.append(
        Check(
            area,
            "ROI最低渠道 worst channel by true ROI",
            planted,
            recovered,
            "the report's worst is truly the worst (its true ROI within the ROI tolerance of "
            "the lowest)",
            passed,
        )
    )
    return checks


def service_quality(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The planted poor cells are the ones found, and their lines churn more."""
    from workbench.subjects import service_quality as subject

    hazard = manifest["planted"]["churn_hazard"]
    planted = set(hazard["poor_cells"])
    per_point = float(hazard["coefficients"]["home_cell_drop_rate_pct"])
    quality = subject.run(settings, period, churn_months=POOLED_CHURN_MONTHS)
    found = set(quality.poor_cells["cell_id"])
    poor = quality.poor_cell_churn.set_index("cell_group").loc["poor"]
    low = float(poor["difference_low"])
    return [
        Check(
            "网络质量 Service quality",
            "质差小区 poor cells",
            f"{len(planted)} cells",
            f"{len(found & planted)} of them, {len(found - planted)} others",
            "exact set",
            found == planted,
        ),
        Check(
            "网络质量 Service quality",
            "质差小区流失更高 lines on poor cells churn more",
            f"higher ({per_point:+.2f} log-odds per point of drop rate)",
            f"{float(poor['difference']):+.2%} (95% interval from {low:+.2%})",
            "the interval's lower end above zero",
            low > 0,
        ),
    ]


def slope_standard_error(manifest: dict[str, Any], period: str) -> tuple[float, int]:
    """The standard error of a logistic slope of next-month churn on the competitor share that the
    operator's pooled line-months allow, and those line-months: 1 / sqrt(n p (1-p) var(share))
    (the information of a logistic slope near a churn rate p), with the months the competition
    check pools, each month's lines live at its end and the next month's churners, and the
    share's spread over the line-months (``churn_hazard.contributions``: its mean absolute
    deviation, at most its standard deviation, so this errs towards "too few")."""
    months, truth = manifest["months"], manifest["truth"]
    pooled = [(m, after) for m, after in pairwise(months) if m <= period]
    pooled = pooled[-POOLED_CHURN_MONTHS:]
    lines = sum(int(truth[m]["live_end"]) for m, _ in pooled)
    churned = sum(int(truth[after]["churned"]) for _, after in pooled)
    by_driver = manifest["planted"]["churn_hazard"].get("contributions", {}).get("by_driver", {})
    spread = float(by_driver.get("competitor_share", {}).get("mean_abs_deviation", 0.0))
    rate = churned / lines if lines else 0.0
    information = lines * rate * (1 - rate) * spread**2
    return (1 / math.sqrt(information) if information > 0 else math.inf), lines


def competition(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """Churn rises with the competitor share (the slope the competition report fits)."""
    from workbench.subjects import competition as subject

    planted = float(manifest["planted"]["churn_hazard"]["coefficients"]["competitor_share"])
    effect = subject.run(settings, period, churn_months=POOLED_CHURN_MONTHS).share_effect.iloc[0]
    standard_error, lines = slope_standard_error(manifest, period)
    return [
        slope_check(
            planted,
            float(effect["coefficient"]),
            (float(effect["coefficient_low"]), float(effect["coefficient_high"])),
            standard_error,
            lines,
        )
    ]


def slope_check(
    planted: float,
    found: float,
    interval: tuple[float, float],
    standard_error: float,
    line_months: int,
) -> Check:
    """The competitor share's churn slope against the planted one. A month's share is a noisy
    reading of the line's planted share, and the report's slope is marginal over the other
    drivers, so the slope found is attenuated: PASS needs the interval above zero and the slope at
    most the planted one. Where the planted slope is under :data:`DETECTABLE_SE` standard errors
    (``standard_error`` on ``line_months``) the row is n/a, unless the interval lies wholly above
    the planted slope (no attenuation explains that: FAIL on any sample)."""
    low, high = interval
    recovered = f"{found:.2f} (95% interval [{low:.2f}, {high:.2f}])"
    passed: bool | None = low > 0 and found <= planted
    undecided = (
        too_few_lines(planted, standard_error, line_months, "line-months")
        if low <= planted
        else None
    )
    if undecided:
        recovered, passed = f"{recovered}: {undecided}", None
    return Check(
        "竞争 Competition",
        "竞品占比的流失斜率 churn slope on the competitor share (log-odds)",
        f"{planted:.2f}",
        recovered,
        "above zero (interval) and at most the planted slope (attenuation); checked from "
        f"{DETECTABLE_SE:.1f} standard errors ({POWER:.0%} power at {SIGNIFICANCE:.0%})",
        passed,
    )


def churn_drivers(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The planted drivers' signs, and their order of strength, in the churn model the churn
    report trained for the period."""
    drivers = read_mart("ads_churn_drivers", settings, months=[period])
    if drivers.empty:
        return [_missing("流失 Churn", "ads_churn_drivers", "churn", period)]
    churners = int(manifest["truth"][period]["churned"])
    hazard = manifest["planted"]["churn_hazard"]
    contributions = hazard.get("contributions", {}).get("by_driver", {})
    return [
        *driver_signs(drivers, hazard["coefficients"], monthly_churners=churners),
        driver_ranks(drivers, contributions, monthly_churners=churners),
    ]


@dataclass(frozen=True)
class DriverAttention:
    """What the model gives one planted driver through the features that measure it."""

    features: tuple[str, ...]  # those the model has (empty: it was given no measure)
    mean_abs_contribution: float  # summed over the features
    share: float  # of the model's attention, summed over the features
    direction: float  # the features' directions weighted by their attention (NaN: none)


def driver_attention(drivers: pd.DataFrame, driver: str) -> DriverAttention:
    """``driver``'s attention in ``drivers`` (``ads_churn_drivers`` rows), summed over its
    features in :data:`DRIVER_FEATURES` (see there for why)."""
    features, _ = DRIVER_FEATURES[driver]
    rows = drivers.set_index("feature").reindex(
        [f for f in features if f in set(drivers["feature"])]
    )
    weight = rows["mean_abs_contribution"].astype(float)
    share = float(rows["share"].astype(float).sum()) if "share" in rows else float("nan")
    direction = rows["direction"].astype(float) if "direction" in rows else pd.Series(dtype=float)
    known = direction.notna() & (weight > 0)
    return DriverAttention(
        features=tuple(rows.index),
        mean_abs_contribution=float(weight.sum()),
        share=share,
        direction=(
            float((direction[known] * weight[known]).sum() / weight[known].sum())
            if known.any()
            else float("nan")
        ),
    )


def driver_signs(
    drivers: pd.DataFrame, coefficients: dict[str, float], monthly_churners: int | None = None
) -> list[Check]:
    """Each planted driver's sign against the direction of its features' contributions in
    ``drivers`` (``ads_churn_drivers`` rows; :func:`driver_attention`): protective drivers must
    lower the score.

    Args:
        monthly_churners: the operator's churners in the period; below
            :data:`MIN_MONTHLY_CHURNERS` every row is "n/a" (None: not checked).
    """
    few = monthly_churners is not None and monthly_churners < MIN_MONTHLY_CHURNERS
    checks = []
    for driver, (features, orientation) in DRIVER_FEATURES.items():
        coefficient = float(coefficients[driver])
        expected = math.copysign(1, coefficient) * orientation
        seen = driver_attention(drivers, driver)
        measure = " + ".join(features)
        planted = f"{'raises' if expected > 0 else 'lowers'} churn as {measure} grows"
        passed: bool | None
        if not seen.features:  # the model was given no measure of the driver
            recovered, passed = f"{measure}: not among the model's features", False
        elif few:
            recovered = (
                f"{monthly_churners} churners a month: too few to read signs "
                f"(needs {MIN_MONTHLY_CHURNERS}; the demo profile has them)"
            )
            passed = None
        elif seen.share < MIN_DRIVER_SHARE or math.isnan(seen.direction):
            recovered, passed = f"share {seen.share:.1%}: too weak in this sample", None
        else:
            recovered = f"direction {seen.direction:+.2f}, share {seen.share:.1%}"
            passed = bool(seen.direction * expected >= CLEAR_DIRECTION)
        checks.append(
            Check(
                "流失 Churn",
                f"驱动因素方向 {driver} ({coefficient:+.2f} log-odds)",
                planted,
                recovered,
                f"same sign, rank correlation of value and contribution at least {CLEAR_DIRECTION}"
                f" (drivers with at least {MIN_DRIVER_SHARE:.0%} of the model's attention)",
                passed,
            )
        )
    return checks


#: How closely the model's order of driver strength must follow the planted one: Spearman's
#: rank correlation between each visible driver's mean |contribution| in ``ads_churn_drivers``
#: and its planted one (``churn_hazard.contributions``). For the 9 drivers of
#: :data:`DRIVER_FEATURES`, 0.6 is the one-sided 5% critical value (a random order reaches it 1
#: time in 20, see the test), so the row cannot pass by chance, while it lets two drivers of
#: close strength swap (most planted contributions lie between 0.05 and 0.15 log-odds).
RANK_AGREEMENT = 0.6


def driver_ranks(
    drivers: pd.DataFrame,
    contributions: dict[str, dict[str, float]],
    monthly_churners: int | None = None,
) -> Check:
    """The planted drivers' order of strength against the model's: Spearman's rank correlation
    between the planted mean |contribution| of each driver of :data:`DRIVER_FEATURES` and the mean
    |contribution| (log-odds) the model gives it through its features in ``drivers``
    (``ads_churn_drivers`` rows; :func:`driver_attention`).

    Args:
        contributions: the manifest's ``churn_hazard.contributions.by_driver``.
        monthly_churners: as for :func:`driver_signs`: below :data:`MIN_MONTHLY_CHURNERS` the
            row is "n/a".
    """
    effect = "驱动因素强弱排序 order of the drivers' strength"
    tolerance = (
        f"rank correlation at least {RANK_AGREEMENT} over the {len(DRIVER_FEATURES)} drivers "
        "(a random order reaches it 1 time in 20)"
    )
    if not contributions:
        return Check(
            "流失 Churn",
            effect,
            "not in the manifest",
            "-",
            "regenerate the operator: its manifest holds each driver's contribution",
            False,
        )
    measures = {d: " + ".join(features) for d, (features, _) in DRIVER_FEATURES.items()}
    planted = pd.Series(
        {measures[d]: abs(contributions[d]["contribution"]) for d in DRIVER_FEATURES}
    ).sort_values(ascending=False, kind="stable")
    shown = " > ".join(f"{m} {v:.2f}" for m, v in planted.items())
    seen = {measures[d]: driver_attention(drivers, d) for d in DRIVER_FEATURES}
    unseen = [m for m in planted.index if not seen[m].features]
    if unseen:
        recovered, passed = f"not among the model's features: {', '.join(unseen)}", False
    elif monthly_churners is not None and monthly_churners < MIN_MONTHLY_CHURNERS:
        recovered = (
            f"{monthly_churners} churners a month: too few to rank drivers "
            f"(needs {MIN_MONTHLY_CHURNERS}; the demo profile has them)"
        )
        passed = None
    else:
        found = pd.Series({m: seen[m].mean_abs_contribution for m in planted.index})
        rho = float(planted.rank().corr(found.rank()))
        order = " > ".join(f"{m} {v:.2f}" for m, v in found.sort_values(ascending=False).items())
        recovered, passed = f"rank correlation {rho:+.2f}: {order}", rho >= RANK_AGREEMENT
    return Check("流失 Churn", effect, shown, recovered, tolerance, passed)


def cross_sell(settings: Settings, manifest: dict[str, Any], period: str) -> list[Check]:
    """The planted pairs in the rules the cross-sell report mined for the period."""
    truth = manifest["planted"]["product_affinities"]
    if manifest["months"][truth["holdings_month_index"]] != period:
        return []  # the manifest counts the pairs of its last month only
    rules = read_mart("ads_basket_rules", settings, months=[period])
    if rules.empty:
        return [_missing("交叉销售 Cross-sell", "ads_basket_rules", "cross_sell", period)]
    return pair_lifts(rules, truth)


def pair_lifts(rules: pd.DataFrame, truth: dict[str, Any]) -> list[Check]:
    """Every planted pair's lift in ``rules`` (``ads_basket_rules`` rows) exactly as the manifest
    counted it on the same baskets (the live lines of the last month); affine pairs above 2."""
    overall = rules[rules["scope"] == "overall"].set_index(["antecedent", "consequent"])["lift"]
    checks = []
    for kind, pairs in (
        ("affine", truth["affine_pairs"]),
        ("independent", truth["independent_pairs"]),
    ):
        for pair in pairs:
            key = (pair["antecedent"], pair["consequent"])
            lift = overall.get(key)
            exact = lift is not None and abs(float(lift) - pair["lift"]) <= 1e-5
            if kind == "affine":
                passed, rule = exact and float(lift) > 2, "and above 2"
            else:
                # below the run's support or confidence, an independent pair has no rule
                passed, rule = lift is None or exact, "or no rule (below the thresholds)"
            checks.append(
                Check(
                    "交叉销售 Cross-sell",
                    f"{'关联' if kind == 'affine' else '独立'} {key[0]} → {key[1]} lift",
                    f"{pair['lift']:.3f}",
                    "no rule" if lift is None else f"{float(lift):.3f}",
                    f"±0.00001 (the manifest's rounding) {rule}",
                    passed,
                )
            )
    return checks


def _missing(area: str, mart: str, report: str, period: str) -> Check:
    return Check(
        area,
        f"{mart} of {period}",
        "written by the report",
        "missing",
        f"run `workbench report run {report} --period {period}` first",
        False,
    )


#: every check, in the order of the table
CHECKS: tuple[Callable[[Settings, dict[str, Any], str], list[Check]], ...] = (
    warehouse_counts,
    key_accounts,
    new_product,
    campaign,
    channels,
    service_quality,
    competition,
    churn_drivers,
    cross_sell,
)


def run(settings: Settings, period: str | None = None) -> pd.DataFrame:
    """Every truth row for ``period`` (default: the manifest's last month), as a table with a
    ``status`` of PASS, FAIL or n/a (an effect too weak to show in this sample)."""
    manifest = load_manifest(settings)
    period = parse_month(period or manifest["months"][-1])
    if period not in manifest["months"]:
        raise InputDataError(
            f"period {period} is not a month of the synthetic operator "
            f"({manifest['months'][0]}..{manifest['months'][-1]})"
        )
    rows = [asdict(check) for run in CHECKS for check in run(settings, manifest, period)]
    table = pd.DataFrame(rows, columns=[f for f in Check.__dataclass_fields__])
    table["status"] = table["passed"].map({True: "PASS", False: "FAIL"}).fillna("n/a")
    return table.drop(columns="passed")


def failed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a truth table that failed."""
    return table[table["status"] == "FAIL"]


#: how each result reads on a page
STATUS_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "n/a": "#9a6700"}


def table_html(table: pd.DataFrame) -> str:
    """The truth table as a page shows it: text left-aligned for reading, each result in its
    colour, the column names a manager reads."""
    import html

    head = "".join(f"<th style='text-align:left'>{html.escape(n)}</th>" for n in COLUMNS.values())
    rows = []
    for row in table.itertuples(index=False):
        cells = [html.escape(str(getattr(row, c))) for c in COLUMNS if c != "status"]
        colour = STATUS_COLOURS[row.status]
        cells.append(f"<b style='color:{colour}'>{html.escape(row.status)}</b>")
        rows.append("".join(f"<td style='text-align:left'>{c}</td>" for c in cells))
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table class='dataframe'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict(table: pd.DataFrame) -> str:
    """One sentence on the whole table, Chinese then English."""
    n, bad = len(table), len(failed(table))
    weak = int((table["status"] == "n/a").sum())
    if bad == 0:
        zh, en = f"{n} 项全部通过", f"all {n} rows hold"
    else:
        zh, en = f"{n} 项中 {bad} 项未通过", f"{bad} of {n} rows failed"
    if weak:
        zh, en = f"{zh}（{weak} 项样本过小）", f"{en} ({weak} too weak to show in this sample)"
    return f"{zh} / {en}"
