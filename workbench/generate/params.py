"""Every planted coefficient of the synthetic operator, in one place so the manifest can list it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.months import MonthRange


@dataclass(frozen=True)
class ChurnHazard:
    """Monthly churn hazard: ``logit(h_M) = intercept + sum(coef * driver)``.

    Drivers are measured on the month before M (complaints, usage drop, bill shock) or on the
    line itself (plan, tenure, contract, home cell, products, family plan, enterprise).
    """

    intercept: float = -5.0
    per_complaint_last_month: float = 0.5
    per_unresolved_complaint_last_month: float = 0.8  # on top of per_complaint
    usage_drop_last_month: float = 2.5  # times (1 - usage_M-1 / usage_M-2), when usage fell
    competitor_share: float = 3.0  # times the line's share of calls/SMS to competitors
    prepaid: float = 0.6
    short_tenure_under_6_months: float = 0.5
    contract_ends_within_60_days: float = 0.9
    home_cell_drop_rate_pct: float = 0.25  # per percentage point of the home cell's drop rate
    bill_shock_last_month: float = 1.0
    per_product_held: float = -0.2
    family_plan: float = -0.5
    enterprise_line: float = -1.0


@dataclass(frozen=True)
class Params:
    """Knobs of the simulation. Shares are of subscribers unless said otherwise."""

    hazard: ChurnHazard = field(default_factory=ChurnHazard)
    gross_add_rate_per_month: float = 0.03  # share of ids that are adds, per month in range
    events_per_subscriber_month: int = 40
    # A usage decline is an episode: from a random month, a decliner's usage falls by the factor
    # each month of the episode, then stays at its lower level. The hazard's usage drop is
    # non-zero only while usage falls, so the churn model has to read it from the change in
    # usage, not from a low level (a decline that never ended made the lightest users the
    # riskiest, and the model read the drop from minutes and SMS counts instead of their change).
    usage_decliner_share: float = 0.3  # lines with one decline episode in the period
    usage_decline_factor_per_month: float = 0.5  # usage kept, each month of the episode
    usage_decline_months: int = 3
    competitor_a_of_competitor_calls: float = 0.6
    poor_cell_share: float = 0.12
    bill_shock_rate: float = 0.05  # postpaid line-months with a shock bill
    complaint_rate_base: float = 0.05  # expected complaints per line-month
    complaint_rate_poor_cell: float = 0.25
    complaint_rate_bill_shock: float = 0.6
    # from the month its usage starts to fall (generator 1.0 had half the decliners at twice the
    # rate: the operator's complaints are as many as before)
    complaint_rate_usage_decline: float = 0.075
    unresolved_share: float = 0.3
    enterprise_line_share: float = 0.06
    subscribers_per_key_account: int = 5000  # key accounts: one per this many, 5..50
    max_key_accounts: int = 50
    fake_share_of_bad_channel_adds: float = 0.6
    fake_usage_factor: float = 0.02
    product_unsubscribe_rate: float = 0.02  # per held product and month
    product_resubscribe_scale: float = 0.03  # monthly take-up = scale * propensity
    family_trait_share: float = 0.18
    traveller_trait_share: float = 0.08
    video_trait_share: float = 0.2
    # product propensities: (with trait or affine product, without)
    video_pack: tuple[float, float] = (0.55, 0.04)
    data_large_given_video: tuple[float, float] = (0.7, 0.12)
    family_plan: tuple[float, float] = (0.6, 0.04)
    home_broadband: tuple[float, float] = (0.55, 0.05)
    roaming_pack: tuple[float, float] = (0.6, 0.02)
    intl_call_pack: tuple[float, float] = (0.5, 0.02)
    music_pack: float = 0.12
    cloud_storage: float = 0.10
    insurance: float = 0.08
    new_product_peak_take_up: float = 0.06  # monthly take-up once adoption has matured
    new_product_midpoint_months: float = 2.0  # months after launch at half the peak
    control_share: float = 0.3
    persuadable_share: float = 0.4
    treatment_hazard_reduction: float = 0.6  # persuadable treated lines: hazard x (1 - this)
    target_hazard_threshold: float = 0.04
    window_months: int = 3
    accept_rate_persuadable: float = 0.45
    accept_rate_other: float = 0.12
    decline_rate: float = 0.3  # of treated lines that did not accept, the share answering no

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Timeline:
    """Where the planted events fall in the month range (indices into ``months``)."""

    months: list[str]
    new_product_launch: int
    campaign_contact: int | None  # None when the range is too short for a campaign
    window_months: int

    @classmethod
    def for_range(cls, months: MonthRange, window_months: int) -> Timeline:
        names = months.months
        n = len(names)
        contact: int | None = None
        window = 0
        if n >= 2:
            contact = min(n // 2, max(1, n - 1 - window_months))
            window = min(window_months, n - 1 - contact)
        return cls(names, max(0, n // 3), contact, window)
