"""DWS: summaries, above all the subscriber-month wide table."""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col
from workbench.catalog.values import PLAN_TYPES

# Products with their own flag in the wide table (the drivers the churn model and offers use).
KEY_PRODUCTS = {
    "DATA_LARGE": "has_data_large",
    "VIDEO_PACK": "has_video_pack",
    "FAMILY_PLAN": "has_family_plan",
    "HOME_BROADBAND": "has_home_broadband",
    "ROAMING_PACK": "has_roaming_pack",
}

DWS_SUBSCRIBER_MONTH = register(
    Table(
        name="dws_subscriber_month",
        layer="dws",
        grain="one row per subscriber line per month it appears in the CRM snapshot "
        "(activation month to deactivation month)",
        description="The subscriber-month wide table: dimensions, revenue, usage, complaints, "
        "products, quality, status and the next-months churn label.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("customer_id", "bigint"),
            col("customer_type", "string"),
            col("is_enterprise", "boolean"),
            col("region_id", "string"),
            col("plan_id", "string"),
            col("plan_type", "string"),
            col("brand", "string"),
            col("segment", "string"),
            col("channel_id", "string", "acquisition channel"),
            col("device_generation", "string"),
            col("home_cell_id", "string"),
            col("is_do_not_contact", "boolean"),
            col("activation_date", "date"),
            col("activation_month", "string"),
            col("deactivation_date", "date"),
            col("contract_end_date", "date"),
            col("months_to_contract_end", "int", "null without a contract"),
            col("tenure_months", "int", "whole months since the activation month"),
            col("status", "string"),
            col("is_opening", "boolean", "live at the start of the month (activated earlier)"),
            col("is_active", "boolean", "live at the end of the month (not deactivated)"),
            col("is_gross_add", "boolean", "activated this month"),
            col("is_churned_this_month", "boolean", "deactivated this month"),
            col("revenue_cny", "double", "bill total (postpaid) or recharges (prepaid)"),
            col("plan_fee_cny", "double"),
            col("voice_cny", "double"),
            col("sms_cny", "double"),
            col("data_cny", "double"),
            col("vas_cny", "double"),
            col("recharge_cny", "double"),
            col("n_recharges", "bigint"),
            col("arrears_cny", "double"),
            col("n_calls", "bigint"),
            col("mou_min", "double", "voice minutes of use"),
            col("onnet_min", "double"),
            col("offnet_min", "double"),
            col("competitor_a_min", "double"),
            col("competitor_b_min", "double"),
            col("onnet_share", "double", "share of voice minutes on-net; null without calls"),
            col("offnet_share", "double"),
            col("competitor_share", "double", "share of voice minutes to competitor A or B"),
            col("n_sms", "bigint"),
            col("data_mb", "double"),
            col("roaming_min", "double"),
            col("n_active_days", "int", "days with any usage"),
            col("n_complaints", "bigint", "opened this month"),
            col("n_complaints_open", "bigint", "opened this month and open at month end"),
            col("n_products", "bigint", "products held at month end"),
            *(col(flag, "boolean") for flag in KEY_PRODUCTS.values()),
            col("home_cell_drop_rate", "double", "mean daily drop rate of the home cell"),
            col("revenue_prev_cny", "double", "previous month's revenue"),
            col("bill_shock_ratio", "double", "revenue / mean revenue of the previous 3 months"),
            col("mou_change_ratio", "double", "mou / previous month's mou - 1"),
            col("data_change_ratio", "double", "data / previous month's data - 1"),
            col("is_churned_next_month", "boolean", "deactivated in M+1"),
            col("is_churned_within_horizon", "boolean", "deactivated in M+1..M+k"),
            col("is_label_complete", "boolean", "months M+1..M+k all exist in the warehouse"),
            MONTH,
        ),
        keys=("subscriber_id", "month"),
        contracts=(
            Unique(("subscriber_id", "month")),
            NotNull(
                (
                    "subscriber_id",
                    "is_active",
                    "is_churned_this_month",
                    "is_gross_add",
                    "is_opening",
                )
            ),
            AcceptedValues("plan_type", PLAN_TYPES),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
            Expression("usage_non_negative", "mou_min >= 0 and data_mb >= 0 and n_sms >= 0"),
            Expression(
                "shares", "competitor_share between 0 and 1 and onnet_share between 0 and 1"
            ),
            Expression("churned_not_active", "not (is_churned_this_month and is_active)"),
            Expression("tenure_non_negative", "tenure_months >= 0"),
        ),
    )
)

DWS_CHANNEL_MONTH = register(
    Table(
        name="dws_channel_month",
        layer="dws",
        grain="one row per acquisition channel per month",
        description="Gross adds, base, churn, revenue and acquisition cost by channel.",
        columns=(
            col("channel_id", "string", nullable=False),
            col("channel_type", "string"),
            col("n_gross_adds", "bigint"),
            col("n_active", "bigint", "lines acquired by the channel live at month end"),
            col("n_churned", "bigint"),
            col("revenue_cny", "double", "revenue of the lines acquired by the channel"),
            col("commission_cny", "double", "gross adds x commission"),
            col("fixed_cost_cny", "double"),
            col("acquisition_cost_cny", "double", "commission + fixed cost"),
            col("cac_cny", "double", "acquisition cost per gross add; null without adds"),
            MONTH,
        ),
        keys=("channel_id", "month"),
        contracts=(
            Unique(("channel_id", "month")),
            NotNull(("channel_id",)),
            Expression("cost_non_negative", "acquisition_cost_cny >= 0"),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
        ),
    )
)

DWS_PRODUCT_MONTH = register(
    Table(
        name="dws_product_month",
        layer="dws",
        grain="one row per product per month",
        description="Holders, new subscriptions, cancellations and penetration by product.",
        columns=(
            col("product_id", "string", nullable=False),
            col("category", "string"),
            col("n_holders", "bigint", "live lines holding it at month end"),
            col("n_new", "bigint", "subscribed during the month and held at month end"),
            col("n_unsubscribed", "bigint", "unsubscribe orders in the month"),
            col("n_active_base", "bigint", "live lines at month end"),
            col("penetration", "double", "n_holders / n_active_base"),
            col("fee_revenue_cny", "double", "n_holders x monthly fee"),
            MONTH,
        ),
        keys=("product_id", "month"),
        contracts=(
            Unique(("product_id", "month")),
            NotNull(("product_id",)),
            Expression("penetration_share", "penetration between 0 and 1"),
        ),
    )
)

DWS_REGION_MONTH = register(
    Table(
        name="dws_region_month",
        layer="dws",
        grain="one row per region per month",
        description="Base, movements, revenue, usage, complaints and network quality by region.",
        columns=(
            col("region_id", "string", nullable=False),
            col("n_active", "bigint"),
            col("n_gross_adds", "bigint"),
            col("n_churned", "bigint"),
            col("revenue_cny", "double"),
            col("mou_min", "double"),
            col("data_mb", "double"),
            col("n_complaints", "bigint"),
            col("mean_drop_rate", "double", "mean daily drop rate over the region's cells"),
            col("mean_throughput_mbps", "double"),
            MONTH,
        ),
        keys=("region_id", "month"),
        contracts=(
            Unique(
                ("region_id", "month"),
                guaranteed_by="to_region_month groups status and quality by region_id, month",
            ),
            NotNull(("region_id",)),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
        ),
    )
)
