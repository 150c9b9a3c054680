"""DWD: cleaned facts and conformed dimensions.

Dimensions are small and rebuilt whole on every build (``partition_by=()``); they carry the
latest attributes, except ``dwd_dim_subscriber`` which keeps the history (SCD type 2, one row
per subscriber and validity period). Facts are partitioned by month like their ODS sources.
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col
from workbench.catalog.values import PLAN_TYPES

DWD_DIM_REGION = register(
    Table(
        name="dwd_dim_region",
        layer="dwd",
        grain="one row per region (latest extract)",
        description="City regions with English and Chinese names.",
        columns=(
            col("region_id", "string", nullable=False),
            col("region_name_en", "string"),
            col("region_name_zh", "string"),
            col("province_en", "string"),
            col("province_zh", "string"),
            col("city_tier", "int"),
        ),
        keys=("region_id",),
        partition_by=(),
        contracts=(
            Unique(("region_id",), guaranteed_by="latest_snapshot: one row per region_id"),
            NotNull(("region_id",)),
        ),
    )
)

DWD_DIM_PLAN = register(
    Table(
        name="dwd_dim_plan",
        layer="dwd",
        grain="one row per tariff plan (latest extract)",
        description="Tariff plans with brand, plan type and allowances.",
        columns=(
            col("plan_id", "string", nullable=False),
            col("plan_name_en", "string"),
            col("plan_name_zh", "string"),
            col("plan_type", "string"),
            col("brand_en", "string"),
            col("brand_zh", "string"),
            col("monthly_fee_cny", "double"),
            col("included_data_mb", "double"),
            col("included_voice_min", "double"),
        ),
        keys=("plan_id",),
        partition_by=(),
        contracts=(
            Unique(("plan_id",), guaranteed_by="latest_snapshot: one row per plan_id"),
            NotNull(("plan_id", "plan_type")),
            AcceptedValues("plan_type", PLAN_TYPES),
            Expression("fee_non_negative", "monthly_fee_cny >= 0"),
        ),
    )
)

DWD_DIM_PRODUCT = register(
    Table(
        name="dwd_dim_product",
        layer="dwd",
        grain="one row per value-added product or bundle (latest extract)",
        description="Value-added products and bundles.",
        columns=(
            col("product_id", "string", nullable=False),
            col("product_name_en", "string"),
            col("product_name_zh", "string"),
            col("category", "string"),
            col("monthly_fee_cny", "double"),
            col("launch_date", "date"),
            col("launch_month", "string", "YYYY-MM of launch_date"),
        ),
        keys=("product_id",),
        partition_by=(),
        contracts=(
            Unique(("product_id",), guaranteed_by="latest_snapshot: one row per product_id"),
            NotNull(("product_id",)),
            Expression("fee_non_negative", "monthly_fee_cny >= 0"),
        ),
    )
)

DWD_DIM_CHANNEL = register(
    Table(
        name="dwd_dim_channel",
        layer="dwd",
        grain="one row per sales channel (latest extract), with its latest cost terms",
        description="Sales and acquisition channels and what they cost.",
        columns=(
            col("channel_id", "string", nullable=False),
            col("channel_name_en", "string"),
            col("channel_name_zh", "string"),
            col("channel_type", "string"),
            col("region_id", "string", "home region; null for province-wide channels"),
            col("commission_per_gross_add_cny", "double", "latest month's commission"),
            col("fixed_cost_cny", "double", "latest month's fixed cost"),
            col("clawback_days", "int"),
        ),
        keys=("channel_id",),
        partition_by=(),
        contracts=(
            Unique(
                ("channel_id",),
                guaranteed_by="latest_snapshot of channels and of costs, joined on channel_id",
            ),
            NotNull(("channel_id",)),
            AcceptedValues(
                "channel_type",
                (
                    "own_store",
                    "franchise_agent",
                    "online_app",
                    "telesales",
                    "ecommerce",
                    "enterprise_direct",
                ),
            ),
            Expression("cost_non_negative", "commission_per_gross_add_cny >= 0"),
        ),
    )
)

DWD_DIM_CAMPAIGN = register(
    Table(
        name="dwd_dim_campaign",
        layer="dwd",
        grain="one row per campaign (latest extract)",
        description="Marketing campaigns and their costs.",
        columns=(
            col("campaign_id", "string", nullable=False),
            col("campaign_name_en", "string"),
            col("campaign_name_zh", "string"),
            col("campaign_type", "string"),
            col("offer_product_id", "string"),
            col("start_date", "date"),
            col("end_date", "date"),
            col("cost_per_contact_cny", "double"),
            col("offer_cost_cny", "double"),
            col("control_share", "double"),
        ),
        keys=("campaign_id",),
        partition_by=(),
        contracts=(
            Unique(("campaign_id",)),
            NotNull(("campaign_id",)),
            Expression("control_share_range", "control_share between 0 and 1"),
        ),
    )
)

DWD_DIM_CALENDAR = register(
    Table(
        name="dwd_dim_calendar",
        layer="dwd",
        grain="one row per day of the months in the warehouse",
        description="Calendar days with month, quarter and weekday attributes.",
        columns=(
            col("calendar_date", "date", nullable=False),
            col("calendar_month", "string", "YYYY-MM"),
            col("year", "int"),
            col("quarter", "int"),
            col("day_of_month", "int"),
            col("day_of_week", "int", "1 = Monday ... 7 = Sunday"),
            col("is_weekend", "boolean"),
            col("is_month_end", "boolean"),
            col("days_in_month", "int"),
        ),
        keys=("calendar_date",),
        partition_by=(),
        contracts=(Unique(("calendar_date",)), NotNull(("calendar_date", "calendar_month"))),
    )
)

# Attributes whose change opens a new version of a subscriber (SCD type 2).
SUBSCRIBER_TRACKED = (
    "msisdn",
    "customer_id",
    "customer_type",
    "region_id",
    "plan_id",
    "plan_type",
    "brand",
    "segment",
    "channel_id",
    "activation_date",
    "deactivation_date",
    "contract_end_date",
    "device_generation",
    "birth_year",
    "gender",
    "is_do_not_contact",
    "status",
    "home_cell_id",
)

DWD_DIM_SUBSCRIBER = register(
    Table(
        name="dwd_dim_subscriber",
        layer="dwd",
        grain="one row per subscriber line and validity period (SCD type 2 over the monthly "
        "CRM snapshots): a new row starts when a tracked attribute changes or after a gap",
        description="Subscriber history: plan, segment, region, status ... as of each month.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col(
                "valid_from_month", "string", "first snapshot month of this version", nullable=False
            ),
            col("valid_to_month", "string", "last snapshot month of this version", nullable=False),
            col("is_current", "boolean", "the version of the latest snapshot month"),
            col("msisdn", "string"),
            col("customer_id", "bigint"),
            col("customer_type", "string"),
            col("region_id", "string"),
            col("plan_id", "string"),
            col("plan_type", "string"),
            col("brand", "string"),
            col("segment", "string"),
            col("channel_id", "string"),
            col("activation_date", "date"),
            col("deactivation_date", "date"),
            col("contract_end_date", "date"),
            col("device_generation", "string"),
            col("birth_year", "int"),
            col("gender", "string"),
            col("is_do_not_contact", "boolean"),
            col("status", "string"),
            col("home_cell_id", "string"),
        ),
        keys=("subscriber_id", "valid_from_month"),
        partition_by=(),
        contracts=(
            Unique(("subscriber_id", "valid_from_month")),
            NotNull(("subscriber_id", "valid_from_month", "valid_to_month")),
            AcceptedValues("plan_type", PLAN_TYPES),
            AcceptedValues("status", ("active", "suspended", "deactivated")),
            Expression("valid_range", "valid_from_month <= valid_to_month"),
        ),
    )
)

DWD_FCT_USAGE_DAILY = register(
    Table(
        name="dwd_fct_usage_daily",
        layer="dwd",
        grain="one row per subscriber and day with any usage",
        description="Usage summarised per subscriber and day: the one pass over the CDRs.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("usage_date", "date", nullable=False),
            col("n_calls", "bigint"),
            col("voice_min", "double", "all voice minutes"),
            col("onnet_min", "double", "voice minutes to own-network numbers"),
            col("offnet_min", "double", "voice minutes to other operators"),
            col("competitor_a_min", "double"),
            col("competitor_b_min", "double"),
            col("n_sms", "bigint"),
            col("n_data_sessions", "bigint"),
            col("data_mb", "double"),
            col("n_roaming_events", "bigint"),
            col("roaming_min", "double"),
            col("roaming_data_mb", "double"),
            MONTH,
        ),
        keys=("subscriber_id", "usage_date", "month"),
        contracts=(
            Unique(
                ("subscriber_id", "usage_date", "month"),
                guaranteed_by="summarise_usage_daily groups by these columns",
            ),
            NotNull(("subscriber_id", "usage_date")),
            Expression(
                "voice_non_negative", "voice_min >= 0 and onnet_min >= 0 and offnet_min >= 0"
            ),
            Expression(
                "offnet_covers_competitors",
                "offnet_min >= competitor_a_min + competitor_b_min - 1e-6",
            ),
            Expression("data_non_negative", "data_mb >= 0"),
        ),
    )
)

DWD_FCT_BILL = register(
    Table(
        name="dwd_fct_bill",
        layer="dwd",
        grain="one row per postpaid bill",
        description="Postpaid bills by revenue category, with payment and arrears.",
        columns=(
            col("bill_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("plan_fee_cny", "double"),
            col("voice_cny", "double"),
            col("sms_cny", "double"),
            col("data_cny", "double"),
            col("vas_cny", "double"),
            col("total_cny", "double"),
            col("paid_cny", "double"),
            col("arrears_cny", "double", "amount due and not paid (never negative)"),
            col("is_paid", "boolean"),
            col("issued_at", "timestamp"),
            col("paid_at", "timestamp"),
            MONTH,
        ),
        keys=("bill_id",),
        contracts=(
            Unique(("bill_id",), guaranteed_by="row for row from ODS, unique per key and month"),
            NotNull(("bill_id", "subscriber_id")),
            Expression("total_non_negative", "total_cny >= 0"),
            Expression("arrears_non_negative", "arrears_cny >= 0"),
        ),
    )
)

DWD_FCT_RECHARGE = register(
    Table(
        name="dwd_fct_recharge",
        layer="dwd",
        grain="one row per prepaid top-up",
        description="Prepaid recharges.",
        columns=(
            col("recharge_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("recharged_at", "timestamp"),
            col("recharge_date", "date"),
            col("amount_cny", "double"),
            col("payment_method", "string"),
            col("channel_id", "string"),
            MONTH,
        ),
        keys=("recharge_id",),
        contracts=(
            Unique(
                ("recharge_id",), guaranteed_by="row for row from ODS, unique per key and month"
            ),
            NotNull(("recharge_id", "subscriber_id")),
            Expression("amount_non_negative", "amount_cny >= 0"),
        ),
    )
)

DWD_FCT_PRODUCT_ORDER = register(
    Table(
        name="dwd_fct_product_order",
        layer="dwd",
        grain="one row per subscribe or unsubscribe order",
        description="Orders of value-added products and bundles.",
        columns=(
            col("order_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("product_id", "string", nullable=False),
            col("action", "string"),
            col("is_subscribe", "boolean"),
            col("ordered_at", "timestamp"),
            col("order_date", "date"),
            col("channel_id", "string"),
            MONTH,
        ),
        keys=("order_id",),
        contracts=(
            Unique(("order_id",), guaranteed_by="row for row from ODS, unique per key and month"),
            NotNull(("order_id", "subscriber_id", "product_id")),
            AcceptedValues("action", ("subscribe", "unsubscribe")),
        ),
    )
)

DWD_FCT_PRODUCT_HOLDING = register(
    Table(
        name="dwd_fct_product_holding",
        layer="dwd",
        grain="one row per subscriber, product and month the product is held at month end",
        description="Product holdings at month end, replayed from every order up to that month.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("product_id", "string", nullable=False),
            col("subscribed_at", "timestamp", "the order that makes it held"),
            col("is_new", "boolean", "subscribed during this month"),
            MONTH,
        ),
        keys=("subscriber_id", "product_id", "month"),
        contracts=(
            Unique(
                ("subscriber_id", "product_id", "month"),
                guaranteed_by="replay_holdings groups by subscriber, product, month",
            ),
            NotNull(("subscriber_id", "product_id")),
        ),
    )
)

DWD_FCT_COMPLAINT = register(
    Table(
        name="dwd_fct_complaint",
        layer="dwd",
        grain="one row per complaint ticket",
        description="Complaints with their resolution time.",
        columns=(
            col("complaint_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("category", "string"),
            col("opened_at", "timestamp"),
            col("resolved_at", "timestamp"),
            col("is_resolved", "boolean", "resolved at all (as of the extract)"),
            col("is_open_at_month_end", "boolean", "not resolved by the end of its month"),
            col("resolution_hours", "double", "null while open"),
            col("satisfaction_score", "int"),
            MONTH,
        ),
        keys=("complaint_id",),
        contracts=(
            Unique(
                ("complaint_id",), guaranteed_by="row for row from ODS, unique per key and month"
            ),
            NotNull(("complaint_id", "subscriber_id")),
            AcceptedValues(
                "category", ("coverage", "billing_dispute", "service_attitude", "fraud")
            ),
            Expression("resolution_non_negative", "resolution_hours >= 0"),
        ),
    )
)

DWD_FCT_CAMPAIGN_CONTACT = register(
    Table(
        name="dwd_fct_campaign_contact",
        layer="dwd",
        grain="one row per subscriber targeted by a campaign",
        description="Campaign contacts in the treatment or the held-out control group.",
        columns=(
            col("contact_id", "string", nullable=False),
            col("campaign_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("assignment", "string"),
            col("is_treated", "boolean"),
            col("contacted_at", "timestamp"),
            col("contact_date", "date"),
            col("contact_channel", "string"),
            MONTH,
        ),
        keys=("contact_id",),
        contracts=(
            Unique(("contact_id",), guaranteed_by="row for row from ODS, unique per key and month"),
            NotNull(("contact_id", "campaign_id", "subscriber_id")),
            AcceptedValues("assignment", ("treatment", "control")),
        ),
    )
)

DWD_FCT_CAMPAIGN_RESPONSE = register(
    Table(
        name="dwd_fct_campaign_response",
        layer="dwd",
        grain="one row per response to a campaign contact",
        description="Responses to campaign offers.",
        columns=(
            col("response_id", "string", nullable=False),
            col("campaign_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("responded_at", "timestamp"),
            col("response", "string"),
            col("is_accepted", "boolean"),
            MONTH,
        ),
        keys=("response_id",),
        contracts=(
            Unique(
                ("response_id",), guaranteed_by="row for row from ODS, unique per key and month"
            ),
            NotNull(("response_id", "campaign_id", "subscriber_id")),
            AcceptedValues("response", ("accepted", "declined")),
        ),
    )
)

DWD_FCT_CELL_QUALITY_DAILY = register(
    Table(
        name="dwd_fct_cell_quality_daily",
        layer="dwd",
        grain="one row per cell per day",
        description="Network quality per cell and day.",
        columns=(
            col("cell_id", "string", nullable=False),
            col("measured_date", "date", nullable=False),
            col("region_id", "string"),
            col("drop_rate", "double"),
            col("throughput_mbps", "double"),
            MONTH,
        ),
        keys=("cell_id", "measured_date"),
        contracts=(
            Unique(
                ("cell_id", "measured_date"),
                guaranteed_by="row for row from ODS, unique per key and month",
            ),
            NotNull(("cell_id", "measured_date")),
            Expression("drop_rate_share", "drop_rate between 0 and 1"),
        ),
    )
)

DWD_FCT_CHANNEL_COST = register(
    Table(
        name="dwd_fct_channel_cost",
        layer="dwd",
        grain="one row per channel per month",
        description="Channel cost terms of each month.",
        columns=(
            col("channel_id", "string", nullable=False),
            col("commission_per_gross_add_cny", "double"),
            col("fixed_cost_cny", "double"),
            col("clawback_days", "int"),
            MONTH,
        ),
        keys=("channel_id", "month"),
        contracts=(
            Unique(
                ("channel_id", "month"),
                guaranteed_by="row for row from ODS, unique per key and month",
            ),
            NotNull(("channel_id",)),
            Expression(
                "cost_non_negative", "commission_per_gross_add_cny >= 0 and fixed_cost_cny >= 0"
            ),
        ),
    )
)
