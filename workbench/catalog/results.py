"""ADS result marts: what the subject analyses write for dashboards and target lists.

Each is partitioned by the analysed month (the ``period`` of the run); re-running a subject for
a month replaces that month's partition.
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col

#: reason codes written per scored subscriber (reason_1 .. reason_N)
N_REASONS = 3
RISK_BANDS = ("high", "medium", "low")
RULE_SCOPES = ("overall", "region", "segment")
ALL_SCOPE = "ALL"


def _reasons() -> tuple:
    cols = []
    for i in range(1, N_REASONS + 1):
        cols.append(col(f"reason_{i}", "string", f"feature pushing the risk up most, rank {i}"))
        cols.append(col(f"reason_{i}_contribution", "double", "its tree SHAP value (log-odds)"))
        cols.append(
            col(
                f"reason_{i}_text",
                "string",
                "the reason in Chinese / English: the factor, its value and where it stands among "
                "the lines the model learned from",
            )
        )
    return tuple(cols)


ADS_CHURN_SCORES = register(
    Table(
        name="ads_churn_scores",
        layer="ads",
        grain="one row per subscriber live at the end of the month (the whole active base)",
        description="Churn probability, risk decile and band, reason codes and the model that "
        "scored each subscriber (model_id traces to the bundle saved with the report).",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("region_id", "string"),
            col("segment", "string"),
            col("plan_type", "string"),
            col("is_do_not_contact", "boolean"),
            col("model_id", "string", nullable=False),
            col("churn_probability", "double", "calibrated, over the next horizon_months"),
            col("risk_decile", "int", "1 = riskiest tenth of the training base"),
            col("risk_band", "string", "high | medium | low"),
            *_reasons(),
            col("horizon_months", "int", "label window of the model"),
            MONTH,
        ),
        keys=("subscriber_id", "month"),
        contracts=(
            Unique(("subscriber_id",)),
            NotNull(("subscriber_id", "model_id", "churn_probability", "risk_decile")),
            AcceptedValues("risk_band", RISK_BANDS),
            Expression("probability", "churn_probability between 0 and 1"),
            Expression("decile", "risk_decile between 1 and 10"),
        ),
    )
)

ADS_CHURN_DRIVERS = register(
    Table(
        name="ads_churn_drivers",
        layer="ads",
        grain="one row per model feature and month",
        description="Overall churn drivers of the month's model: mean |tree SHAP| per feature.",
        columns=(
            col("feature", "string", nullable=False),
            col("driver_rank", "int", "1 = strongest"),
            col("mean_abs_contribution", "double"),
            col("mean_contribution", "double"),
            col("share", "double", "of the summed mean |contribution|"),
            col(
                "direction",
                "double",
                "rank correlation of value and contribution: +1 raises churn, -1 protects",
            ),
            col("model_id", "string", nullable=False),
            MONTH,
        ),
        keys=("feature", "month"),
        contracts=(
            Unique(("feature",)),
            NotNull(("feature", "driver_rank", "model_id")),
            Expression("share", "share between 0 and 1"),
            Expression("direction", "direction is null or direction between -1 and 1"),
        ),
    )
)

ADS_BASKET_RULES = register(
    Table(
        name="ads_basket_rules",
        layer="ads",
        grain="one row per rule and scope (overall, or one region or segment) and month",
        description="Association rules of product holdings, metrics exact from counts.",
        columns=(
            col("scope", "string", nullable=False, description="overall | region | segment"),
            col("scope_value", "string", nullable=False, description="ALL, a region or segment"),
            col("rule_id", "string", nullable=False),
            col("antecedent", "string", "held products, sorted, joined by ' + '"),
            col("consequent", "string", "the product offered"),
            col("antecedent_size", "int"),
            col("n_baskets", "bigint", "subscribers in the scope"),
            col("n_antecedent", "bigint"),
            col("n_consequent", "bigint"),
            col("n_both", "bigint"),
            col("support", "double"),
            col("confidence", "double"),
            col("lift", "double"),
            col("leverage", "double"),
            col("conviction", "double", "infinite when the rule always holds"),
            MONTH,
        ),
        keys=("scope", "scope_value", "rule_id", "month"),
        contracts=(
            Unique(("scope", "scope_value", "rule_id")),
            NotNull(("scope", "scope_value", "rule_id", "consequent")),
            AcceptedValues("scope", RULE_SCOPES),
            Expression("support", "support between 0 and 1"),
            Expression("confidence", "confidence between 0 and 1"),
        ),
    )
)

ADS_OFFERS = register(
    Table(
        name="ads_offers",
        layer="ads",
        grain="one row per subscriber, offer rank and month",
        description="Next-best offers: products a subscriber lacks, from the overall rules whose "
        "antecedent they hold, best lift first.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("offer_rank", "int", "1 = best"),
            col("offer_product_id", "string", nullable=False),
            col("rule_id", "string"),
            col("antecedent", "string"),
            col("support", "double"),
            col("confidence", "double"),
            col("lift", "double"),
            col("region_id", "string"),
            col("segment", "string"),
            MONTH,
        ),
        keys=("subscriber_id", "offer_rank", "month"),
        contracts=(
            Unique(("subscriber_id", "offer_rank")),
            Unique(("subscriber_id", "offer_product_id")),
            NotNull(("subscriber_id", "offer_rank", "offer_product_id")),
            Expression("rank", "offer_rank >= 1"),
        ),
    )
)

ADS_CHANNEL_ROI = register(
    Table(
        name="ads_channel_roi",
        layer="ads",
        grain="one row per acquisition channel and month (as of which it is valued)",
        description="Cost per gross add, survival, ARPU, lifetime value, payback and ROI per "
        "channel, with the early-life warning signs (fake activations).",
        columns=(
            col("channel_id", "string", nullable=False),
            col("channel_name_en", "string"),
            col("channel_name_zh", "string"),
            col("channel_type", "string"),
            col("n_gross_adds", "bigint"),
            col("cac_cny", "double", "acquisition cost per gross add"),
            col("arpu_cny", "double", "ARPU of survivors over the horizon"),
            col("survival_at_horizon", "double"),
            col("ltv_cny", "double", "discounted margin over the horizon"),
            col("payback_month", "int", "null: not paid back within the horizon"),
            col("roi", "double", "(ltv - cac) / cac"),
            col("roi_rank", "int", "1 = best ROI"),
            col("share_near_zero_usage", "double"),
            col("share_churned_after_clawback", "double"),
            col("is_warning", "boolean", "early-life signs far above the other channels"),
            col("margin", "double"),
            col("horizon_months", "int"),
            col("annual_discount_rate", "double"),
            MONTH,
        ),
        keys=("channel_id", "month"),
        contracts=(
            Unique(("channel_id",)),
            NotNull(("channel_id", "n_gross_adds")),
            Expression("cac", "cac_cny >= 0"),
        ),
    )
)

ADS_CAMPAIGN_ROI = register(
    Table(
        name="ads_campaign_roi",
        layer="ads",
        grain="one row per campaign contacted up to the month (as of which it is measured)",
        description="Treated vs control response and churn, uplift with confidence intervals, "
        "incremental revenue, cost and ROI per campaign.",
        columns=(
            col("campaign_id", "string", nullable=False),
            col("campaign_name_en", "string"),
            col("campaign_name_zh", "string"),
            col("campaign_type", "string"),
            col("contact_month", "string"),
            col("is_window_complete", "boolean"),
            col("measurement", "string", "complete, or horizon incomplete (months observed)"),
            col("n_treated", "bigint"),
            col("n_control", "bigint"),
            col("response_rate_treated", "double"),
            col("response_rate_control", "double"),
            col("churn_rate_treated", "double"),
            col("churn_rate_control", "double"),
            col("churn_uplift", "double", "control churn rate - treated churn rate"),
            col("churn_uplift_low", "double"),
            col("churn_uplift_high", "double"),
            col("response_uplift", "double"),
            col("response_uplift_low", "double"),
            col("response_uplift_high", "double"),
            col("revenue_per_head_treated_cny", "double"),
            col("revenue_per_head_control_cny", "double"),
            col("incremental_revenue_cny", "double"),
            col("incremental_revenue_low_cny", "double"),
            col("incremental_revenue_high_cny", "double"),
            col("n_accepted", "bigint"),
            col("campaign_cost_cny", "double"),
            col("roi", "double"),
            col("roi_low", "double"),
            col("roi_high", "double"),
            col("confidence", "double", "level of every interval"),
            MONTH,
        ),
        keys=("campaign_id", "month"),
        contracts=(
            Unique(("campaign_id",)),
            NotNull(("campaign_id", "n_treated", "n_control")),
            Expression("interval", "churn_uplift_low <= churn_uplift_high"),
        ),
    )
)
