"""The manifest's truth: small aggregates of the lifecycle frame, computed by Spark."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.analysis import roi
from workbench.generate import reference as ref
from workbench.generate.extracts import campaign_id
from workbench.generate.lifecycle import Scenario
from workbench.generate.params import Params, Timeline

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

AFFINE_PAIRS = (
    ("VIDEO_PACK", "DATA_LARGE"),
    ("FAMILY_PLAN", "HOME_BROADBAND"),
    ("ROAMING_PACK", "INTL_CALL_PACK"),
)
INDEPENDENT_PAIRS = (
    ("MUSIC_PACK", "INSURANCE"),
    ("CLOUD_STORAGE", "INSURANCE"),
    ("MUSIC_PACK", "CLOUD_STORAGE"),
)


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def _holds(product_id: str) -> Column:
    from pyspark.sql import functions as F

    i = ref.PRODUCT_INDEX[product_id]
    return F.shiftright(F.col("products_mask"), i).bitwiseAND(1) == 1


def monthly_truth(life: DataFrame, timeline: Timeline) -> dict[str, dict[str, Any]]:
    """Per month: lines live at month end, gross adds, churned lines and the churn rate.

    The churn rate is churned in M over lines live at the end of M-1 (= lines of M that are
    not gross adds of M), overall and by plan type.
    """
    from pyspark.sql import functions as F

    def block(prefix: str, cond: Column) -> list[Column]:
        return [
            F.count_if(cond & ~F.col("is_churned")).alias(f"{prefix}live_end"),
            F.count_if(cond & ~F.col("is_gross_add")).alias(f"{prefix}live_start"),
            F.count_if(cond & F.col("is_gross_add")).alias(f"{prefix}gross_adds"),
            F.count_if(cond & F.col("is_churned")).alias(f"{prefix}churned"),
        ]

    aggs = block("", F.lit(True))
    for i, plan_type in enumerate(ref.PLAN_TYPES):
        aggs += block(f"{plan_type}__", F.col("plan_type_idx") == i)
    aggs.append(F.count_if(F.col("is_fake") & F.col("is_churned")).alias("fake_churned"))
    rows = {r["month"]: r.asDict() for r in life.groupBy("month").agg(*aggs).collect()}
    result: dict[str, dict[str, Any]] = {}
    for month in timeline.months:
        r = rows.get(month, {})
        entry: dict[str, Any] = {
            "live_end": r.get("live_end", 0),
            "live_end_previous_month": r.get("live_start", 0),
            "gross_adds": r.get("gross_adds", 0),
            "churned": r.get("churned", 0),
            "fake_activation_churned": r.get("fake_churned", 0),
            "churn_rate": _rate(r.get("churned", 0), r.get("live_start", 0)),
            "net_adds": r.get("gross_adds", 0) - r.get("churned", 0),
            "by_plan_type": {
                pt: {
                    "live_end": r.get(f"{pt}__live_end", 0),
                    "gross_adds": r.get(f"{pt}__gross_adds", 0),
                    "churned": r.get(f"{pt}__churned", 0),
                    "churn_rate": _rate(r.get(f"{pt}__churned", 0), r.get(f"{pt}__live_start", 0)),
                }
                for pt in ref.PLAN_TYPES
            },
        }
        result[month] = entry
    return result


def campaign_truth(life: DataFrame, timeline: Timeline, params: Params) -> dict[str, Any]:
    """The retention campaign's true effect from both potential outcomes of every target.

    ``true_uplift`` is the sample average reduction of churn within the window over all
    targeted lines: mean(churn if untreated) - mean(churn if treated).
    """
    from pyspark.sql import functions as F

    if timeline.campaign_contact is None:
        return {"campaign_id": None, "reason": "month range too short for a campaign"}
    contact = timeline.campaign_contact
    targets = life.filter((F.col("month_idx") == contact) & F.col("is_targeted"))
    treated = ~F.col("is_control")
    observed = F.when(treated, F.col("churn_if_treated")).otherwise(F.col("churn_if_untreated"))
    r = (
        targets.agg(
            F.count(F.lit(1)).alias("n"),
            F.count_if(treated).alias("n_treatment"),
            F.count_if(F.col("is_persuadable")).alias("n_persuadable"),
            F.coalesce(F.sum("churn_if_treated"), F.lit(0)).alias("y1"),
            F.coalesce(F.sum("churn_if_untreated"), F.lit(0)).alias("y0"),
            F.coalesce(F.sum(F.when(treated, observed)), F.lit(0)).alias("obs_treated"),
            F.coalesce(F.sum(F.when(~treated, observed)), F.lit(0)).alias("obs_control"),
            F.count_if(treated & (F.col("response_idx") == 1)).alias("accepted"),
            F.count_if(treated & (F.col("response_idx") == 2)).alias("declined"),
            F.count_if(treated & F.col("is_persuadable") & (F.col("response_idx") == 1)).alias(
                "accepted_persuadable"
            ),
            F.count_if(treated & F.col("is_persuadable")).alias("treated_persuadable"),
        )
        .first()
        .asDict()
    )
    n, n_t = r["n"], r["n_treatment"]
    n_c = n - n_t
    window = timeline.months[contact + 1 : contact + 1 + timeline.window_months]
    return {
        "campaign_id": campaign_id(timeline),
        "campaign_type": "retention",
        "contact_month": timeline.months[contact],
        "window": {
            "months": window,
            "definition": "line deactivated in one of the months after the contact month",
        },
        "target_rule": f"live at end of contact month, churn hazard of next month >= "
        f"{params.target_hazard_threshold}, not do-not-contact",
        "control_share": params.control_share,
        "persuadable_share": params.persuadable_share,
        "treatment_hazard_reduction_persuadable": params.treatment_hazard_reduction,
        "n_targeted": n,
        "n_treatment": n_t,
        "n_control": n_c,
        "n_persuadable": r["n_persuadable"],
        "churn_rate_if_all_treated": _rate(r["y1"], n),
        "churn_rate_if_none_treated": _rate(r["y0"], n),
        "true_uplift": _rate(r["y0"] - r["y1"], n),
        "true_ate_on_churn": _rate(r["y1"] - r["y0"], n),
        "observed_churn_rate_treatment": _rate(r["obs_treated"], n_t),
        "observed_churn_rate_control": _rate(r["obs_control"], n_c),
        "response_rate_accepted": _rate(r["accepted"], n_t),
        "response_rate_declined": _rate(r["declined"], n_t),
        "accept_rate_persuadable": params.accept_rate_persuadable,
        "accept_rate_other": params.accept_rate_other,
        "observed_accept_rate_persuadable": _rate(
            r["accepted_persuadable"], r["treated_persuadable"]
        ),
    }


def _affinities(life: DataFrame, month_idx: int) -> dict[str, Any]:
    from pyspark.sql import functions as F

    snap = life.filter((F.col("month_idx") == month_idx) & ~F.col("is_churned"))
    aggs = [F.count(F.lit(1)).alias("n")]
    for pid in ref.PRODUCT_IDS:
        aggs.append(F.count_if(_holds(pid)).alias(pid))
    for a, b in AFFINE_PAIRS + INDEPENDENT_PAIRS:
        aggs.append(F.count_if(_holds(a) & _holds(b)).alias(f"{a}&{b}"))
    r = snap.agg(*aggs).first().asDict()

    def pair(a: str, b: str) -> dict[str, Any]:
        both = r[f"{a}&{b}"]
        lift = _rate(both * r["n"], r[a] * r[b])
        return {
            "antecedent": a,
            "consequent": b,
            "n_both": both,
            "lift": lift,
            "confidence": _rate(both, r[a]),
        }

    return {
        "holdings_month_index": month_idx,
        "lines": r["n"],
        "holders": {pid: r[pid] for pid in ref.PRODUCT_IDS},
        "affine_pairs": [pair(a, b) for a, b in AFFINE_PAIRS],
        "independent_pairs": [pair(a, b) for a, b in INDEPENDENT_PAIRS],
    }


def _line_revenue(bills: DataFrame, recharges: DataFrame) -> DataFrame:
    """Each line's revenue in each month as the warehouse counts it (``dws_subscriber_month``'s
    ``revenue_cny``): a postpaid line's bill, a prepaid line's top-ups (a line has one or the
    other), from the clean extracts before any dirty row is added. Sums are exact
    (:func:`exact_sum`), so the manifest is the same whatever the partitioning."""
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import exact_sum

    amounts = bills.select("subscriber_id", "month", F.col("total_cny").alias("revenue_cny"))
    topups = recharges.select("subscriber_id", "month", F.col("amount_cny").alias("revenue_cny"))
    return (
        amounts.unionByName(topups)
        .groupBy("subscriber_id", "month")
        .agg(exact_sum("revenue_cny").alias("revenue_cny"))
    )


def _acquisition_cohorts(life: DataFrame, revenue: DataFrame, months: list[str]) -> pd.DataFrame:
    """Every gross add's true life by channel and activation month, in the channel ROI engine's
    cohort table (:data:`workbench.analysis.roi.COHORT_COLUMNS`): for each month since
    activation, the lines live in the month (at risk), those deactivated in it and their revenue.
    Small (channels x months x months), so collected."""
    from pyspark.sql import functions as F

    from workbench.warehouse.columns import exact_sum

    adds = life.filter(F.col("is_gross_add")).select(
        "subscriber_id", "channel_idx", F.col("month_idx").alias("add_idx")
    )
    counts = (
        life.select("subscriber_id", "month_idx", "month", "is_churned")
        .join(adds, "subscriber_id")
        .join(revenue, ["subscriber_id", "month"], "left")
        .groupBy("channel_idx", "add_idx", (F.col("month_idx") - F.col("add_idx")).alias("since"))
        .agg(
            F.count(F.lit(1)).alias("live"),
            F.count_if("is_churned").alias("ended"),
            F.coalesce(exact_sum("revenue_cny"), F.lit(0.0)).alias("revenue"),
        )
        .collect()
    )
    table = pd.DataFrame(
        {
            "channel_id": [ref.CHANNEL_IDS[r["channel_idx"]] for r in counts],
            "activation_month": [months[r["add_idx"]] for r in counts],
            "months_since_activation": [int(r["since"]) for r in counts],
            "n_at_risk": [int(r["live"]) for r in counts],
            "n_churned": [int(r["ended"]) for r in counts],
            "revenue_cny": [float(r["revenue"]) for r in counts],
        },
        columns=list(roi.COHORT_COLUMNS),
    )
    return table.sort_values(list(roi.COHORT_COLUMNS[:3])).reset_index(drop=True)


def _survival_counts(cohorts: pd.DataFrame) -> dict[str, dict[str, list]]:
    """The manifest's form of the cohort table: channel -> activation month -> [lines live in
    the month, lines deactivated in it] for months since activation 0, 1, ..."""
    table: dict[str, dict[str, list]] = {}
    for row in cohorts.itertuples(index=False):
        curve = table.setdefault(row.channel_id, {}).setdefault(row.activation_month, [])
        curve.append([row.n_at_risk, row.n_churned])
    return table


def channel_economics(
    cohorts: pd.DataFrame, costs: pd.DataFrame, months: list[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every channel's true economics as the channel ROI report values them by default
    (:data:`workbench.analysis.roi.DEFAULT_VALUATION`), as of each month: the true cohorts
    observed by that month and the channel costs up to it, valued by the report's own engine.

    Args:
        cohorts: the true cohort table (:func:`_acquisition_cohorts`).
        costs: the channel cost extract (``channel_id, month, commission_per_gross_add_cny,
            fixed_cost_cny``), clean.

    Returns:
        as-of month -> channel -> ``n_gross_adds, cac_cny, arpu_cny, survival_at_horizon,
        ltv_cny, payback_month, roi`` (channels with gross adds by then).
    """
    from workbench.months import month_index, month_index_series

    valuation = asdict(roi.DEFAULT_VALUATION)
    seen = month_index_series(cohorts["activation_month"]) + cohorts["months_since_activation"]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for as_of in months:
        observed = cohorts[seen <= month_index(as_of)]
        if observed.empty:
            continue
        summary = roi.channel_roi(observed, costs[costs["month"] <= as_of], **valuation).summary
        out[as_of] = {
            row.channel_id: {
                "n_gross_adds": int(row.n_gross_adds),
                "cac_cny": round(float(row.cac_cny), 4),
                "arpu_cny": round(float(row.arpu_cny), 4),
                "survival_at_horizon": round(float(row.survival_at_horizon), 6),
                "ltv_cny": round(float(row.ltv_cny), 4),
                "payback_month": None if pd.isna(row.payback_month) else int(row.payback_month),
                "roi": round(float(row.roi), 6),
            }
            for row in summary.itertuples(index=False)
        }
    return out


def _driver_values(params: Params, cells: ref.Cells) -> dict[str, Column]:
    """Each planted churn driver (a coefficient of :class:`ChurnHazard` but the intercept) as a
    line-month of the lifecycle frame records it, in the unit its coefficient multiplies: the
    month's complaints, unresolved complaints and bill shock, the usage drop into the month
    (``_usage_prev``: the line's usage factor the month before, null in its first month), the
    tenure and contract at the month's start, and the line's own traits."""
    from pyspark.sql import functions as F

    from workbench.generate.extracts import lookup
    from workbench.generate.lifecycle import DAYS_PER_MONTH

    start, flag = F.col("month_start_day"), lambda c: c.cast("double")
    drop_pct = lookup([float(r) * 100.0 for r in cells.base_drop_rate], F.col("home_cell_idx"))
    values = {
        "per_complaint_last_month": F.col("n_complaints"),
        "per_unresolved_complaint_last_month": F.col("n_unresolved"),
        "usage_drop_last_month": F.greatest(
            F.lit(0.0), 1.0 - F.col("usage_factor") / F.col("_usage_prev")
        ),
        "competitor_share": F.col("competitor_share"),
        "prepaid": flag(F.col("plan_type_idx") == ref.PLAN_TYPES.index("prepaid")),
        "short_tenure_under_6_months": flag((start - F.col("activation_day")) / DAYS_PER_MONTH < 6),
        "contract_ends_within_60_days": flag(
            (F.col("contract_end_day") >= start) & (F.col("contract_end_day") - start <= 60)
        ),
        "home_cell_drop_rate_pct": drop_pct,
        "bill_shock_last_month": flag(F.col("is_bill_shock")),
        "per_product_held": F.bit_count("products_mask"),
        "family_plan": flag(_holds("FAMILY_PLAN")),
        "enterprise_line": flag(F.col("is_enterprise")),
    }
    planted = set(asdict(params.hazard)) - {"intercept"}
    if set(values) != planted:  # a coefficient added to the hazard needs its value here
        raise ValueError(f"churn drivers without a value: {sorted(planted ^ set(values))}")
    return {name: value.cast("double") for name, value in values.items()}


def driver_contributions(
    life: DataFrame, params: Params, cells: ref.Cells
) -> dict[str, dict[str, float]]:
    """Each planted churn driver's true contribution to the hazard's log-odds with its sign, in
    the unit of the churn report's drivers (``ads_churn_drivers.mean_abs_contribution``: the mean
    size of a feature's contribution to a line's log-odds). The hazard's logit is linear in its
    drivers, so a driver moves a line's log-odds from the population's average by
    ``coef x (value - mean value)``: its mean size is ``|coef|`` times the driver's mean absolute
    deviation over the line-months, and ``contribution`` carries the coefficient's sign."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    coefficients = asdict(params.hazard)
    line = Window.partitionBy("subscriber_id").orderBy("month_idx")
    rows = life.withColumn("_usage_prev", F.lag("usage_factor").over(line))
    values = rows.select(*[v.alias(k) for k, v in _driver_values(params, cells).items()])
    means = values.agg(*[F.avg(c).alias(c) for c in values.columns]).first().asDict()
    spread = (
        values.agg(
            *[F.avg(F.abs(F.col(c) - F.lit(means[c] or 0.0))).alias(c) for c in values.columns]
        )
        .first()
        .asDict()
    )
    return {
        name: {
            "coefficient": coefficients[name],
            "mean_abs_deviation": round(float(spread[name] or 0.0), 6),
            "contribution": round(coefficients[name] * float(spread[name] or 0.0), 6),
        }
        for name in values.columns
    }


def planted(
    life: DataFrame,
    scenario: Scenario,
    cells: ref.Cells,
    extracts: Mapping[str, Callable[[], DataFrame]],
) -> dict[str, Any]:
    """Every planted effect with its coefficients, ids and realised sizes.

    Args:
        extracts: the builders of the clean raw extracts (before dirty rows): the true channel
            economics read the bills, top-ups and channel costs the operator was sent.
    """
    from pyspark.sql import functions as F

    tl, p = scenario.timeline, scenario.params
    last = len(tl.months) - 1

    adds = (
        life.filter(F.col("is_gross_add"))
        .groupBy("channel_idx")
        .agg(
            F.count(F.lit(1)).alias("gross_adds"),
            F.count_if(F.col("is_fake")).alias("fake_adds"),
            F.avg("n_events").alias("mean_events_in_activation_month"),
        )
        .collect()
    )
    channel_adds = {
        ref.CHANNEL_IDS[row["channel_idx"]]: {
            "gross_adds": row["gross_adds"],
            "fake_adds": row["fake_adds"],
            "mean_usage_events_activation_month": round(row["mean_events_in_activation_month"], 3),
        }
        for row in adds
    }
    revenue = _line_revenue(extracts["bills"](), extracts["recharges"]())
    cohorts = _acquisition_cohorts(life, revenue, tl.months)
    costs = extracts["channel_costs"]().toPandas()  # channels x months
    ent = (
        life.filter((F.col("month_idx") == last) & F.col("is_enterprise"))
        .groupBy("customer_id")
        .agg(F.count(F.lit(1)).alias("lines"))
        .orderBy(F.desc("lines"), "customer_id")
        .collect()
    )
    from workbench.generate.extracts import lookup

    fee = lookup([pl.monthly_fee_cny for pl in ref.PLANS], F.col("plan_idx")) + F.col("vas_cny")
    revenue = (
        life.filter(F.col("month_idx") == last)
        .agg(
            F.sum(F.when(F.col("is_enterprise"), fee).otherwise(0.0)).alias("key"),
            F.sum(fee).alias("all"),
        )
        .first()
    )
    new_idx = ref.PRODUCT_INDEX[ref.NEW_PRODUCT]
    adoption = {
        r["month"]: r["holders"]
        for r in life.filter(~F.col("is_churned"))
        .groupBy("month")
        .agg(F.count_if(_holds(ref.NEW_PRODUCT)).alias("holders"))
        .collect()
    }
    region_ids = [r[0] for r in ref.REGIONS]
    return {
        "churn_hazard": {
            "form": "monthly logistic: logit(h_M) = intercept + sum(coef * driver); drivers "
            "from month M-1 or the line itself",
            "coefficients": asdict(p.hazard),
            "contributions": {
                "form": "driver -> its coefficient, the mean absolute deviation of its value over "
                "the line-months (the unit the coefficient multiplies) and their product: the "
                "mean size of the driver's contribution to a line's log-odds, as the churn "
                "report's drivers measure a feature's (mean |contribution|), signed as the "
                "coefficient",
                "by_driver": driver_contributions(life, p, cells),
            },
            "usage_decliner_share": p.usage_decliner_share,
            "usage_decline_factor_per_month": p.usage_decline_factor_per_month,
            "usage_decline_months": p.usage_decline_months,
            "bill_shock_rate": p.bill_shock_rate,
            "competitor_share_distribution": "0.6 * U^2 per line (mean 0.2); competitor_a "
            f"takes {p.competitor_a_of_competitor_calls} of it",
            "poor_cells": [
                cid for cid, poor in zip(cells.cell_ids, cells.is_poor, strict=True) if poor
            ],
            "poor_cell_share": p.poor_cell_share,
        },
        "product_affinities": {
            "propensities": {
                k: v
                for k, v in p.as_dict().items()
                if k
                in (
                    "video_pack",
                    "data_large_given_video",
                    "family_plan",
                    "home_broadband",
                    "roaming_pack",
                    "intl_call_pack",
                    "music_pack",
                    "cloud_storage",
                    "insurance",
                    "family_trait_share",
                    "traveller_trait_share",
                    "video_trait_share",
                )
            },
            **_affinities(life, last),
        },
        "channels": {
            "bad_channel_id": ref.BAD_CHANNEL_ID,
            "cheapest_channel_id": ref.CHEAPEST_CHANNEL_ID,
            "fake_share_of_bad_channel_adds": p.fake_share_of_bad_channel_adds,
            "fake_usage_factor": p.fake_usage_factor,
            "fake_deactivation": "activation date + clawback_days + 1..10 days",
            "gross_adds_by_channel": channel_adds,
            "cohorts": {
                "form": "channel -> activation month -> [lines live in the month, lines "
                "deactivated in it] for months since activation 0, 1, ...; the true survival "
                "curve is the product of 1 - deactivated / live over these counts (pooled over "
                "the activation months observed), as the channel ROI report estimates it",
                "by_channel": _survival_counts(cohorts),
            },
            "economics": {
                "form": "as-of month -> channel -> true acquisition cost per gross add, ARPU, "
                "survival at the horizon, lifetime value, payback month and ROI: the true "
                "cohorts (with each line's true revenue) observed by that month and the channel "
                "costs up to it, valued by the channel ROI report's engine at its defaults",
                "valuation": asdict(roi.DEFAULT_VALUATION),
                "by_month": channel_economics(cohorts, costs, tl.months),
            },
        },
        "campaign": {
            "campaign_id": campaign_id(tl),
            "control_share": p.control_share,
            "persuadable_share": p.persuadable_share,
            "treatment_hazard_reduction": p.treatment_hazard_reduction,
        },
        "key_accounts": {
            "n_key_accounts": scenario.key_accounts,
            "enterprise_line_share": p.enterprise_line_share,
            "lines_by_customer_last_month": {str(r["customer_id"]): r["lines"] for r in ent},
            "customer_ids": sorted(r["customer_id"] for r in ent),
            "revenue_share_last_month": _rate(revenue["key"] or 0.0, revenue["all"] or 0.0),
            "revenue_definition": "plan fee + value-added products, lines live in the last month",
        },
        "new_product": {
            "product_id": ref.NEW_PRODUCT,
            "product_index": new_idx,
            "launch_month": tl.months[tl.new_product_launch],
            "monthly_take_up": "peak / (1 + exp(-(months_since_launch - midpoint)))",
            "peak_take_up": p.new_product_peak_take_up,
            "midpoint_months": p.new_product_midpoint_months,
            "holders_by_month": {m: adoption.get(m, 0) for m in tl.months},
        },
        "parameters": p.as_dict(),
        "timeline": {
            "new_product_launch_month": tl.months[tl.new_product_launch],
            "campaign_contact_month": (
                tl.months[tl.campaign_contact] if tl.campaign_contact is not None else None
            ),
            "window_months": tl.window_months,
        },
        "regions": region_ids,
        "gross_add_rate_per_month": p.gross_add_rate_per_month,
        "events_per_subscriber_month": p.events_per_subscriber_month,
    }
