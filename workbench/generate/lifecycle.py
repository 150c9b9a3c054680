"""The latent life of every subscriber line, simulated from its id alone.

:func:`simulate_lifecycles` is pure and vectorised: given a batch of ids it returns one row per
line and month the line is live, with its traits (plan, channel, region, home cell ...) and its
monthly state (usage level, complaints, products held, bill shock, churn hazard, campaign
assignment ...). Every draw is keyed by (seed, stream, id, month), so a line's history does not
depend on which batch, partition or machine computes it. The table generators derive their rows
from this frame; the manifest's truth numbers are aggregates of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from workbench.generate import reference as ref
from workbench.generate.hashing import normal, uniform
from workbench.generate.params import Params, Timeline
from workbench.months import month_end, month_index, month_start

EPOCH = date(1970, 1, 1).toordinal()
DAYS_PER_MONTH = 30.4375
NO_DAY = -1
STATUSES = ("active", "suspended", "deactivated")
RESPONSES = ("none", "accepted", "declined")

# (column, Spark type) of the frame simulate_lifecycles returns, in order.
LIFECYCLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("subscriber_id", "bigint"),
    ("month_idx", "int"),
    ("month", "string"),
    ("month_start_day", "int"),
    ("days_in_month", "int"),
    ("customer_id", "bigint"),
    ("is_enterprise", "boolean"),
    ("region_idx", "int"),
    ("plan_idx", "int"),
    ("plan_type_idx", "int"),
    ("channel_idx", "int"),
    ("segment_idx", "int"),
    ("activation_day", "int"),
    ("contract_end_day", "int"),
    ("deactivation_day", "int"),
    ("device_idx", "int"),
    ("birth_year", "int"),
    ("gender_idx", "int"),
    ("is_do_not_contact", "boolean"),
    ("home_cell_idx", "int"),
    ("region_cell_offset", "int"),
    ("region_cell_count", "int"),
    ("msisdn_prefix", "int"),
    ("msisdn_suffix", "bigint"),
    ("status_idx", "int"),
    ("live_from", "int"),
    ("live_to", "int"),
    ("is_gross_add", "boolean"),
    ("is_churned", "boolean"),
    ("usage_level", "double"),
    ("usage_factor", "double"),
    ("n_events", "int"),
    ("competitor_share", "double"),
    ("is_traveller", "boolean"),
    ("is_fake", "boolean"),
    ("is_poor_cell", "boolean"),
    ("n_complaints", "int"),
    ("n_unresolved", "int"),
    ("is_bill_shock", "boolean"),
    ("products_mask", "int"),
    ("subscribe_mask", "int"),
    ("unsubscribe_mask", "int"),
    ("vas_cny", "double"),
    ("n_recharges", "int"),
    ("hazard", "double"),
    ("is_targeted", "boolean"),
    ("is_control", "boolean"),
    ("is_persuadable", "boolean"),
    ("response_idx", "int"),
    ("churn_if_treated", "int"),
    ("churn_if_untreated", "int"),
)
LIFECYCLE_DDL = ", ".join(f"{name} {type_}" for name, type_ in LIFECYCLE_COLUMNS)


@dataclass(frozen=True)
class Scenario:
    """Everything a batch needs besides its ids (picklable, shipped to the workers)."""

    seed: int
    subscribers: int
    timeline: Timeline
    params: Params

    @property
    def key_accounts(self) -> int:
        per = self.subscribers // self.params.subscribers_per_key_account
        return max(5, min(self.params.max_key_accounts, per))


def _choice(u: np.ndarray, weights: np.ndarray | list[float]) -> np.ndarray:
    """Index drawn from ``weights`` by the uniform ``u`` (inverse CDF)."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(cdf) - 1)


def _epoch_day(d: date) -> int:
    return d.toordinal() - EPOCH


def _bits(mask: np.ndarray, k: int) -> np.ndarray:
    return ((mask >> k) & 1).astype(bool)


def simulate_lifecycles(ids: np.ndarray, scenario: Scenario) -> pd.DataFrame:
    """Simulate the lines ``ids`` over the scenario's months.

    Args:
        ids: subscriber ids (1..subscribers), any subset in any order.
        scenario: seed, size, timeline and planted parameters.

    Returns:
        One row per line and month it is live (from activation to deactivation month),
        with the columns of :data:`LIFECYCLE_COLUMNS`.
    """
    ids = np.asarray(ids, dtype=np.int64)
    s, p, tl = scenario.seed, scenario.params, scenario.timeline
    hz = p.hazard
    n, n_months = len(ids), len(tl.months)
    cells = ref.build_cells(s, p.poor_cell_share)
    starts = np.array([_epoch_day(month_start(m)) for m in tl.months])
    dims = np.array([month_end(m).day for m in tl.months])
    abs_month = np.array([month_index(m) for m in tl.months])

    def u(stream: str, *keys: np.ndarray | int) -> np.ndarray:
        return uniform(s, stream, ids, *keys)

    # --- traits -------------------------------------------------------------------------
    p_add = min(0.6, p.gross_add_rate_per_month * n_months)
    is_add = u("add") < p_add
    add_month = np.minimum((u("add_month") * n_months).astype(int), n_months - 1)
    add_day = starts[add_month] + (u("add_day") * dims[add_month]).astype(int)
    base_day = starts[0] - 30 - (u("tenure") ** 1.3 * 3000).astype(int)
    activation_day = np.where(is_add, add_day, base_day)
    first_month = np.where(is_add, add_month, 0)

    is_ent = u("enterprise") < p.enterprise_line_share
    key_account = (scenario.key_accounts * u("key_account") ** 2).astype(np.int64)
    customer_id = np.where(is_ent, 100_000 + key_account, 10_000_000 + ids)

    channel_weights = np.array([c.add_weight for c in ref.CHANNELS])
    ent_ch = ref.CHANNEL_IDS.index(ref.ENTERPRISE_CHANNEL_ID)
    bad_ch = ref.CHANNEL_IDS.index(ref.BAD_CHANNEL_ID)
    retail_weights = channel_weights.copy()
    retail_weights[ent_ch] = 0.0
    channel = np.where(is_ent, ent_ch, _choice(u("channel"), retail_weights))
    is_fake = is_add & (channel == bad_ch) & (u("fake") < p.fake_share_of_bad_channel_adds)

    region_ids = [r[0] for r in ref.REGIONS]
    channel_region = np.array(
        [region_ids.index(c.region_id) if c.region_id else -1 for c in ref.CHANNELS]
    )
    region = np.where(
        channel_region[channel] >= 0,
        channel_region[channel],
        _choice(u("region"), [r[4] for r in ref.REGIONS]),
    )

    plan_ids = [pl.plan_id for pl in ref.PLANS]
    retail_plan = _choice(u("plan"), [0.15, 0.18, 0.15, 0.12, 0.16, 0.12, 0.08, 0.04])
    ent_plan = 5 + _choice(u("plan"), [0.3, 0.45, 0.25])
    plan = np.where(is_ent, ent_plan, retail_plan)
    plan = np.where(is_fake, plan_ids.index("EO08"), plan)
    plan_type = np.array([ref.PLAN_TYPES.index(pl.plan_type) for pl in ref.PLANS])[plan]
    is_prepaid = plan_type == 0
    is_mzone = np.array([pl.brand_en == "M-Zone" for pl in ref.PLANS])[plan]

    young = is_mzone | (u("young") < 0.2)
    birth_year = np.where(
        young, 1998 + (u("birth") * 10).astype(int), 1950 + (u("birth") * 48).astype(int)
    )
    segment = np.where(
        is_ent, 2, np.where(plan_type == 2, 3, np.where(young, 1, 0))
    )  # mass | youth | business | high_value
    gender = (u("gender") < 0.5).astype(int)
    p5g = np.where(plan_type == 2, 0.8, 0.45)
    u_dev = u("device")
    device = np.where(u_dev < 0.06, 0, np.where(u_dev < 1 - p5g, 1, 2))
    is_dnc = u("dnc") < 0.06
    home_cell = cells.region_offset[region] + (u("home_cell") * cells.region_count[region]).astype(
        int
    )
    home_drop_pct = cells.base_drop_rate[home_cell] * 100.0
    is_poor_cell = cells.is_poor[home_cell]
    msisdn_prefix = np.array(ref.MSISDN_PREFIXES)[
        (u("msisdn") * len(ref.MSISDN_PREFIXES)).astype(int)
    ]
    msisdn_suffix = (ids * 48_271 + 12_345_678) % 100_000_000

    has_contract = (plan_type > 0) & (u("contract") < 0.7)
    contract_len = np.where(u("contract_len") < 0.5, 12, 24) * DAYS_PER_MONTH
    contract_end = activation_day + contract_len
    renewals = np.maximum(0, np.ceil((starts[0] - 31 - contract_end) / contract_len))
    contract_end = np.where(has_contract, contract_end + renewals * contract_len, NO_DAY).astype(
        int
    )

    competitor_share = 0.6 * u("competitor") ** 2
    level = np.exp(0.5 * normal(s, "level", ids) - 0.125)
    level = np.where(is_ent, 1.5 * level, level)
    level = np.where(is_fake, p.fake_usage_factor * level, level)
    is_decliner = u("decliner") < p.usage_decliner_share
    decline_start = (u("decline_start") * (n_months + 2)).astype(int) - 1

    def usage_factor(m: int) -> np.ndarray:
        steps = np.clip(m - decline_start, 0, p.usage_decline_months)
        return np.where(is_decliner, p.usage_decline_factor_per_month**steps, 1.0)

    is_family = u("family") < p.family_trait_share
    is_traveller = u("traveller") < p.traveller_trait_share
    is_video = u("video") < p.video_trait_share
    is_persuadable = u("persuadable") < p.persuadable_share
    is_control = u("control") < p.control_share
    fake_deact = activation_day + 90 + 1 + (u("fake_days") * 10).astype(int)

    # --- products ---------------------------------------------------------------------
    k = ref.PRODUCT_INDEX
    n_products = len(ref.PRODUCTS)
    fees = np.array([pr.monthly_fee_cny for pr in ref.PRODUCTS])

    def propensities(mask: np.ndarray) -> list[np.ndarray]:
        video_held = _bits(mask, k["VIDEO_PACK"])
        pr = [np.zeros(n) for _ in range(n_products)]
        pr[k["VIDEO_PACK"]] = np.where(is_video, *p.video_pack)
        pr[k["DATA_LARGE"]] = np.where(video_held, *p.data_large_given_video)
        pr[k["FAMILY_PLAN"]] = np.where(is_family, *p.family_plan)
        pr[k["HOME_BROADBAND"]] = np.where(is_family, *p.home_broadband)
        pr[k["ROAMING_PACK"]] = np.where(is_traveller, *p.roaming_pack)
        pr[k["INTL_CALL_PACK"]] = np.where(is_traveller, *p.intl_call_pack)
        pr[k["MUSIC_PACK"]] = np.full(n, p.music_pack)
        pr[k["CLOUD_STORAGE"]] = np.full(n, p.cloud_storage)
        pr[k["INSURANCE"]] = np.full(n, p.insurance)
        return pr

    initial = np.zeros(n, dtype=np.int64)
    order = [k["VIDEO_PACK"], k["DATA_LARGE"]] + [
        i
        for i in range(n_products)
        if i not in (k["VIDEO_PACK"], k["DATA_LARGE"], k[ref.NEW_PRODUCT])
    ]
    for i in order:  # video before data: the large data pack follows the video pack
        take = (u("product_init", i) < propensities(initial)[i]) & ~is_fake
        initial |= take.astype(np.int64) << i
    mask = np.where(first_month == 0, initial, 0)

    # --- campaign responses (only read for treated, targeted lines) ---------------------
    u_resp = u("response")
    accept_rate = np.where(is_persuadable, p.accept_rate_persuadable, p.accept_rate_other)
    response = np.where(
        u_resp < accept_rate,
        1,
        np.where(u_resp < accept_rate + (1 - accept_rate) * p.decline_rate, 2, 0),
    )

    # --- months -----------------------------------------------------------------------
    big = np.iinfo(np.int32).max
    deact0 = np.full(n, big, dtype=np.int64)  # potential outcome without treatment
    deact1 = np.full(n, big, dtype=np.int64)  # ... and with it (differs only for targets)
    targeted = np.zeros(n, dtype=bool)
    churn0 = np.zeros(n, dtype=int)
    churn1 = np.zeros(n, dtype=int)
    contact, window = tl.campaign_contact, tl.window_months
    frames: list[pd.DataFrame] = []
    row_index: list[np.ndarray] = []

    def complaints(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shock = (plan_type > 0) & (uniform(s, "shock", ids, abs_month_of(m)) < p.bill_shock_rate)
        # from the month its usage starts to fall, a decliner complains more (and goes on after
        # the decline: with complaints during the decline only, unresolved complaints fell under
        # the share of the churn model's attention the demo's drivers' rows read, bench/NOTES.md)
        declining = is_decliner & (m > decline_start)
        rate = (
            p.complaint_rate_base
            + p.complaint_rate_poor_cell * is_poor_cell
            + p.complaint_rate_bill_shock * shock
            + p.complaint_rate_usage_decline * declining
        )
        count = sum(
            (uniform(s, "complaint", ids, abs_month_of(m), j) < rate / 3).astype(int)
            for j in range(3)
        )
        unresolved = sum(
            (
                (j < count)
                & (uniform(s, "unresolved", ids, abs_month_of(m), j) < p.unresolved_share)
            ).astype(int)
            for j in range(3)
        )
        return count, unresolved, shock

    def abs_month_of(m: int) -> int:
        return int(abs_month[0]) + m

    prev_complaints, prev_unresolved, prev_shock = complaints(-1)
    for m in range(n_months):
        start, dim = int(starts[m]), int(dims[m])
        end = start + dim - 1
        treated = targeted & ~is_control
        deact = np.where(treated, deact1, deact0)
        live_at_start = (activation_day < start) & (deact >= start)
        activated_now = (activation_day >= start) & (activation_day <= end)

        # Hazard for month m from the state at the end of m-1.
        tenure_months = (start - activation_day) / DAYS_PER_MONTH
        f_prev, f_prev2 = usage_factor(m - 1), usage_factor(m - 2)
        usage_drop = np.maximum(0.0, 1.0 - f_prev / f_prev2)
        held = np.array([_bits(mask, i) for i in range(n_products)])
        logit = (
            hz.intercept
            + hz.per_complaint_last_month * prev_complaints
            + hz.per_unresolved_complaint_last_month * prev_unresolved
            + hz.usage_drop_last_month * usage_drop
            + hz.competitor_share * competitor_share
            + hz.prepaid * is_prepaid
            + hz.short_tenure_under_6_months * (tenure_months < 6)
            + hz.contract_ends_within_60_days
            * ((contract_end >= start) & (contract_end - start <= 60))
            + hz.home_cell_drop_rate_pct * home_drop_pct
            + hz.bill_shock_last_month * prev_shock
            + hz.per_product_held * held.sum(axis=0)
            + hz.family_plan * held[k["FAMILY_PLAN"]]
            + hz.enterprise_line * is_ent
        )
        hazard = 1.0 / (1.0 + np.exp(-logit))

        if contact is not None and m == contact + 1:
            # At-risk lines live at the end of the contact month, reachable by marketing.
            targeted = live_at_start & (hazard >= p.target_hazard_threshold) & ~is_dnc
            treated = targeted & ~is_control
        in_window = contact is not None and contact < m <= contact + window
        hazard1 = np.where(
            targeted & is_persuadable & in_window,
            hazard * (1.0 - p.treatment_hazard_reduction),
            hazard,
        )
        u_churn = uniform(s, "churn", ids, abs_month_of(m))
        churn_day = start + (uniform(s, "churn_day", ids, abs_month_of(m)) * dim).astype(int)
        for deact_b, h_b, churn_b in ((deact0, hazard, churn0), (deact1, hazard1, churn1)):
            alive_b = (activation_day < start) & (deact_b >= start)
            hit = alive_b & ~is_fake & (u_churn < h_b)
            fake_hit = alive_b & is_fake & (fake_deact >= start) & (fake_deact <= end)
            deact_b[:] = np.where(hit, churn_day, np.where(fake_hit, fake_deact, deact_b))
            if in_window:
                churn_b |= (hit | fake_hit).astype(int)
        deact = np.where(treated, deact1, deact0)
        live = live_at_start | activated_now
        churned = live & (deact >= start) & (deact <= end)

        # Products: initial holdings on activation (or, for the base, in the first month),
        # then monthly take-up and drop-off; orders record every change.
        mask_before = mask.copy()
        fresh = live & (activated_now | ((m == 0) & (first_month == 0)))
        mask = np.where(fresh, initial, mask)
        settled = live_at_start & ~is_fake & ~fresh
        pr = propensities(mask)
        take_up_new = p.new_product_peak_take_up / (
            1.0 + np.exp(-(m - tl.new_product_launch - p.new_product_midpoint_months))
        )
        pr[k[ref.NEW_PRODUCT]] = np.full(n, take_up_new if m >= tl.new_product_launch else 0.0)
        for i in range(n_products):
            held_i = _bits(mask, i)
            draw = uniform(s, "product_move", ids, abs_month_of(m), i)
            drop = settled & held_i & (draw < p.product_unsubscribe_rate)
            scale = 1.0 if i == k[ref.NEW_PRODUCT] else p.product_resubscribe_scale
            add = settled & ~held_i & (draw < scale * pr[i])
            mask = np.where(drop, mask & ~(1 << i), np.where(add, mask | (1 << i), mask))
        subscribe_mask = np.where(fresh, initial, np.where(settled, mask & ~mask_before, 0))
        unsubscribe_mask = np.where(settled, mask_before & ~mask, 0)

        comp, unres, shock = complaints(m)
        live_from = np.where(activated_now, activation_day - start + 1, 1)
        live_to = np.where(churned, deact - start + 1, dim)
        live_share = (live_to - live_from + 1) / dim
        f_now = usage_factor(m)
        noise = 0.8 + 0.4 * uniform(s, "events", ids, abs_month_of(m))
        n_events = np.rint(p.events_per_subscriber_month * level * f_now * live_share * noise)
        recharges = np.where(
            is_fake,
            activated_now.astype(int),
            1
            + np.minimum(3, (level * uniform(s, "recharges", ids, abs_month_of(m)) * 2.5)).astype(
                int
            ),
        )
        recharges = np.where(is_prepaid, recharges, 0)
        status = np.where(
            churned, 2, np.where(uniform(s, "suspended", ids, abs_month_of(m)) < 0.015, 1, 0)
        )
        vas = (np.array([_bits(mask, i) for i in range(n_products)]) * fees[:, None]).sum(axis=0)

        sel = live
        row_index.append(np.nonzero(sel)[0])
        frames.append(
            pd.DataFrame(
                {
                    "subscriber_id": ids[sel],
                    "month_idx": np.full(sel.sum(), m, dtype=np.int32),
                    "month": tl.months[m],
                    "month_start_day": np.int32(start),
                    "days_in_month": np.int32(dim),
                    "customer_id": customer_id[sel],
                    "is_enterprise": is_ent[sel],
                    "region_idx": region[sel],
                    "plan_idx": plan[sel],
                    "plan_type_idx": plan_type[sel],
                    "channel_idx": channel[sel],
                    "segment_idx": segment[sel],
                    "activation_day": activation_day[sel],
                    "contract_end_day": contract_end[sel],
                    "deactivation_day": np.where(churned, deact, NO_DAY)[sel],
                    "device_idx": device[sel],
                    "birth_year": birth_year[sel],
                    "gender_idx": gender[sel],
                    "is_do_not_contact": is_dnc[sel],
                    "home_cell_idx": home_cell[sel],
                    "region_cell_offset": cells.region_offset[region][sel],
                    "region_cell_count": cells.region_count[region][sel],
                    "msisdn_prefix": msisdn_prefix[sel],
                    "msisdn_suffix": msisdn_suffix[sel],
                    "status_idx": status[sel],
                    "live_from": live_from[sel],
                    "live_to": live_to[sel],
                    "is_gross_add": activated_now[sel],
                    "is_churned": churned[sel],
                    "usage_level": level[sel],
                    "usage_factor": np.broadcast_to(f_now, (n,))[sel],
                    "n_events": n_events[sel],
                    "competitor_share": competitor_share[sel],
                    "is_traveller": is_traveller[sel],
                    "is_fake": is_fake[sel],
                    "is_poor_cell": is_poor_cell[sel],
                    "n_complaints": comp[sel],
                    "n_unresolved": unres[sel],
                    "is_bill_shock": shock[sel],
                    "products_mask": mask[sel],
                    "subscribe_mask": subscribe_mask[sel],
                    "unsubscribe_mask": unsubscribe_mask[sel],
                    "vas_cny": vas[sel],
                    "n_recharges": recharges[sel],
                    "hazard": np.where(treated, hazard1, hazard)[sel],
                    "is_targeted": targeted[sel],
                    "is_control": is_control[sel],
                    "is_persuadable": is_persuadable[sel],
                    "response_idx": response[sel],
                    "churn_if_treated": churn1[sel],
                    "churn_if_untreated": churn0[sel],
                }
            )
        )
        prev_complaints, prev_unresolved, prev_shock = comp, unres, shock

    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # Campaign facts are known only once the window has passed: spread them to every row.
    if len(out):
        idx = np.concatenate(row_index)
        out["is_targeted"] = targeted[idx]
        out["churn_if_treated"] = churn1[idx]
        out["churn_if_untreated"] = churn0[idx]
    return _typed(out)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    casts = {"int": "int32", "bigint": "int64", "double": "float64", "boolean": "bool"}
    columns = [name for name, _ in LIFECYCLE_COLUMNS]
    if frame.empty:
        return pd.DataFrame(
            {name: pd.Series(dtype=casts.get(t, "object")) for name, t in LIFECYCLE_COLUMNS}
        )
    return frame[columns].astype({n: casts[t] for n, t in LIFECYCLE_COLUMNS if t in casts})
